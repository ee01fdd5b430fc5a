"""The emails a placed order sends, enqueued in the order's transaction: the shopper's
confirmation and the owner's "new order" (shop/orders/confirmation.py; for a card order
once it is paid), a "low stock" notice for each product the order took
down to its threshold, and, for a guest who has an account, the offer to add the order to it.
place_order() hands their ids to the mail dispatcher after the commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext as _

from shop.auth.claims import enqueue_claim_email
from shop.auth.service import find_user
from shop.cart.service import Item
from shop.extensions import get_settings
from shop.mail.messages import enqueue_email
from shop.models import Order, OrderLine
from shop.orders.confirmation import enqueue_confirmations
from shop.orders.service import how_paid_and_shipped
from shop.urls import absolute_url_for


@dataclass(frozen=True)
class LowStock:
    """A product (or a variant of one) an order took down to (or below) its low-stock threshold."""

    item: Item
    name: str  # 'Assam Tea — 250 g' for a variant
    sku: str
    stock: int  # left after the order
    threshold: int


def enqueue_order_emails(order: Order, lines: list[OrderLine], low: Sequence[LowStock]) -> list[int | None]:
    """Every email about the new `order` (with its `lines`), in the caller's transaction;
    their outbox ids (None for one enqueued before)."""
    # A method paid on the provider's page (card) confirms the order once it is paid
    # (shop/orders/payments.py), not now: the shopper may still walk away from that page.
    how = how_paid_and_shipped(order)
    paid_later = how.payment is not None and how.payment.paid_through_provider
    ids = [] if paid_later else enqueue_confirmations(order, lines)
    ids += _enqueue_low_stock_emails(order, low)
    if order.user_id is None:
        ids.append(_offer_to_claim(order))
    return ids


def _offer_to_claim(order: Order) -> int | None:
    """A guest who has an account with this address: offer to add the order to it."""
    user = find_user(order.email)
    if user is None:
        return None
    return enqueue_claim_email(user, key=f"claim_orders:user-{user.id}:order-{order.id}", just_ordered=True)


def _enqueue_low_stock_emails(order: Order, low: Sequence[LowStock]) -> list[int | None]:
    """One email per product this order took down to its threshold: the key names the
    order, so each crossing is told once, and the next only after a restock."""
    owner = get_settings().owner_email
    if not owner:
        return []
    return [
        enqueue_email(
            "low_stock",
            key=f"low_stock:{item.item.key}:{order.id}",
            recipient=owner,
            subject=_("Low stock: %(name)s (%(stock)d left)", name=item.name, stock=item.stock),
            item=item,
            order=order,
            product_url=absolute_url_for("admin.product_edit", product_id=item.item.product_id),
        )
        for item in low
    ]
