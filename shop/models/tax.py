"""Tax rates the owner manages, and the tax of each order per rate, as it was when bought."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.base import utcnow

if TYPE_CHECKING:  # the relationships' other ends
    from shop.models.orders import Order


class TaxRate(db.Model):
    """A rate products can have ("Standard", 1900 = 19 %). A product without one is taxed
    at SHOP_TAX_RATE_BP. Orders keep the rate as a number, so changing or deleting a rate
    changes no order that was placed."""

    __tablename__ = "tax_rate"
    __table_args__ = (sa.CheckConstraint("rate_bp >= 0 AND rate_bp <= 10000", name="rate_in_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    rate_bp: Mapped[int]  # hundredths of a percent: 1900 = 19 %
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderTaxLine(db.Model):
    """One rate's share of an order, as computed at checkout (shop/pricing.py
    split_by_rate): net + tax = gross, in cents. The lines of an order add up to its total."""

    __tablename__ = "order_tax_line"
    __table_args__ = (sa.UniqueConstraint("order_id", "rate_bp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_order.id", ondelete="CASCADE"), index=True)
    rate_bp: Mapped[int]
    net_cents: Mapped[int]
    tax_cents: Mapped[int]
    gross_cents: Mapped[int]

    order: Mapped[Order] = relationship(back_populates="tax_lines")
