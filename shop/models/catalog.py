"""The catalogue: categories and products (money in cents)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.base import utcnow
from shop.models.variants import ProductVariant


class Category(db.Model):
    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)

    products: Mapped[list[Product]] = relationship(back_populates="category")


class Product(db.Model):
    __tablename__ = "product"
    __table_args__ = (
        sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    price_cents: Mapped[int]
    stock: Mapped[int] = mapped_column(default=0)
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("category.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # The owner is emailed when a sale takes stock from above this to at or below it;
    # None: SHOP_LOW_STOCK_THRESHOLD.
    low_stock_threshold: Mapped[int | None]
    # None: the shop's SHOP_TAX_RATE_BP (a rate deleted later leaves its products on it).
    tax_rate_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tax_rate.id", ondelete="SET NULL"), index=True)
    # Counts every change (SQLAlchemy's optimistic versioning): a form saved over a
    # version that changed meanwhile is refused instead of undoing the other change.
    version_id: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    category: Mapped[Category | None] = relationship(back_populates="products")
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", order_by="[ProductImage.position, ProductImage.id]", cascade="all, delete-orphan"
    )

    # Empty for a simple product; see shop/models/variants.py for how the two kinds differ.
    variants: Mapped[list[ProductVariant]] = relationship(
        back_populates="product",
        order_by="[ProductVariant.position, ProductVariant.id]",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012

    @property
    def has_variants(self) -> bool:
        return bool(self.variants)

    @property
    def variants_on_sale(self) -> list[ProductVariant]:
        """The variants a shopper is offered (in order), sold out or not."""
        return [v for v in self.variants if v.active]

    @property
    def stock_on_hand(self) -> int:
        """What can be sold: its own stock, or its variants' on sale summed."""
        return sum(v.stock for v in self.variants_on_sale) if self.variants else self.stock

    @property
    def lowest_price_cents(self) -> int:
        """Its price, or the lowest of its variants' on sale (the catalogue's "from")."""
        prices = [v.unit_price_cents for v in self.variants_on_sale]
        return min(prices, default=self.price_cents)

    @property
    def prices_differ(self) -> bool:
        """Its variants on sale do not all cost the same: the catalogue says "from"."""
        return len({v.unit_price_cents for v in self.variants_on_sale}) > 1

    def __repr__(self) -> str:
        return f"<Product {self.id} {self.sku}>"


class ProductImage(db.Model):
    """A photo of a product, in the order shown (position), with its alt text. Its files
    (sizes and formats) are named by `key`: shop/catalog/images.py."""

    __tablename__ = "product_image"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("product.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    alt_text: Mapped[str] = mapped_column(sa.String(250), default="")
    key: Mapped[str] = mapped_column(sa.String(32), index=True)
    width: Mapped[int]  # of the largest file
    height: Mapped[int]
    fallback: Mapped[str] = mapped_column(sa.String(4), default="jpg")  # "jpg" or "png" (transparency)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship(back_populates="images")
