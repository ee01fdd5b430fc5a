"""The outbox: emails as rows (the row is the job), and what each process knows of the mail server."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db
from shop.models.base import utcnow


class EmailStatus(enum.StrEnum):
    """Where an outbox email is (docs/email-delivery.md); stored as these strings."""

    PENDING = "pending"  # waiting for its first or next attempt (next_attempt_at)
    SENDING = "sending"  # claimed by a sender until lease_expires_at
    SENT = "sent"  # the SMTP server accepted it
    FAILED = "failed"  # will not be tried again unless someone retries it

    # The values as plain strings, for the callers that list them (shop/mail, the CLI).
    ALL = enum.nonmember(("pending", "sending", "sent", "failed"))


class OutboxEmail(db.Model):
    """An email to send, written in the same transaction as the change it reports.

    The row is the job: a process that dies before sending leaves it here for the next one.
    See docs/email-delivery.md for the states and guarantees.
    """

    __tablename__ = "outbox_email"
    __table_args__ = (sa.Index("ix_outbox_email_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "order_confirmation:42": a second enqueue of the same email is a no-op.
    key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(255))
    text_body: Mapped[str] = mapped_column(sa.Text)
    html_body: Mapped[str] = mapped_column(sa.Text, default="")
    # Made once for the row and sent on every attempt, so a duplicate can be recognised.
    message_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    status: Mapped[str] = mapped_column(sa.String(10), default=EmailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_smtp_code: Mapped[int | None]
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]
    # The bytes sent, built at the first attempt and kept: every later attempt sends them.
    raw_message: Mapped[bytes | None] = mapped_column(sa.LargeBinary)

    def __repr__(self) -> str:
        return f"<OutboxEmail {self.id} {self.key} {self.status}>"


class MailServerState(db.Model):
    """A process whose circuit breaker is open: it cannot reach the SMTP server (a row only
    while that lasts; `checked_at` is its last probe, so a killed process's row goes stale)."""

    __tablename__ = "mail_server_state"

    process: Mapped[str] = mapped_column(sa.String(120), primary_key=True)  # host:pid
    unreachable_since: Mapped[datetime]
    last_error: Mapped[str] = mapped_column(sa.Text)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
