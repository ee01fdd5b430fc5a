"""Invoices and credit notes: numbered from gap-free sequences, and never changed once issued."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.models.base import utcnow


class DocumentKind(enum.StrEnum):
    """An invoice (when an order is paid) or a credit note (a refund or a cancellation
    after it); each kind has its own sequence of numbers."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def prefix(self) -> str:
        return "INV-" if self is DocumentKind.INVOICE else "CN-"


class InvoiceCounter(db.Model):
    """The next number of each kind of document: one row per kind (made by the first
    document of its kind), taken by an upsert in the transaction that issues the document
    (its row lock makes concurrent issues wait, and a rolled-back issue gives the number
    back), so numbers have no gap and none is used twice."""

    __tablename__ = "invoice_counter"

    kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    next_number: Mapped[int] = mapped_column(default=1)


class Invoice(db.Model):
    """An invoice or a credit note: `data` is the snapshot made when it was issued (the
    shop's and the customer's addresses, the lines, tax per rate, totals, payment),
    shop/invoices/snapshot.py. No code updates a row: an update raises (below)."""

    __tablename__ = "invoice"
    __table_args__ = (sa.UniqueConstraint("kind", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # a DocumentKind
    sequence: Mapped[int]  # 1, 2, 3 ... per kind
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)  # "INV-000001"
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("customer_order.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("refund.id", ondelete="SET NULL"))
    total_cents: Mapped[int]  # the gross amount invoiced or credited, > 0
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_credit_note(self) -> bool:
        return self.kind == DocumentKind.CREDIT_NOTE


@sa.event.listens_for(Invoice, "before_update")
def _issued_documents_never_change(mapper: Any, connection: Any, target: Invoice) -> None:
    raise ValueError(f"{target.number} was issued and cannot change; issue a credit note instead")
