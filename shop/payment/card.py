"""Card payment through Stripe Checkout: the shopper pays on Stripe's hosted page, so the
shop never sees a card number (and stays out of PCI DSS scope beyond SAQ A).

The order is written first (awaiting payment, stock taken), then its Checkout Session is
made with an idempotency key derived from the order, so a retried request never makes a
second session. Stripe's webhook (shop/webhooks/) says when it was paid or expired; the
unpaid-order sweep asks Stripe (`payment_state`) before it cancels an order whose hold
(SHOP_CARD_PAYMENT_MINUTES) ran out, in case a webhook was lost. The calls themselves are
in stripe_api.py.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import stripe
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from config import Settings
from shop.extensions import get_settings
from shop.models import Order, OrderStatus
from shop.money import format_money
from shop.payment import stripe_api
from shop.payment.method import (
    PaymentMethod,
    PaymentOutcome,
    PaymentReport,
    PaymentStart,
    PaymentUnavailable,
    RefundFailed,
    amount_due,
)

log = logging.getLogger(__name__)

# Stripe counts a session's lifetime from when it made it, a moment after we asked: a
# minute more keeps the shortest hold (30 minutes) inside what Stripe accepts.
EXPIRY_SLACK_SECONDS = 60
# What each Checkout Session event means for the order (other events change nothing).
OUTCOMES = {
    "checkout.session.async_payment_succeeded": PaymentOutcome.PAID,
    "checkout.session.expired": PaymentOutcome.FAILED,
    "checkout.session.async_payment_failed": PaymentOutcome.FAILED,
}


class CardPayment(PaymentMethod):
    """Visa, Mastercard and the rest, on Stripe's Checkout page. Offered only when
    STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are set (no development stand-in: a test
    mode key is free)."""

    code = "card"
    label = _l("Card")
    hint = _l("Pay on Stripe's secure page; we never see your card number.")
    needs_settings = {"STRIPE_SECRET_KEY": "", "STRIPE_WEBHOOK_SECRET": ""}  # noqa: RUF012  (read only)
    paid_through_provider = True
    refunds_on_cancel = True

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        if order.paid_at is not None:
            return [_("Paid by card: %(amount)s.", amount=amount_due(order, settings))]
        if order.status == OrderStatus.AWAITING_PAYMENT:
            return [
                _("We are waiting for Stripe to confirm your card payment; this page shows it as paid once it does."),
                _(
                    "An order not paid within %(minutes)d minutes is cancelled, and nothing is charged.",
                    minutes=settings.card_payment_minutes,
                ),
            ]
        return []

    def reference(self, order: Order) -> str:
        return order.payment_intent_id or ""

    def unpaid_deadline(self, settings: Settings) -> timedelta:
        return timedelta(minutes=settings.card_payment_minutes)

    def start_payment(self, order: Order, return_url: str, settings: Settings) -> PaymentStart:
        try:
            session = stripe_api.create_checkout_session(
                checkout_params(order, return_url, settings), f"checkout-session-{order.number}", settings
            )
        except stripe.StripeError as error:
            log.warning("no Checkout Session for order %s: %s", order.number, error)
            raise PaymentUnavailable(
                _(
                    "Card payment is not available right now (Stripe did not answer in time). Nothing was charged "
                    "and the order was not placed; please try again in a moment or choose another payment method."
                )
            ) from error
        return PaymentStart(session.id, session.url)

    def payment_page_url(self, order: Order, settings: Settings) -> str | None:
        if not order.payment_session_id:
            return None
        try:
            session = stripe_api.retrieve_checkout_session(order.payment_session_id, settings)
        except stripe.StripeError as error:
            raise PaymentUnavailable(str(error)) from error
        return session.url if session.status == "open" else None

    def payment_state(self, order: Order, settings: Settings) -> PaymentReport | None:
        if not order.payment_session_id:
            return None  # the session was never made (Stripe was down): nobody can have paid
        try:
            session = stripe_api.retrieve_checkout_session(order.payment_session_id, settings).to_dict()
        except stripe.StripeError as error:
            raise PaymentUnavailable(str(error)) from error
        if session.get("payment_status") in ("paid", "no_payment_required"):
            outcome = PaymentOutcome.PAID
        elif session.get("status") == "expired":
            outcome = PaymentOutcome.FAILED
        else:  # still open, or complete with a bank debit under way
            outcome = PaymentOutcome.PENDING
        return session_report(session, outcome)

    def dashboard_url(self, order: Order, settings: Settings) -> str:
        if not order.payment_intent_id:
            return ""
        test_mode = "_test_" in settings.stripe_secret_key  # sk_test_..., rk_test_...
        return f"https://dashboard.stripe.com/{'test/' if test_mode else ''}payments/{order.payment_intent_id}"

    def refund(self, order: Order, amount_cents: int, idempotency_key: str, settings: Settings) -> str:
        try:
            payment = order.payment_intent_id
            if not payment and order.payment_session_id:
                payment = stripe_api.retrieve_checkout_session(order.payment_session_id, settings).payment_intent
            if not payment:
                raise RefundFailed(_("Stripe has no payment for this order to refund."))
            refund = stripe_api.create_refund(payment, amount_cents, idempotency_key, settings)
        except stripe.StripeError as error:
            log.warning("refund of order %s refused: %s", order.number, error)
            message = getattr(error, "user_message", None) or str(error) or type(error).__name__
            raise RefundFailed(
                _("Stripe did not refund %(amount)s: %(why)s", amount=_money(amount_cents, settings), why=message)
            ) from error
        if refund.status in ("failed", "canceled"):
            raise RefundFailed(_("Stripe refused the refund (%(status)s).", status=refund.status))
        return refund.id

    def on_cancel(self, order: Order) -> None:
        """An unpaid order cancelled by the owner or the sweep: close its payment page, so
        nobody pays for it afterwards. Best effort: a page left open expires by itself."""
        if order.paid_at is not None or not order.payment_session_id:
            return
        try:
            stripe_api.expire_checkout_session(order.payment_session_id, get_settings())
        except stripe.StripeError as error:  # expired or paid already, or Stripe away
            log.info("Checkout Session of cancelled order %s not expired: %s", order.number, error)


def read_webhook(payload: bytes, signature: str | None, settings: Settings) -> PaymentReport:
    """The verified event as a PaymentReport (outcome None: nothing to do; session_id ""
    for an event about something other than a Checkout Session). Raises
    stripe.SignatureVerificationError or ValueError, as stripe_api.read_event."""
    event = stripe_api.read_event(payload, signature, settings)
    data = event.get("data")
    session = data.get("object") if isinstance(data, dict) else None
    kind = event.get("type")
    if not (isinstance(session, dict) and isinstance(kind, str) and isinstance(event.get("id"), str)):
        raise ValueError("not a Stripe event: no id, type or data.object")
    if session.get("object") != "checkout.session" or not isinstance(session.get("id"), str):
        return PaymentReport(None, "", event_id=event.get("id", ""), event_type=kind)
    outcome = OUTCOMES.get(kind)
    if kind == "checkout.session.completed":
        paid = session.get("payment_status") in ("paid", "no_payment_required")
        outcome = PaymentOutcome.PAID if paid else PaymentOutcome.PENDING  # unpaid: a debit under way
    report = session_report(session, outcome)
    return PaymentReport(**{**vars(report), "event_id": event.get("id", ""), "event_type": kind})


def session_report(session: dict[str, Any], outcome: PaymentOutcome | None) -> PaymentReport:
    """A Checkout Session (as plain data) as a PaymentReport."""
    payment = session.get("payment_intent")
    if isinstance(payment, dict):  # expanded
        payment = payment.get("id")
    amount, currency = session.get("amount_total"), session.get("currency")
    return PaymentReport(
        outcome,
        str(session.get("id") or ""),
        payment_id=payment if isinstance(payment, str) else "",
        amount_cents=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        currency=currency.upper() if isinstance(currency, str) else "",
    )


def checkout_params(order: Order, return_url: str, settings: Settings) -> dict[str, Any]:
    """The Checkout Session for `order`, in Stripe's names: the order number as
    client_reference_id, its lines and shipping as line items in the shop's currency
    (minor units), expiring after SHOP_CARD_PAYMENT_MINUTES. The items add up to exactly
    the order's total; when they cannot (a voucher's discount: Stripe's line items are
    never negative) the order is one item of its total."""
    currency = settings.currency.lower()

    def item(name: str, cents: int, quantity: int = 1) -> dict[str, Any]:
        data = {"currency": currency, "unit_amount": cents, "product_data": {"name": name}}
        return {"price_data": data, "quantity": quantity}

    items = [item(line.name, line.unit_price_cents, line.quantity) for line in order.lines]
    if order.shipping_cents:
        items.append(item(_("Shipping"), order.shipping_cents))
    if order.tax_cents and not order.prices_include_tax:
        items.append(item(settings.tax_name or _("Tax"), order.tax_cents))
    if sum(i["price_data"]["unit_amount"] * i["quantity"] for i in items) != order.total_cents:
        items = [item(_("Order %(number)s", number=order.number), order.total_cents)]
    params: dict[str, Any] = {
        "mode": "payment",
        "client_reference_id": order.number,
        "line_items": items,
        "success_url": return_url,
        "cancel_url": return_url,
        "expires_at": int(time.time()) + settings.card_payment_minutes * 60 + EXPIRY_SLACK_SECONDS,
        "metadata": {"order_number": order.number},
        "payment_intent_data": {"metadata": {"order_number": order.number}},
    }
    if order.email.isascii():  # Stripe takes no address with letters beyond ASCII
        params["customer_email"] = order.email
    return params


def _money(cents: int, settings: Settings) -> str:
    return format_money(cents, settings.currency, settings.locale)
