"""Refunds: money given back on a paid order, through the order's payment method.

Two owners clicking "refund" at once must not give back more than was paid, and a slow
payment provider must not hold the database's write lock. So a refund takes three steps:

1. In one transaction: lock the order, check the amount against what is left to refund
   (what was paid, less every refund, pending ones included) and write a *pending*
   Refund row with its idempotency key.
2. Outside any transaction: the payment method refunds (a card provider with that key, so
   a retry never pays twice; offline methods: the owner pays back by hand).
3. In a second transaction: the row becomes *refunded* with the provider's reference and
   the customer's email is enqueued. If the provider refused, the pending row is deleted:
   nothing was refunded, and the owner sees why.

A process that dies between 2 and 3 leaves a pending row; `complete_pending_refunds` asks
the provider again with the same key, and the provider answers with the refund it made.
"""

from __future__ import annotations

import logging
import secrets

import sqlalchemy as sa
from flask_babel import gettext as _

from shop.audit import record_change
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.mail.dispatcher import get_dispatcher
from shop.mail.messages import enqueue_email
from shop.models import Order, Refund, RefundStatus, User
from shop.money import format_money
from shop.orders.invoicing import credit_refund
from shop.orders.links import order_link
from shop.payment import payment_method
from shop.payment.method import RefundFailed
from shop.pricing import TaxLine

log = logging.getLogger(__name__)


class RefundRefused(Exception):
    """The refund cannot be made (the order is not paid, the amount is not positive, or
    more than is left to refund); the message says why, for the owner."""


def refundable_cents(order_id: int) -> int:
    """What may still be refunded on the order, in minor units: its total if it was paid,
    less every refund so far (pending ones included); 0 for an unpaid order."""
    order = db.session.get(Order, order_id)
    if order is None or order.paid_at is None:
        return 0
    refunded = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_cents), 0)).where(Refund.order_id == order_id)
    ).scalar_one()
    return order.total_cents - refunded


def new_refund_key(order_number: str) -> str:
    """A new idempotency key for a refund of order `order_number`."""
    return f"refund-{order_number}-{secrets.token_hex(8)}"


def refund_payment(
    order_id: int,
    amount_cents: int,
    reason: str = "",
    by: User | None = None,
    by_rate: tuple[TaxLine, ...] | None = None,
    idempotency_key: str | None = None,
) -> Refund:
    """Give `amount_cents` (minor units) of order `order_id`'s payment back, through its
    payment method, and email the customer. `by`: the owner or staff member (None: the
    shop itself). `by_rate`: the amount per tax rate when the caller knows it (a return of
    some lines), for the credit note; None: shared as the order's gross.
    `idempotency_key`: the key to give the provider (unique; None: a new one), so that a
    caller that wrote it down (a return) finds its refund again. Returns the
    refunded Refund. Raises RefundRefused (nothing changed) and
    shop.payment.method.RefundFailed (the provider refused or could not be reached:
    nothing was refunded, no row is left)."""
    if amount_cents <= 0:
        raise RefundRefused(_("A refund must be more than nothing."))
    with transaction():
        # Lock the order row (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises
        # writers), so two refunds at once are checked one after the other.
        order = db.session.execute(
            sa.select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if order is None or order.paid_at is None:
            raise RefundRefused(_("Only a paid order can be refunded."))
        left = refundable_cents(order_id)
        if amount_cents > left:
            currency = get_settings().currency
            raise RefundRefused(
                _(
                    "At most %(left)s of this order is left to refund (asked: %(asked)s).",
                    left=format_money(left, currency, get_settings().locale),
                    asked=format_money(amount_cents, currency, get_settings().locale),
                )
            )
        refund = Refund(
            order_id=order_id,
            amount_cents=amount_cents,
            status=RefundStatus.PENDING,
            reason=reason.strip()[:500],
            idempotency_key=idempotency_key or new_refund_key(order.number),
            created_by_id=by.id if by is not None else None,
        )
        db.session.add(refund)
    return _complete(refund, order, by_rate=by_rate)


def complete_pending_refunds() -> list[Refund]:
    """Ask the payment method again for every refund left pending by a process that died
    in step 2 (same idempotency key: the provider answers with the refund it made, or
    makes it now). Those that fail again stay pending and are logged. The refunds
    completed."""
    pending = db.session.execute(sa.select(Refund).where(Refund.status == RefundStatus.PENDING)).scalars().all()
    done = []
    for refund in pending:
        try:
            done.append(_complete(refund, refund.order, keep_on_failure=True))
        except RefundFailed as error:
            log.warning("refund %s of order %s still pending: %s", refund.id, refund.order_id, error)
    return done


def _complete(
    refund: Refund, order: Order, keep_on_failure: bool = False, by_rate: tuple[TaxLine, ...] | None = None
) -> Refund:
    method = payment_method(order.payment_method)
    try:
        reference = method.refund(order, refund.amount_cents, refund.idempotency_key, get_settings()) if method else ""
    except RefundFailed:
        if not keep_on_failure:
            with transaction():
                db.session.execute(sa.delete(Refund).where(Refund.id == refund.id))
        raise
    with transaction():
        db.session.execute(
            sa.update(Refund)
            .where(Refund.id == refund.id)
            .values(status=RefundStatus.REFUNDED, reference=reference)
            .execution_options(synchronize_session=False)
        )
        after = {"refund_id": refund.id, "amount_cents": refund.amount_cents, "reference": reference}
        record_change(refund.created_by, "refund.created", "order", order.id, None, after)
        credit_refund(order, refund.amount_cents, refund.reason, refund.id, by_rate)  # if it was invoiced
        email_id = enqueue_email(
            "refund_issued",
            key=f"refund_issued:{refund.id}",
            recipient=order.email,
            subject=_(
                "Your %(shop)s order %(number)s: %(amount)s refunded",
                shop=get_settings().shop_name,
                number=order.number,
                amount=format_money(refund.amount_cents, get_settings().currency, get_settings().locale),
            ),
            order=order,
            refund=refund,
            by_hand=not reference,
            order_url=order_link(order),
        )
    db.session.refresh(refund)
    get_dispatcher().hand_off([email_id])
    return refund


def order_refunds(order_id: int) -> list[Refund]:
    """The order's refunds, oldest first (pending ones too: they are being made)."""
    return list(db.session.execute(sa.select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)).scalars())
