"""Money given back on an order: after a paid order is cancelled, or for a return."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db
from shop.models.base import utcnow

if TYPE_CHECKING:  # the relationships' other ends
    from shop.models.accounts import User
    from shop.models.orders import Order


class RefundStatus(enum.StrEnum):
    """PENDING: written before the provider was asked (it counts against what may still be
    refunded, so two owners at once cannot both refund the whole); REFUNDED: the provider
    (or the owner, by hand) gave the money back."""

    PENDING = "pending"
    REFUNDED = "refunded"


class Refund(db.Model):
    """One refund of (part of) an order's payment. The refunds of an order never add up to
    more than it was paid (the order's service checks this under a lock of the order row).
    `idempotency_key` is the key the payment provider was given (Stripe's Idempotency-Key):
    a retried refund finds its row instead of paying twice."""

    __tablename__ = "refund"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_order.id", ondelete="CASCADE"), index=True)
    amount_cents: Mapped[int]  # in the currency's minor units, > 0
    status: Mapped[str] = mapped_column(sa.String(20), default=RefundStatus.PENDING)
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    # The provider's id of the refund (Stripe: re_...); "" when the owner paid it back by hand.
    reference: Mapped[str] = mapped_column(sa.String(100), default="")
    idempotency_key: Mapped[str] = mapped_column(sa.String(100), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship()
    created_by: Mapped[User | None] = relationship()
