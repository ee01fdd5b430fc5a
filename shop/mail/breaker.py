"""What a process does when the SMTP server or the database is in trouble: stop, probe,
resume, and say so once, not once per email.

- `CircuitBreaker`: after a connection-level failure (refused, timeout, 421, TLS or login)
  the process stops handing emails to its senders and probes with one email at growing
  intervals (1, 2, 4 s ... at most SHOP_MAIL_PROBE_MAX_SECONDS; at once, but not within 2 s
  of the last probe, when a new email is handed off); the first answer from the server closes it.
  While it is open its state is a row of `mail_server_state`, for the owner (/healthz,
  the admin, `flask outbox status`), whichever process they ask.
- `DatabaseTrouble`: claims and records that fail (disk full, database locked or gone)
  back off 0.5, 1, 2 ... 30 s instead of spinning.
- `RateLimit`: at most SHOP_MAIL_RATE_PER_MINUTE sends per process.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from config import Settings
from shop.database import transaction
from shop.extensions import db
from shop.models import MailServerState, utcnow

log = logging.getLogger(__name__)

FRESH_PROBE_SPACING = 2.0  # seconds: a hand-off brings the next probe forward, not closer than this


@dataclass(frozen=True)
class Permit:
    """What a sender may do now: claim a batch (`claim`), one email as the probe (`probe`),
    or nothing for `wait` seconds."""

    claim: bool
    probe: bool = False
    wait: float = 0.0


class CircuitBreaker:
    """One process's view of the SMTP server. Thread-safe."""

    def __init__(self, process: str, probe_max_seconds: float) -> None:
        self.process, self.probe_max_seconds = process, probe_max_seconds
        self._lock = threading.Lock()
        self.open_since: datetime | None = None  # UTC, naive like every stored time
        self.last_error = ""
        self.failed_probes = 0  # since it opened: the next probe waits 2**failed_probes s
        self._probe_at = 0.0  # time.monotonic() of the next probe
        self._last_probe = float("-inf")
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self.open_since is not None

    def permit(self) -> Permit:
        with self._lock:
            if self.open_since is None:
                return Permit(claim=True)
            wait = self._probe_at - time.monotonic()
            if self._probing or wait > 0:
                return Permit(claim=False, wait=wait if not self._probing else self.probe_max_seconds)
            self._probing, self._last_probe = True, time.monotonic()
            return Permit(claim=True, probe=True)

    def fresh_email_waits(self) -> None:
        """A new email was handed off: if open, probe soon (it may be back)."""
        with self._lock:
            if self.open_since is not None:
                self._probe_at = min(self._probe_at, max(time.monotonic(), self._last_probe + FRESH_PROBE_SPACING))

    def probe_unused(self) -> None:
        """The probe found no email to send; the next sender may try at the next probe time."""
        with self._lock:
            self._probing = False

    def succeeded(self) -> datetime | None:
        """The server answered; if that closed the breaker, since when it was open (wake the
        senders, and bring forward the emails that failed meanwhile)."""
        with self._lock:
            if self.open_since is None:
                return None
            since, self.open_since, self._probing, self.failed_probes = self.open_since, None, False, 0
        log.info("mail server reachable again (unreachable since %s UTC, %s)", f"{since:%H:%M:%S}", _ago(since))
        _forget(self.process)
        return since

    def failed(self, error: str, probe: bool) -> None:
        """A connection-level failure: open (with one log line), or, after a failed probe,
        probe again later."""
        with self._lock:
            opened = self.open_since is None
            if opened:
                self.open_since = utcnow()
            elif probe:
                self.failed_probes += 1
            self._probing = False if probe or opened else self._probing
            self.last_error = error
            delay = min(2.0**self.failed_probes, self.probe_max_seconds)
            self._probe_at = time.monotonic() + delay
            since = self.open_since
        if opened:
            log.warning(
                "mail server unreachable: %s; sending paused, one probe after %g s, then at longer intervals "
                "(at most %g s)",
                error,
                delay,
                self.probe_max_seconds,
            )
            self.remember(since, error)  # the sweep refreshes it while it lasts: no write per probe

    def remember(self, since: datetime | None = None, error: str | None = None) -> None:
        """Write (or refresh) this process's row while open; the sweep calls it too."""
        since, error = since or self.open_since, error if error is not None else self.last_error
        if since is None:
            return
        try:
            mark_server_unreachable(self.process, since, error)
        except SQLAlchemyError as failure:  # the database has its own trouble: said elsewhere
            log.debug("could not record the mail server's state: %s", failure)
            return
        # A sender may have closed the breaker (and deleted the row) while the sweep was
        # writing it back: then the row would say "unreachable" long after it is not.
        with self._lock:
            closed = self.open_since is None
        if closed:
            _forget(self.process)


def _ago(since: datetime) -> str:
    return f"{(utcnow() - since).total_seconds():.0f} s"


def _forget(process: str) -> None:
    try:
        mark_server_reachable(process)
    except SQLAlchemyError as failure:
        log.debug("could not record the mail server's state: %s", failure)


class DatabaseTrouble:
    """Writes to the outbox that fail: how long to wait before the next, and one log line
    when the trouble starts and one when it ends. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: datetime | None = None
        self.failures = 0  # failed writes since the process started
        self._delay = 0.0
        self._resume_at = 0.0

    def failed(self, error: BaseException) -> float:
        """Note a failed write; the seconds to wait before the next."""
        with self._lock:
            self.failures += 1
            started = self.since is None
            if started:
                self.since = utcnow()
            self._delay = min(max(0.5, self._delay * 2), 30.0)
            self._resume_at = time.monotonic() + self._delay
            delay = self._delay
        if started:
            log.error("outbox: the database cannot take writes (%s: %s); senders wait", type(error).__name__, error)
        return delay

    def succeeded(self) -> None:
        with self._lock:
            since, self.since, self._delay = self.since, None, 0.0
        if since is not None:
            log.warning("outbox: the database takes writes again (after %s); sending resumes", _ago(since))

    def wait_left(self) -> float:
        """Seconds until the next write may be tried (0: now)."""
        with self._lock:
            return max(0.0, self._resume_at - time.monotonic()) if self.since is not None else 0.0


class RateLimit:
    """At most `per_minute` sends from this process, evenly spaced (providers answer
    421/454 to bursts)."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self, stopping: threading.Event) -> bool:
        """Wait for this sender's turn; False if the process is stopping meanwhile."""
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next)
            self._next = turn + self.interval
        return not stopping.wait(turn - now) if turn > now else not stopping.is_set()


# ---------------------------------------------------------------- the rows, for the owner
def mark_server_unreachable(process: str, since: datetime, error: str) -> None:
    """Insert or refresh this process's row (`checked_at`: now)."""
    values = {"process": process, "unreachable_since": since, "last_error": error[:500], "checked_at": utcnow()}
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(MailServerState).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[MailServerState.process],
        set_={"last_error": statement.excluded.last_error, "checked_at": statement.excluded.checked_at},
    )
    with transaction():
        db.session.execute(statement)


def describe(unreachable: tuple[datetime, str] | None) -> str:
    """For the owner: "unreachable since 2026-11-30 07:40:12 UTC (...)" or "reachable"."""
    if unreachable is None:
        return "reachable"
    since, error = unreachable
    return f"unreachable since {since:%Y-%m-%d %H:%M:%S} UTC ({error})"


def mark_server_reachable(process: str) -> None:
    with transaction():
        db.session.execute(sa.delete(MailServerState).where(MailServerState.process == process))


def server_unreachable(settings: Settings) -> tuple[datetime, str] | None:
    """(since when, the last error) if a live process cannot reach the SMTP server, else
    None. A row is refreshed at every probe and sweep; one older than three sweeps (at
    least a minute) is a process that died."""
    stale_after = max(60.0, 3 * settings.mail_sweep_seconds, 3 * settings.mail_probe_max_seconds)
    row = db.session.execute(
        sa.select(MailServerState.unreachable_since, MailServerState.last_error)
        .where(MailServerState.checked_at > utcnow() - timedelta(seconds=stale_after))
        .order_by(MailServerState.unreachable_since)
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None
