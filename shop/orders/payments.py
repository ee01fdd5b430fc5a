"""What a payment provider says about an order, applied once: paid (the confirmation
emails go out), or failed (cancelled, restocked, the customer told).

A report comes from a signed webhook event (shop/webhooks/) or from the unpaid-order sweep
asking the provider (unpaid.py). Each is applied in one transaction with the event's row
(PaymentEvent, unique by the provider's event id), so a redelivered event fails on that
row and changes nothing. Every move is conditional on the order still awaiting payment:
an event arriving late or out of order (expired after completed) never undoes a payment.
"""

from __future__ import annotations

import enum
import logging

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from shop.database import transaction
from shop.extensions import db, get_settings
from shop.mail.dispatcher import get_dispatcher
from shop.models import Order, OrderStatus, PaymentEvent, utcnow
from shop.orders.confirmation import enqueue_confirmations
from shop.orders.service import move_order
from shop.payment.method import PaymentOutcome, PaymentReport

log = logging.getLogger(__name__)


class Applied(enum.StrEnum):
    """What applying a report did."""

    PAID = "paid"  # the order is paid now, its confirmation enqueued
    CANCELLED = "cancelled"  # cancelled and restocked now
    UNCHANGED = "unchanged"  # nothing to do (pending, paid or cancelled already, other event)
    DUPLICATE = "duplicate"  # this event was applied before
    UNKNOWN_ORDER = "unknown_order"  # no order of this shop has that payment page
    WRONG_AMOUNT = "wrong_amount"  # paid, but not the order's total: left for the owner


def apply_payment_report(report: PaymentReport) -> Applied:
    """Apply what the provider says (report.outcome) to the order whose payment page is
    report.session_id, in one transaction that also records report.event_id (when it
    came from an event). A paid order's confirmation emails are enqueued in it and handed
    to the mail dispatcher after the commit. Never raises for a redelivered event."""
    email_ids: list[int | None] = []
    try:
        with transaction():
            order = _order_of(report.session_id)
            if report.event_id:
                db.session.add(
                    PaymentEvent(
                        event_id=report.event_id[:255],
                        type=report.event_type[:100],
                        order_id=order.id if order is not None else None,
                    )
                )
                db.session.flush()  # a redelivered event fails here, before any change
            if order is None:
                log.warning(
                    "payment event %s %s names no order (session %r)",
                    report.event_id,
                    report.event_type,
                    report.session_id,
                )
                return Applied.UNKNOWN_ORDER
            applied = _apply(order, report, email_ids)
    except IntegrityError:
        db.session.rollback()
        log.info("payment event %s received again: nothing changed", report.event_id)
        return Applied.DUPLICATE
    get_dispatcher().hand_off(email_ids)
    return applied


def _order_of(session_id: str) -> Order | None:
    if not session_id:
        return None
    # Locked (PostgreSQL; SQLite's writers take turns already): the webhook and the sweep
    # deciding about one order do so one after the other.
    return db.session.execute(
        sa.select(Order)
        .where(Order.payment_session_id == session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _apply(order: Order, report: PaymentReport, email_ids: list[int | None]) -> Applied:
    by_event = report.event_type or _("asked after the time to pay ran out")
    if report.outcome == PaymentOutcome.PAID:
        settings = get_settings()
        if report.amount_cents is not None and (
            report.amount_cents != order.total_cents or (report.currency and report.currency != settings.currency)
        ):
            log.error(
                "order %s: the provider took %s %s, the order is %s %s; not marked paid, check it in the dashboard",
                order.number,
                report.amount_cents,
                report.currency,
                order.total_cents,
                settings.currency,
            )
            return Applied.WRONG_AMOUNT
        note = _("Paid (the payment provider: %(what)s).", what=by_event)
        values = {"paid_at": utcnow(), "payment_intent_id": report.payment_id or None}
        moved, email_id = move_order(order, OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID, None, note, **values)
        if not moved:
            if order.status == OrderStatus.CANCELLED:
                log.error(
                    "order %s was paid (%s) after it was cancelled: refund it in the payment provider's dashboard",
                    order.number,
                    report.payment_id,
                )
            return Applied.UNCHANGED
        db.session.refresh(order)  # paid_at, for the emails
        email_ids.append(email_id)  # the invoice's "payment received" (shop/orders/invoicing.py)
        email_ids += enqueue_confirmations(order, order.lines)
        return Applied.PAID
    if report.outcome == PaymentOutcome.FAILED:
        note = _("Not paid (the payment provider: %(what)s).", what=by_event)
        moved, email_id = move_order(order, OrderStatus.AWAITING_PAYMENT, OrderStatus.CANCELLED, None, note)
        email_ids.append(email_id)
        return Applied.CANCELLED if moved else Applied.UNCHANGED
    return Applied.UNCHANGED
