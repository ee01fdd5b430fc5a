"""Orders left unpaid: `flask shop cancel-unpaid` cancels each once its payment method's
time to pay ran out (bank transfer: SHOP_UNPAID_CANCEL_DAYS; card: SHOP_CARD_PAYMENT_MINUTES),
restocks it and emails the customer.

An order paid on a provider's page (card) is not cancelled on the clock alone: its webhook
may have been lost, so the provider is asked first. Paid: it is marked paid instead (and
confirmed); still open: it waits for the next run; expired: cancelled. A provider that
cannot be reached leaves the order for the next run.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from shop.clock import day_start, shop_today
from shop.extensions import db, get_settings
from shop.models import Order, OrderStatus, utcnow
from shop.orders.payments import Applied, apply_payment_report
from shop.orders.service import OrderNotFound, StatusChangeRefused, change_order_status, get_order
from shop.payment import PAYMENT_METHODS, payment_method
from shop.payment.method import PaymentMethod, PaymentOutcome, PaymentUnavailable

log = logging.getLogger(__name__)


def unpaid_orders_due(days: int | None = None, now: datetime | None = None) -> list[tuple[int, timedelta]]:
    """(order id, the time it was given to pay) for every order still awaiting payment past
    its payment method's `unpaid_deadline` (methods without one never expire), oldest id
    first. `days`: this many days instead of each method's deadline.

    A deadline of whole days counts shop days (SHOP_TIMEZONE, shop/clock.py): an order
    placed on the 1st with 7 days to pay may be paid to the end of the 8th, however long
    the days between (23 or 25 hours where the clocks change); one with hours is exact."""
    now, settings = now or utcnow(), get_settings()
    today = shop_today(now)
    due = []
    for method in PAYMENT_METHODS.values():
        wait = method.unpaid_deadline(settings)
        if wait is None:
            continue
        if days is not None:
            wait = timedelta(days=days)
        ids = db.session.execute(
            sa.select(Order.id).where(
                Order.status == OrderStatus.AWAITING_PAYMENT,
                Order.payment_method == method.code,
                Order.created_at < (day_start(today - wait) if _whole_days(wait) else now - wait),
            )
        ).scalars()
        due += [(order_id, wait) for order_id in ids]
    return sorted(due)


def _whole_days(wait: timedelta) -> bool:
    return wait.days > 0 and not wait.seconds and not wait.microseconds


def cancel_unpaid_orders(days: int | None = None, now: datetime | None = None) -> list[Order]:
    """Cancel (restock, email) every order unpaid past its deadline (unpaid_orders_due);
    each once, however often this runs or however many run at once (the move is
    conditional). An order paid on a provider's page is cancelled only when the provider
    says it was not paid (see the module). The orders cancelled."""
    cancelled = []
    for order_id, wait in unpaid_orders_due(days, now):
        order = get_order(order_id)
        method = payment_method(order.payment_method)
        if method is not None and method.paid_through_provider:
            if _asked_provider(order, method):
                db.session.refresh(order)
                if order.status == OrderStatus.CANCELLED:
                    cancelled.append(order)
            continue
        try:
            cancelled.append(change_order_status(order_id, OrderStatus.CANCELLED, None, _not_paid_within(wait)))
        except (StatusChangeRefused, OrderNotFound):
            continue  # paid or cancelled meanwhile
    return cancelled


def _asked_provider(order: Order, method: PaymentMethod) -> bool:
    """Ask the provider about `order` and apply the answer; False: nothing was decided."""
    try:
        report = method.payment_state(order, get_settings())
    except PaymentUnavailable as error:
        log.warning("order %s left for the next run: the payment provider did not answer (%s)", order.number, error)
        return False
    if report is None:  # no payment page was ever made: nobody can have paid
        change_order_status(order.id, OrderStatus.CANCELLED, None, _("No payment was started."))
        return True
    if report.outcome == PaymentOutcome.PENDING:
        log.info("order %s: its payment page is still open, left for the next run", order.number)
        return False
    applied = apply_payment_report(report)
    if applied == Applied.PAID:
        log.warning("order %s was paid but its webhook never came: marked paid now", order.number)
    return applied in (Applied.PAID, Applied.CANCELLED)


def _not_paid_within(wait: timedelta) -> str:
    if wait >= timedelta(days=1):
        return ngettext("Not paid within %(num)d day.", "Not paid within %(num)d days.", wait.days)
    return _("Not paid within %(minutes)d minutes.", minutes=wait // timedelta(minutes=1))
