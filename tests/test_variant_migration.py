"""Migration 0009 (variants) up and down on a shop with orders, on SQLite and
(TEST_DATABASE_URL) PostgreSQL: the products already there become products without
variants, the order lines keep every row, and a downgrade keeps the lines (not the option)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from shop.extensions import db
from tests.conftest import rows


def run(*statements: str) -> None:
    with db.engine.begin() as c:
        for statement in statements:
            c.execute(sa.text(statement))


def test_0009_keeps_the_orders_and_products_as_they_were_and_goes_back_down(fresh):
    with fresh.app_context():
        upgrade(revision="0007")
        run(
            "INSERT INTO product (id, sku, name, description, price_cents, stock, active, created_at, updated_at,"
            " version_id) VALUES (1, 'TEA', 'Tea', '', 1250, 5, true, '2026-01-01', '2026-01-01', 1)",
            "INSERT INTO customer_order (id, number, email, status, payment_method, shipping_method, full_name,"
            " address, city, postal_code, country, subtotal_cents, discount_cents, shipping_cents, tax_cents,"
            " tax_rate_bp, prices_include_tax, total_cents, voucher_code, checkout_token, created_at)"
            " VALUES (1, 'N1', 'ada@example.com', 'paid', 'bank_transfer', 'standard', 'Ada', '1 St', 'London',"
            " 'N1', 'UK', 2500, 0, 0, 0, 0, true, 2500, '', 'tok', '2026-01-01')",
            "INSERT INTO order_line (id, order_id, product_id, name, sku, unit_price_cents, quantity)"
            " VALUES (1, 1, 1, 'Tea', 'TEA', 1250, 2)",
        )
        upgrade()
        assert rows("SELECT id, variant_id, option, name, quantity FROM order_line") == [(1, None, "", "Tea", 2)]
        assert rows("SELECT count(*) FROM product_variant") == [(0,)]  # a product without variants
        assert rows("SELECT stock, price_cents FROM product") == [(5, 1250)]
        # The shop sells variants now: one is bought.
        run(
            "INSERT INTO product_variant (id, product_id, sku, option, price_cents, stock, position, active,"
            " version_id, created_at) VALUES (1, 1, 'TEA-250', '250 g', 3000, 4, 0, true, 1, '2026-01-02')",
            "INSERT INTO order_line (id, order_id, product_id, variant_id, name, option, sku, unit_price_cents,"
            " quantity) VALUES (2, 1, 1, 1, 'Tea', '250 g', 'TEA-250', 3000, 1)",
        )
        with pytest.raises(sa.exc.IntegrityError):  # one SKU per variant
            run(
                "INSERT INTO product_variant (product_id, sku, option, stock, position, active, version_id,"
                " created_at) VALUES (1, 'TEA-250', '500 g', 1, 1, true, 1, '2026-01-02')"
            )
        with pytest.raises(sa.exc.IntegrityError):  # one label per product
            run(
                "INSERT INTO product_variant (product_id, sku, option, stock, position, active, version_id,"
                " created_at) VALUES (1, 'TEA-X', '250 g', 1, 1, true, 1, '2026-01-02')"
            )
        downgrade(revision="0007")
        assert rows("SELECT id, product_id, name, sku, unit_price_cents, quantity FROM order_line ORDER BY id") == [
            (1, 1, "Tea", "TEA", 1250, 2),
            (2, 1, "Tea", "TEA-250", 3000, 1),
        ]
        assert "product_variant" not in sa.inspect(db.engine).get_table_names()
        upgrade()  # and up again
        assert rows("SELECT id, variant_id, option FROM order_line ORDER BY id") == [(1, None, ""), (2, None, "")]
