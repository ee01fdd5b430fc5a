"""Migration 0011 up and down on a shop with orders, on SQLite and (TEST_DATABASE_URL)
PostgreSQL: each order placed before gets one tax line from its own figures and its lines
the rate it was taxed at; the invoice counters are empty (a backup imports into it); a downgrade drops it all."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from shop.extensions import db
from tests.conftest import rows


def test_0011_gives_old_orders_their_tax_line_and_goes_back_down(fresh):
    app = fresh
    with app.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as c:
            c.execute(
                sa.text(
                    "INSERT INTO product (id, sku, name, description, price_cents, stock, active, created_at,"
                    " updated_at, version_id) VALUES (1, 'TEA', 'Tea', '', 1250, 5, true,"
                    " '2026-01-01', '2026-01-01', 1)"
                )
            )
            c.execute(
                sa.text(
                    "INSERT INTO customer_order (id, number, email, status, payment_method, shipping_method,"
                    " full_name, address, city, postal_code, country, subtotal_cents, discount_cents,"
                    " shipping_cents, tax_cents, tax_rate_bp, prices_include_tax, total_cents, voucher_code,"
                    " checkout_token, created_at) VALUES (1, 'N-1', 'a@example.com', 'paid', 'bank_transfer',"
                    " 'standard', 'A', '1 St', 'X', '1', 'Y', 1250, 0, 490, 290, 2000, true, 1740, '', 't1',"
                    " '2026-01-01')"
                )
            )
            c.execute(
                sa.text(
                    "INSERT INTO order_line (id, order_id, product_id, name, sku, unit_price_cents, quantity)"
                    " VALUES (1, 1, 1, 'Tea', 'TEA', 1250, 1)"
                )
            )
        upgrade()
        assert rows("SELECT order_id, rate_bp, net_cents, tax_cents, gross_cents FROM order_tax_line") == [
            (1, 2000, 1450, 290, 1740)
        ]
        assert rows("SELECT tax_rate_bp FROM order_line") == [(2000,)]
        assert rows("SELECT kind FROM invoice_counter") == []  # the first invoice makes its row
        downgrade(revision="0007")
        assert rows("SELECT id, total_cents FROM customer_order") == [(1, 1740)]
        tables = sa.inspect(db.engine).get_table_names()
        assert not {"order_tax_line", "tax_rate", "invoice", "invoice_counter", "order_return"} & set(tables)
