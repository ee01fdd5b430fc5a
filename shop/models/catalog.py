"""The catalogue: categories and products (money in cents)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.base import utcnow


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
    image: Mapped[str | None] = mapped_column(sa.String(255))
    # The owner is emailed when a sale takes stock from above this to at or below it;
    # None: SHOP_LOW_STOCK_THRESHOLD.
    low_stock_threshold: Mapped[int | None]
    # Counts every change (SQLAlchemy's optimistic versioning): a form saved over a
    # version that changed meanwhile is refused instead of undoing the other change.
    version_id: Mapped[int] = mapped_column(default=1)
    # name, sku, description and category, case-folded and normalised, for search.
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    category: Mapped[Category | None] = relationship(back_populates="products")

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012

    def __repr__(self) -> str:
        return f"<Product {self.id} {self.sku}>"
