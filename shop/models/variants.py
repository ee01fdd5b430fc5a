"""Variants: one product sold in several options (100 g / 250 g, a mug's colours), each
with its own SKU, option label, price and stock.

How they are modelled, and why: a product WITHOUT variants is exactly what it was before
(its own `stock`, `price_cents` and SKU are what the cart, the checkout's stock UPDATE,
restock and the low-stock alert use), so the simple case reads, runs and costs the same
statements as before variants existed. A product WITH variants sells only through them:
its own `stock` is 0 (the admin's first variant takes it over, the CSV import stores 0)
and a cart line of the product itself (an old cart, or one made before the product got
variants) is out of stock, never sold. A checkout of variants takes stock with one
conditional UPDATE of `product_variant` (`stock >= wanted`), as the simple one does of
`product`; a cart holding both kinds sends both UPDATEs, one each, whatever its size. A
hidden default variant for every product was the other way; it would have moved every
product's stock out of `product` and changed the simple case's queries, forms, CSV files
and every test that stocks a product, for nothing a shopper sees.

A variant's SKU is unique among products' and variants' SKUs together (rules.py and
shop/catalog/variants.py check both tables). `price_cents` None: the product's price. A
deactivated variant stays (old orders name it) but is neither shown nor sold.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.base import utcnow

if TYPE_CHECKING:
    from shop.models.catalog import Product

OPTION_MAX_LENGTH = 100


class ProductVariant(db.Model):
    __tablename__ = "product_variant"
    __table_args__ = (
        sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
        sa.UniqueConstraint("product_id", "option", name="uq_product_variant_product_id_option"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(sa.String(64), unique=True)
    option: Mapped[str] = mapped_column(sa.String(OPTION_MAX_LENGTH))  # '250 g', 'M / Blue': shown to shoppers
    price_cents: Mapped[int | None]  # None: the product's price
    stock: Mapped[int] = mapped_column(default=0)
    position: Mapped[int] = mapped_column(default=0)  # the order the product page offers them in
    active: Mapped[bool] = mapped_column(default=True)
    # Optimistic versioning, as Product's: a sale or restock counts it up, so an admin form
    # showing the old stock cannot write it back.
    version_id: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship(back_populates="variants")

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012

    @property
    def unit_price_cents(self) -> int:
        """What one costs: its own price, else the product's (cents)."""
        return self.product.price_cents if self.price_cents is None else self.price_cents

    @property
    def on_sale(self) -> bool:
        return self.active and self.product.active

    def __repr__(self) -> str:
        return f"<ProductVariant {self.id} {self.sku}>"
