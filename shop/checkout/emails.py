"""The emails a placed order sends, enqueued in the order's transaction: the shopper's
confirmation, the owner's "new order", a "low stock" notice for each product the order took
down to its threshold, and, for a guest who has an account, the offer to add the order to it.
place_order() hands their ids to the mail dispatcher after the commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shop.auth.claims import enqueue_claim_email
from shop.auth.service import find_user
from shop.extensions import get_settings
from shop.mail.messages import enqueue_email
from shop.models import Order, OrderLine
from shop.money import format_money
from shop.orders.links import order_link
from shop.orders.service import how_paid_and_shipped
from shop.urls import absolute_url_for


@dataclass(frozen=True)
class LowStock:
    """A product an order took down to (or below) its low-stock threshold."""

    product_id: int
    name: str
    sku: str
    stock: int  # left after the order
    threshold: int


def enqueue_order_emails(order: Order, lines: list[OrderLine], low: Sequence[LowStock]) -> list[int | None]:
    """Every email about the new `order` (with its `lines`), in the caller's transaction;
    their outbox ids (None for one enqueued before)."""
    ids = _enqueue_confirmations(order, lines) + _enqueue_low_stock_emails(order, low)
    if order.user_id is None:
        ids.append(_offer_to_claim(order))
    return ids


def _enqueue_confirmations(order: Order, lines: list[OrderLine]) -> list[int | None]:
    """The customer's confirmation and, when SHOP_OWNER_EMAIL is set, the owner's notice."""
    settings = get_settings()
    how = how_paid_and_shipped(order)
    context = {
        "order": order,
        "lines": lines,
        "how": how,
        "customer_email": order.email,
        "payment_instructions": how.instructions(),
    }
    ids = [
        enqueue_email(
            "order_confirmation",
            key=f"order_confirmation:{order.id}",
            recipient=order.email,
            subject=f"Your {settings.shop_name} order {order.number}",
            order_url=order_link(order),
            **context,
        )
    ]
    if settings.owner_email:
        total = format_money(order.total_cents, settings.currency, settings.locale)
        ids.append(
            enqueue_email(
                "new_order",
                key=f"new_order:{order.id}",
                recipient=settings.owner_email,
                subject=f"New order {order.number}: {total}",
                order_url=absolute_url_for("admin.order_detail", order_id=order.id),
                **context,
            )
        )
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
            key=f"low_stock:{item.product_id}:{order.id}",
            recipient=owner,
            subject=f"Low stock: {item.name} ({item.stock} left)",
            item=item,
            order=order,
            product_url=absolute_url_for("admin.product_edit", product_id=item.product_id),
        )
        for item in low
    ]
