"""What an email says: rendered from templates/email/<kind>.txt and .html, then enqueued:
written to the outbox (outbox.py, the email as a row) in the caller's transaction.

Next: shop/mail/dispatcher.py (after the commit the caller hands the ids to it)
"""

from __future__ import annotations

from typing import Any

from flask import render_template

from shop.mail import outbox
from shop.mail.attachments import store_built_message
from shop.mail.mime import Attachment


def enqueue_email(
    kind: str, key: str, recipient: str, subject: str, files: tuple[Attachment, ...] = (), **context: Any
) -> int | None:
    """Render the email `kind` with `context` and write it to the outbox, in the caller's
    transaction; its id (None if `key` was enqueued before). Hand the id to the dispatcher
    after the commit.

    With `files` (an invoice's PDF), the whole message is built now and stored with the
    row (attachments.py). Raises ValueError for a recipient that is not an address."""
    email_id = outbox.enqueue_email(
        key=key,
        kind=kind,
        recipient=recipient,
        subject=subject,
        text_body=render_template(f"email/{kind}.txt", **context),
        html_body=render_template(f"email/{kind}.html", **context),
    )
    if email_id is not None and files:
        store_built_message(email_id, files)
    return email_id
