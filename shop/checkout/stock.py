"""Taking an order's stock: one conditional UPDATE per kind of line, whatever the number of lines.

A product without variants has its stock in `product`, a variant in `product_variant`
(shop/models/variants.py says why). A cart of products only sends exactly the one UPDATE
it always did; a cart of variants sends one UPDATE of `product_variant`; a cart of both
sends the two. Each takes `wanted` from every line's row only where `stock >= wanted` and
the row is on sale, and returns what the order records (name, option, SKU, price, the stock
left, the low-stock threshold) from the database in the same statement, so a line that is
short updates nothing and the caller raises OutOfStock (rolling back the other lines).
Either UPDATE counts up the rows' version (an admin form showing the old stock cannot write
it back).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from shop.cart.service import Item
from shop.checkout.errors import OutOfStock, Shortage
from shop.extensions import db
from shop.models import Product, ProductVariant, TaxRate
from shop.tax.rates import rate_bp_of


@dataclass(frozen=True)
class Taken:
    """One line's stock taken, as the UPDATE returned it."""

    item: Item
    name: str  # the product's
    option: str  # the variant's label; "" for a product without variants
    sku: str  # the variant's, or the product's
    price_cents: int  # one, now
    stock: int  # left after this order
    low_stock_threshold: int | None  # the product's; None: SHOP_LOW_STOCK_THRESHOLD
    rate_bp: int | None = None  # the product's tax rate (shop/tax); None: SHOP_TAX_RATE_BP

    @property
    def title(self) -> str:
        """'Assam Tea — 250 g', or the name alone."""
        return f"{self.name} — {self.option}" if self.option else self.name


def take_stock(items: dict[Item, int]) -> list[Taken]:
    """Take `items` ({item: quantity}) off the shelf; the lines in the cart's order.
    Raises OutOfStock (naming every line that is short, not sold, or gone) when any line
    could not be taken: the caller's transaction must then be rolled back."""
    products = {item.product_id: qty for item, qty in items.items() if item.variant_id is None}
    variants = {item.variant_id: qty for item, qty in items.items() if item.variant_id is not None}
    taken = _take_products(products) + _take_variants(variants)
    by_item = {row.item: row for row in taken}
    if len(by_item) != len(items) or any(item not in by_item for item in items):
        raise OutOfStock(_shortages(items, set(by_item)))
    return [by_item[item] for item in items]


def _take_products(wanted_by_id: dict[int, int]) -> list[Taken]:
    if not wanted_by_id:
        return []
    wanted = sa.case(wanted_by_id, value=Product.id)
    rows = db.session.execute(
        sa.update(Product)
        .where(Product.id.in_(wanted_by_id), Product.active.is_(True), Product.stock >= wanted)
        .values(stock=Product.stock - wanted, version_id=Product.version_id + 1)  # edit forms see the sale
        .returning(
            Product.id,
            Product.name,
            Product.sku,
            Product.price_cents,
            Product.stock,
            Product.low_stock_threshold,
            rate_bp_of(Product.tax_rate_id),
        )
        .execution_options(synchronize_session=False)
    ).all()
    return [
        Taken(Item(r.id), r.name, "", r.sku, r.price_cents, r.stock, r.low_stock_threshold, r.rate_bp) for r in rows
    ]


def _take_variants(wanted_by_id: dict[int, int]) -> list[Taken]:
    if not wanted_by_id:
        return []
    wanted = sa.case(wanted_by_id, value=ProductVariant.id)

    def of_product(column: sa.ColumnElement) -> sa.ScalarSelect:
        # RETURNING may name only the updated table (SQLite), so the product's columns
        # come from scalar subqueries: still this one statement.
        return (
            sa.select(column).where(Product.id == ProductVariant.product_id).correlate(ProductVariant).scalar_subquery()
        )

    rows = db.session.execute(
        sa.update(ProductVariant)
        .where(
            ProductVariant.id.in_(wanted_by_id),
            ProductVariant.active.is_(True),
            ProductVariant.stock >= wanted,
            sa.exists().where(Product.id == ProductVariant.product_id, Product.active.is_(True)),
        )
        .values(stock=ProductVariant.stock - wanted, version_id=ProductVariant.version_id + 1)
        .returning(
            ProductVariant.id,
            ProductVariant.product_id,
            of_product(Product.name).label("name"),
            ProductVariant.option,
            ProductVariant.sku,
            sa.func.coalesce(ProductVariant.price_cents, of_product(Product.price_cents)).label("price_cents"),
            ProductVariant.stock,
            of_product(Product.low_stock_threshold).label("low_stock_threshold"),
            # One table per subquery level: SQLite's RETURNING names columns unqualified.
            sa.select(TaxRate.rate_bp)
            .where(TaxRate.id == of_product(Product.tax_rate_id))
            .scalar_subquery()
            .label("rate_bp"),
        )
        .execution_options(synchronize_session=False)
    ).all()
    return [
        Taken(
            Item(r.product_id, r.id), r.name, r.option, r.sku, r.price_cents, r.stock, r.low_stock_threshold, r.rate_bp
        )
        for r in rows
    ]


def _shortages(items: dict[Item, int], taken: set[Item]) -> list[Shortage]:
    """Which lines could not be taken, and how many are left of each."""
    short = [item for item in items if item not in taken]
    product_ids = [item.product_id for item in short if item.variant_id is None]
    variant_ids = [item.variant_id for item in short if item.variant_id is not None]
    products = {p.id: p for p in db.session.execute(sa.select(Product).where(Product.id.in_(product_ids))).scalars()}
    variants = {
        v.id: v
        for v in db.session.execute(sa.select(ProductVariant).where(ProductVariant.id.in_(variant_ids))).scalars()
    }
    shortages = []
    for item in short:
        if item.variant_id is None:
            product = products.get(item.product_id)
            name, sold = (product.name, product.active) if product else (None, False)
            available = product.stock if product and sold else 0
        else:
            variant = variants.get(item.variant_id)
            if variant is not None and variant.product_id != item.product_id:
                variant = None  # a hand-made cart: not a variant of that product
            name = f"{variant.product.name} — {variant.option}" if variant else None
            sold = variant is not None and variant.on_sale
            available = variant.stock if variant and sold else 0
        shortages.append(Shortage(item.product_id, name, items[item], available, sold=sold))
    return shortages
