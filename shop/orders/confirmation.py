"""The order's confirmation emails: the customer's and, when SHOP_OWNER_EMAIL is set, the
owner's "new order". Checkout enqueues them when the order is placed; for an order paid on
a provider's page (card), shop/orders/payments.py does once it is paid."""

from __future__ import annotations

from flask_babel import gettext as _

from shop.extensions import get_settings
from shop.mail.messages import enqueue_email
from shop.models import Order, OrderLine
from shop.money import format_money
from shop.orders.links import order_link
from shop.orders.service import how_paid_and_shipped
from shop.urls import absolute_url_for


def enqueue_confirmations(order: Order, lines: list[OrderLine]) -> list[int | None]:
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
            subject=_("Your %(shop)s order %(number)s", shop=settings.shop_name, number=order.number),
            order_url=order_link(order),
            **context,
        )
    ]
    if settings.owner_email:
        ids.append(
            enqueue_email(
                "new_order",
                key=f"new_order:{order.id}",
                recipient=settings.owner_email,
                subject=_(
                    "New order %(number)s: %(total)s",
                    number=order.number,
                    total=format_money(order.total_cents, settings.currency, settings.locale),
                ),
                order_url=absolute_url_for("admin.order_detail", order_id=order.id),
                **context,
            )
        )
    return ids
