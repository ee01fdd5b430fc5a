"""A catalogue with variants for the variant tests: a tea by weight (the two weights at
different prices) and a mug by colour (all at the mug's price)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from shop.extensions import db
from shop.models import Product, ProductVariant
from tests.conftest import Browser


@dataclass(frozen=True)
class VariantCatalog:
    tea: int  # product ids
    mug: int
    tea_100: int  # variant ids
    tea_250: int
    mug_blue: int
    mug_red: int
    mug_green: int  # sold out


def make_variant_catalog(app: Flask, tea_250_stock: int = 50) -> VariantCatalog:
    with app.app_context():
        tea = Product(sku="DARJ", name="Darjeeling", description="Spring tea.", price_cents=900, stock=0)
        tea.variants = [
            ProductVariant(sku="DARJ-100", option="100 g", price_cents=None, stock=40, position=0),
            ProductVariant(sku="DARJ-250", option="250 g", price_cents=1950, stock=tea_250_stock, position=1),
        ]
        mug = Product(sku="CMUG", name="Colour Mug", description="Stoneware.", price_cents=1200, stock=0)
        mug.variants = [
            ProductVariant(sku="CMUG-BLUE", option="Blue", stock=10, position=0),
            ProductVariant(sku="CMUG-RED", option="Red", stock=10, position=1),
            ProductVariant(sku="CMUG-GREEN", option="Green", stock=0, position=2),
        ]
        db.session.add_all([tea, mug])
        db.session.commit()
        t, m = tea.variants, mug.variants
        return VariantCatalog(tea.id, mug.id, t[0].id, t[1].id, m[0].id, m[1].id, m[2].id)


def add_variant(browser: Browser, product_id: int, variant_id: int, quantity: int = 1):
    """Choose the variant on the product page and add it, as a shopper does."""
    return browser.submit(
        f"/products/{product_id}", f"/cart/add/{product_id}", {"variant": variant_id, "quantity": quantity}
    )


def variant_stock(app: Flask, variant_id: int) -> int:
    with app.app_context():
        return db.session.get(ProductVariant, variant_id).stock
