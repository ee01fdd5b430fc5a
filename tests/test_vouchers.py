"""Vouchers: the owner makes them, shoppers apply them at checkout, and their uses are
counted atomically with the orders."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import Order, Product, Voucher, utcnow
from tests.conftest import ADDRESS, Browser, count, order_id_from


def make_voucher(app, code: str = "TEA10", kind: str = "percent", amount: int = 1000, **fields) -> int:
    with app.app_context():
        voucher = Voucher(code=code, kind=kind, amount=amount, **fields)
        db.session.add(voucher)
        db.session.commit()
        return voucher.id


def voucher(app, code: str) -> Voucher:
    with app.app_context():
        return db.session.execute(sa.select(Voucher).where(Voucher.code == code)).scalar_one()


def apply(browser: Browser, code: str):
    return browser.submit("/checkout", "/checkout/voucher", {"code": code})


def test_a_voucher_takes_its_discount_off_the_goods_and_shows_everywhere(app, products, shopper, smtp):
    make_voucher(app, min_basket_cents=2000, usage_limit=5)
    shopper.add(products["TEA"], 2)  # €25.00
    response = apply(shopper, " tea10 ")
    assert response.status_code == 303
    page = shopper.get("/checkout").get_data(as_text=True)
    assert "Voucher TEA10 applied: 10 % off a basket of €20.00 or more." in page
    assert "−€2.50" in page
    assert "€27.40" in page  # 25.00 - 2.50 + 4.90
    order_id = order_id_from(shopper.checkout())
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.discount_cents, order.voucher_code, order.total_cents) == (250, "TEA10", 2740)
    assert voucher(app, "TEA10").times_used == 1
    assert "Voucher TEA10" in shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert "Voucher TEA10: -€2.50" in mail.text
    # The voucher was for that order: the next checkout starts without it.
    shopper.add(products["MUG"], 1)
    assert "TEA10" not in shopper.get("/checkout").get_data(as_text=True)


def test_a_fixed_voucher_never_takes_more_than_the_goods(app, products, shopper, smtp):
    make_voucher(app, "BIG", "fixed", 10_000)
    shopper.add(products["MUG"], 1)
    apply(shopper, "BIG")
    order_id = order_id_from(shopper.checkout())
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.discount_cents, order.total_cents) == (825, 490)  # only the shipping is left


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({}, "NOPE", "'NOPE' is not a voucher code we know."),
        ({"active": False}, "TEA10", "is not a voucher code we know"),
        ({"valid_until": utcnow() - timedelta(minutes=1)}, "TEA10", "Voucher TEA10 has expired."),
        ({"valid_from": utcnow() + timedelta(days=2)}, "TEA10", "Voucher TEA10 can be used from"),
        ({"usage_limit": 1, "times_used": 1}, "TEA10", "Voucher TEA10 has been used up."),
        ({"min_basket_cents": 5000}, "TEA10", "Voucher TEA10 needs a basket of at least €50.00."),
        ({}, "<script>", "A code has letters, digits and dashes only."),
    ],
)
def test_vouchers_that_do_not_apply_are_refused_next_to_the_field(app, products, shopper, fields, code, message):
    make_voucher(app, **fields)
    shopper.add(products["TEA"], 1)
    response = apply(shopper, code)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message.replace("'", "&#39;") in html
    assert 'id="code-error"' in html
    assert voucher(app, "TEA10").times_used == fields.get("times_used", 0)


def test_a_voucher_used_up_after_it_was_applied_refuses_the_order_and_writes_nothing(app, products, shopper, smtp):
    make_voucher(app, usage_limit=1)
    shopper.add(products["TEA"], 1)
    apply(shopper, "TEA10")
    with app.app_context():
        db.session.execute(sa.update(Voucher).values(times_used=1))
        db.session.commit()
    response = shopper.checkout()
    assert response.status_code == 409
    assert "has been used up" in response.get_data(as_text=True)
    assert count(app, Order) == 0
    with app.app_context():
        assert db.session.get(Product, products["TEA"]).stock == 100
    order_id = order_id_from(shopper.checkout())  # without the voucher now, at full price
    with app.app_context():
        assert db.session.get(Order, order_id).discount_cents == 0


def test_twenty_shoppers_race_for_five_uses_and_five_get_the_discount(app, products, smtp):
    make_voucher(app, "FIVE", usage_limit=5)
    shoppers = []
    for i in range(20):
        guest = Browser(app.test_client())
        guest.add(products["TEA"], 1)
        assert apply(guest, "FIVE").status_code == 303
        form = Browser.form(guest.get("/checkout"), "/checkout")["fields"]
        shoppers.append((guest, {**form, **ADDRESS, "email": f"racer{i}@example.com"}))
    gate, statuses = threading.Barrier(len(shoppers)), []

    def buy(guest: Browser, data: dict) -> None:
        gate.wait()
        statuses.append(guest.client.post("/checkout", data=data).status_code)

    threads = [threading.Thread(target=buy, args=s) for s in shoppers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [303] * 5 + [409] * 15
    assert voucher(app, "FIVE").times_used == 5
    assert count(app, Order) == 5
    assert count(app, Order, Order.voucher_code == "FIVE", Order.discount_cents == 125) == 5
    with app.app_context():
        assert db.session.get(Product, products["TEA"]).stock == 95  # the 15 refused took nothing


# ---------------------------------------------------------------- the owner's page
def test_the_owner_creates_lists_and_switches_off_vouchers(app, admin):
    data = {
        "code": "spring-25",
        "kind": "percent",
        "amount": "12.5",
        "min_basket": "30",
        "valid_from": "2026-03-01",
        "valid_until": "2026-03-31",
        "usage_limit": "100",
    }
    response = admin.submit("/admin/vouchers", "/admin/vouchers", data)
    assert response.status_code == 303
    html = admin.get("/admin/vouchers").get_data(as_text=True)
    assert "Voucher SPRING-25 created." in html
    assert "12.5 % off a basket of €30.00 or more" in html
    assert "0 of 100" in html
    made = voucher(app, "SPRING-25")
    assert (made.amount, made.min_basket_cents, made.usage_limit) == (1250, 3000, 100)
    assert made.valid_until.isoformat() == "2026-04-01T00:00:00"  # to the end of the last day

    again = admin.submit("/admin/vouchers", "/admin/vouchers", data)
    assert again.status_code == 409
    assert "A voucher with this code exists already." in again.get_data(as_text=True)

    admin.submit("/admin/vouchers", f"/admin/vouchers/{made.id}/active", {"active": "0"})
    assert voucher(app, "SPRING-25").active is False


def test_a_voucher_needs_only_a_code_and_an_amount(app, admin):
    response = admin.submit("/admin/vouchers", "/admin/vouchers", {"code": "PLAIN", "kind": "fixed", "amount": "5"})
    assert response.status_code == 303
    made = voucher(app, "PLAIN")
    assert (made.amount, made.min_basket_cents, made.usage_limit, made.valid_until) == (500, 0, None, None)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": "150"}, "A percentage goes up to 100."),
        ({"amount": "12.345"}, "Enter a percentage like 10 or 12.5 (at most two decimals)."),
        ({"amount": "0"}, "Enter more than 0."),
        ({"kind": "fixed", "amount": "ten"}, "is not an amount like 12.50"),
        ({"valid_from": "2026-05-02", "valid_until": "2026-05-01"}, "The last day comes before the first."),
        ({"code": "no spaces"}, "Letters, digits, dashes and underscores."),
        ({"usage_limit": "0"}, "Enter a whole number from 1."),
    ],
)
def test_bad_voucher_forms_are_refused(app, admin, changes, message):
    data = {"code": "X1", "kind": "percent", "amount": "10", **changes}
    response = admin.submit("/admin/vouchers", "/admin/vouchers", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app, Voucher) == 0


def test_cancelling_an_order_gives_its_voucher_use_back_once(app, products, shopper, admin, smtp):
    make_voucher(app, "ONCE", usage_limit=1)
    shopper.add(products["TEA"], 1)
    apply(shopper, "ONCE")
    order_id = order_id_from(shopper.checkout())
    assert voucher(app, "ONCE").times_used == 1
    url = f"/admin/orders/{order_id}"
    data = {"to_status": "cancelled", "from_status": "awaiting_payment", "csrf_token": admin.csrf_token(url)}
    for _ in range(2):  # the same form, sent twice
        admin.client.post(f"{url}/status", data=data)
    assert voucher(app, "ONCE").times_used == 0
    shopper.add(products["TEA"], 1)
    assert apply(shopper, "ONCE").status_code == 303  # usable again
