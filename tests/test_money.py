"""Money by locale and currency (shop/money.py): exact integers in the currency's minor units
(ISO 4217 as Babel knows them: EUR 2 decimals, JPY none, BHD three), shown with Babel's
format_currency in SHOP_LOCALE, and read as owners of that locale type them, refusing the
ambiguous. Then EUR in German, JPY and BHD through cart, checkout, email, admin and CSV."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from shop.money import MoneyError, format_amount, format_money, max_minor_units, parse_money
from shop.pricing import compute_totals, discount_cents
from tests.conftest import Browser, order_id_from, signed_in_admin, signed_in_browser

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "shown"),
    [
        (1250, "EUR", "en", "€12.50"),
        (1250, "EUR", "de", f"12,50{NBSP}€"),
        (123456, "EUR", "de", f"1.234,56{NBSP}€"),
        (1000, "JPY", "en", "¥1,000"),
        (1000, "JPY", "ja", "￥1,000"),
        (1234, "BHD", "en", "BHD1.234"),
        (1234, "KWD", "de", f"1,234{NBSP}KWD"),
    ],
)
def test_amounts_are_shown_as_the_locale_writes_the_currency(minor, currency, locale, shown):
    assert format_money(minor, currency, locale) == shown


@pytest.mark.parametrize(
    ("text", "currency", "locale", "minor"),
    [
        ("12,50", "EUR", "de", 1250),
        ("1.234,50", "EUR", "de", 123450),
        ("12.50", "EUR", "en", 1250),
        ("1,234.50", "EUR", "en", 123450),
        ("1000", "JPY", "en", 1000),
        ("1,000", "JPY", "en", 1000),  # no decimals to mean: a thousand yen
        ("1.234", "BHD", "en", 1234),
        ("1,234", "BHD", "de", 1234),
        ("12 345,67", "EUR", "fr", 1234567),
    ],
)
def test_amounts_are_read_as_the_owner_types_them(text, currency, locale, minor):
    assert parse_money(text, currency, locale) == minor


@pytest.mark.parametrize(
    ("text", "currency", "locale", "message"),
    [
        ("12.50", "EUR", "de", "is not an amount like 12,50"),  # the English habit in a German shop
        ("1.234", "EUR", "de", "is ambiguous"),  # a thousand, or 1,234 typed the English way?
        ("1,234", "BHD", "en", "is ambiguous"),
        ("12,5", "JPY", "de", "must be a whole number: JPY has no decimals"),
        ("1.2345", "BHD", "en", "has more than 3 decimals"),
        ("12.345", "EUR", "en", "has more than 2 decimals"),
        ("-5", "EUR", "en", "not an amount"),
        ("1e3", "EUR", "en", "not an amount"),
        ("١٢", "EUR", "en", "not an amount"),
        ("20000000", "JPY", "en", "too large"),
    ],
)
def test_what_is_ambiguous_or_impossible_is_refused_with_a_message(text, currency, locale, message):
    with pytest.raises(MoneyError, match=message):
        parse_money(text, currency, locale)


@given(
    st.sampled_from(["EUR", "JPY", "BHD", "KWD", "CHF"]),
    st.sampled_from(["en", "de", "fr", "de_CH", "ja"]),
    st.integers(min_value=0, max_value=10**9),
)
def test_what_the_shop_writes_it_reads_back(currency, locale, minor):
    minor = min(minor, max_minor_units(currency))
    assert parse_money(format_amount(minor, currency, locale), currency, locale) == minor


def test_tax_and_vouchers_round_the_same_in_currencies_with_no_and_three_decimals():
    # JPY: 10 % off ¥105 is ¥10.5, rounded up to ¥11; 10 % tax included in ¥1,100 is ¥100.
    assert discount_cents("percent", 1000, 105) == 11
    assert compute_totals(1100, 0, 0, 1000, True).tax_cents == 100
    # BHD: 20 % included in 1.005 BHD is 0.1675, rounded up to 0.168; 5 % added to 0.010 is 0.0005 -> 0.001.
    assert compute_totals(1005, 0, 0, 2000, True).tax_cents == 168
    assert compute_totals(10, 0, 0, 500, False).total_cents == 11


# ---------------------------------------------------------------- through the shop
def shop_in(make_app, currency: str, locale: str, rate: int, free_over: int | None):
    return make_app(
        SHOP_CURRENCY=currency,
        SHOP_LOCALE=locale,
        SHOP_SHIPPING_FLAT_RATE=rate,
        SHOP_FREE_SHIPPING_OVER=free_over,
        SHOP_OWNER_EMAIL="owner@example.com",
    )


CASES = [
    # currency, locale, rate, price typed in the admin, its minor units, shown on the cart, total shown
    ("EUR", "de", 490, "12,50", 1250, f"12,50{NBSP}€", f"17,40{NBSP}€"),
    ("JPY", "en", 500, "1,250", 1250, "¥1,250", "¥1,750"),
    ("BHD", "en", 1500, "12.345", 12345, "BHD12.345", "BHD13.845"),
]


@pytest.mark.parametrize(("currency", "locale", "rate", "typed", "minor", "shown", "total"), CASES)
def test_a_product_priced_in_the_admin_is_sold_and_mailed_in_the_shops_currency(
    make_app, smtp, currency, locale, rate, typed, minor, shown, total
):
    app = shop_in(make_app, currency, locale, rate, None)
    admin = signed_in_admin(app)
    product = {"sku": "TEA", "name": "Tea", "price": typed, "stock": "10"}
    assert admin.submit("/admin/products/new", "/admin/products/new", product).status_code == 303
    with app.app_context():
        from shop.extensions import db
        from shop.models import Order, Product

        product_id = db.session.execute(sa.select(Product.id)).scalar()
        assert db.session.get(Product, product_id).price_cents == minor
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(product_id, 1)
    assert shown in shopper.get("/cart").get_data(as_text=True)
    assert total in shopper.get("/checkout").get_data(as_text=True)
    order_id = order_id_from(shopper.checkout())
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.subtotal_cents, order.shipping_cents, order.total_cents) == (minor, rate, minor + rate)
    [confirmation] = smtp.wait_for(1, to="ada@example.com", subject_contains=order.number)
    assert total in confirmation.text
    [owner] = smtp.wait_for(1, to="owner@example.com", subject_contains=order.number)
    assert owner.subject.endswith(total.replace(NBSP, " "))  # the header folds the no-break space
    assert total in admin.get(f"/admin/orders/{order_id}").get_data(as_text=True)


@pytest.mark.parametrize(("currency", "locale", "rate", "typed", "minor", "shown", "total"), CASES)
def test_the_csv_export_writes_amounts_as_the_owner_types_them_and_the_import_reads_them(
    make_app, currency, locale, rate, typed, minor, shown, total
):
    app = shop_in(make_app, currency, locale, rate, None)
    admin = signed_in_admin(app)
    csv_text = f'sku,name,description,price,stock,category\nTEA,Tea,,"{typed}",5,Tea\n'
    response = admin.submit(
        "/admin/products/import",
        "/admin/products/import",
        {"file": (io.BytesIO(csv_text.encode()), "p.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[-2000:]
    exported = admin.get("/admin/products/export.csv").get_data(as_text=True)
    written = next(csv.DictReader(io.StringIO(exported)))["price"]
    assert parse_money(written, currency, locale) == minor  # no separators: 1250, 12,50, 12.345


def test_a_german_owner_who_types_the_english_way_is_told_how_to_write_it(make_app):
    app = shop_in(make_app, "EUR", "de", 490, 5000)
    admin = signed_in_admin(app)
    product = {"sku": "TEA", "name": "Tea", "price": "12.50", "stock": "10"}
    response = admin.submit("/admin/products/new", "/admin/products/new", product)
    assert response.status_code == 422
    assert "ist kein Betrag wie 12,50" in response.get_data(as_text=True)  # in the shop's language


def test_a_guest_sees_yen_without_decimals_on_the_catalogue(make_app):
    app = shop_in(make_app, "JPY", "ja", 500, None)
    with app.app_context():
        from shop.extensions import db
        from shop.models import Product

        db.session.add(Product(sku="TEA", name="Tea", price_cents=1250, stock=5))
        db.session.commit()
    html = Browser(app.test_client()).get("/").get_data(as_text=True)
    assert "￥1,250" in html
    assert "1,250.00" not in html
