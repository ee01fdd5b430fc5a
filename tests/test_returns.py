"""Returns (shop/orders/returns.py): the owner records some quantities of some lines (and
maybe the shipping) in the admin, refunds them (the customer is emailed) and restocks if
chosen; the order's pages show it; quantities never exceed what was bought, even with two
owners at once; a refund that fails leaves no return and restocks nothing.

The provider's refusal is played by a payment method whose `refund` raises RefundFailed
(monkeypatch), as in test_refunds.py: no payment provider runs here.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from shop.extensions import db
from shop.models import Invoice, Order, OrderLine, Product, Refund, Return, TaxRate
from shop.orders import returns
from shop.orders.refunds import refund_payment
from shop.orders.returns import ReturnRefused, record_return, return_figures
from shop.orders.service import change_order_status
from shop.payment.method import PaymentMethod, RefundFailed
from shop.pricing import totals_by_rate
from shop.tax.report import refund_tax_lines
from tests.conftest import count, order_id_from


@pytest.fixture
def paid_order(app, products, shopper, smtp) -> int:
    """2 × Enamel Mug (€8.25) and 1 × Assam Tea (€12.50), €4.90 shipping: €33.90, paid."""
    shopper.add(products["MUG"], 2)
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout())
    with app.app_context():
        change_order_status(order_id, "paid", None)
    return order_id


def line_ids(app, order_id: int) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(sa.select(OrderLine.sku, OrderLine.id).where(OrderLine.order_id == order_id))
        return {row.sku: row.id for row in rows}


def stock(app, sku: str) -> int:
    with app.app_context():
        return db.session.execute(sa.select(Product.stock).where(Product.sku == sku)).scalar_one()


def test_the_owner_records_a_return_the_customer_is_refunded_and_sees_it(app, admin, shopper, paid_order, smtp):
    lines = line_ids(app, paid_order)
    before = stock(app, "MUG")
    page = f"/admin/orders/{paid_order}"
    form = {f"qty-{lines['MUG']}": "1", "restock": "1", "reason": "Chipped"}
    response = admin.submit(page, f"{page}/returns", form)
    assert response.status_code == 303
    assert "€8.25 refunded" in admin.get(page).get_data(as_text=True)
    assert stock(app, "MUG") == before + 1
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="refunded")
    assert "€8.25 refunded" in mail.subject
    assert "Chipped" in mail.text
    shown = shopper.get(f"/orders/{paid_order}").get_data(as_text=True)
    assert "1 × Enamel Mug" in shown
    assert "Refunded €8.25" in shown
    with app.app_context():
        note = db.session.execute(sa.select(Invoice).where(Invoice.kind == "credit_note")).scalar_one()
        assert (note.number, note.total_cents, note.data["reason"]) == ("CN-000001", 825, "Chipped")


def test_shipping_and_lines_without_restock(app, paid_order):
    lines = line_ids(app, paid_order)
    before = stock(app, "TEA")
    with app.app_context():
        shipping_only = record_return(paid_order, {}, restock=True, refund_shipping=True)  # nothing to restock
        assert (shipping_only.amount_cents, shipping_only.lines) == (490, [])
        done = record_return(paid_order, {lines["TEA"]: 1}, restock=False, refund_shipping=False)
        assert (done.amount_cents, done.status, done.shipping_refunded) == (1250, "done", False)
        with pytest.raises(ReturnRefused, match="shipping of this order was refunded already"):
            record_return(paid_order, {}, restock=False, refund_shipping=True)
    assert stock(app, "TEA") == before


def test_a_return_at_two_rates_is_taxed_per_rate_in_its_credit_note_and_the_report(app, products, shopper, smtp):
    with app.app_context():
        rate = TaxRate(name="Reduced", rate_bp=700)
        db.session.add(rate)
        db.session.flush()
        db.session.execute(sa.update(Product).where(Product.sku == "MUG").values(tax_rate_id=rate.id))
        db.session.commit()
    shopper.add(products["MUG"], 2)
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout())
    lines = line_ids(app, order_id)
    with app.app_context():
        change_order_status(order_id, "paid", None)
        done = record_return(order_id, {lines["MUG"]: 1, lines["TEA"]: 1}, restock=True, refund_shipping=False)
        # 825 at 7 % (54 tax: 825 × 7/107 = 53.97) and 1250 at 20 % (208.33)
        assert done.amount_cents == 2075
        refund = db.session.get(Refund, done.refund_id)
        got = [(t.rate_bp, t.net_cents, t.tax_cents, t.gross_cents) for t in refund_tax_lines(refund)]
        assert got == [(2000, 1042, 208, 1250), (700, 771, 54, 825)]
        note = db.session.execute(sa.select(Invoice).where(Invoice.kind == "credit_note")).scalar_one()
        assert [(t["rate_bp"], t["tax_cents"]) for t in note.data["tax_lines"]] == [(2000, 208), (700, 54)]


def test_more_than_was_bought_is_refused_and_nothing_is_written(app, admin, paid_order):
    lines = line_ids(app, paid_order)
    with app.app_context():
        with pytest.raises(ReturnRefused, match="Only 2 of Enamel Mug can still be returned"):
            record_return(paid_order, {lines["MUG"]: 3}, restock=True, refund_shipping=False)
        record_return(paid_order, {lines["MUG"]: 2}, restock=True, refund_shipping=False)
        with pytest.raises(ReturnRefused, match="Only 0 of Enamel Mug"):
            record_return(paid_order, {lines["MUG"]: 1}, restock=True, refund_shipping=False)
        with pytest.raises(ReturnRefused, match="not part of this order"):
            record_return(paid_order, {999_999: 1}, restock=True, refund_shipping=False)
    assert count(app, Return) == 1
    page = f"/admin/orders/{paid_order}"
    bad = admin.submit(page, f"{page}/returns", {f"qty-{lines['TEA']}": "-1"})
    assert bad.status_code == 422
    nothing = admin.submit(page, f"{page}/returns", {})
    assert nothing.status_code == 303
    assert "Choose how many" in admin.get(page).get_data(as_text=True)


def test_two_owners_returning_everything_at_once_return_it_once(app, paid_order):
    lines = line_ids(app, paid_order)
    before = stock(app, "MUG")
    outcomes: list[str] = []
    start = threading.Barrier(3)

    def return_all() -> None:
        with app.app_context():
            start.wait()
            try:
                record_return(paid_order, {lines["MUG"]: 2}, restock=True, refund_shipping=False)
                outcomes.append("returned")
            except ReturnRefused:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=return_all) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["refused", "refused", "returned"]
    assert stock(app, "MUG") == before + 2
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.sum(Refund.amount_cents))).scalar_one() == 1650


def test_a_refund_that_fails_records_no_return_and_restocks_nothing(app, paid_order, monkeypatch):
    def refuse(self, order, amount_cents, idempotency_key, settings):
        raise RefundFailed("The card's bank refused the refund.")

    monkeypatch.setattr(PaymentMethod, "refund", refuse)
    lines = line_ids(app, paid_order)
    before = stock(app, "MUG")
    with app.app_context(), pytest.raises(RefundFailed):
        record_return(paid_order, {lines["MUG"]: 1}, restock=True, refund_shipping=False)
    assert stock(app, "MUG") == before
    assert count(app, Return) == 0
    assert count(app, Refund) == 0


def test_an_unpaid_order_cannot_be_returned(app, products, shopper, smtp):
    order_id = order_id_from((shopper.add(products["TEA"], 1), shopper.checkout())[1])
    lines = line_ids(app, order_id)
    with app.app_context(), pytest.raises(ReturnRefused, match="Only a paid order"):
        record_return(order_id, {lines["TEA"]: 1}, restock=True, refund_shipping=False)
    assert count(app, Return) == 0


@given(
    st.lists(st.tuples(st.integers(1, 50_000), st.integers(1, 5), st.sampled_from([0, 700, 1900, 2000])), min_size=1),
    st.integers(0, 100),  # the voucher, in percent of the goods
    st.integers(0, 990),
    st.booleans(),
)
def test_returning_everything_with_the_shipping_gives_back_exactly_the_order_total(bought, percent, shipping, include):
    lines = [
        OrderLine(id=i, unit_price_cents=price, quantity=quantity, tax_rate_bp=rate)
        for i, (price, quantity, rate) in enumerate(bought, 1)
    ]
    goods: dict[int, int] = {}
    for line in lines:
        goods[line.tax_rate_bp] = goods.get(line.tax_rate_bp, 0) + line.subtotal_cents
    subtotal = sum(goods.values())
    placed = totals_by_rate(goods, subtotal * percent // 100, shipping, include)
    order = Order(
        lines=lines,
        subtotal_cents=subtotal,
        discount_cents=placed.discount_cents,
        shipping_cents=shipping,
        prices_include_tax=include,
    )
    everything = return_figures(order, {line.id: line.quantity for line in lines}, refund_shipping=True)
    assert everything.total_cents == placed.total_cents
    assert everything.tax_lines == placed.tax_lines
    part = return_figures(order, {lines[0].id: 1}, refund_shipping=False)
    assert 0 <= part.total_cents <= placed.total_cents


def test_a_return_left_pending_by_a_dead_process_is_finished_by_its_refunds_key(app, paid_order):
    lines = line_ids(app, paid_order)
    before = stock(app, "MUG")
    with app.app_context():
        # The process wrote the pending return and made the refund, then died before step 3.
        refunded = returns._write_pending(paid_order, {lines["MUG"]: 1}, True, False, "Dented", None)
        refund_payment(paid_order, refunded.amount_cents, "Dented", None, None, refunded.refund_key)
        # Another died before its refund was written at all.
        returns._write_pending(paid_order, {lines["TEA"]: 1}, True, False, "Wrong tea", None)
        assert stock(app, "MUG") == before
        assert returns.complete_pending_returns(older_than=timedelta(0)) == (1, 1)
        assert returns.complete_pending_returns(older_than=timedelta(0)) == (0, 0)  # once
        done = db.session.execute(sa.select(Return).execution_options(populate_existing=True)).scalar_one()
        assert (done.status, done.refund_id is not None, done.amount_cents) == ("done", True, 825)
    assert stock(app, "MUG") == before + 1
    assert returned_quantities_now(app, paid_order) == {lines["MUG"]: 1}


def returned_quantities_now(app, order_id: int) -> dict[int, int]:
    with app.app_context():
        return returns.returned_quantities(order_id)


def test_a_return_is_in_the_orders_audit_trail_with_who_what_and_how_much(app, admin, paid_order, smtp):
    from shop.audit import trail_of

    lines = line_ids(app, paid_order)
    page = f"/admin/orders/{paid_order}"
    assert admin.submit(page, f"{page}/returns", {f"qty-{lines['MUG']}": "1", "restock": "1"}).status_code == 303
    with app.app_context():
        trail = [(e.actor_email, e.action, e.after) for e in trail_of("order", paid_order)]
    who, action, after = trail[-1]
    assert (who, action) == ("owner@example.com", "return.recorded")
    assert after["lines"] == {str(lines["MUG"]): 1}
    assert after["restocked"] is True
    assert trail[-2][:2] == ("owner@example.com", "refund.created")
