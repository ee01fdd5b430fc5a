"""What an email says: rendered from templates/email/<kind>.txt and .html, then enqueued:
written to the outbox (outbox.py, the email as a row) in the caller's transaction.

Next: shop/mail/dispatcher.py (after the commit the caller hands the ids to it)
"""

from __future__ import annotations

from typing import Any

from flask import render_template

from shop.mail import outbox


def enqueue_email(kind: str, key: str, recipient: str, subject: str, **context: Any) -> int | None:
    """Render the email `kind` with `context` and write it to the outbox, in the caller's
    transaction; its id (None if `key` was enqueued before). Hand the id to the dispatcher
    after the commit."""
    return outbox.enqueue_email(
        key=key,
        kind=kind,
        recipient=recipient,
        subject=subject,
        text_body=render_template(f"email/{kind}.txt", **context),
        html_body=render_template(f"email/{kind}.html", **context),
    )
