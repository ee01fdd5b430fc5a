"""No stale prices: what changed between the checkout page the shopper saw and their Place
order (a price, the shipping, a voucher's discount, the cart itself) is told on a 409 with
the new totals, and nothing is written; a new Place order on that page orders at them."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa

from shop.extensions import db
from shop.models import Order, OrderLine, OutboxEmail, Product, Voucher, utcnow
from tests.conftest import ADDRESS, Browser, change_settings, count, order_id_from, signed_in_browser
from tests.test_vouchers import apply, make_voucher


def page_form(browser: Browser, **fields: str) -> dict[str, str]:
    """The checkout form as the page has it, filled in: what Place order would send."""
    return {**Browser.form(browser.get("/checkout"), "/checkout")["fields"], **ADDRESS, **fields}


def set_price(app, product_id: int, cents: int) -> None:
    with app.app_context():
        db.session.get(Product, product_id).price_cents = cents
        db.session.commit()


def problem(response) -> str:
    """The sentence at the top of the page, unescaped."""
    match = re.search(r'<div class="problem" role="alert"><p>(.*?)</p>', response.get_data(as_text=True), re.S)
    assert match, response.get_data(as_text=True)[:800]
    return html.unescape(match.group(1))


def page_total(response) -> str:
    return re.search(r'<tr class="total">.*?<strong>(.*?)</strong>', response.get_data(as_text=True), re.S).group(1)


def nothing_written(app, stock: dict[int, int]) -> None:
    # The outbox may hold the account's own emails (the address confirmation): none about an order.
    order_kinds = ("order_confirmation", "new_order", "low_stock")
    assert count(app, Order) == count(app, OrderLine) == count(app, OutboxEmail, OutboxEmail.kind.in_(order_kinds)) == 0
    with app.app_context():
        assert {pid: db.session.get(Product, pid).stock for pid in stock} == stock


def order(app, order_id: int) -> Order:
    with app.app_context():
        placed = db.session.get(Order, order_id)
        placed.lines  # noqa: B018  (loaded while the session is open)
        return placed


def test_a_price_raised_after_the_page_was_shown_is_told_and_nothing_is_ordered(app, products, shopper, smtp):
    shopper.add(products["TEA"], 2)
    shopper.add(products["MUG"], 1)
    form = page_form(shopper)  # 2 x 12.50 + 8.25 + 4.90 shipping = 38.15
    set_price(app, products["TEA"], 1300)

    response = shopper.client.post("/checkout", data=form)
    assert response.status_code == 409
    assert problem(response) == (
        "The price of Assam Tea changed from €12.50 to €13.00 since you opened this page; "
        "the total is now €39.15 (it was €38.15). Please check and place the order again."
    )
    assert page_total(response) == "€39.15"  # the page shows the new totals
    nothing_written(app, {products["TEA"]: 100, products["MUG"]: 100})

    fresh = Browser.form(response, "/checkout")["fields"]
    assert fresh["shown"] != form["shown"]
    assert fresh["checkout_token"] == form["checkout_token"]  # nothing was ordered with it
    placed = order(app, order_id_from(shopper.client.post("/checkout", data={**fresh, **ADDRESS})))
    assert placed.total_cents == 3915
    assert [(line.name, line.unit_price_cents) for line in placed.lines] == [("Assam Tea", 1300), ("Enamel Mug", 825)]


def test_a_price_lowered_is_told_too_so_the_shopper_sees_what_they_pay(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    form = page_form(shopper)
    set_price(app, products["TEA"], 1199)
    response = shopper.client.post("/checkout", data=form)
    assert response.status_code == 409
    assert problem(response).startswith(
        "The price of Assam Tea changed from €12.50 to €11.99 since you opened this page; "
        "the total is now €16.89 (it was €17.40)."
    )
    nothing_written(app, {products["TEA"]: 100})
    placed = order_id_from(
        shopper.client.post("/checkout", data={**Browser.form(response, "/checkout")["fields"], **ADDRESS})
    )
    assert order(app, placed).total_cents == 1689


def test_prices_that_changed_without_changing_the_total_are_still_told(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    shopper.add(products["MUG"], 1)
    form = page_form(shopper)
    set_price(app, products["TEA"], 1300)
    set_price(app, products["MUG"], 775)
    response = shopper.client.post("/checkout", data=form)
    assert response.status_code == 409
    assert problem(response) == (
        "The price of Assam Tea changed from €12.50 to €13.00 and the price of Enamel Mug changed from €8.25 "
        "to €7.75 since you opened this page; the total is still €25.65. Please check and place the order again."
    )
    assert count(app, Order) == 0


def test_a_new_shipping_rate_after_a_restart_is_told(make_app, products, smtp):
    before = make_app()
    shopper = signed_in_browser(before, "ada@example.com")
    shopper.add(products["TEA"], 1)
    form = page_form(shopper)
    after = make_app(SHOP_SHIPPING_FLAT_RATE=590)  # the owner changed the setting and restarted
    client = after.test_client()
    client.set_cookie("session", shopper.client.get_cookie("session").value)

    response = client.post("/checkout", data=form)
    assert response.status_code == 409
    assert problem(response) == (
        "Shipping changed from €4.90 to €5.90 since you opened this page; "
        "the total is now €18.40 (it was €17.40). Please check and place the order again."
    )
    assert count(before, Order) == 0
    # The shopper who picked the pickup on that same page pays what it said: €12.50.
    placed = order(after, order_id_from(client.post("/checkout", data={**form, "shipping_method": "pickup"})))
    assert (placed.shipping_method, placed.total_cents) == ("pickup", 1250)


def test_a_higher_free_shipping_threshold_is_told(app, products, shopper, smtp):
    shopper.add(products["TEA"], 4)  # €50.00: free shipping from €50.00
    form = page_form(shopper)
    change_settings(app, SHOP_FREE_SHIPPING_OVER=6000)
    response = shopper.client.post("/checkout", data=form)
    assert response.status_code == 409
    assert problem(response).startswith(
        "Shipping changed from free to €4.90 since you opened this page; the total is now €54.90 (it was €50.00)."
    )
    nothing_written(app, {products["TEA"]: 100})


def test_a_new_tax_rate_is_told_as_a_changed_total(make_app, products, smtp):
    app = make_app(SHOP_PRICES_INCLUDE_TAX=False)
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(products["TEA"], 1)
    form = page_form(shopper)  # (12.50 + 4.90) + 20 % = 20.88
    change_settings(app, SHOP_TAX_RATE_BP=1000)
    response = shopper.client.post("/checkout", data=form)
    assert response.status_code == 409
    assert problem(response).startswith(
        "The total changed since you opened this page; the total is now €19.14 (it was €20.88)."
    )


def test_a_voucher_whose_discount_changed_is_told_and_its_use_not_taken(app, products, shopper, smtp):
    make_voucher(app, "TEA10", "percent", 1000)
    shopper.add(products["TEA"], 2)
    apply(shopper, "TEA10")
    form = page_form(shopper)  # 25.00 - 2.50 + 4.90 = 27.40
    with app.app_context():
        db.session.execute(sa.update(Voucher).values(amount=500))
        db.session.commit()
    response = shopper.client.post("/checkout", data=form)
    assert response.status_code == 409
    assert problem(response).startswith(
        "The voucher discount changed from €2.50 to €1.25 since you opened this page; "
        "the total is now €28.65 (it was €27.40)."
    )
    with app.app_context():
        assert db.session.execute(sa.select(Voucher.times_used)).scalar_one() == 0
    nothing_written(app, {products["TEA"]: 100})


def test_a_voucher_that_ended_after_the_page_was_shown_is_removed_and_told(app, products, shopper, smtp):
    make_voucher(app, "TEA10", "percent", 1000)
    shopper.add(products["TEA"], 2)
    apply(shopper, "TEA10")
    form = page_form(shopper)
    with app.app_context():
        db.session.execute(sa.update(Voucher).values(valid_until=utcnow()))
        db.session.commit()
    response = shopper.client.post("/checkout", data=form)
    assert response.status_code == 409
    assert problem(response) == "Voucher TEA10 has expired. The voucher was removed; please check the new total."
    assert page_total(response) == "€29.90"
    nothing_written(app, {products["TEA"]: 100})
    placed = order_id_from(
        shopper.client.post("/checkout", data={**Browser.form(response, "/checkout")["fields"], **ADDRESS})
    )
    assert order(app, placed).discount_cents == 0


def test_a_cart_changed_in_another_tab_is_told(app, products, shopper, smtp):
    shopper.add(products["TEA"], 2)
    form = page_form(shopper)
    shopper.add(products["TEA"], 1)  # another tab: now 3
    response = shopper.client.post("/checkout", data=form)
    assert response.status_code == 409
    assert problem(response) == (
        "Your cart changed since you opened this page; the total is now €42.40 (it was €29.90). "
        "Please check and place the order again."
    )
    nothing_written(app, {products["TEA"]: 100})
    shopper.add(products["MUG"], 1)  # and again, after the page came back: told again
    response = shopper.client.post("/checkout", data={**Browser.form(response, "/checkout")["fields"], **ADDRESS})
    assert problem(response).startswith("Your cart changed since you opened this page; the total is now €50.65")
    placed = order_id_from(
        shopper.client.post("/checkout", data={**Browser.form(response, "/checkout")["fields"], **ADDRESS})
    )
    assert order(app, placed).subtotal_cents == 3 * 1250 + 825


def test_a_form_without_the_summary_still_orders_at_the_current_prices(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    form = page_form(shopper)
    del form["shown"]  # a page from before the summary, or a client that builds the form itself
    set_price(app, products["TEA"], 1300)
    assert order(app, order_id_from(shopper.client.post("/checkout", data=form))).subtotal_cents == 1300


def test_a_mangled_summary_is_refused_with_a_fresh_form_and_nothing_written(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    for mangled in ("lines=1:1250x1", "lines=1:-5x1;discount=0;standard=490:1740", "x" * 5000, "lines=\u00e9"):
        response = shopper.client.post("/checkout", data=page_form(shopper, shown=mangled))
        assert response.status_code == 400
        assert "This form was not recognised" in response.get_data(as_text=True)
        assert Browser.form(response, "/checkout")["fields"]["shown"].startswith("lines=")
    assert count(app, Order) == 0


def test_a_summary_of_only_spaces_counts_as_none_not_a_server_error(app, products, shopper, smtp):
    """Found by the hostile-requests property test: Optional() let " " through, then parsing it raised."""
    shopper.add(products["TEA"], 1)
    response = shopper.client.post("/checkout", data=page_form(shopper, shown="   "))
    order_id_from(response)  # placed at the current prices, as a form without a summary is


def test_the_same_form_submitted_again_after_a_price_change_returns_the_first_order(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    form = page_form(shopper)
    first = order_id_from(shopper.client.post("/checkout", data=form))
    set_price(app, products["TEA"], 1300)
    assert order_id_from(shopper.client.post("/checkout", data=form)) == first  # the back button, Place order
    assert count(app, Order) == 1
    assert order(app, first).subtotal_cents == 1250


def test_a_guest_is_told_too_and_keeps_what_they_typed(app, products, smtp):
    guest = Browser(app.test_client())
    guest.add(products["MUG"], 1)
    form = page_form(guest, email="guest@example.com")
    set_price(app, products["MUG"], 900)
    response = guest.client.post("/checkout", data=form)
    assert response.status_code == 409
    assert "The price of Enamel Mug changed from €8.25 to €9.00" in problem(response)
    page = response.get_data(as_text=True)
    assert 'value="guest@example.com"' in page
    assert 'value="12 Analytical Street"' in page
    fields = Browser.form(response, "/checkout")["fields"]
    assert guest.client.post("/checkout", data={**fields, **ADDRESS, "email": "guest@example.com"}).status_code == 303
