"""What an email says: rendered from templates/email/<kind>.txt and .html, then enqueued."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template

from shop.extensions import db
from shop.mail import outbox
from shop.mail.mime import Attachment, ShopMessage, parse_mailbox
from shop.models import OutboxEmail


def enqueue_email(
    kind: str, key: str, recipient: str, subject: str, files: tuple[Attachment, ...] = (), **context: Any
) -> int | None:
    """Render the email `kind` with `context` and write it to the outbox, in the caller's
    transaction; its id (None if `key` was enqueued before). Hand the id to the dispatcher
    after the commit.

    With `files` (an invoice's PDF), the message's bytes are built now, with the row's own
    Message-ID and date, in 7-bit form (base64, quoted-printable: any server takes them),
    and stored as the row's raw_message, which every attempt sends as it is: the outbox
    keeps no files of its own. Raises ValueError for a recipient that is not an address."""
    email_id = outbox.enqueue_email(
        key=key,
        kind=kind,
        recipient=recipient,
        subject=subject,
        text_body=render_template(f"email/{kind}.txt", **context),
        html_body=render_template(f"email/{kind}.html", **context),
    )
    if email_id is not None and files:
        row = db.session.get(OutboxEmail, email_id)
        assert row is not None
        message = ShopMessage(
            subject=row.subject,
            sender=parse_mailbox(current_app.config["MAIL_DEFAULT_SENDER"]),
            recipient=parse_mailbox(row.recipient),
            text_body=row.text_body,
            html_body=row.html_body,
            message_id=row.message_id,
            created_at=row.created_at,
            files=files,
        )
        row.raw_message = message.as_bytes(seven_bit=True)
    return email_id
