"""The audit trail: who changed what in the back office, when, and the values before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.models.base import utcnow


class AuditEntry(db.Model):
    """One change made by the owner, a staff member or the shop itself, written in the
    change's own transaction (shop/audit.py record_change): there is no change without its
    entry, and no entry of a change that was rolled back.

    The actor's email is kept as text, so the entry still says who it was once the account
    is gone (`actor_id` then becomes NULL). `before` and `after` hold only the fields that
    changed ({"price_cents": 1250}); None for a thing created (before) or deleted (after).
    """

    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # None: the shop itself (a command such as `flask shop cancel-unpaid`, or a customer's
    # own request such as deleting their account).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    actor_email: Mapped[str] = mapped_column(sa.String(254), default="")
    action: Mapped[str] = mapped_column(sa.String(40))  # "product.changed", "order.status", ...
    object_type: Mapped[str] = mapped_column(sa.String(30))  # "product", "order", "voucher", ...
    object_id: Mapped[int | None]
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action} {self.object_type}:{self.object_id}>"
