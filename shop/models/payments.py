"""What a payment provider told the shop: one row per webhook event, so none is acted on twice."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.models.base import utcnow


class PaymentEvent(db.Model):
    """One event a provider sent (Stripe: evt_...), written in the same transaction as what
    it changed. The unique `event_id` is what makes a redelivered event change nothing: the
    second INSERT fails and its transaction, with any change, rolls back."""

    __tablename__ = "payment_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    type: Mapped[str] = mapped_column(sa.String(100))  # checkout.session.completed ...
    # None: the event named no order of this shop (logged, answered 200).
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customer_order.id", ondelete="SET NULL"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
