"""Vouchers: discount codes with a limited number of uses."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.models.base import utcnow


class Voucher(db.Model):
    """A discount code: a percentage or a fixed amount off the goods, with a minimum basket,
    validity dates and a limited number of uses, counted atomically with each order."""

    __tablename__ = "voucher"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('percent', 'fixed')", name="kind_known"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("times_used >= 0", name="times_used_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)  # kept upper case
    kind: Mapped[str] = mapped_column(sa.String(10))  # "percent" or "fixed"
    # percent: hundredths of a percent (1000 = 10 %); fixed: cents.
    amount: Mapped[int]
    min_basket_cents: Mapped[int] = mapped_column(default=0)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    usage_limit: Mapped[int | None]  # None: unlimited
    times_used: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Voucher {self.id} {self.code}>"
