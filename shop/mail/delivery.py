"""Delivering claimed emails: build each one's bytes once, send them through a sender's SMTP
session, record how it went and log one line per attempt.

`deliver(id)` does the whole of it for one email (SHOP_MAIL_DISPATCH=sync, the Celery task,
tests); the pool (dispatcher.py) uses `send_claimed` and `record` with its own batches.
Everything here calls outbox.py (rows), mime.py (bytes) and sender.py (SMTP), nothing above.

The end of the tour (docs/tour.md); below it, sender.py speaks SMTP.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from flask import Flask, current_app

from config import Settings
from shop.extensions import get_settings
from shop.mail import outbox
from shop.mail.mime import message_of
from shop.mail.outbox import Attempt, ClaimedEmail
from shop.mail.sender import Outgoing, SendResult, SmtpSession

log = logging.getLogger(__name__)


def lease_seconds(mail_timeout: float, batch: int = 1) -> float:
    """How long a claim of `batch` emails holds: each may take MAIL_TIMEOUT (the deadline of
    its part of the conversation), the first twice over (connecting), with room to record
    the outcomes. Past it, the sweep gives the emails to another sender."""
    return 2 * mail_timeout + 5 + (batch - 1) * mail_timeout


def smtp_session(app: Flask) -> SmtpSession:
    """A sender's SMTP session with `app`'s settings (connection reuse included)."""
    settings = get_settings(app)
    return SmtpSession(
        app.extensions["mail"],
        app.config["MAIL_TIMEOUT"],
        max_messages=settings.mail_smtp_max_messages,
        idle_seconds=settings.mail_smtp_idle_seconds,
    )


def send_claimed(session: SmtpSession, email: ClaimedEmail) -> tuple[Attempt, SendResult]:
    """Send one claimed email (its bytes built now if this is its first attempt). Needs an
    app context; never raises for an SMTP, network or message error."""
    started = time.monotonic()
    try:
        message = message_of(email, current_app.config["MAIL_DEFAULT_SENDER"])
        built = None if email.raw_message is not None else message.as_bytes()
        outgoing = Outgoing(
            message.from_mailbox,
            message.to_mailbox,
            email.raw_message or built or b"",
            lambda: message.as_bytes(seven_bit=True),
        )
    except (ValueError, UnicodeError) as error:
        result = SendResult(False, f"cannot build the message: {type(error).__name__}: {error}", permanent=True)
        return Attempt(email, error=result.error, permanent=True), result
    result = session.send(outgoing)
    attempt = Attempt(
        email,
        sent=result.sent,
        error=result.error,
        smtp_code=result.smtp_code,
        permanent=result.permanent,
        raw_message=built,
        seconds=time.monotonic() - started,
    )
    return attempt, result


def record(attempts: list[Attempt], settings: Settings) -> list[str]:
    """Record the outcomes (one transaction) and log one line per attempt; the outcomes
    ('sent', 'retry', 'failed', 'released'). Database errors propagate: the caller retries
    (the pool, within the claims' leases) or leaves the rows to their leases."""
    results = outbox.record(attempts, settings.mail_max_attempts, settings.mail_retry_base_seconds)
    for attempt, (outcome, next_at) in zip(attempts, results, strict=True):
        if outcome != "released":
            log_attempt(attempt, outcome, next_at.isoformat(timespec="seconds") + "Z" if next_at else "-")
    return [outcome for outcome, _ in results]


def log_attempt(attempt: Attempt, outcome: str, next_at: str) -> None:
    """One line per attempt; the SMTP password is never in it."""
    log.log(
        logging.INFO if attempt.sent else logging.WARNING,
        "outbox id=%s to=%s attempt=%d outcome=%s duration=%.2fs next=%s%s",
        attempt.email.id,
        attempt.email.recipient,
        attempt.email.attempts,
        outcome,
        attempt.seconds,
        next_at,
        f" error={attempt.error!r}" if attempt.error else "",
    )


def deliver(email_id: int) -> str:
    """Claim, send and record one email on a connection of its own; the outcome ('sent',
    'retry', 'failed', 'skipped').

    'skipped': someone else has it, it was sent already, or it is not due yet.
    Runs inside an app context; no transaction is open while the SMTP server talks.
    """
    config = current_app.config
    claimed = outbox.claim_batch(1, lease_seconds(config["MAIL_TIMEOUT"]), [email_id])
    if not claimed:
        return "skipped"
    email = claimed[0]
    session = smtp_session(current_app._get_current_object())
    try:
        attempt, _ = send_claimed(session, email)
    finally:
        session.close()
    return record([attempt], get_settings())[0]


class SyncDispatch:
    """SHOP_MAIL_DISPATCH=sync: the request itself sends (the blocking design, kept for
    comparison and for tests)."""

    mode = "sync"

    def __init__(self, app: Flask) -> None:
        self.app = app

    def hand_off(self, email_ids: Iterable[int | None]) -> None:
        for email_id in email_ids:
            if email_id is not None:
                deliver(email_id)

    def start(self) -> None:
        """Nothing runs in the background."""

    def stop(self) -> None:
        """Nothing runs in the background."""
