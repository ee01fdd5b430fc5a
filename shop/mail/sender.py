"""SMTP: a sender's connection (Flask-Mail's), kept open for its next emails, each within
MAIL_TIMEOUT, and what each send came to.

Flask-Mail 0.10 behaviours fixed here rather than worked around elsewhere:
- it opens SMTP connections without a timeout (pallets-eco/flask-mail#114), so one hung
  server would hold a thread for ever: every email has a deadline for its whole part of
  the conversation (connecting, if it opens the connection, then RSET, MAIL, RCPT, DATA);
- its Connection.__exit__ calls quit() unguarded (pallets-eco/flask-mail#139), so a server
  that drops the line after accepting the message turned a success into an error and a
  duplicate: once the message is accepted, a failing QUIT is ignored;
- its send() runs addresses through formataddr, which refuses a local part beyond ASCII,
  and never asks for SMTPUTF8 or BODY=8BITMIME: ours does, as the server allows.
"""

from __future__ import annotations

import functools
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flask_mail

from shop.mail.mime import Mailbox


class SmtpUtf8NotOffered(smtplib.SMTPException):
    """The message needs SMTPUTF8 (an address beyond ASCII) and the server does not offer it."""

    def __init__(self, address: str) -> None:
        super().__init__(
            f"the mail server does not offer SMTPUTF8, needed for {address}; "
            "use a server that does, or turn MAIL_SMTPUTF8 off (such addresses are then refused at the forms)"
        )


@dataclass(frozen=True)
class Outgoing:
    """One email as it goes on the wire: envelope and bytes (8-bit if it has any), and how
    to make its 7-bit form for a server without 8BITMIME (RFC 6152)."""

    sender: Mailbox
    recipient: Mailbox
    raw: bytes
    seven_bit: Callable[[], bytes]


@dataclass(frozen=True)
class SendResult:
    sent: bool
    error: str = ""
    smtp_code: int | None = None
    permanent: bool = False  # retrying cannot help (the server refused this message)
    # The server, not this message: refused, timed out, dropped the line, 421, TLS or login
    # failed. The pool's circuit breaker opens on it.
    server_down: bool = False


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
    """Flask-Mail's connection with a deadline per email and a QUIT that cannot undo a sent
    message."""

    def __init__(self, mail: Any, timeout: float) -> None:
        super().__init__(mail)
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def configure_host(self) -> smtplib.SMTP:
        smtp_class = _DeadlineSMTPSSL if self.mail.use_ssl else _DeadlineSMTP
        host = smtp_class(self.mail.server, self.mail.port, self.deadline)
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

    def arm(self, deadline: float) -> None:
        """The next email's deadline (its conversation may not run past it)."""
        self.deadline = deadline
        if isinstance(self.host, _DeadlineMixin):
            self.host.deadline = deadline

    def send_bytes(self, message: Outgoing) -> None:
        """Send with the ESMTP options the message needs and the server offers: SMTPUTF8
        for an address beyond ASCII (or SmtpUtf8NotOffered), BODY=8BITMIME for 8-bit
        content (or the message's 7-bit form)."""
        host = self.host
        if host is None:  # MAIL_SUPPRESS_SEND
            return
        options = []
        if message.sender.utf8 or message.recipient.utf8:
            if not host.has_extn("smtputf8"):
                raise SmtpUtf8NotOffered(message.recipient.address)
            options.append("SMTPUTF8")
        raw = message.raw
        if not raw.isascii():
            if host.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            else:
                raw = message.seven_bit()
        host.sendmail(message.sender.address, [message.recipient.address], raw, options)

    def __exit__(self, *exc_info: object) -> None:
        if self.host is None:
            return
        try:
            self.host.quit()
        except (smtplib.SMTPException, OSError):
            self.host.close()  # the message (if any) was already accepted or already failed
        self.host = None


class SmtpSession:
    """A sender's SMTP connection, opened for its first email and kept for the next ones
    while there is work: `RSET` before each, at most `max_messages` on one connection, and
    closed by the caller after `idle_seconds` without work (`close_if_idle`). Each email's
    part of the conversation has MAIL_TIMEOUT; a connection that broke costs only the
    email in flight, and one that was found dead at RSET is replaced without charging the
    next email."""

    def __init__(self, mail_state: Any, timeout: float, max_messages: int = 1, idle_seconds: float = 0.0) -> None:
        self.mail_state, self.timeout = mail_state, timeout
        self.max_messages, self.idle_seconds = max_messages, idle_seconds
        self.connection: DeadlineConnection | None = None
        self.connections = 0  # opened so far
        self._on_connection = 0
        self._last_used = time.monotonic()

    def send(self, message: Outgoing) -> SendResult:
        """Send one email. Never raises for an SMTP or network error."""
        deadline = time.monotonic() + self.timeout
        self._last_used = time.monotonic()
        if self.connection is not None:
            try:
                self.connection.arm(deadline)
                if self.connection.host is not None:
                    self.connection.host.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()  # the server closed the idle line: a new one, this email not sent yet
        try:
            if self.connection is None:
                self.connection = DeadlineConnection(self.mail_state, self.timeout)
                self.connection.arm(deadline)
                self.connection.__enter__()
                self.connections += 1
                self._on_connection = 0
            self.connection.send_bytes(message)
        except (smtplib.SMTPException, OSError) as error:
            result = _failure(error, self.timeout)
            if result.server_down:
                self._drop()
            return result
        finally:
            self._last_used = time.monotonic()
        self._on_connection += 1
        if self._on_connection >= self.max_messages:
            self.close()
        return SendResult(True)

    def close_if_idle(self) -> float | None:
        """Close the connection if it has waited `idle_seconds`; else the seconds it may still
        wait (None: no connection open)."""
        if self.connection is None:
            return None
        left = self._last_used + self.idle_seconds - time.monotonic()
        if left <= 0:
            self.close()
            return None
        return left

    def close(self) -> None:
        """QUIT, within MAIL_TIMEOUT; a failing QUIT changes nothing (flask-mail#139)."""
        if self.connection is not None:
            self.connection.arm(time.monotonic() + self.timeout)
            self.connection.__exit__(None, None, None)
            self.connection = None

    def _drop(self) -> None:
        if self.connection is not None and self.connection.host is not None:
            self.connection.host.close()
        self.connection = None


def _failure(error: BaseException, timeout: float) -> SendResult:
    """What an exception from smtplib means: this message refused (4xx: later; 5xx: never),
    or the server unusable (connection-level: the breaker's business)."""
    if isinstance(error, SmtpUtf8NotOffered):
        return SendResult(False, str(error), permanent=True)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()), (None, b""))
        return _refused(code, f"recipient refused: {_text(reply)}")
    if isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return _refused(error.smtp_code, f"{type(error).__name__}: {_text(error.smtp_error)}")
    if isinstance(error, smtplib.SMTPResponseException):  # greeting, HELO, STARTTLS, AUTH: the server
        error_text = f"{type(error).__name__}: {_text(error.smtp_error)}"
        return SendResult(False, error_text, error.smtp_code, server_down=True)
    # refused, timeout, disconnect, TLS. smtplib reports a read that timed out as "Connection
    # unexpectedly closed: timed out"; say what the owner needs to know.
    if isinstance(error, TimeoutError) or str(error).endswith("timed out"):
        return SendResult(False, f"no answer within MAIL_TIMEOUT ({timeout:g} s): {error}", server_down=True)
    return SendResult(False, f"{type(error).__name__}: {error}", server_down=True)


def _refused(code: int | None, error: str) -> SendResult:
    """421: the server is closing the line (RFC 5321 section 3.8): the server, not this
    message. Other 4xx: try again later (greylisting, a full mailbox); 5xx: never."""
    if code == 421:
        return SendResult(False, error, code, server_down=True)
    return SendResult(False, error, code, permanent=code is not None and 500 <= code < 600)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
