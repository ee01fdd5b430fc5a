"""Card orders after the payment page: the sweep that finds a payment whose webhook was
lost, cancelling a paid card order (a refund through Stripe's Refunds API first, and a
refused refund leaving the order as it was), the owner's link to Stripe's dashboard, and
the settings that switch card payment on.

Stripe cannot run here: the official `stripe` package talks to tests/stripe_standin.py, a
local HTTP server speaking the part of Stripe's API the shop uses (see its docstring).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from config import ConfigError, settings_from_env
from shop.extensions import db, get_settings
from shop.models import Order, OutboxEmail, PaymentEvent, Refund, RefundStatus, utcnow
from shop.payment import METHODS, stripe_api
from tests.conftest import Browser, card_settings, count, signed_in_admin
from tests.test_card_payments import WEBHOOK, emails, order_of, pay_by_card, send, stock


@pytest.fixture
def app(make_app, stripe_standin):
    return make_app(**card_settings(stripe_standin))


def age(app, order_id: int, minutes: int) -> None:
    with app.app_context():
        created = utcnow() - timedelta(minutes=minutes)
        db.session.execute(sa.update(Order).where(Order.id == order_id).values(created_at=created))
        db.session.commit()


def sweep(app) -> str:
    result = app.test_cli_runner().invoke(args=["shop", "cancel-unpaid"])
    assert result.exit_code == 0, result.output
    return result.output


# ---------------------------------------------------------------- the sweep asks Stripe
def test_the_sweep_finds_a_paid_session_whose_webhook_was_lost(app, products, shopper, stripe_standin, smtp):
    lost = pay_by_card(shopper, products, stripe_standin)
    abandoned = pay_by_card(shopper, products, stripe_standin, tea=3)
    still_paying = pay_by_card(shopper, products, stripe_standin, tea=1)
    recent = pay_by_card(shopper, products, stripe_standin, tea=1)
    stripe_standin.pay(lost.payment_session_id)  # ... and Stripe's webhook never arrives
    stripe_standin.expire(abandoned.payment_session_id)
    for order in (lost, abandoned, still_paying):
        age(app, order.id, 31)  # past SHOP_CARD_PAYMENT_MINUTES (30)
    assert stock(app, "TEA") == 93

    sweep(app)
    assert order_of(app, lost.id).status == "paid"
    assert (
        order_of(app, lost.id).payment_intent_id == stripe_standin.sessions[lost.payment_session_id]["payment_intent"]
    )
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains=f"Your Swiftcart order {lost.number}")
    assert "Paid by card" in mail.text
    assert order_of(app, abandoned.id).status == "cancelled"
    assert order_of(app, still_paying.id).status == "awaiting_payment"  # Stripe's page still open: next run
    assert order_of(app, recent.id).status == "awaiting_payment"  # not asked: its time is not up
    assert stock(app, "TEA") == 96  # the abandoned order's 3 back
    asked = {call.path.rsplit("/", 1)[1] for call in stripe_standin.calls("GET", "/v1/checkout/sessions/")}
    assert asked == {lost.payment_session_id, abandoned.payment_session_id, still_paying.payment_session_id}

    sweep(app)  # again: nothing twice
    assert emails(app, "order_confirmation") == 1
    assert emails(app, "order_cancelled") == 1
    assert stock(app, "TEA") == 96


def test_the_sweep_leaves_card_orders_alone_while_stripe_is_away(app, products, shopper, stripe_standin):
    order = pay_by_card(shopper, products, stripe_standin)
    age(app, order.id, 60)
    stripe_standin.behave("fail")
    sweep(app)
    assert order_of(app, order.id).status == "awaiting_payment"
    stripe_standin.behave("normal")
    stripe_standin.expire(order.payment_session_id)
    sweep(app)
    assert order_of(app, order.id).status == "cancelled"


# ---------------------------------------------------------------- refunds
def paid_card_order(app, products, shopper, standin) -> Order:
    order = pay_by_card(shopper, products, standin)
    standin.pay(order.payment_session_id)
    assert send(shopper.client, standin, "checkout.session.completed", order.payment_session_id).status_code == 200
    return order_of(app, order.id)


def cancel_in_admin(admin: Browser, order_id: int, note: str = "Out of stock at the warehouse.", times: int = 1):
    """The owner cancels the order on its page (`times`: the same form sent again); the page after."""
    url = f"/admin/orders/{order_id}"
    form = Browser.form(admin.client.get(url), f"{url}/status")
    for _ in range(times):
        response = admin.client.post(form["action"], data={**form["fields"], "to_status": "cancelled", "note": note})
        assert response.status_code == 303
    return admin.client.get(url).get_data(as_text=True)


def test_cancelling_a_paid_card_order_refunds_it_through_stripe_restocks_once_and_emails(
    app, products, shopper, stripe_standin, smtp
):
    order = paid_card_order(app, products, shopper, stripe_standin)
    page = cancel_in_admin(signed_in_admin(app), order.id, times=2)  # a double click, too
    assert "is cancelled already" in page
    with app.app_context():
        [refund] = db.session.execute(sa.select(Refund)).scalars().all()
        assert (refund.status, refund.amount_cents, refund.reason) == (
            RefundStatus.REFUNDED,
            2990,
            "Out of stock at the warehouse.",
        )
    [call] = stripe_standin.calls("POST", "/v1/refunds")
    assert call.idempotency_key == refund.idempotency_key
    assert order.number in refund.idempotency_key  # from the order
    assert call.params == {"payment_intent": order.payment_intent_id, "amount": "2990"}
    assert refund.reference in stripe_standin.refunds
    assert order_of(app, order.id).status == "cancelled"
    assert stock(app, "TEA") == 100  # the 2 back, once
    smtp.wait_for(1, to="ada@example.com", subject_contains="€29.90 refunded")
    smtp.wait_for(1, to="ada@example.com", subject_contains="has been cancelled")
    assert emails(app, "refund_issued") == 1


def test_a_refused_refund_leaves_the_paid_order_as_it_was(app, products, shopper, stripe_standin):
    order = paid_card_order(app, products, shopper, stripe_standin)
    stripe_standin.behave("refuse")
    page = cancel_in_admin(signed_in_admin(app), order.id)
    assert "Stripe did not refund €29.90: Charge has already been refunded." in page
    assert order_of(app, order.id).status == "paid"
    assert stock(app, "TEA") == 98
    assert count(app, Refund) == 0
    assert count(app, OutboxEmail, OutboxEmail.kind.in_(["refund_issued", "order_cancelled"])) == 0


def test_an_unanswered_refund_leaves_the_paid_order_as_it_was(app, products, shopper, stripe_standin):
    order = paid_card_order(app, products, shopper, stripe_standin)
    stripe_standin.behave("drop")
    page = cancel_in_admin(signed_in_admin(app), order.id)
    assert "Stripe did not refund €29.90" in page
    assert order_of(app, order.id).status == "paid"
    assert count(app, Refund) == 0


def test_cancelling_an_unpaid_card_order_closes_its_payment_page(app, products, shopper, stripe_standin):
    order = pay_by_card(shopper, products, stripe_standin)
    cancel_in_admin(signed_in_admin(app), order.id)
    assert stripe_standin.sessions[order.payment_session_id]["status"] == "expired"
    assert not stripe_standin.calls("POST", "/v1/refunds")
    assert stock(app, "TEA") == 100


def test_a_refund_whose_process_died_after_stripe_refunded_is_completed_once(app, products, shopper, stripe_standin):
    order = paid_card_order(app, products, shopper, stripe_standin)
    key = f"refund-{order.number}-dead"
    with app.app_context():
        # The dead process: its pending row written, Stripe asked (and it refunded), nothing recorded.
        db.session.add(Refund(order_id=order.id, amount_cents=1000, idempotency_key=key))
        db.session.commit()
        made = stripe_api.create_refund(order.payment_intent_id, 1000, key, get_settings())
    result = app.test_cli_runner().invoke(args=["shop", "complete-refunds"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        refund = db.session.execute(sa.select(Refund)).scalar_one()
        assert (refund.status, refund.reference) == (RefundStatus.REFUNDED, made.id)
    assert [c.idempotency_key for c in stripe_standin.calls("POST", "/v1/refunds")] == [key, key]
    assert list(stripe_standin.refunds) == [made.id]  # Stripe refunded once


# ---------------------------------------------------------------- the owner's view
def test_the_admin_order_page_links_to_the_payment_in_stripes_dashboard(app, products, shopper, stripe_standin):
    order = paid_card_order(app, products, shopper, stripe_standin)
    page = signed_in_admin(app).client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert f'href="https://dashboard.stripe.com/test/payments/{order.payment_intent_id}"' in page
    assert "Card" in page


# ---------------------------------------------------------------- settings
def test_card_is_offered_only_with_both_keys():
    assert "card" not in settings_from_env({}, methods=METHODS)["SHOP_PAYMENT_METHODS"]
    keys = {"STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    assert "card" in settings_from_env(keys, methods=METHODS)["SHOP_PAYMENT_METHODS"]
    for missing in keys:
        env = {**keys, missing: "", "SHOP_PAYMENT_METHODS": "card,bank_transfer"}
        with pytest.raises(ConfigError, match=f"card is offered .* but {missing} is not set"):
            settings_from_env(env, methods=METHODS)
        production = {**env, "SHOP_ENV": "production", "SECRET_KEY": "k" * 2 + "9f8e7d6c5b4a" * 6}
        production["SHOP_BASE_URL"] = "https://shop.example.com"
        with pytest.raises(ConfigError, match=missing):
            settings_from_env(production, methods=METHODS)
    production = {**production, **keys, "SHOP_PAYMENT_METHODS": "card", "STRIPE_API_BASE": "http://stripe-mock:12111"}
    with pytest.raises(ConfigError, match="STRIPE_API_BASE must be an https:// address"):
        settings_from_env(production, methods=METHODS)
    assert settings_from_env({**production, "STRIPE_API_BASE": ""}, methods=METHODS)["STRIPE_SECRET_KEY"] == "sk_test_x"


def test_the_hold_is_what_stripe_accepts():
    for minutes in ("29", "1441"):
        with pytest.raises(ConfigError, match="SHOP_CARD_PAYMENT_MINUTES"):
            settings_from_env({"SHOP_CARD_PAYMENT_MINUTES": minutes}, methods=METHODS)


def test_a_webhook_without_a_secret_configured_is_refused(make_app):
    app = make_app()
    response = app.test_client().post(WEBHOOK, data=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    assert response.status_code == 400
    assert count(app, PaymentEvent) == 0
