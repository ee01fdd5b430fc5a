"""Migration 0010 down and up on a shop with orders, on SQLite and (TEST_DATABASE_URL)
PostgreSQL: free-text countries become ISO codes where recognisable and stay readable where
not; codes go back to English names; the shipping zones start as one for everywhere that
follows the settings, and go away on the way down."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from shop.extensions import db
from tests.conftest import order_id_from, rows, signed_in_browser


def test_0010_turns_countries_into_codes_and_back_and_seeds_one_zone(app, products, smtp):
    shopper = signed_in_browser(app, "ada@example.com")
    ids = []
    for country in ("GB", "DE", "US"):
        shopper.add(products["TEA"], 1)
        ids.append(order_id_from(shopper.checkout(country=country)))
    assert (
        shopper.submit(
            "/account/addresses/new",
            "/account/addresses/new",
            {
                "full_name": "Ada",
                "address": "1 St",
                "city": "Wien",
                "postal_code": "1010",
                "country": "AT",
            },
        ).status_code
        == 303
    )
    with app.app_context():
        downgrade(revision="0007")
        assert rows("SELECT country FROM customer_order ORDER BY id") == [
            ("United Kingdom",),
            ("Germany",),
            ("United States",),
        ]
        assert rows("SELECT country FROM address") == [("Austria",)]
        assert "shipping_zone" not in sa.inspect(db.engine).get_table_names()
        with db.engine.begin() as c:  # as shoppers typed them before there was a list
            for order_id, typed in zip(ids, (" deutschland ", "Narnia", "U.S.A."), strict=True):
                c.execute(sa.text("UPDATE customer_order SET country = :c WHERE id = :i"), {"c": typed, "i": order_id})
            c.execute(sa.text("UPDATE address SET country = 'Österreich'"))
        upgrade()
        assert rows("SELECT country FROM customer_order ORDER BY id") == [("DE",), ("Narnia",), ("US",)]
        assert rows("SELECT country FROM address") == [("AT",)]
        assert rows("SELECT name, rate_cents, free_over_cents, rest_of_world FROM shipping_zone") == [
            ("Everywhere", None, None, True)
        ]
        assert rows("SELECT count(*) FROM order_line") == [(3,)]
    # Kept readable: shown as typed, where a code is shown by its name.
    html = shopper.get(f"/orders/{ids[1]}").get_data(as_text=True)
    assert "Narnia" in html
    assert "United States" in shopper.get(f"/orders/{ids[2]}").get_data(as_text=True)
