"""deliver(): the one code path that sends an email: claim the row, send it, record how
it went. The pool's sender threads, `SHOP_MAIL_DISPATCH=sync`, `flask outbox drain` and
the Celery task all call it; it calls outbox.py (rows) and sender.py (SMTP), nothing above.
"""

from __future__ import annotations

import logging
import time

from flask import current_app

from shop.mail import outbox
from shop.mail.sender import send_email

log = logging.getLogger(__name__)


def lease_seconds(mail_timeout: float) -> float:
    """How long a claim holds: the longest a send can take (MAIL_TIMEOUT: the sender's
    deadline for the whole SMTP conversation), twice over, with room to record the outcome.
    Past it, the sweep gives the email to another sender."""
    return 2 * mail_timeout + 5


def deliver(email_id: int) -> str:
    """Claim, send and record one email; the outcome ('sent', 'retry', 'failed', 'skipped').

    'skipped': someone else has it, it was sent already, or it is not due yet.
    Runs inside an app context; no transaction is open while the SMTP server talks.
    """
    config = current_app.config
    email = outbox.claim(email_id, lease_seconds(config["MAIL_TIMEOUT"]))
    if email is None:
        return "skipped"
    started = time.monotonic()
    result = send_email(email)
    duration = time.monotonic() - started
    if result.sent:
        outbox.mark_sent(email)
        outcome, next_at = "sent", None
    else:
        next_at = outbox.mark_failed_attempt(
            email,
            result.error,
            result.smtp_code,
            result.permanent,
            config["SHOP_MAIL_MAX_ATTEMPTS"],
            config["SHOP_MAIL_RETRY_BASE_SECONDS"],
        )
        outcome = "retry" if next_at else "failed"
    log.log(
        logging.INFO if result.sent else logging.WARNING,
        "outbox id=%s to=%s attempt=%d outcome=%s duration=%.2fs next=%s%s",
        email.id,
        email.recipient,
        email.attempts,
        outcome,
        duration,
        next_at.isoformat(timespec="seconds") + "Z" if next_at else "-",
        f" error={result.error!r}" if result.error else "",
    )
    return outcome
