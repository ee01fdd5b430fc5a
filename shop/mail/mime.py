"""An email's bytes: Flask-Mail's Message, serialised so that every header is clean.

Flask-Mail 0.10's `Message.as_bytes()` gets three things wrong, fixed here by a subclass
that builds the same MIME tree its own way:
- it encodes a non-ASCII subject or display name with `Header(...).encode()` as if the
  header had no name, then switches the message to `policy.SMTP`, which refolds any line
  over 78 characters: the refold can glue an encoded-word to plain text ("Kr=?utf-8?q?...")
  or split a word, which RFC 2047 forbids and readers show garbled. Here each value is
  one `email.header.Header` that knows its header's name and is never refolded: plain
  ASCII is folded at spaces, anything else becomes encoded-words only (each at most 75
  characters, separated by folding white space, RFC 2047 section 2 and 5);
- it sends text parts as `8bit` whatever their line length (RFC 5322 allows 998 octets)
  and never asks for `BODY=8BITMIME`: here a part whose lines are too long is quoted-
  printable, and sender.py declares 8BITMIME (or asks for the 7-bit form) as the server
  allows;
- an address with letters beyond ASCII before the @ raises UnicodeEncodeError in
  `formataddr`: here it is written as UTF-8, and the message needs SMTPUTF8 (RFC 6531,
  6532); a domain beyond ASCII is written as IDNA.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message as MimeMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr
from typing import Protocol

import flask_mail
import idna

MAX_LINE_OCTETS = 998  # RFC 5322 section 2.1.1, without the CRLF


@dataclass(frozen=True)
class Mailbox:
    """An address as it goes on the wire: the domain in IDNA (ASCII), the local part as
    given; `utf8` when the local part needs SMTPUTF8."""

    address: str
    display_name: str = ""

    @property
    def utf8(self) -> bool:
        return not self.address.isascii()


def parse_mailbox(text: str) -> Mailbox:
    """ "Name <local@domain>" or "local@domain" -> Mailbox, the domain in IDNA (UTS 46, the
    `idna` package, as email-validator uses). ValueError for what is not an address.

    The syntax itself was checked where the address came from (the forms, config.py), and
    is not judged again here: a shop may well send from shop@localhost in development."""
    text = text.strip()
    name, address = "", text
    if text.endswith(">") and "<" in text:
        name, _, address = text[:-1].rpartition("<")
        name = name.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain or any(c.isspace() or c in "<>," for c in address.strip()):
        raise ValueError(f"not an email address: {address!r}")
    if not domain.isascii():
        domain = idna.encode(domain, uts46=True).decode("ascii")  # IDNAError is a ValueError
    return Mailbox(f"{local}@{domain.lower()}", name)


class _Utf8(str):
    """A header value written as UTF-8 as it is (an SMTPUTF8 address, RFC 6532)."""


class _Policy(Compat32):
    """compat32 writes Header objects exactly as they encoded themselves (no refolding);
    lines of at most 76 characters keep each encoded-word within 75 (RFC 2047 section 2)."""

    def fold_binary(self, name: str, value: object) -> bytes:
        if isinstance(value, _Utf8):
            return f"{name}: {value}{self.linesep}".encode()
        return super().fold_binary(name, value)


POLICY = _Policy(linesep="\r\n", max_line_length=76)


def _header(name: str, value: str) -> Header:
    """Plain ASCII folds at its spaces; anything else (or text that looks like an
    encoded-word) is all encoded-words, so that no reader can misread where they end."""
    if value.isascii() and "=?" not in value:
        return Header(value, "us-ascii", header_name=name)
    return Header(value, "utf-8", header_name=name)


def _address_header(name: str, mailbox: Mailbox) -> Header | _Utf8:
    display = mailbox.display_name
    if mailbox.utf8:  # only a server that offers SMTPUTF8 gets this message
        return _Utf8(f"{_quoted(display)} <{mailbox.address}>" if display else mailbox.address)
    if not display:
        return Header(mailbox.address, "us-ascii", header_name=name)
    if display.isascii() and "=?" not in display:
        return Header(formataddr((display, mailbox.address)), "us-ascii", header_name=name)
    header = Header(display, "utf-8", header_name=name)
    header.append(f"<{mailbox.address}>", "us-ascii")
    return header


def _quoted(display: str) -> str:
    escaped = display.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _text_part(text: str, subtype: str, seven_bit: bool) -> MIMEText:
    """UTF-8 text, 8bit when every line fits in 998 octets (7bit if it is ASCII), else
    (or when the server lacks 8BITMIME) quoted-printable."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    charset = Charset("utf-8")
    fits = all(len(line.encode()) <= MAX_LINE_OCTETS for line in text.split("\n"))
    charset.body_encoding = None if fits and (text.isascii() or not seven_bit) else QP  # None: 7bit or 8bit
    part = MIMEText(text, subtype, charset)
    del part["MIME-Version"]  # once, at the top
    return part


def _boundary(*parts: MIMEText) -> str:
    """A random multipart boundary that no part contains (the generator would otherwise
    compile a regular expression per message to find one)."""
    while True:
        boundary = f"=_swiftcart_{secrets.token_hex(16)}"
        if not any(boundary in str(part.get_payload()) for part in parts):
            return boundary


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email: its name as the reader sees it, MIME type, bytes."""

    filename: str
    mimetype: str  # "application/pdf"
    data: bytes


def _file_part(file: Attachment) -> MIMEApplication:
    """The file as a base64 part (7-bit: any server takes it), named for download."""
    maintype, _, subtype = file.mimetype.partition("/")
    if maintype != "application":
        raise ValueError("the shop attaches application/* files only")
    part = MIMEApplication(file.data, subtype)
    del part["MIME-Version"]
    part.add_header("Content-Disposition", "attachment", filename=file.filename)
    return part


class ShopMessage(flask_mail.Message):
    """One outbox email as Flask-Mail's Message, with a serialisation that is RFC 5322,
    2047 and 6532 clean (see the module's docstring)."""

    def __init__(
        self,
        *,
        subject: str,
        sender: Mailbox,
        recipient: Mailbox,
        text_body: str,
        html_body: str,
        message_id: str,
        created_at: datetime,
        files: tuple[Attachment, ...] = (),
    ) -> None:
        # Flask-Mail's __init__ would first make a Message-ID of its own with make_msgid(),
        # which looks up this host's name (a DNS query, about 0.6 ms here) for every email:
        # its attributes are set here instead.
        self.subject, self.sender, self.recipients = subject, sender.address, [recipient.address]
        self.body, self.alts = text_body, {"html": html_body} if html_body else {}
        self.cc, self.bcc, self.reply_to, self.attachments = [], [], None, []
        self.date: float | None = created_at.replace(tzinfo=UTC).timestamp()
        self.msgId = message_id  # the row's own id, the same on every attempt
        self.charset, self.extra_headers, self.mail_options, self.rcpt_options = None, None, [], []
        self.from_mailbox, self.to_mailbox = sender, recipient
        self.files = files

    @property
    def needs_smtputf8(self) -> bool:
        return self.from_mailbox.utf8 or self.to_mailbox.utf8

    def _message(self, seven_bit: bool = False) -> MimeMessage:
        if self.attachments or set(self.alts) - {"html"}:
            raise ValueError("the shop's emails have a text part and an HTML part, nothing else")
        text = _text_part(self.body or "", "plain", seven_bit)
        if self.html:
            html = _text_part(self.html, "html", seven_bit)
            root: MimeMessage = MIMEMultipart("alternative", boundary=_boundary(text, html), policy=POLICY)
            root.attach(text)
            root.attach(html)
        else:
            root = text
            root["MIME-Version"] = "1.0"
        if self.files:  # multipart/mixed: the text (and HTML) first, then each file, base64
            parts = [root] + [_file_part(f) for f in self.files]
            del root["MIME-Version"]
            root = MIMEMultipart("mixed", boundary=_boundary(*parts), policy=POLICY)
            for part in parts:
                root.attach(part)
        root["Subject"] = _header("Subject", self.subject)
        root["From"] = _address_header("From", self.from_mailbox)
        root["To"] = _address_header("To", self.to_mailbox)
        assert self.date is not None
        root["Date"] = format_datetime(datetime.fromtimestamp(self.date, UTC))
        root["Message-ID"] = self.msgId
        return root

    def as_bytes(self, seven_bit: bool = False) -> bytes:
        """The message, CRLF line ends. `seven_bit`: for a server without 8BITMIME
        (RFC 6152), every part in 7-bit form."""
        return self._message(seven_bit).as_bytes(policy=POLICY)

    def as_string(self) -> str:
        return self.as_bytes().decode("utf-8")


class StoredEmail(Protocol):
    """What an outbox email has (the row, or a sender's claim of it)."""

    subject: str
    recipient: str
    text_body: str
    html_body: str | None
    message_id: str
    created_at: datetime


def message_of(email: StoredEmail, sender: str, files: tuple[Attachment, ...] = ()) -> ShopMessage:
    """`email` from `sender` (MAIL_DEFAULT_SENDER: "Shop <shop@example.com>") as a
    ShopMessage, with `files` attached. ValueError for an address that cannot be sent to."""
    return ShopMessage(
        subject=email.subject,
        sender=parse_mailbox(sender),
        recipient=parse_mailbox(email.recipient),
        text_body=email.text_body,
        html_body=email.html_body,
        message_id=email.message_id,
        created_at=email.created_at,
        files=files,
    )
