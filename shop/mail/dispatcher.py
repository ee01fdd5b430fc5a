"""Who sends the outbox, and when: one bounded thread pool per process, woken after commit.

- `deliver(id)` is the one code path that sends an email: claim the row, send, record.
  The pool, `SHOP_MAIL_DISPATCH=sync`, `flask outbox drain` and the Celery task all run it.
- `MailDispatcher.hand_off(ids)` is called after a transaction that queued emails has
  committed; the pool sends them while the shopper already sees the next page.
- A sweeper thread runs at start and every SHOP_MAIL_SWEEP_SECONDS: it takes back emails
  whose sender died (expired lease) and hands due emails to the pool. It finds whatever a
  hand-off missed: a full pool, a process killed between commit and send, a retry.

Memory holds at most `capacity` ids; everything else waits in the database.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app

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


class MailDispatcher:
    """The process's mail pool and sweeper, started lazily in the serving process."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        config = app.config
        self.mode: str = config["SHOP_MAIL_DISPATCH"]
        self.workers: int = config["SHOP_MAIL_WORKERS"]
        self.capacity = 2 * self.workers  # ids held in memory at most: in flight or queued
        self.sweep_seconds: float = config["SHOP_MAIL_SWEEP_SECONDS"]
        self.max_attempts: int = config["SHOP_MAIL_MAX_ATTEMPTS"]
        rate = config["SHOP_MAIL_RATE_PER_MINUTE"]
        self.rate_limit = RateLimit(rate) if rate else None
        self._reset()
        # gunicorn forks workers from a master that may have imported the app (--preload):
        # a child gets a copy of this object but none of its threads, so it starts afresh.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._sweeper: threading.Thread | None = None
        self._inflight: set[int] = set()
        # What this process's senders did ('sent', 'retry', 'failed', 'skipped'): other
        # processes share the table, so its counts cannot say it (`outbox drain` reports this).
        self.outcomes: Counter[str] = Counter()
        self._more_due = False  # the last fill stopped at capacity: look again when a slot frees
        self._wake = threading.Event()
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def start(self, sweeper: bool = True) -> None:
        """Create the pool (and the sweeper) unless running; cheap to call on every request."""
        if self._executor is not None or self._stopping.is_set():
            return
        with self._lock:
            if self._executor is not None:
                return
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="mail-sender")
            if sweeper:
                self._sweeper = threading.Thread(target=self._sweep_loop, name="mail-sweeper", daemon=True)
                self._sweeper.start()
            # Before the interpreter joins the pool's threads at exit, stop claiming work;
            # an atexit handler would run after that join, too late. concurrent.futures
            # registers its own exit hook the same way.
            threading._register_atexit(self.stop)  # type: ignore[attr-defined]
        log.info("mail dispatcher started: %d sender threads, sweep every %gs", self.workers, self.sweep_seconds)

    def request_stop(self) -> None:
        """Ask the pool to stop (safe in a signal handler); stop() waits for it."""
        self._stopping.set()
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; let sends in progress finish (each within MAIL_TIMEOUT); emails not
        yet claimed stay pending in the database for the next start."""
        self._stopping.set()
        self._wake.set()
        executor, sweeper = self._executor, self._sweeper
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if sweeper is not None and sweeper is not threading.current_thread():
            sweeper.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._executor is not None and not self._stopping.is_set()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._inflight)

    # ------------------------------------------------------------------ work
    def hand_off(self, email_ids: Iterable[int]) -> None:
        """Send these just-committed emails now: in the pool, or inline when dispatch is sync."""
        email_ids = [i for i in email_ids if i is not None]
        if not email_ids:
            return
        if self.mode == "sync":  # the blocking design, kept for comparison and for tests
            for email_id in email_ids:
                deliver(email_id)
            return
        if self.mode == "celery":
            from shop.mail.tasks import enqueue_delivery

            for email_id in email_ids:
                enqueue_delivery(email_id)
            return
        self.start()
        self._submit(email_ids)

    def _submit(self, email_ids: Iterable[int]) -> int:
        submitted = 0
        with self._lock:
            if self._executor is None or self._stopping.is_set():
                return 0
            for email_id in email_ids:
                if email_id in self._inflight:
                    continue
                if len(self._inflight) >= self.capacity:
                    self._more_due = True  # it waits in the database; a freed slot fetches it
                    break
                self._inflight.add(email_id)
                self._executor.submit(self._run, email_id)
                submitted += 1
        return submitted

    def _run(self, email_id: int) -> None:
        try:
            if self._stopping.is_set():
                return
            if self.rate_limit is not None and not self.rate_limit.wait(self._stopping):
                return
            with self.app.app_context():
                outcome = deliver(email_id)
            with self._lock:
                self.outcomes[outcome] += 1
        except Exception:  # a database error: the row stays claimed and the lease frees it
            log.exception("outbox id=%s: delivery crashed", email_id)
        finally:
            with self._lock:
                self._inflight.discard(email_id)
                if self._more_due:
                    self._more_due = False
                    self._wake.set()

    def fill(self) -> int:
        """Hand due emails to the pool, as many as it has room for; how many were handed."""
        with self._lock:
            free = self.capacity - len(self._inflight)
            busy = set(self._inflight)
        if free <= 0:
            self._more_due = True
            return 0
        with self.app.app_context():
            ids = outbox.due_ids(free, exclude=busy)
        if len(ids) == free:
            self._more_due = True
        return self._submit(ids)

    def sweep(self) -> int:
        """Take back emails of senders that died, then fill the pool."""
        with self.app.app_context():
            outbox.reclaim_expired(self.max_attempts)
        return self.fill()

    def _sweep_loop(self) -> None:
        last_sweep = float("-inf")
        while not self._stopping.is_set():
            try:
                if time.monotonic() - last_sweep >= self.sweep_seconds:
                    last_sweep = time.monotonic()
                    self.sweep()
                else:  # woken because a slot freed while more emails were due
                    self.fill()
            except Exception:  # the database is away or not migrated yet: try again later
                log.exception("outbox sweep failed; next try in %gs", self.sweep_seconds)
            self._wake.wait(max(0.0, last_sweep + self.sweep_seconds - time.monotonic()))
            self._wake.clear()

    def drain(self, loop: bool = False) -> None:
        """Send everything due, in the foreground, until nothing is due (or, with loop, until
        stopped). For `flask outbox drain`, from cron or as a worker process."""
        self.start(sweeper=False)
        last_sweep = float("-inf")
        try:
            while not self._stopping.is_set():
                if time.monotonic() - last_sweep >= self.sweep_seconds:
                    last_sweep = time.monotonic()
                    handed = self.sweep()
                else:
                    handed = self.fill()
                if handed == 0 and self.in_flight() == 0:
                    if not loop:
                        return
                    self._stopping.wait(min(1.0, self.sweep_seconds))
                else:
                    self._wake.wait(0.2)
                    self._wake.clear()
        finally:
            self.stop()


def get_dispatcher(app: Flask | None = None) -> MailDispatcher:
    return (app or current_app).extensions["swiftcart.mail"]
