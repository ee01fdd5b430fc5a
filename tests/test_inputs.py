"""Input the database cannot hold gets a 4xx and a message, never a 500 (shop/inputs.py,
shop/money.py): one test for each fault found, on SQLite and PostgreSQL alike.
tests/test_hostile_requests.py looks for more of them on every route."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.exceptions import HTTPException

from shop.extensions import db
from shop.inputs import MAX_ID
from shop.models import Category, Order, OrderStatusChange, Product, Voucher
from shop.money import MoneyError, parse_money
from tests.conftest import ADDRESS, Browser, count, order_id_from

HUGE = ["9223372036854775807", "9223372036854775808", str(MAX_ID + 1), "1" + "0" * 40]


# ---------------------------------------------------------------- numbers in addresses
@pytest.mark.parametrize("page", [*HUGE, "0", "-1", "abc", "٣", "1.5", " 2"])
def test_a_page_number_the_database_cannot_count_to_is_404(app, products, shopper, admin, page):
    for browser, url in (
        (Browser(app.test_client()), "/"),
        (shopper, "/orders"),
        (admin, "/admin/products"),
        (admin, "/admin/orders"),
        (admin, "/admin/emails"),
    ):
        response = browser.get(f"{url}?page={page}")
        assert response.status_code == 404, (url, page)
    assert Browser(app.test_client()).get("/?page=1").status_code == 200


@pytest.mark.parametrize("product_id", [*HUGE, "0", "٣"])
def test_an_id_the_database_cannot_hold_is_404(app, products, shopper, admin, product_id):
    """Reported: /products/9223372036854775808 was a 500 (and 2147483648 on PostgreSQL)."""
    token = shopper.csrf_token(f"/products/{products['TEA']}")
    assert shopper.get(f"/products/{product_id}").status_code == 404
    assert shopper.client.post(f"/cart/add/{product_id}", data={"csrf_token": token}).status_code == 404
    assert shopper.get(f"/orders/{product_id}").status_code == 404
    assert admin.get(f"/admin/orders/{product_id}").status_code == 404


def test_no_route_takes_an_id_larger_than_the_database_holds(app: Flask):
    """Every number in a path goes through the `id` converter (1 to MAX_ID, digits 0-9): a
    route with a plain <int:...> fails here."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        for value in (str(MAX_ID + 1), "9223372036854775808", "٣"):
            path = re.sub(r"<[^<>]+>", value, rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                try:
                    matched, args = adapter.match(path, method, return_rule=True)
                except HTTPException:
                    continue
                numbers = {k: v for k, v in args.items() if isinstance(v, int)}
                assert not numbers, f"{matched.rule} takes {numbers} from {path}: use <id:...>"


# ---------------------------------------------------------------- amounts
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e999999999", "not an amount"),  # no exponents: nobody types a price so
        ("9" * 30, "too large"),
        ("1e-999999999", "not an amount"),
        ("1234567.000000000000000000000001", "more than 2 decimals"),  # 28 digits would round it away
        ("١٢", "not an amount"),
        ("1_000", "not an amount"),
        ("sNaN", "not an amount"),
        ("-Infinity", "not an amount"),
        ("1" * 40, "not an amount"),
    ],
)
def test_parse_money_refuses_what_decimal_reads_but_the_shop_cannot_take(text, message):
    with pytest.raises(MoneyError, match=message):
        parse_money(text, "EUR", "en")


def test_parse_money_still_reads_ordinary_amounts():
    amounts = ("12.5", " 12.50 ", "0", "10000000", "12.500", "1,234.50")
    assert [parse_money(t, "EUR", "en") for t in amounts] == [1250, 1250, 0, 10**9, 1250, 123450]


def test_a_price_or_voucher_amount_decimal_overflows_on_gets_a_message(app, products, admin):
    """Reported: 1e999999999 raised decimal.Overflow (not InvalidOperation): a 500."""
    product = {"sku": "NEW-1", "name": "Mug", "price": "1e999999999", "stock": "1"}
    response = admin.submit("/admin/products/new", "/admin/products/new", product)
    assert response.status_code == 422
    assert "&#39;1e999999999&#39; is not an amount like 12.50" in response.get_data(as_text=True)
    for voucher in ({"amount": "9" * 30}, {"amount": "5", "min_basket": "9" * 30}):
        form = {"code": "BIG", "kind": "fixed", **voucher}
        response = admin.submit("/admin/vouchers", "/admin/vouchers", form)
        assert response.status_code == 422, voucher
        assert "is too large" in response.get_data(as_text=True)
    assert count(app, Product) == 4
    assert count(app, Voucher) == 0


# ---------------------------------------------------------------- text the database cannot store
@pytest.mark.parametrize("url", ["/?q=a%00b", "/?category=%00", "/auth/login?next=/orders%01"])
def test_a_control_character_in_the_address_is_400_naming_the_argument(app, products, url):
    """Reported: ?q=a%00b was a 500 on PostgreSQL (text fields cannot contain NUL)."""
    response = Browser(app.test_client()).get(url)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "contains a control character" in text
    assert "cannot be stored" in text


def test_the_admins_filters_refuse_nul_too(app, admin):
    for url in ("/admin/orders?customer=a%00b", "/admin/emails?q=a%00b", "/admin/emails?kind=%00"):
        assert admin.get(url).status_code == 400, url


@pytest.mark.parametrize(("name", "value"), [("full_name", "Ada\x00"), ("city", "Lon\x1bdon"), ("address", "1\x0bSt")])
def test_a_control_character_in_a_form_is_422_naming_the_field(app, products, shopper, name, value):
    shopper.add(products["TEA"], 1)
    response = shopper.checkout(**{name: value})
    assert response.status_code == 422
    assert f"“{name}” contains a control character" in response.get_data(as_text=True)
    assert count(app, Order) == 0


def test_invalid_utf8_in_a_form_is_kept_as_escapes_the_database_can_store(app, products, shopper, smtp):
    """Browsers send UTF-8; werkzeug reads other bytes (and a lone surrogate's) as their
    %XX escapes, which any column can store."""
    shopper.add(products["TEA"], 1)
    form = Browser.form(shopper.get("/checkout"), "/checkout")["fields"]
    body = "&".join(f"{k}={v}" for k, v in {**form, **ADDRESS}.items()).replace("London", "Lon%FF%ED%A0%80don")
    response = shopper.client.post("/checkout", data=body, content_type="application/x-www-form-urlencoded")
    order_id = order_id_from(response)
    with app.app_context():
        assert db.session.get(Order, order_id).city == "Lon%FF%ED%A0%80don"


def test_tabs_and_new_lines_from_a_textarea_are_kept(app, products, admin):
    url = f"/admin/products/{products['TEA']}"
    form = {"sku": "TEA", "name": "Assam Tea", "price": "12.50", "stock": "100", "description": "Malty.\r\n\tStrong."}
    assert admin.submit(url, url, form).status_code == 303
    with app.app_context():
        assert db.session.get(Product, products["TEA"]).description == "Malty.\r\n\tStrong."


def test_a_control_character_in_a_path_is_404(app, products):
    for url in ("/orders/guest/a%00b", "/auth/reset/%00", "/media/products/%00.png"):
        assert Browser(app.test_client()).get(url).status_code == 404, url


# ---------------------------------------------------------------- dates and lengths
def test_a_voucher_valid_until_the_last_day_a_date_can_have_gets_a_message(app, admin):
    """Reported: 9999-12-31 + one day overflowed (OverflowError: a 500)."""
    form = {"code": "FOREVER", "kind": "fixed", "amount": "5", "valid_until": "9999-12-31"}
    response = admin.submit("/admin/vouchers", "/admin/vouchers", form)
    assert response.status_code == 422
    assert "Enter a date up to 9998-12-31." in response.get_data(as_text=True)
    assert count(app, Voucher) == 0


@pytest.mark.parametrize("query", ["date_to=9999-12-31", "date_from=0000-00-00", "date_to=2024-02-30"])
def test_an_orders_filter_with_an_impossible_date_lists_and_exports(app, admin, query):
    assert admin.get(f"/admin/orders?{query}").status_code == 200
    assert admin.get(f"/admin/orders/export.csv?{query}").status_code == 200


def test_an_overlong_customer_filter_is_ignored(app, products, admin, shopper, smtp):
    """SQLite refuses a LIKE pattern over 50,000 bytes ("pattern too complex": a 500)."""
    shopper.add(products["TEA"], 1)
    order_id_from(shopper.checkout())
    response = admin.get("/admin/orders?customer=" + "a" * 60_000)
    assert response.status_code == 200
    with app.app_context():
        number = db.session.execute(sa.select(Order.number)).scalar_one()
    assert number in response.get_data(as_text=True)  # not filtered by it


def test_an_order_note_longer_than_its_column_is_refused(app, products, admin, shopper, smtp):
    """The note column holds 500 characters: PostgreSQL refused more (a 500)."""
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout())
    url = f"/admin/orders/{order_id}"
    response = admin.submit(url, f"{url}/status", {"to_status": "paid", "note": "n" * 501})
    assert response.status_code == 422
    assert "The note: " in response.get_data(as_text=True)
    assert count(app, OrderStatusChange) == 0


def test_a_category_whose_slug_is_taken_still_fits_its_column(app, admin):
    """Category.slug holds 80 characters; an 80-character name whose slug was taken got
    "-2" added: 82, which PostgreSQL refused (a 500)."""
    for sku, category in (("A-1", "a" * 80), ("A-2", "A" * 80)):
        form = {"sku": sku, "name": "Mug", "price": "1", "stock": "1", "category": category}
        assert admin.submit("/admin/products/new", "/admin/products/new", form).status_code == 303
    with app.app_context():
        slugs = db.session.execute(sa.select(Category.slug)).scalars().all()
    assert len(slugs) == 2
    assert all(len(slug) <= 80 for slug in slugs)


# ---------------------------------------------------------------- the CSV import's own errors
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"sku,name,description,price,stock,category\nA,B,," + b"x" * 140_000 + b",1,\n",
            "line 2: this is not readable",
        ),
        (b"sku,name,description,price,stock,category\nA,B\x00,,1,1,\n", "line 2: a control character (U+0000)"),
        (b"sku," + b"h" * 140_000 + b"\n", "line 1: this is not readable as CSV (field larger than field limit"),
    ],
)
def test_the_csv_parsers_own_errors_are_the_lines_message(app, admin, content, message):
    response = admin.submit(
        "/admin/products/import",
        "/admin/products/import",
        {"file": (io.BytesIO(content), "p.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app, Product) == 0


# ---------------------------------------------------------------- headers
PRODUCTION = {
    "SHOP_ENV": "production",
    "SECRET_KEY": "7de3057a7b142e624e6d43c419b5db63406a3a7a1d945885f5c9b07a37ced81a",
    "SHOP_BASE_URL": "https://shop.example.com",
    "SHOP_PROXY_COUNT": 1,
}


@pytest.mark.parametrize(
    "headers",
    [
        {"Referer": "https://[::1"},
        {"Referer": "https://localhost:99999/"},
        {"Referer": "https://a:b@localhost:-1/"},
    ],
)
def test_an_https_form_post_whose_referer_or_host_is_no_address_is_400(make_app, products, headers):
    """Flask-WTF's referrer check parsed them and raised ValueError: a 500."""
    app = make_app(**PRODUCTION)
    browser = Browser(app.test_client())
    token = browser.csrf_token(f"/products/{products['TEA']}")
    response = browser.client.post(
        f"/cart/add/{products['TEA']}",
        data={"quantity": "1", "csrf_token": token},
        headers={"X-Forwarded-Proto": "https", **headers},
    )
    assert response.status_code == 400
    assert "The Referer header of this request is not a valid address" in response.get_data(as_text=True)


def test_a_host_that_cannot_be_routed_gets_a_400_page(make_app, products):
    """werkzeug refuses a 300-character host name (BadHost); the error page then could not
    build its links (a 500)."""
    app = make_app(**PRODUCTION)
    response = app.test_client().get("/", headers={"Host": "x" * 300})
    assert response.status_code == 400
    assert "could not be understood" in response.get_data(as_text=True)
