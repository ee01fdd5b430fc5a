"""The provider's payment page of a just-placed order (card: Stripe Checkout).

place_order() writes the order first (awaiting payment, stock taken) and commits; only then
is the provider asked for the page, outside any transaction, so a slow provider holds no
database lock. The page's id is stored on the order before the shopper is sent there, so
every webhook about it finds the order. If the provider cannot be reached, the order is
cancelled and restocked in the same request (no email: the checkout page says why) and
the shopper is told: nothing was charged.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_babel import gettext as _

from shop.checkout.errors import PaymentNotStarted
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.models import Order, OrderStatus
from shop.orders.links import order_link
from shop.orders.service import move_order
from shop.payment import payment_method
from shop.payment.method import PaymentUnavailable

log = logging.getLogger(__name__)


def start_payment(order: Order) -> str | None:
    """Make the payment page of the new `order` and store its id on the order; its URL, or
    None for a method paid without a provider. Raises PaymentNotStarted (the order was
    cancelled and restocked: nothing was charged)."""
    method = payment_method(order.payment_method)
    if method is None:
        return None
    try:
        page = method.start_payment(order, order_link(order), get_settings())
    except PaymentUnavailable as error:
        # No email: the shopper reads why on the checkout page, and had no confirmation yet.
        with transaction():
            note = _("The payment could not be started: %(why)s", why=error.__cause__ or error)
            move_order(order, OrderStatus.AWAITING_PAYMENT, OrderStatus.CANCELLED, None, note, tell_customer=False)
        log.warning("order %s cancelled: its payment could not be started", order.number)
        raise PaymentNotStarted(str(error)) from error
    if page is None:
        return None
    with transaction():
        db.session.execute(
            sa.update(Order)
            .where(Order.id == order.id)
            .values(payment_session_id=page.session_id)
            .execution_options(synchronize_session=False)
        )
    db.session.refresh(order)
    return page.url


def resume_payment(order: Order) -> str | None:
    """The payment page of an order placed before with the same checkout form (submitted
    twice): its URL while it still awaits payment on a page that is still open, else None
    (the order's own page shows where it stands)."""
    method = payment_method(order.payment_method)
    if method is None or order.status != OrderStatus.AWAITING_PAYMENT or not order.payment_session_id:
        return None
    try:
        return method.payment_page_url(order, get_settings())
    except PaymentUnavailable:
        return None
