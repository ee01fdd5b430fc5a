"""The part of Stripe's API the shop uses, through the official `stripe` package: making a
Checkout Session for an order, asking for one, expiring one, refunding its payment, and
reading a signed webhook event.

Every call gets a client built from the settings (STRIPE_SECRET_KEY, STRIPE_API_BASE,
STRIPE_TIMEOUT_SECONDS), so tests and stripe-mock point the shop elsewhere by configuration
alone. Each request may take STRIPE_TIMEOUT_SECONDS and is retried once after a lost
connection or a timeout (Stripe's own advice; safe, as every write carries an idempotency
key): checkout waits at most about twice that for an unreachable Stripe.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import stripe

from config import Settings

log = logging.getLogger(__name__)

# One retry of a request that got no answer: with the same idempotency key Stripe answers
# the retry with what it did the first time.
MAX_NETWORK_RETRIES = 1
# Stripe refuses a webhook whose signature is older than this many seconds (a replay).
WEBHOOK_TOLERANCE_SECONDS = 300


@functools.lru_cache(maxsize=8)
def _client(api_key: str, api_base: str, timeout: float) -> stripe.StripeClient:
    # Cached per settings: the HTTP client keeps its connections to Stripe open for reuse.
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def client(settings: Settings) -> stripe.StripeClient:
    """A Stripe client for the shop's key, API address and timeout."""
    return _client(settings.stripe_secret_key, settings.stripe_api_base, settings.stripe_timeout_seconds)


def create_checkout_session(params: dict[str, Any], idempotency_key: str, settings: Settings) -> Any:
    """POST /v1/checkout/sessions with `params` (Stripe's names) and an Idempotency-Key.
    Returns the Session (`.id`, `.url`). Raises stripe.StripeError."""
    return client(settings).v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key})


def retrieve_checkout_session(session_id: str, settings: Settings) -> Any:
    """GET /v1/checkout/sessions/<id>. Raises stripe.StripeError."""
    return client(settings).v1.checkout.sessions.retrieve(session_id)


def expire_checkout_session(session_id: str, settings: Settings) -> Any:
    """POST /v1/checkout/sessions/<id>/expire: nobody can pay on the page any more.
    Raises stripe.StripeError (also when it was paid or expired already)."""
    return client(settings).v1.checkout.sessions.expire(session_id)


def create_refund(payment_intent: str, amount_cents: int, idempotency_key: str, settings: Settings) -> Any:
    """POST /v1/refunds for `amount_cents` (minor units) of the PaymentIntent, with an
    Idempotency-Key. Returns the Refund (`.id`, `.status`). Raises stripe.StripeError."""
    params = {"payment_intent": payment_intent, "amount": amount_cents}
    return client(settings).v1.refunds.create(params, {"idempotency_key": idempotency_key})


def read_event(payload: bytes, signature: str | None, settings: Settings) -> dict[str, Any]:
    """The event Stripe sent, as plain data, once its Stripe-Signature header
    (`t=<unix time>,v1=<HMAC-SHA256 of "t.payload" with STRIPE_WEBHOOK_SECRET>`) was
    verified. Raises stripe.SignatureVerificationError (missing, forged, or older than
    WEBHOOK_TOLERANCE_SECONDS) or ValueError (not UTF-8, not JSON, not an object)."""
    if not settings.stripe_webhook_secret:
        raise stripe.SignatureVerificationError("no STRIPE_WEBHOOK_SECRET is set", signature)
    try:
        event = stripe.Webhook.construct_event(
            payload, signature or "", settings.stripe_webhook_secret, WEBHOOK_TOLERANCE_SECONDS
        )
        return event.to_dict()
    except (TypeError, AttributeError, KeyError) as error:  # signed, but not an object
        raise ValueError(f"not a Stripe event: {error}") from error
