"""Card payment through Stripe Checkout: the redirect, Stripe out of reach, the webhook's
events (paid, expired, bank debits that succeed or fail, redelivered, out of order,
forged), the shopper's return racing the webhook.

Stripe cannot run here (no network, no account): these tests run the official `stripe`
package against tests/stripe_standin.py, a local HTTP server that speaks the part of
Stripe's API the shop uses, and send webhook bodies signed exactly as Stripe signs them
(`t=<time>,v1=<HMAC-SHA256 of "t.body">`). The sweep and refunds: test_card_refunds.py.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import Order, OutboxEmail, PaymentEvent, Product
from tests.conftest import ADDRESS, Browser, card_settings, count
from tests.served import free_port
from tests.stripe_standin import sign

WEBHOOK = "/payments/stripe/webhook"


@pytest.fixture
def app(make_app, stripe_standin):
    return make_app(**card_settings(stripe_standin), SHOP_OWNER_EMAIL="owner@example.com")


def order_of(app, number_or_id) -> Order:
    with app.app_context():
        column = Order.number if isinstance(number_or_id, str) else Order.id
        return db.session.execute(sa.select(Order).where(column == number_or_id)).scalar_one()


def stock(app, sku: str) -> int:
    with app.app_context():
        return db.session.execute(sa.select(Product.stock).where(Product.sku == sku)).scalar_one()


def pay_by_card(shopper: Browser, products, standin, tea: int = 2) -> Order:
    """The shopper orders `tea` tins of Assam Tea by card and lands on Stripe's page."""
    shopper.add(products["TEA"], tea)
    response = shopper.checkout(payment_method="card")
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    [session] = [s for s in standin.sessions.values() if s["url"] == response.headers["Location"]]
    return order_of(shopper.client.application, session["client_reference_id"])


def send(client, standin, kind: str, session_id: str, event_id: str | None = None):
    payload, headers = standin.signed_event(kind, session_id, event_id)
    return client.post(WEBHOOK, data=payload, headers=headers)


def emails(app, kind: str) -> int:
    return count(app, OutboxEmail, OutboxEmail.kind == kind)


# ---------------------------------------------------------------- checkout
def test_a_card_order_is_written_then_the_shopper_is_sent_to_stripe_checkout(app, products, shopper, stripe_standin):
    before = time.time()
    order = pay_by_card(shopper, products, stripe_standin)
    assert (order.status, order.payment_method, order.total_cents) == ("awaiting_payment", "card", 2990)
    assert stock(app, "TEA") == 98  # held while the shopper pays
    [call] = stripe_standin.calls("POST", "/v1/checkout/sessions")
    assert call.idempotency_key == f"checkout-session-{order.number}"
    assert call.authorization == "Bearer sk_test_standin"
    p = call.params
    assert (p["mode"], p["client_reference_id"], p["customer_email"]) == ("payment", order.number, "ada@example.com")
    assert [p[f"line_items[{i}][price_data][product_data][name]"] for i in (0, 1)] == ["Assam Tea", "Shipping"]
    assert [(p[f"line_items[{i}][price_data][unit_amount]"], p[f"line_items[{i}][quantity]"]) for i in (0, 1)] == [
        ("1250", "2"),
        ("490", "1"),
    ]
    assert {p["line_items[0][price_data][currency]"], p["line_items[1][price_data][currency]"]} == {"eur"}
    assert before + 30 * 60 <= int(p["expires_at"]) <= time.time() + 31 * 60  # SHOP_CARD_PAYMENT_MINUTES
    assert p["success_url"] == f"http://shop.test/orders/{order.id}"
    session = stripe_standin.sessions[order.payment_session_id]
    assert session["amount_total"] == order.total_cents
    # Not confirmed before it is paid: the shopper may still walk away from Stripe's page.
    assert emails(app, "order_confirmation") == 0


def test_the_same_checkout_form_posted_twice_makes_one_session(app, products, shopper, stripe_standin):
    shopper.add(products["TEA"], 1)
    page = shopper.client.get("/checkout")
    form = Browser.form(page, "/checkout")
    data = {**form["fields"], **ADDRESS, "payment_method": "card"}
    first = shopper.client.post("/checkout", data=data)
    second = shopper.client.post("/checkout", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]  # the same page of Stripe's
    assert len(stripe_standin.calls("POST", "/v1/checkout/sessions")) == 1
    assert count(app, Order) == 1


def test_a_request_whose_answer_was_lost_is_retried_with_its_key_and_makes_one_session(
    app, products, shopper, stripe_standin
):
    stripe_standin.behave("lose_answer_once")
    order = pay_by_card(shopper, products, stripe_standin)
    calls = stripe_standin.calls("POST", "/v1/checkout/sessions")
    assert [c.idempotency_key for c in calls] == [f"checkout-session-{order.number}"] * 2  # stripe's retry
    assert list(stripe_standin.sessions) == [order.payment_session_id]


@pytest.mark.parametrize("trouble", ["unreachable", "slow", "failing"])
def test_stripe_out_of_reach_cancels_and_restocks_the_order_and_charges_nothing(
    make_app, stripe_standin, smtp, trouble
):
    base = f"http://127.0.0.1:{free_port()}" if trouble == "unreachable" else stripe_standin.url
    stripe_standin.behave({"unreachable": "normal", "slow": "slow", "failing": "fail"}[trouble])
    app = make_app(**card_settings(stripe_standin, STRIPE_API_BASE=base, STRIPE_TIMEOUT_SECONDS=0.3))
    shopper = Browser(app.test_client())
    with app.app_context():
        db.session.add(Product(sku="TEA", name="Assam Tea", price_cents=1250, stock=10))
        db.session.commit()
        tea = db.session.execute(sa.select(Product.id)).scalar_one()
    shopper.add(tea, 3)
    response = shopper.checkout(payment_method="card", email="guest@example.com")
    assert response.status_code == 503
    assert "Card payment is not available right now" in response.get_data(as_text=True)
    assert "Nothing was charged" in response.get_data(as_text=True)
    [order] = [order_of(app, 1)]
    assert order.status == "cancelled"
    assert stock(app, "TEA") == 10  # restocked in the same request
    assert "3" in shopper.client.get("/cart").get_data(as_text=True)  # the cart is kept, to pay otherwise
    assert count(app, OutboxEmail, OutboxEmail.recipient == "guest@example.com") == 0
    assert not stripe_standin.refunds


# ---------------------------------------------------------------- the webhook
def test_a_completed_checkout_marks_the_order_paid_and_confirms_it_by_email(
    app, products, shopper, stripe_standin, smtp
):
    order = pay_by_card(shopper, products, stripe_standin)
    session = stripe_standin.pay(order.payment_session_id)
    response = send(shopper.client, stripe_standin, "checkout.session.completed", order.payment_session_id)
    assert response.status_code == 200
    paid = order_of(app, order.id)
    assert (paid.status, paid.payment_intent_id) == ("paid", session["payment_intent"])
    assert paid.paid_at is not None
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains=f"Your Swiftcart order {order.number}")
    assert "Paid by card: €29.90." in mail.text
    smtp.wait_for(1, to="owner@example.com", subject_contains="New order")
    page = shopper.client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Paid by card: €29.90." in page
    assert stock(app, "TEA") == 98


def test_the_return_page_says_the_payment_is_being_confirmed_until_the_webhook_came(
    app, products, shopper, stripe_standin
):
    order = pay_by_card(shopper, products, stripe_standin)
    stripe_standin.pay(order.payment_session_id)
    back = shopper.client.get(
        stripe_standin.sessions[order.payment_session_id]["success_url"].removeprefix("http://shop.test")
    )
    assert back.status_code == 200
    assert "Payment being confirmed" in back.get_data(as_text=True)
    send(shopper.client, stripe_standin, "checkout.session.completed", order.payment_session_id)
    again = shopper.client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Payment being confirmed" not in again
    assert "Paid by card" in again


def test_the_webhook_racing_the_shoppers_return_leaves_one_paid_order(app, products, shopper, stripe_standin, smtp):
    order = pay_by_card(shopper, products, stripe_standin)
    stripe_standin.pay(order.payment_session_id)
    payload, headers = stripe_standin.signed_event("checkout.session.completed", order.payment_session_id)
    start, pages, answers = threading.Barrier(3), [], []
    stripe_client = app.test_client()

    def webhook() -> None:
        start.wait()
        answers.append(stripe_client.post(WEBHOOK, data=payload, headers=headers).status_code)
        answers.append(stripe_client.post(WEBHOOK, data=payload, headers=headers).status_code)  # Stripe retries

    def shopper_returns() -> None:
        start.wait()
        for _ in range(5):
            page = shopper.client.get(f"/orders/{order.id}")
            pages.append((page.status_code, "Paid by card" in page.get_data(as_text=True)))

    threads = [threading.Thread(target=webhook), threading.Thread(target=shopper_returns)]
    for t in threads:
        t.start()
    start.wait()
    for t in threads:
        t.join(30)
    assert answers == [200, 200]
    assert {status for status, _ in pages} == {200}
    assert order_of(app, order.id).status == "paid"
    assert emails(app, "order_confirmation") == 1
    assert count(app, PaymentEvent) == 1


def test_an_expired_checkout_cancels_and_restocks_once(app, products, shopper, stripe_standin, smtp):
    order = pay_by_card(shopper, products, stripe_standin)
    stripe_standin.expire(order.payment_session_id)
    assert send(shopper.client, stripe_standin, "checkout.session.expired", order.payment_session_id).status_code == 200
    assert send(shopper.client, stripe_standin, "checkout.session.expired", order.payment_session_id).status_code == 200
    assert order_of(app, order.id).status == "cancelled"
    assert stock(app, "TEA") == 100  # the 2 back, once
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="has been cancelled")
    assert "checkout.session.expired" in mail.text
    assert emails(app, "order_cancelled") == 1


def test_a_bank_debit_waits_for_its_outcome(app, products, shopper, stripe_standin):
    paid = pay_by_card(shopper, products, stripe_standin)
    failed = pay_by_card(shopper, products, stripe_standin, tea=3)
    for order in (paid, failed):
        stripe_standin.pay(order.payment_session_id, payment_status="unpaid")  # a debit under way
        send(shopper.client, stripe_standin, "checkout.session.completed", order.payment_session_id)
        assert order_of(app, order.id).status == "awaiting_payment"
    send(shopper.client, stripe_standin, "checkout.session.async_payment_succeeded", paid.payment_session_id)
    send(shopper.client, stripe_standin, "checkout.session.async_payment_failed", failed.payment_session_id)
    assert order_of(app, paid.id).status == "paid"
    assert order_of(app, failed.id).status == "cancelled"
    assert stock(app, "TEA") == 98  # the failed order's 3 back
    assert emails(app, "order_confirmation") == 1


def test_a_redelivered_event_answers_200_and_changes_nothing(app, products, shopper, stripe_standin):
    order = pay_by_card(shopper, products, stripe_standin)
    stripe_standin.pay(order.payment_session_id)
    for _ in range(3):
        response = send(shopper.client, stripe_standin, "checkout.session.completed", order.payment_session_id, "evt_1")
        assert response.status_code == 200
    assert count(app, PaymentEvent) == 1
    assert emails(app, "order_confirmation") == 1
    with app.app_context():
        assert len(db.session.get(Order, order.id).status_changes) == 1


def test_an_expiry_arriving_after_the_payment_never_undoes_it(app, products, shopper, stripe_standin):
    order = pay_by_card(shopper, products, stripe_standin)
    stripe_standin.pay(order.payment_session_id)
    expired_late, _ = stripe_standin.signed_event("checkout.session.expired", order.payment_session_id)
    send(shopper.client, stripe_standin, "checkout.session.completed", order.payment_session_id)
    headers = {"Stripe-Signature": sign(expired_late, stripe_standin.webhook_secret)}
    assert shopper.client.post(WEBHOOK, data=expired_late, headers=headers).status_code == 200
    assert order_of(app, order.id).status == "paid"
    assert stock(app, "TEA") == 98
    assert emails(app, "order_cancelled") == 0


@pytest.mark.parametrize(
    "forgery", ["no header", "another secret", "body changed", "too old", "not json", "not an event", "not utf-8"]
)
def test_a_forged_webhook_is_refused_and_changes_nothing(app, products, shopper, stripe_standin, forgery):
    order = pay_by_card(shopper, products, stripe_standin)
    stripe_standin.pay(order.payment_session_id)
    payload = stripe_standin.event("checkout.session.completed", order.payment_session_id)
    secret = stripe_standin.webhook_secret
    headers = {
        "no header": {},
        "another secret": {"Stripe-Signature": sign(payload, "whsec_someone_else")},
        "body changed": {"Stripe-Signature": sign(payload, secret)},
        "too old": {"Stripe-Signature": sign(payload, secret, int(time.time()) - 3600)},
        "not json": {"Stripe-Signature": sign(b"{not json", secret)},
        "not an event": {"Stripe-Signature": sign(b'[{"data": 1}]', secret)},  # signed right, but no event
        "not utf-8": {"Stripe-Signature": sign(b"\xff\xfe", secret)},
    }[forgery]
    body = {
        "not json": b"{not json",
        "body changed": payload.replace(b'"evt_', b'"evt_x'),
        "not an event": b'[{"data": 1}]',
        "not utf-8": b"\xff\xfe",
    }.get(forgery, payload)
    assert forgery != "body changed" or body != payload
    response = shopper.client.post(WEBHOOK, data=body, headers=headers)
    assert response.status_code == 400
    assert order_of(app, order.id).status == "awaiting_payment"
    assert count(app, PaymentEvent) == 0


def test_a_payment_of_another_amount_is_not_taken_for_the_order(app, products, shopper, stripe_standin, caplog):
    order = pay_by_card(shopper, products, stripe_standin)
    stripe_standin.pay(order.payment_session_id)["amount_total"] = 100
    assert (
        send(shopper.client, stripe_standin, "checkout.session.completed", order.payment_session_id).status_code == 200
    )
    assert order_of(app, order.id).status == "awaiting_payment"
    assert "not marked paid" in caplog.text
    assert emails(app, "order_confirmation") == 0


def test_an_event_about_a_session_of_no_order_answers_200_and_is_logged(app, stripe_standin, caplog):
    stripe_standin.sessions["cs_test_elsewhere"] = {"id": "cs_test_elsewhere", "object": "checkout.session"}
    payload, headers = stripe_standin.signed_event("checkout.session.completed", "cs_test_elsewhere")
    assert app.test_client().post(WEBHOOK, data=payload, headers=headers).status_code == 200
    assert "names no order" in caplog.text
    assert count(app, Order) == 0
