"""Send one claimed email with Flask-Mail, within MAIL_TIMEOUT, and say how it went.

Two Flask-Mail 0.10 behaviours are fixed here rather than worked around elsewhere:
- it opens SMTP connections without a timeout (pallets-eco/flask-mail#114), so one hung
  server would hold a thread for ever: our connection has a deadline for the whole
  conversation;
- its Connection.__exit__ calls quit() unguarded (pallets-eco/flask-mail#139), so a server
  that drops the line after accepting the message turned a success into an error and a
  duplicate: once the message is accepted, a failing QUIT is ignored.
"""

from __future__ import annotations

import functools
import smtplib
import socket
import time
from dataclasses import dataclass
from typing import Any

import flask_mail
from flask import current_app

from shop.mail.mime import ShopMessage, parse_mailbox
from shop.mail.outbox import ClaimedEmail


class SmtpUtf8NotOffered(smtplib.SMTPException):
    """The message needs SMTPUTF8 (an address beyond ASCII) and the server does not offer it."""

    def __init__(self, address: str) -> None:
        super().__init__(
            f"the mail server does not offer SMTPUTF8, needed for {address}; "
            "use a server that does, or turn MAIL_SMTPUTF8 off (such addresses are then refused at the forms)"
        )


@dataclass(frozen=True)
class SendResult:
    sent: bool
    error: str = ""
    smtp_code: int | None = None
    permanent: bool = False  # retrying cannot help (the server refused this message)


class _DeadlineMixin:
    """Every read and write of the SMTP conversation gets only the time left before the
    deadline, so a server that answers slowly, or never, costs at most MAIL_TIMEOUT."""

    sock: socket.socket | None
    deadline: float

    def _arm(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.close()  # type: ignore[attr-defined]
            raise TimeoutError("SMTP conversation took longer than MAIL_TIMEOUT")
        if self.sock is not None:
            self.sock.settimeout(remaining)

    def send(self, s: Any) -> None:
        self._arm()
        super().send(s)  # type: ignore[misc]

    def getreply(self) -> tuple[int, bytes]:
        self._arm()
        return super().getreply()  # type: ignore[misc]


class _DeadlineSMTP(_DeadlineMixin, smtplib.SMTP):
    def __init__(self, host: str, port: int, deadline: float) -> None:
        self.deadline = deadline
        super().__init__(host, port, local_hostname=_local_hostname(), timeout=deadline - time.monotonic())


class _DeadlineSMTPSSL(_DeadlineMixin, smtplib.SMTP_SSL):
    def __init__(self, host: str, port: int, deadline: float) -> None:
        self.deadline = deadline
        super().__init__(host, port, local_hostname=_local_hostname(), timeout=deadline - time.monotonic())


@functools.cache
def _local_hostname() -> str:
    # smtplib would look this up (a DNS query) on every connection.
    return socket.getfqdn()


class DeadlineConnection(flask_mail.Connection):
    """Flask-Mail's connection with a deadline and a QUIT that cannot undo a sent message."""

    def __init__(self, mail: Any, timeout: float) -> None:
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        deadline = time.monotonic() + self.timeout
        smtp_class = _DeadlineSMTPSSL if self.mail.use_ssl else _DeadlineSMTP
        host = smtp_class(self.mail.server, self.mail.port, deadline)
        try:
            if self.mail.use_tls:
                host.starttls()
            if self.mail.username and self.mail.password:
                host.login(self.mail.username, self.mail.password)
            host.ehlo_or_helo_if_needed()  # so that the server's extensions are known before MAIL
        except BaseException:
            host.close()  # __exit__ never runs for a connection that failed to open
            raise
        return host

    def send(self, message: ShopMessage, envelope_from: object = None) -> None:  # type: ignore[override]
        """Send with the ESMTP options the message needs and the server offers: SMTPUTF8
        for an address beyond ASCII (or SmtpUtf8NotOffered), BODY=8BITMIME for 8-bit
        content (or the message's 7-bit form). Flask-Mail's own send() would run the
        addresses through formataddr, which refuses a local part beyond ASCII."""
        host = self.host
        if host is None:
            return
        options = []
        if message.needs_smtputf8:
            if not host.has_extn("smtputf8"):
                raise SmtpUtf8NotOffered(message.to_mailbox.address)
            options.append("SMTPUTF8")
        raw = message.as_bytes()
        if not raw.isascii():
            if host.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            else:
                raw = message.as_bytes(seven_bit=True)
        host.sendmail(message.from_mailbox.address, [message.to_mailbox.address], raw, options)

    def __exit__(self, *exc_info: object) -> None:
        if self.host is None:
            return
        try:
            self.host.quit()
        except (smtplib.SMTPException, OSError):
            self.host.close()  # the message (if any) was already accepted or already failed


def build_message(email: ClaimedEmail) -> ShopMessage:
    """The email as Flask-Mail's Message with a clean serialisation (mime.py). ValueError
    for an address that cannot be sent to."""
    return ShopMessage(
        subject=email.subject,
        sender=parse_mailbox(current_app.config["MAIL_DEFAULT_SENDER"]),
        recipient=parse_mailbox(email.recipient),
        text_body=email.text_body,
        html_body=email.html_body,
        message_id=email.message_id,
        created_at=email.created_at,
    )


def send_email(email: ClaimedEmail) -> SendResult:
    """Send through the configured SMTP server. Never raises for an SMTP or network error."""
    mail_state = current_app.extensions["mail"]
    try:
        message = build_message(email)
        with DeadlineConnection(mail_state, current_app.config["MAIL_TIMEOUT"]) as connection:
            connection.send(message)
    except SmtpUtf8NotOffered as exc:
        return SendResult(False, str(exc), permanent=True)
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()), (None, b""))
        return _refused(code, f"recipient refused: {_text(reply)}")
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        return _refused(exc.smtp_code, f"{type(exc).__name__}: {_text(exc.smtp_error)}")
    except smtplib.SMTPResponseException as exc:  # greeting, HELO, AUTH: the server, not this message
        return SendResult(False, f"{type(exc).__name__}: {_text(exc.smtp_error)}", exc.smtp_code)
    except (smtplib.SMTPException, OSError) as exc:  # refused, timeout, disconnect
        # smtplib reports a read that timed out as "Connection unexpectedly closed: timed
        # out"; say what the owner needs to know: the server is hung or too slow.
        if isinstance(exc, TimeoutError) or str(exc).endswith("timed out"):
            return SendResult(False, f"no answer within MAIL_TIMEOUT ({current_app.config['MAIL_TIMEOUT']:g} s): {exc}")
        return SendResult(False, f"{type(exc).__name__}: {exc}")
    except (flask_mail.BadHeaderError, ValueError, UnicodeError) as exc:
        return SendResult(False, f"cannot build the message: {type(exc).__name__}: {exc}", permanent=True)
    return SendResult(True)


def _refused(code: int | None, error: str) -> SendResult:
    """4xx: try again later (greylisting, a full mailbox, a flooded provider); 5xx: never."""
    return SendResult(False, error, code, permanent=code is not None and 500 <= code < 600)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
