"""The outbox: emails as rows, and every change of their state. Database only, no SMTP.

    pending --claim--> sending --record: sent--> sent
       ^                  |
       +--- retry later --+--- permanent error or out of attempts ---> failed
       +--- released (never tried: the breaker opened, the pool stopped)

A claim takes up to N due emails in one UPDATE, each with its own claim token and lease;
outcomes are written many to a transaction, each row fenced by its token: several threads
and processes share one outbox, each email claimed by one sender at a time. An attempt
counts when its outcome is written (or its lease reclaimed after a crash), so an email
released untried is not charged one.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from shop.database import insert_ignoring_duplicates, transaction
from shop.extensions import db
from shop.mail.mime import parse_mailbox
from shop.models import EmailStatus, OutboxEmail, utcnow

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_SECONDS = 12 * 3600
TABLE = OutboxEmail.__table__  # Core statements: many rows per UPDATE, fenced per row


def enqueue_email(*, key: str, kind: str, recipient: str, subject: str, text_body: str, html_body: str) -> int | None:
    """Record an email in the caller's transaction; its id, or None if `key` is already queued.

    Call it inside the transaction of the change the email reports: if that rolls back,
    the email was never queued. Hand the id to the dispatcher after the commit.
    """
    return insert_ignoring_duplicates(
        OutboxEmail,
        key=key,
        kind=kind,
        recipient=" ".join(recipient.split()),  # one line: no text can add a header of its own
        subject=" ".join(subject.split())[:255],
        text_body=text_body,
        html_body=html_body,
        message_id=f"<{uuid.uuid4().hex}@{_sender_domain()}>",
        status=EmailStatus.PENDING,
    )


def _sender_domain() -> str:
    """The domain of MAIL_DEFAULT_SENDER (in IDNA: a Message-ID is ASCII), for Message-IDs
    (make_msgid would ask DNS)."""
    try:
        return parse_mailbox(current_app.config["MAIL_DEFAULT_SENDER"] or "").address.rpartition("@")[2]
    except ValueError:
        return "localhost"


@dataclass(frozen=True)
class ClaimedEmail:
    """What a sender needs, taken from the row at the moment it was claimed."""

    id: int
    claim_token: str
    attempts: int  # the number of this attempt (1 for the first)
    recipient: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    created_at: datetime  # the message's Date: the same on every attempt
    raw_message: bytes | None  # None until its first attempt built it
    lease_expires_at: datetime


_COLUMNS = "id claim_token attempts recipient subject text_body html_body message_id created_at raw_message"
_CLAIMED = [getattr(OutboxEmail, name) for name in _COLUMNS.split()]


def claim_batch(limit: int, lease_seconds: float, ids: list[int] | None = None) -> list[ClaimedEmail]:
    """Take up to `limit` due pending emails (of `ids`, if given), oldest due first, in one
    UPDATE; each gets its own claim token (the batch's random part and its id) and the
    lease `lease_seconds` from now. Emails another sender is claiming are skipped at once
    (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one writer at a time anyway)."""
    if limit <= 0 or ids == []:
        return []
    now = utcnow()
    lease = now + timedelta(seconds=lease_seconds)
    due = _due(now, limit)
    if ids is not None:
        due = due.where(OutboxEmail.id.in_(ids))
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        sa.update(OutboxEmail)
        .where(OutboxEmail.id.in_(due.scalar_subquery()), OutboxEmail.status == EmailStatus.PENDING)
        .values(
            status=EmailStatus.SENDING,
            claim_token=sa.literal(uuid.uuid4().hex[:16]) + "." + sa.cast(OutboxEmail.id, sa.String),
            lease_expires_at=lease,
            updated_at=now,
        )
        .returning(*_CLAIMED)
        .execution_options(synchronize_session=False)
    )
    with transaction():
        rows = db.session.execute(statement).all()
    claimed = [ClaimedEmail(row[0], row[1], row[2] + 1, *row[3:], lease) for row in rows]
    return sorted(claimed, key=lambda email: email.id)


@dataclass(frozen=True)
class Attempt:
    """What became of a claimed email, to be recorded."""

    email: ClaimedEmail
    sent: bool = False
    error: str = ""
    smtp_code: int | None = None
    permanent: bool = False  # retrying cannot help
    tried: bool = True  # False: released untried (the breaker opened, the pool is stopping)
    raw_message: bytes | None = None  # built at this attempt: kept for the next ones
    seconds: float = 0.0  # how long the SMTP part took

    def outcome(self, max_attempts: int) -> str:
        if not self.tried:
            return "released"
        if self.sent:
            return "sent"
        return "failed" if self.permanent or self.email.attempts >= max_attempts else "retry"


_FENCE = sa.and_(TABLE.c.id == sa.bindparam("f_id"), TABLE.c.claim_token == sa.bindparam("f_token"))
_RECORD = {
    # Every tried email: its outcome, one attempt more, its bytes if this attempt built them.
    "tried": sa.update(TABLE)
    .where(_FENCE)
    .values(
        status=sa.bindparam("r_status"),
        attempts=TABLE.c.attempts + 1,
        next_attempt_at=sa.func.coalesce(sa.bindparam("r_next", type_=sa.DateTime), TABLE.c.next_attempt_at),
        sent_at=sa.bindparam("r_sent_at", type_=sa.DateTime),
        last_error=sa.bindparam("r_error", type_=sa.Text),
        last_smtp_code=sa.bindparam("r_code", type_=sa.Integer),
        raw_message=sa.func.coalesce(sa.bindparam("r_raw", type_=sa.LargeBinary), TABLE.c.raw_message),
        claim_token=None,
        lease_expires_at=None,
        updated_at=sa.bindparam("r_now", type_=sa.DateTime),
    ),
    # Released untried: pending again as it was, not charged an attempt.
    "released": sa.update(TABLE)
    .where(_FENCE)
    .values(status=EmailStatus.PENDING, claim_token=None, lease_expires_at=None, updated_at=sa.bindparam("r_now")),
}


def record(attempts: list[Attempt], max_attempts: int, base_seconds: float) -> list[tuple[str, datetime | None]]:
    """Write the outcomes of these attempts in one transaction, each only if its claim still
    holds (fenced by its token); (outcome, next attempt) for each, in order. A row whose
    claim expired and was taken over is left alone, with a warning."""
    now = utcnow()
    results: list[tuple[str, datetime | None]] = []
    params: dict[str, list[dict[str, object]]] = {"tried": [], "released": []}
    for attempt in attempts:
        outcome = attempt.outcome(max_attempts)
        delay = retry_delay(attempt.email.attempts, base_seconds)
        next_at = now + timedelta(seconds=delay) if outcome == "retry" else None
        results.append((outcome, next_at))
        row: dict[str, object] = {"f_id": attempt.email.id, "f_token": attempt.email.claim_token, "r_now": now}
        if outcome != "released":
            row |= {
                "r_status": {"sent": EmailStatus.SENT, "retry": EmailStatus.PENDING}.get(outcome, EmailStatus.FAILED),
                "r_next": next_at,
                "r_sent_at": now if attempt.sent else None,
                "r_error": attempt.error[:2000] or None,
                "r_code": attempt.smtp_code,
                "r_raw": attempt.raw_message,
            }
        params["tried" if outcome != "released" else "released"].append(row)
    updated = 0
    with transaction():
        for kind, rows in params.items():
            updated += db.session.execute(_RECORD[kind], rows).rowcount if rows else 0
    if updated != len(attempts):
        log.warning(
            "outbox ids=%s: %d of %d outcome(s) not recorded: the claim expired and was taken over",
            ",".join(str(a.email.id) for a in attempts),
            len(attempts) - updated,
            len(attempts),
        )
    return results


def retry_delay(attempts: int, base_seconds: float) -> float:
    """Seconds before the next attempt: x4 per attempt, at most 12 h, +-20 % jitter.

    With the default base of 30 s the 8 attempts span about a day:
    30 s, 2 min, 8 min, 32 min, 2.1 h, 8.5 h, 12 h.
    """
    delay = min(base_seconds * 4 ** max(attempts - 1, 0), MAX_RETRY_DELAY_SECONDS)
    return delay * random.uniform(0.8, 1.2)  # jitter: a recovered server is not hit by all at once


def reclaim_expired(max_attempts: int) -> int:
    """Give back emails whose sender vanished (crash, kill -9) once their lease has expired,
    counting the attempt it may have made: an email that has used up its attempts is
    `failed`; any other is due again at once."""
    now = utcnow()
    expired = sa.and_(OutboxEmail.status == EmailStatus.SENDING, OutboxEmail.lease_expires_at < now)
    reset = {"claim_token": None, "lease_expires_at": None, "updated_at": now, "attempts": OutboxEmail.attempts + 1}
    with transaction():
        failed = db.session.execute(
            sa.update(OutboxEmail)
            .where(expired, OutboxEmail.attempts + 1 >= max_attempts)
            .values(status=EmailStatus.FAILED, last_error="sender stopped during its last attempt", **reset)
            .execution_options(synchronize_session=False)
        ).rowcount
        pending = db.session.execute(
            sa.update(OutboxEmail)
            .where(expired)
            .values(status=EmailStatus.PENDING, next_attempt_at=now, **reset)
            .execution_options(synchronize_session=False)
        ).rowcount
    if failed or pending:
        log.warning("outbox: reclaimed %d email(s) from senders that stopped; %d failed", pending, failed)
    return failed + pending


def due_again(since: datetime) -> int:
    """Emails whose attempt since `since` failed at the connection level (no SMTP answer, or
    421) are due now: the server is back, their backoff was the server's, not theirs."""
    with transaction():
        return db.session.execute(
            sa.update(OutboxEmail)
            .where(OutboxEmail.status == EmailStatus.PENDING, OutboxEmail.next_attempt_at > utcnow())
            .where(OutboxEmail.updated_at >= since, sa.func.coalesce(OutboxEmail.last_smtp_code, 421) == 421)
            .values(next_attempt_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount


def _due(now: datetime, limit: int) -> sa.Select:
    """Pending emails whose time has come, oldest due first."""
    statement = sa.select(OutboxEmail.id).where(OutboxEmail.status == EmailStatus.PENDING)
    return (
        statement.where(OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(limit)
    )


def due_ids(limit: int) -> list[int]:
    """Ids of pending emails whose time has come, oldest due first, at most `limit`."""
    with transaction(write=False):
        return list(db.session.execute(_due(utcnow(), limit)).scalars())


def next_due_at() -> datetime | None:
    """When the earliest pending email falls due (None: nothing pending)."""
    statement = sa.select(sa.func.min(OutboxEmail.next_attempt_at)).where(OutboxEmail.status == EmailStatus.PENDING)
    with transaction(write=False):
        return db.session.execute(statement).scalar_one()


def counts_by_status() -> dict[str, int]:
    """{status: count} for every status, zeros included."""
    statement = sa.select(OutboxEmail.status, sa.func.count()).group_by(OutboxEmail.status)
    counts = dict.fromkeys(EmailStatus.ALL, 0)
    counts.update({status: n for status, n in db.session.execute(statement).all()})
    return counts


def oldest_pending_created_at() -> datetime | None:
    statement = sa.select(sa.func.min(OutboxEmail.created_at)).where(OutboxEmail.status == EmailStatus.PENDING)
    return db.session.execute(statement).scalar_one()


def retry_failed(email_ids: list[int] | None = None) -> list[int]:
    """Make failed emails pending again, due now, with a fresh count of attempts (`email_ids`
    None: every failed one); the ids that were failed and now wait. Its own transaction."""
    with transaction():
        return make_failed_pending(email_ids)


def make_failed_pending(email_ids: list[int] | None = None) -> list[int]:
    """retry_failed in the caller's transaction (the admin's resend writes its audit entry
    with it): one conditional UPDATE."""
    condition = OutboxEmail.status == EmailStatus.FAILED
    if email_ids is not None:
        condition = sa.and_(condition, OutboxEmail.id.in_(email_ids))
    values = {"status": EmailStatus.PENDING, "attempts": 0, "next_attempt_at": utcnow(), "updated_at": utcnow()}
    statement = sa.update(OutboxEmail).where(condition).values(**values).returning(OutboxEmail.id)
    return sorted(db.session.execute(statement.execution_options(synchronize_session=False)).scalars())
