"""A real SMTP server (aiosmtpd) that records what it receives and can be made to misbehave.

Used by the tests (in-process, see conftest.py), by `make run` (as the development mail
server) and by the benchmark (in its own process):

    python tests/smtp_sink.py --port 8025 [--delay 5] [--maildir DIR]

Behaviours, switchable while it runs (`SmtpSink.behave(...)`):
    accept      answer 250 to everything, after `delay` seconds per message
    refuse      nothing listens on the port: connection refused
    hang        accept the TCP connection and never say a word
    tempfail    answer 451 to DATA the next `times` messages, then accept
    permfail    answer 550 to RCPT (no such user)
    drop_quit   accept the message, then hang up instead of answering QUIT
    busy        answer 421 ("service not available") at the greeting and hang up
    drop_between  accept a message, then hang up (the client's next command finds the line dead)
    hang_second accept the first message of a connection; never answer the DATA of the second

`greeting_delay` (seconds, also `--greeting-delay`) waits before the 220 greeting, as a
remote provider's TCP and TLS handshakes and login would. `connections` counts the TCP
connections taken, `rsets` the RSET commands.

`SmtpSink.offer(smtputf8=False, eightbitmime=False)` leaves those extensions out of the EHLO
answer, as an older server would.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import functools
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger("smtp_sink")
MODES = ("accept", "refuse", "hang", "tempfail", "permfail", "drop_quit", "busy", "drop_between", "hang_second")


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes  # as it came after DATA
    mail_options: list[str] = field(default_factory=list)  # MAIL FROM's ESMTP options (SMTPUTF8, BODY=8BITMIME)
    received: float = field(default_factory=time.time)

    @functools.cached_property
    def message(self) -> EmailMessage:
        """Parsed when first asked for: a benchmark's thousands of messages never are."""
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def message_id(self) -> str:
        return str(self.message.get("Message-ID", "")).strip()

    @property
    def text(self) -> str:
        """The plain-text part."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        hidden = {name for name, offered in self.sink.offered.items() if not offered}
        return [line for line in responses if line[4:].split(" ")[0].upper() not in hidden]

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list) -> str:
        if self.sink.mode == "permfail":
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        sink = self.sink
        here = server.messages_here = getattr(server, "messages_here", 0) + 1
        if sink.mode == "hang_second" and here >= 2:
            await asyncio.sleep(3600)  # cancelled when the client hangs up
        with sink._lock:
            sink.attempts += 1
            if sink.mode == "tempfail" and sink.fail_times > 0:
                sink.fail_times -= 1
                # The benchmark reads the time of the last one: when the fault ended.
                log.info("answered 451 to a message; %d more will get it", sink.fail_times)
                return "451 4.3.0 Temporary failure, try again later"
        if sink.delay:
            await asyncio.sleep(sink.delay)
        raw = envelope.original_content or envelope.content
        mail = ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), raw, list(envelope.mail_options))
        sink._record(mail, raw)
        return "250 2.0.0 Message accepted for delivery"


class _SinkSMTP(SMTP):
    async def _handle_client(self) -> None:
        delay = self.event_handler.sink.greeting_delay
        if delay:
            await asyncio.sleep(delay)  # a remote provider's handshakes, before the greeting
        await super()._handle_client()

    async def smtp_QUIT(self, arg: str) -> None:
        if self.event_handler.sink.mode == "drop_quit":
            self.transport.close()  # the message was accepted; the line goes dead before QUIT's reply
            return
        await super().smtp_QUIT(arg)

    async def smtp_RSET(self, arg: str) -> None:
        with self.event_handler.sink._lock:
            self.event_handler.sink.rsets += 1
        await super().smtp_RSET(arg)

    async def smtp_DATA(self, arg: str) -> None:
        await super().smtp_DATA(arg)  # answers 250 (or the error)
        if self.event_handler.sink.mode == "drop_between" and self.transport is not None:
            self.transport.close()


class _Silent(asyncio.Protocol):
    """A hung server: takes the connection, never answers."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.sink._held.append(transport)


class _Busy(asyncio.Protocol):
    """A server that turns the client away at the greeting (RFC 5321 section 3.8)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(b"421 4.3.2 Service not available, try again later\r\n")  # type: ignore[attr-defined]
        transport.close()


class SmtpSink:
    def __init__(self, port: int = 0, host: str = "127.0.0.1", maildir: Path | None = None) -> None:
        self.host, self.port, self.maildir = host, port, maildir
        self.mode = "accept"
        self.delay = 0.0
        self.fail_times = 0
        self.attempts = 0  # DATA commands seen, accepted or not
        self.offered = {"SMTPUTF8": True, "8BITMIME": True}  # ESMTP extensions named in the EHLO answer
        self.greeting_delay = 0.0
        self.reuse_port = False  # several sink processes may share the port (the kernel spreads the connections)
        self.connections = 0  # TCP connections taken
        self.rsets = 0
        self._clients: list[SMTP] = []
        self.messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._held: list[asyncio.BaseTransport] = []
        self._server: asyncio.AbstractServer | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp-sink", daemon=True)

    # -------------------------------------------------------------- control
    def start(self) -> SmtpSink:
        self._thread.start()
        self._call(self._listen())
        return self

    def behave(self, mode: str, delay: float | None = None, times: int = 0) -> SmtpSink:
        """Switch behaviour; 'refuse' closes the port, anything else (re)opens it."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        with self._lock:
            self.mode, self.fail_times = mode, times
            if delay is not None:
                self.delay = delay
        if mode == "refuse":
            self._call(self._close())
        elif self._server is None:
            self._call(self._listen())
        return self

    def offer(self, smtputf8: bool = True, eightbitmime: bool = True) -> SmtpSink:
        """Which extensions the next EHLO answers name (the server still accepts either)."""
        with self._lock:
            self.offered = {"SMTPUTF8": smtputf8, "8BITMIME": eightbitmime}
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._call(self._close(release_held=True))
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()

    # -------------------------------------------------------------- reading
    def wait_for(self, count: int = 1, timeout: float = 10.0, **match: Any) -> list[ReceivedMail]:
        """Wait until `count` messages matching `match` (to=, subject_contains=, text_contains=)
        have arrived; returns them, or raises AssertionError at the deadline."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [m for m in self.messages if _matches(m, **match)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} message(s) matching {match} within {timeout}s, got {len(found)}; "
                        f"all: {[(m.rcpt_tos, m.subject) for m in self.messages]}"
                    )
                self._arrived.wait(remaining)

    def received(self, **match: Any) -> list[ReceivedMail]:
        with self._lock:
            return [m for m in self.messages if _matches(m, **match)]

    # -------------------------------------------------------------- internals
    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        def factory() -> asyncio.Protocol:
            with self._lock:
                self.connections += 1
            if self.mode == "hang":
                return _Silent(self)
            if self.mode == "busy":
                return _Busy()
            client = _SinkSMTP(_Handler(self), hostname="smtp-sink", enable_SMTPUTF8=True, loop=self._loop)
            self._clients.append(client)
            return client

        self._server = await self._loop.create_server(
            factory, self.host, self.port, reuse_address=True, reuse_port=self.reuse_port
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self, release_held: bool = False) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if release_held:
            for transport in self._held:
                transport.close()
            self._held.clear()
            for client in self._clients:  # connections a client kept open for its next message
                if client.transport is not None:
                    client.transport.close()
            self._clients.clear()
            await asyncio.sleep(0.05)  # let their handlers see the end
            tasks = [t for t in asyncio.all_tasks(self._loop) if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _record(self, mail: ReceivedMail, raw: bytes) -> None:
        with self._arrived:
            self.messages.append(mail)
            self._arrived.notify_all()
        if log.isEnabledFor(logging.INFO):
            subject = BytesHeaderParser(policy=email.policy.default).parsebytes(raw).get("Subject", "")
            log.info("received %r for %s", str(subject), ", ".join(mail.rcpt_tos))
        if self.maildir is not None:
            self.maildir.mkdir(parents=True, exist_ok=True)
            # time first so that a listing sorts by arrival; the uuid keeps two in one microsecond apart
            (self.maildir / f"{time.time():.6f}-{uuid.uuid4().hex[:8]}.eml").write_bytes(raw)


def _matches(
    mail: ReceivedMail, to: str | None = None, subject_contains: str | None = None, text_contains: str | None = None
) -> bool:
    if to is not None and to.lower() not in [r.lower() for r in mail.rcpt_tos]:
        return False
    if subject_contains is not None and subject_contains not in mail.subject:
        return False
    return text_contains is None or text_contains in mail.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering each message")
    parser.add_argument("--greeting-delay", type=float, default=0.0, help="seconds before the 220 greeting")
    parser.add_argument("--mode", choices=MODES, default="accept")
    parser.add_argument("--times", type=int, default=0, help="with --mode tempfail: how many messages get 451")
    parser.add_argument("--maildir", type=Path, help="write every message there as a .eml file")
    parser.add_argument("--quiet", action="store_true", help="no log line per message (benchmarks)")
    parser.add_argument("--reuse-port", action="store_true", help="share the port with other sink processes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s smtp-sink %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    if args.quiet:
        log.setLevel(logging.WARNING)
    sink = SmtpSink(args.port, maildir=args.maildir)
    sink.greeting_delay = args.greeting_delay
    sink.reuse_port = args.reuse_port
    sink.start()
    sink.behave(args.mode, delay=args.delay, times=args.times)
    log.info(
        "listening on %s:%d (%s%s)%s",
        sink.host,
        sink.port,
        args.mode,
        f", {args.delay:g} s per message" if args.delay else "",
        f"; saving to {args.maildir}" if args.maildir else "",
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
