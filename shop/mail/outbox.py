"""The outbox: emails as rows, and every change of their state. Database only, no SMTP.

    pending --claim--> sending --mark_sent--> sent
       ^                  |
       +--- retry later --+--- permanent error or out of attempts ---> failed

Each step is one short transaction with a conditional UPDATE, so several threads and
processes can work on one outbox and each email is claimed by one sender at a time.
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


def _one_line(text: str) -> str:
    """A header value can never carry CR or LF, so no text can add a header of its own."""
    return " ".join(text.split())


def enqueue_email(*, key: str, kind: str, recipient: str, subject: str, text_body: str, html_body: str) -> int | None:
    """Record an email in the caller's transaction; its id, or None if `key` is already queued.

    Call it inside the transaction of the change the email reports: if that rolls back,
    the email was never queued. Hand the id to the dispatcher after the commit.
    """
    return insert_ignoring_duplicates(
        OutboxEmail,
        key=key,
        kind=kind,
        recipient=_one_line(recipient),
        subject=_one_line(subject)[:255],
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
    attempts: int
    recipient: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    created_at: datetime  # the message's Date: the same on every attempt


def claim(email_id: int, lease_seconds: float) -> ClaimedEmail | None:
    """Take a due pending email for sending, or None if it is not pending and due any more.

    attempts counts up here, before the send, so an email whose sender crashes mid-send
    still reaches the attempt limit instead of being retried for ever.
    """
    now = utcnow()
    token = uuid.uuid4().hex
    claimable = sa.and_(
        OutboxEmail.id == email_id,
        OutboxEmail.status == EmailStatus.PENDING,
        OutboxEmail.next_attempt_at <= now,
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # Another sender in the middle of claiming this row holds its lock: skip it at once
        # instead of waiting for that transaction only to find the row taken.
        free = sa.select(OutboxEmail.id).where(claimable).with_for_update(skip_locked=True)
        claimable = OutboxEmail.id.in_(free.scalar_subquery())
    statement = (
        sa.update(OutboxEmail)
        .where(claimable)
        .values(
            status=EmailStatus.SENDING,
            claim_token=token,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempts=OutboxEmail.attempts + 1,
            updated_at=now,
        )
        .returning(
            OutboxEmail.attempts,
            OutboxEmail.recipient,
            OutboxEmail.subject,
            OutboxEmail.text_body,
            OutboxEmail.html_body,
            OutboxEmail.message_id,
            OutboxEmail.created_at,
        )
        .execution_options(synchronize_session=False)
    )
    with transaction():
        row = db.session.execute(statement).one_or_none()
    if row is None:
        return None
    return ClaimedEmail(email_id, token, *row)


def _finish(email: ClaimedEmail, **values: object) -> bool:
    """Write the outcome of an attempt, only if our claim still holds (fenced by its token)."""
    statement = (
        sa.update(OutboxEmail)
        .where(OutboxEmail.id == email.id, OutboxEmail.claim_token == email.claim_token)
        .values(claim_token=None, lease_expires_at=None, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    with transaction():
        updated = db.session.execute(statement).rowcount == 1
    if not updated:
        log.warning(
            "outbox id=%s: claim %s expired and was taken over; outcome %s not recorded",
            email.id,
            email.claim_token,
            values.get("status"),
        )
    return updated


def mark_sent(email: ClaimedEmail) -> bool:
    return _finish(email, status=EmailStatus.SENT, sent_at=utcnow(), last_error=None, last_smtp_code=None)


def retry_delay(attempts: int, base_seconds: float) -> float:
    """Seconds before the next attempt: x4 per attempt, at most 12 h, +-20 % jitter.

    With the default base of 30 s the 8 attempts span about a day:
    30 s, 2 min, 8 min, 32 min, 2.1 h, 8.5 h, 12 h.
    """
    delay = min(base_seconds * 4 ** max(attempts - 1, 0), MAX_RETRY_DELAY_SECONDS)
    return delay * random.uniform(0.8, 1.2)  # jitter: a recovered server is not hit by all at once


def mark_failed_attempt(
    email: ClaimedEmail, error: str, smtp_code: int | None, permanent: bool, max_attempts: int, base_seconds: float
) -> datetime | None:
    """Record a failed attempt; when it will be tried again, or None if it is now `failed`."""
    error = error[:2000]
    if permanent or email.attempts >= max_attempts:
        _finish(email, status=EmailStatus.FAILED, last_error=error, last_smtp_code=smtp_code)
        return None
    next_at = utcnow() + timedelta(seconds=retry_delay(email.attempts, base_seconds))
    if not _finish(
        email, status=EmailStatus.PENDING, next_attempt_at=next_at, last_error=error, last_smtp_code=smtp_code
    ):
        return None
    return next_at


def reclaim_expired(max_attempts: int) -> int:
    """Give back emails whose sender vanished (crash, kill -9) once their lease has expired.

    An email that has used up its attempts is `failed`; any other is due again at once.
    """
    now = utcnow()
    expired = sa.and_(OutboxEmail.status == EmailStatus.SENDING, OutboxEmail.lease_expires_at < now)
    reset = {"claim_token": None, "lease_expires_at": None, "updated_at": now}
    with transaction():
        failed = db.session.execute(
            sa.update(OutboxEmail)
            .where(expired, OutboxEmail.attempts >= max_attempts)
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


def due_ids(limit: int, exclude: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """Ids of pending emails whose time has come, oldest first, at most `limit`."""
    if limit <= 0:
        return []
    statement = (
        sa.select(OutboxEmail.id)
        .where(OutboxEmail.status == EmailStatus.PENDING, OutboxEmail.next_attempt_at <= utcnow())
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(limit)
    )
    if exclude:
        statement = statement.where(OutboxEmail.id.not_in(exclude))
    with transaction(write=False):
        return list(db.session.execute(statement).scalars())


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
    """Make failed emails pending again, due now, with a fresh count of attempts.

    `email_ids` None: every failed email. Returns the ids that were failed and now wait.
    """
    condition = OutboxEmail.status == EmailStatus.FAILED
    if email_ids is not None:
        condition = sa.and_(condition, OutboxEmail.id.in_(email_ids))
    with transaction():
        ids = db.session.execute(sa.select(OutboxEmail.id).where(condition)).scalars().all()
        if ids:
            db.session.execute(
                sa.update(OutboxEmail)
                .where(OutboxEmail.id.in_(ids), OutboxEmail.status == EmailStatus.FAILED)
                .values(status=EmailStatus.PENDING, attempts=0, next_attempt_at=utcnow(), updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
    return list(ids)
