"""POST /payments/stripe/webhook: Stripe tells the shop that a Checkout Session was paid,
expired or failed (set up in Stripe's dashboard: README.md, "Card payments").

Exempt from CSRF (Stripe has no session with the shop), never from the signature: the
Stripe-Signature header must be an HMAC-SHA256 of the body under STRIPE_WEBHOOK_SECRET,
made within the last five minutes; otherwise 400 and nothing changes. A verified event
answers 200 whatever it meant for the shop (applied, redelivered, about no order of this
shop): Stripe retries anything else for days. Only a failure to record it (the database
away) answers 500, so that Stripe delivers it again.
"""

from __future__ import annotations

import logging

import stripe
from flask import abort, jsonify, request
from werkzeug.wrappers import Response

from shop.extensions import csrf, get_settings
from shop.orders.payments import apply_payment_report
from shop.payment.card import read_webhook
from shop.webhooks import bp

log = logging.getLogger(__name__)


@bp.post("/stripe/webhook")
@csrf.exempt
def stripe_webhook() -> Response:
    payload = request.get_data(cache=False)
    try:
        report = read_webhook(payload, request.headers.get("Stripe-Signature"), get_settings())
    except (stripe.SignatureVerificationError, ValueError) as error:
        log.warning("Stripe webhook refused: %s", error)
        abort(400, "The Stripe-Signature header does not match this body.")
    applied = apply_payment_report(report) if report.outcome is not None or report.session_id else None
    log.info("Stripe event %s %s: %s", report.event_id, report.event_type, applied or "not about a Checkout Session")
    return jsonify(received=True, applied=str(applied) if applied else None)
