"""Refunds of a paid order (shop/orders/refunds.py): never more than was paid, however many
owners click at once; a provider's refusal leaves nothing behind; a refund left pending by
a dead process is completed with the same idempotency key.

The provider's refusal is played by a payment method whose `refund` raises RefundFailed
(monkeypatch): no payment provider runs here. The card method's own refunds, against a
local stand-in of Stripe's API, are tested with card payments.
"""

import re
import threading

import pytest
import sqlalchemy as sa

from shop.audit import trail_of
from shop.extensions import db
from shop.models import Order, OutboxEmail, Refund, RefundStatus
from shop.orders.refunds import RefundRefused, complete_pending_refunds, refund_payment, refundable_cents
from shop.orders.service import change_order_status
from shop.payment.method import PaymentMethod, RefundFailed
from tests.conftest import count, order_id_from


@pytest.fixture
def paid_order(app, products, shopper, smtp) -> int:
    """A bank-transfer order of €21.40 (2 × €8.25 and €4.90 shipping), marked paid."""
    order_id = order_id_from((shopper.add(products["MUG"], 2), shopper.checkout())[1])
    with app.app_context():
        change_order_status(order_id, "paid", None)
    return order_id


def test_a_refund_is_recorded_and_the_customer_is_told(app, paid_order, smtp):
    with app.app_context():
        refund = refund_payment(paid_order, 500, reason="One mug arrived broken.")
        assert (refund.status, refund.amount_cents, refund.reference) == (RefundStatus.REFUNDED, 500, "")
        assert refundable_cents(paid_order) == 2140 - 500
        number = db.session.get(Order, paid_order).number
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="refunded")
    assert f"order {number}: €5.00 refunded" in mail.subject
    assert "One mug arrived broken." in mail.text
    assert "the way you paid" in mail.text  # a bank transfer is paid back by hand
    with app.app_context():
        entry = trail_of("order", paid_order)[-1]
        assert (entry.action, entry.after["amount_cents"]) == ("refund.created", 500)


def test_more_than_is_left_and_unpaid_orders_are_refused_and_nothing_is_written(app, paid_order, products, shopper):
    with app.app_context():
        refund_payment(paid_order, 2000)
        with pytest.raises(RefundRefused, match=re.escape("At most €1.40 of this order is left to refund")):
            refund_payment(paid_order, 141)
        with pytest.raises(RefundRefused, match="more than nothing"):
            refund_payment(paid_order, 0)
    unpaid = order_id_from((shopper.add(products["TEA"], 1), shopper.checkout())[1])
    with app.app_context(), pytest.raises(RefundRefused, match="Only a paid order"):
        refund_payment(unpaid, 100)
    assert count(app, Refund) == 1


def test_two_owners_refunding_the_whole_at_once_refund_it_once(app, paid_order):
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def refund_all() -> None:
        with app.app_context():
            start.wait()
            try:
                refund_payment(paid_order, 2140)
                outcomes.append("refunded")
            except RefundRefused:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=refund_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["refunded", "refused", "refused", "refused"]
    with app.app_context():
        assert refundable_cents(paid_order) == 0
        assert db.session.execute(sa.select(sa.func.sum(Refund.amount_cents))).scalar_one() == 2140


def test_a_provider_that_refuses_leaves_no_refund_behind(app, paid_order, monkeypatch):
    def refuse(self, order, amount_cents, idempotency_key, settings):
        raise RefundFailed("The card's bank refused the refund.")

    monkeypatch.setattr(PaymentMethod, "refund", refuse)
    with app.app_context():
        with pytest.raises(RefundFailed, match="refused"):
            refund_payment(paid_order, 500)
        assert refundable_cents(paid_order) == 2140
    assert count(app, Refund) == 0
    assert count(app, OutboxEmail, OutboxEmail.kind == "refund_issued") == 0


def test_a_refund_left_pending_by_a_dead_process_is_completed_with_its_key(app, paid_order, monkeypatch):
    keys: list[str] = []

    def provider(self, order, amount_cents, idempotency_key, settings):
        keys.append(idempotency_key)
        return "re_123"

    monkeypatch.setattr(PaymentMethod, "refund", provider)
    with app.app_context():
        db.session.add(Refund(order_id=paid_order, amount_cents=700, idempotency_key="refund-x-1"))
        db.session.commit()
        assert refundable_cents(paid_order) == 2140 - 700  # pending counts against what is left
        [done] = complete_pending_refunds()
        assert (done.status, done.reference) == (RefundStatus.REFUNDED, "re_123")
    assert keys == ["refund-x-1"]
    assert count(app, OutboxEmail, OutboxEmail.kind == "refund_issued") == 1


def test_the_daily_command_completes_pending_refunds(app, paid_order):
    with app.app_context():
        db.session.add(Refund(order_id=paid_order, amount_cents=300, idempotency_key="refund-x-2"))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["shop", "complete-refunds"])
    assert result.exit_code == 0, result.output
    assert "1 pending refund(s) completed" in result.output
    assert count(app, Refund, Refund.status == RefundStatus.REFUNDED) == 1
