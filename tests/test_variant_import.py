"""Variants in the product CSV: the optional parent_sku and option columns, an export that
imports back unchanged, and the rules, each a line-numbered error that writes nothing."""

from __future__ import annotations

import io

import sqlalchemy as sa

from shop.extensions import db
from shop.models import Product, ProductVariant
from tests.conftest import Browser
from tests.variant_catalog import make_variant_catalog

HEADER = "sku,name,description,price,stock,category,parent_sku,option\n"


def import_csv(browser: Browser, text: str):
    return browser.submit(
        "/admin/products/import",
        "/admin/products/import",
        {"file": (io.BytesIO(text.encode()), "products.csv")},
        content_type="multipart/form-data",
    )


def catalogue(app) -> list[tuple]:
    with app.app_context():
        products = db.session.execute(
            sa.select(Product.sku, Product.name, Product.price_cents, Product.stock, Product.version_id).order_by(
                Product.sku
            )
        ).all()
        variants = db.session.execute(
            sa.select(
                ProductVariant.sku,
                ProductVariant.product_id,
                ProductVariant.option,
                ProductVariant.price_cents,
                ProductVariant.stock,
                ProductVariant.position,
                ProductVariant.active,
                ProductVariant.version_id,
            ).order_by(ProductVariant.sku)
        ).all()
        return [tuple(r) for r in products] + [tuple(r) for r in variants]


def test_a_file_with_variants_makes_a_product_with_its_options(app, admin, browser):
    text = HEADER + (
        "OOLONG,Milk Oolong,Creamy.,15.00,,Tea,,\nOOLONG-100,,,,30,,OOLONG,100 g\nOOLONG-250,,,32.00,12,,OOLONG,250 g\n"
    )
    response = import_csv(admin, text)
    assert response.status_code == 303
    with app.app_context():
        product = db.session.execute(sa.select(Product).where(Product.sku == "OOLONG")).scalar_one()
        assert product.stock == 0
        assert [(v.sku, v.option, v.price_cents, v.stock) for v in product.variants] == [
            ("OOLONG-100", "100 g", None, 30),
            ("OOLONG-250", "250 g", 3200, 12),
        ]
        product_id = product.id
    page = browser.get(f"/products/{product_id}", follow_redirects=True).get_data(as_text=True)
    assert "from €15.00" in page
    assert "250 g — €32.00" in page


def test_export_then_import_with_variants_changes_nothing(app, products, admin):
    make_variant_catalog(app)
    before = catalogue(app)
    first = admin.get("/admin/products/export.csv").get_data()
    assert b"DARJ-250,,,19.50,50,,DARJ,250 g," in first
    assert b"DARJ-100,,,,40,,DARJ,100 g," in first
    assert import_csv(admin, first.decode()).status_code == 303
    assert catalogue(app) == before
    assert admin.get("/admin/products/export.csv").get_data() == first


def test_a_variant_whose_parent_is_missing_is_a_line_numbered_error_and_nothing_is_written(app, products, admin):
    before = catalogue(app)
    text = HEADER + "NEW,New Tea,,5.00,,Tea,,\nNEW-1,,,,3,,NEW,Small\nLOST-1,,,,3,,NOPE,Small\n"
    response = import_csv(admin, text)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "line 4: parent_sku NOPE: no product has this sku" in page
    assert catalogue(app) == before


def test_an_option_used_twice_under_one_product_is_an_error(app, products, admin):
    make_variant_catalog(app)
    before = catalogue(app)
    twice = HEADER + "NEW,New Tea,,5.00,,Tea,,\nNEW-1,,,,3,,NEW,Small\nNEW-2,,,,3,,NEW,Small\n"
    response = import_csv(admin, twice)
    assert response.status_code == 422
    assert "line 4: option &#39;Small&#39; is used twice under NEW (line 3)" in response.get_data(as_text=True)
    # Against the shop's variants too: DARJ has a "250 g" (DARJ-250) already.
    clash = HEADER + "DARJ-BIG,,,,3,,DARJ,250 g\n"
    response = import_csv(admin, clash)
    assert response.status_code == 422
    assert "line 2: option &#39;250 g&#39; is used by DARJ-250 under DARJ already" in response.get_data(as_text=True)
    assert catalogue(app) == before


def test_a_product_with_variants_has_no_stock_of_its_own_and_skus_are_one_namespace(app, products, admin):
    make_variant_catalog(app)
    before = catalogue(app)
    old_format = "sku,name,description,price,stock,category\nDARJ,Darjeeling,Spring tea.,9.00,5,\n"
    response = import_csv(admin, old_format)
    assert response.status_code == 422
    assert "line 2: a product with variants has no stock of its own" in response.get_data(as_text=True)
    clash = HEADER + "TEA-2,,,,3,,DARJ,Half\nCMUG-RED,Red Mug,,5.00,1,,,\n"
    page = import_csv(admin, clash).get_data(as_text=True)
    assert "line 3: sku CMUG-RED is a variant&#39;s" in page
    stolen = HEADER + "TEA,,,,3,,DARJ,Half\n"  # a product's SKU as a variant's
    assert "line 2: sku TEA is a product&#39;s" in import_csv(admin, stolen).get_data(as_text=True)
    no_option = HEADER + "DARJ-5,,,,3,,DARJ,\n"
    assert "line 2: option must be 1 to 100 characters" in import_csv(admin, no_option).get_data(as_text=True)
    assert catalogue(app) == before


def test_a_file_without_the_variant_columns_imports_as_before(app, products, admin):
    text = "sku,name,description,price,stock,category\nNEWTEA,New Tea,,5.00,7,Tea\n"
    assert import_csv(admin, text).status_code == 303
    with app.app_context():
        product = db.session.execute(sa.select(Product).where(Product.sku == "NEWTEA")).scalar_one()
        assert (product.price_cents, product.stock, product.variants) == (500, 7, [])
    empty_stock = "sku,name,description,price,stock,category\nNEWTEA2,New Tea,,5.00,,Tea\n"
    response = import_csv(admin, empty_stock)
    assert response.status_code == 422
    assert "line 2: stock must be a whole number" in response.get_data(as_text=True)


def test_the_demo_catalogue_has_a_tea_by_weight_and_a_mug_by_colour(app):
    result = app.test_cli_runner().invoke(args=["shop", "seed-demo"])
    assert "loaded the demo catalogue: 24 products, 24 photos" in result.output
    with app.app_context():
        options = {
            sku: [(v.option, v.unit_price_cents, v.stock) for v in product.variants]
            for sku, product in (
                (sku, db.session.execute(sa.select(Product).where(Product.sku == sku)).scalar_one())
                for sku in ("TEA-DARJ", "MUG-ENAMEL")
            )
        }
    assert options == {
        "TEA-DARJ": [("100 g", 1800, 25), ("250 g", 3900, 10)],
        "MUG-ENAMEL": [("Blue", 825, 40), ("Red", 825, 25), ("Cream", 825, 0)],
    }
    page = app.test_client().get("/?category=tea").get_data(as_text=True)
    assert "from €18.00" in page
