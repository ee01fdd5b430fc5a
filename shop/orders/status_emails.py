"""The customer's emails about a change of their order's status (shipped, cancelled),
enqueued in the transaction of the move (shop/orders/service.py move_order)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from shop.extensions import get_settings
from shop.mail.messages import enqueue_email
from shop.models import Order
from shop.orders.links import order_link

# The subject of the customer's email about each change (kind: the email's template).
SUBJECTS = {
    "order_cancelled": _l("Your %(shop)s order %(number)s has been cancelled"),
    "order_shipped": _l("Your %(shop)s order %(number)s has shipped"),
}


def enqueue_status_email(order: Order, kind: str, note: str) -> int | None:
    """Enqueue the customer's email about a change of their order (`kind`: "order_shipped"
    or "order_cancelled", its template), with the owner's `note`; its outbox id (None if
    it was enqueued before)."""
    return enqueue_email(
        kind,
        key=f"{kind}:{order.id}",
        recipient=order.email,
        subject=SUBJECTS[kind] % {"shop": get_settings().shop_name, "number": order.number},
        order=order,
        note=note,
        order_url=order_link(order),
    )
