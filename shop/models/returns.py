"""Goods sent back: which quantities of which lines, and the refund that paid them back."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.base import utcnow

if TYPE_CHECKING:  # the relationships' other ends
    from shop.models.accounts import User
    from shop.models.orders import OrderLine


class Return(db.Model):
    """A return recorded by the owner: written *pending* (its quantities count against
    what may still be returned) before the refund is asked for, *done* once it was
    refunded (and the goods restocked, if chosen); deleted if the refund failed.
    shop/orders/returns.py."""

    __tablename__ = "order_return"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_order.id", ondelete="CASCADE"), index=True)
    refund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("refund.id", ondelete="SET NULL"), index=True)
    # The idempotency key its refund is made with: a return left pending by a dead process
    # finds its refund by it (returns.complete_pending_returns).
    refund_key: Mapped[str] = mapped_column(sa.String(100), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")  # pending, done
    restock: Mapped[bool] = mapped_column(default=False)
    shipping_refunded: Mapped[bool] = mapped_column(default=False)
    amount_cents: Mapped[int]  # what was refunded for it, tax included
    # Its amount per rate, as shop/pricing.py TaxLine fields: for the credit note and the tax report.
    tax_lines: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="order_return", order_by="ReturnLine.id", cascade="all, delete-orphan"
    )
    created_by: Mapped[User | None] = relationship()


class ReturnLine(db.Model):
    """How many of one order line came back."""

    __tablename__ = "order_return_line"
    __table_args__ = (sa.CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(sa.ForeignKey("order_return.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_line.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int]

    order_return: Mapped[Return] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()
