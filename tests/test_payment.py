"""Payment methods, shipping and tax through the pages, the owner's moves for each method,
and `flask shop cancel-unpaid`."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import Order, OrderStatusChange, OutboxEmail, Product, utcnow
from tests.conftest import ADDRESS, Browser, add_product, count, order_id_from, signed_in_admin, signed_in_browser


def order(app, order_id: int) -> Order:
    with app.app_context():
        return db.session.get(Order, order_id)


def stock(app, product_id: int) -> int:
    with app.app_context():
        return db.session.get(Product, product_id).stock


def move(admin, order_id: int, to_status: str) -> str:
    """The owner changes the status; the flash message or refusal shown after."""
    url = f"/admin/orders/{order_id}"
    hidden = Browser.form(admin.client.get(url), f"{url}/status")["fields"]  # CSRF token, status seen
    admin.client.post(f"{url}/status", data={**hidden, "to_status": to_status})
    return admin.get(url).get_data(as_text=True)


# ---------------------------------------------------------------- choosing at checkout
def test_the_checkout_page_offers_each_method_with_its_cost(app, products, shopper):
    shopper.add(products["TEA"], 1)
    html = shopper.get("/checkout").get_data(as_text=True)
    for label in ("Delivery to your address", "Pickup in store", "Bank transfer", "Cash on delivery"):
        assert label in html
    assert "€4.90, free from €50.00" in html
    assert re.search(r'name="shipping_method"[^>]*value="standard"[^>]*checked', html)
    assert re.search(r'name="payment_method"[^>]*value="bank_transfer"[^>]*checked', html)
    assert "Including VAT 20 %" in html
    assert "Only with pickup in store" in html  # paying at pickup needs a pickup


def test_bank_transfer_shows_the_bank_details_and_waits_for_payment(make_app, smtp):
    app = make_app(
        SHOP_BANK_ACCOUNT_HOLDER="Tea Corner Ltd",
        SHOP_BANK_IBAN="DE89 3704 0044 0532 0130 00",
        SHOP_BANK_BIC="COBADEFFXXX",
    )
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(add_product(app, "Green Tea", 2000), 1)
    order_id = order_id_from(shopper.checkout(payment_method="bank_transfer"))
    page = shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    number = order(app, order_id).number
    for text in (
        "Awaiting payment",
        "Account holder: Tea Corner Ltd",
        "IBAN: DE89 3704 0044 0532 0130 00",
        "BIC: COBADEFFXXX",
        f"Reference: {number}",
        "Please transfer €24.90 to:",
    ):
        assert text in page, text
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert "IBAN: DE89 3704 0044 0532 0130 00" in mail.text
    assert f"Reference: {number}" in mail.html
    assert "Shipping (delivery): €4.90" in mail.text
    assert "Including VAT 20 %: €4.15" in mail.text  # 2490 / 6 = 415


def test_cash_on_delivery_ships_before_it_is_paid_and_is_paid_when_delivered(app, products, shopper, admin, smtp):
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout(payment_method="cash_on_delivery"))
    placed = order(app, order_id)
    assert (placed.status, placed.payment_method) == ("awaiting_payment", "cash_on_delivery")
    assert "in cash ready for the courier" in shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Order " in move(admin, order_id, "shipped")
    assert order(app, order_id).paid_at is None
    move(admin, order_id, "delivered")
    delivered = order(app, order_id)
    assert delivered.status == "delivered"
    assert delivered.paid_at is not None


def test_bank_transfer_cannot_ship_before_it_is_paid(app, products, shopper, admin, smtp):
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout(payment_method="bank_transfer"))
    assert "cannot become shipped" in move(admin, order_id, "shipped")
    move(admin, order_id, "paid")
    assert order(app, order_id).paid_at is not None
    move(admin, order_id, "shipped")
    assert order(app, order_id).status == "shipped"


def test_pickup_needs_no_address_costs_no_shipping_and_is_handed_over_not_shipped(app, products, shopper, admin, smtp):
    shopper.add(products["TEA"], 1)
    blank = {name: "" for name in ADDRESS if name != "full_name"}  # who collects it: a name is enough
    order_id = order_id_from(shopper.checkout(**blank, shipping_method="pickup", payment_method="pay_at_pickup"))
    placed = order(app, order_id)
    assert (placed.shipping_method, placed.shipping_cents, placed.total_cents) == ("pickup", 0, 1250)
    assert placed.address == ""
    page = shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Ada Lovelace, collect it at our shop" in page
    assert "when you collect your order" in page
    assert "Shipping to" not in page
    assert "cannot become shipped" in move(admin, order_id, "shipped")
    move(admin, order_id, "delivered")  # collected and paid at the counter
    assert order(app, order_id).status == "delivered"
    assert order(app, order_id).paid_at is not None
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert "Pickup in store: our shop" in mail.text


def test_delivery_needs_the_address(app, products, shopper):
    shopper.add(products["TEA"], 1)
    response = shopper.checkout(address="", city="")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter your street address." in html
    assert "Enter your town or city." in html
    assert count(app, Order) == 0


@pytest.mark.parametrize(
    ("shipping", "payment", "message"),
    [
        ("pickup", "cash_on_delivery", "Cash on delivery cannot be combined with this shipping option."),
        ("standard", "pay_at_pickup", "Pay when you collect cannot be combined with this shipping option."),
        ("standard", "iou", "Not a valid choice"),
        ("drone", "bank_transfer", "Not a valid choice"),
    ],
)
def test_impossible_or_unknown_choices_are_refused(app, products, shopper, shipping, payment, message):
    shopper.add(products["TEA"], 1)
    response = shopper.checkout(shipping_method=shipping, payment_method=payment)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app, Order) == 0
    assert stock(app, products["TEA"]) == 100


def test_a_method_switched_off_is_neither_shown_nor_taken(make_app, smtp):
    app = make_app(SHOP_PAYMENT_METHODS=("cash_on_delivery",), SHOP_SHIPPING_METHODS=("standard",))
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(add_product(app, "Tea", 1000), 1)
    html = shopper.get("/checkout").get_data(as_text=True)
    assert "Bank transfer" not in html
    assert "Pickup in store" not in html
    assert shopper.checkout(payment_method="bank_transfer").status_code == 422
    order_id = order_id_from(shopper.checkout())
    assert order(app, order_id).payment_method == "cash_on_delivery"


def test_shipping_is_free_from_the_threshold(app, shopper, smtp):
    shopper.add(add_product(app, "Big Tea", 5000), 1)
    order_id = order_id_from(shopper.checkout())
    assert (order(app, order_id).shipping_cents, order(app, order_id).total_cents) == (0, 5000)
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert "Shipping (delivery): free" in mail.text


def test_prices_without_tax_get_it_added_on_every_page_and_email(make_app, smtp):
    app = make_app(SHOP_PRICES_INCLUDE_TAX=False, SHOP_TAX_RATE_BP=770, SHOP_SHIPPING_FLAT_RATE=500)
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(add_product(app, "Net Tea", 1000), 1)
    assert "Plus VAT 7.7 %" in shopper.get("/cart").get_data(as_text=True)
    checkout = shopper.get("/checkout").get_data(as_text=True)
    assert "VAT 7.7 %" in checkout
    assert "€16.16" in checkout  # (10.00 + 5.00) × 1.077 = 16.155: half a cent rounds up
    order_id = order_id_from(shopper.checkout())
    placed = order(app, order_id)
    assert (placed.subtotal_cents, placed.shipping_cents, placed.tax_cents, placed.total_cents) == (
        1000,
        500,
        116,
        1616,
    )
    page = shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Goods (before VAT)" in page
    assert "€16.16" in page
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert "VAT 7.7 %: €1.16" in mail.text
    assert "Total: €16.16" in mail.text


# ---------------------------------------------------------------- cancel-unpaid
def age(app, order_id: int, days: float) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(Order).where(Order.id == order_id).values(created_at=utcnow() - timedelta(days=days))
        )
        db.session.commit()


def test_cancel_unpaid_cancels_restocks_and_emails_each_late_bank_transfer_once(app, products, shopper, smtp):
    orders = {}
    for name, payment in (("late", "bank_transfer"), ("recent", "bank_transfer"), ("cod", "cash_on_delivery")):
        shopper.add(products["TEA"], 2)
        orders[name] = order_id_from(shopper.checkout(payment_method=payment))
    paid = (shopper.add(products["TEA"], 1), order_id_from(shopper.checkout()))[1]
    age(app, orders["late"], 8)
    age(app, orders["cod"], 30)
    age(app, paid, 30)
    with app.app_context():
        db.session.execute(sa.update(Order).where(Order.id == paid).values(status="paid"))
        db.session.commit()
    assert stock(app, products["TEA"]) == 93
    runner = app.test_cli_runner()

    first = runner.invoke(args=["shop", "cancel-unpaid"])
    assert first.exit_code == 0, first.output
    assert "1 unpaid order(s) older than 7 days cancelled" in first.output
    second = runner.invoke(args=["shop", "cancel-unpaid"])
    assert "0 unpaid order(s)" in second.output

    assert order(app, orders["late"]).status == "cancelled"
    assert {order(app, orders[n]).status for n in ("recent", "cod")} == {"awaiting_payment"}
    assert order(app, paid).status == "paid"
    assert stock(app, products["TEA"]) == 95  # the late order's 2 back, once
    assert count(app, OrderStatusChange) == 1
    [mail] = smtp.wait_for(1, subject_contains="has been cancelled")
    assert "Not paid within 7 days." in mail.text
    assert f"http://shop.test/orders/{orders['late']}" in mail.text  # SHOP_BASE_URL, outside any request
    assert count(app, OutboxEmail, OutboxEmail.kind == "order_cancelled") == 1
    history = signed_in_admin_page(app, orders["late"])
    assert "Awaiting payment → Cancelled by the system — “Not paid within 7 days.”" in history


def signed_in_admin_page(app, order_id: int) -> str:
    return signed_in_admin(app, "boss@example.com").get(f"/admin/orders/{order_id}").get_data(as_text=True)


def test_cancel_unpaid_takes_its_days_from_the_setting_or_the_option(make_app, smtp):
    app = make_app(SHOP_UNPAID_CANCEL_DAYS=2)
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(add_product(app, "Tea", 1000), 1)
    order_id = order_id_from(shopper.checkout())
    # Two days: within 2 shop days of its day (not due), and before yesterday began (due with 1).
    age(app, order_id, 2)
    runner = app.test_cli_runner()
    assert "0 unpaid" in runner.invoke(args=["shop", "cancel-unpaid"]).output
    assert "1 unpaid" in runner.invoke(args=["shop", "cancel-unpaid", "--days", "1"]).output


# ---------------------------------------------------------------- the service itself
def test_place_order_checks_the_choices_before_writing_anything(app, products, smtp):
    from shop.checkout.service import Choices, Customer, MethodNotOffered, ShippingAddress, place_order

    address = ShippingAddress(**ADDRESS)
    with app.test_request_context():
        with pytest.raises(MethodNotOffered, match="cannot be combined"):
            place_order(
                Customer("g@example.com"),
                {products["TEA"]: 1},
                address,
                Choices("pickup", "cash_on_delivery"),
                "t" * 20,
            )
        with pytest.raises(MethodNotOffered, match="payment methods shown"):
            place_order(Customer("g@example.com"), {products["TEA"]: 1}, address, Choices("standard", "card"), "u" * 20)
        placed = place_order(
            Customer("g@example.com"), {products["TEA"]: 1}, address, Choices("pickup", "bank_transfer"), "v" * 20
        )
        order = placed.order
        assert (order.user_id, order.email, order.status) == (None, "g@example.com", "awaiting_payment")
        assert (order.address, order.shipping_cents) == ("", 0)  # a pickup keeps no address
        again = place_order(
            Customer("g@example.com"), {products["TEA"]: 1}, address, Choices("pickup", "bank_transfer"), "v" * 20
        )
        assert again.duplicate
        assert again.order.id == order.id
    assert count(app, Order) == 1
    assert stock(app, products["TEA"]) == 99


def test_the_preselected_choices_always_fit_each_other(make_app, smtp):
    app = make_app(
        SHOP_SHIPPING_METHODS=("pickup", "standard"), SHOP_PAYMENT_METHODS=("cash_on_delivery", "pay_at_pickup")
    )
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(add_product(app, "Tea", 1000), 1)
    html = shopper.get("/checkout").get_data(as_text=True)
    assert re.search(r'name="shipping_method"[^>]*value="pickup"[^>]*checked', html)
    assert re.search(r'name="payment_method"[^>]*value="pay_at_pickup"[^>]*checked', html)  # not the first
    order_id = order_id_from(shopper.checkout())
    assert (order(app, order_id).shipping_method, order(app, order_id).payment_method) == ("pickup", "pay_at_pickup")
