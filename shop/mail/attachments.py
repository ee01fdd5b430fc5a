"""An email with files (an invoice's PDF): its bytes are built when it is enqueued, with the
row's own Message-ID and date, in 7-bit form (base64, quoted-printable: any server takes
them), and stored as the row's raw_message, which every attempt sends as it is. So the
outbox keeps no files of its own, and a retry sends exactly the same message."""

from __future__ import annotations

from flask import current_app

from shop.extensions import db
from shop.mail.mime import Attachment, message_of
from shop.models import OutboxEmail


def store_built_message(email_id: int, files: tuple[Attachment, ...]) -> None:
    """Build outbox row `email_id`'s message with `files` attached and store its bytes on
    the row (raw_message), in the caller's transaction. Raises ValueError for a recipient
    that is not an address."""
    row = db.session.get(OutboxEmail, email_id)
    if row is None:
        raise ValueError(f"no outbox email {email_id}")
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    row.raw_message = message_of(row, sender, files).as_bytes(seven_bit=True)
