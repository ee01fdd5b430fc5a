"""Who sends the outbox, and when: the dispatch mode, one object chosen in create_app().

- `ThreadDispatch` (SHOP_MAIL_DISPATCH=thread, the default) is a MailPool: per process,
  SHOP_MAIL_WORKERS sender threads, a sweeper and a recorder. `hand_off(ids)` is called
  after a transaction that queued emails has committed: the ids go to the front of the
  line (fresh emails first), and a sender sends them while the shopper sees the next page.
- A sender claims up to SHOP_MAIL_BATCH due emails in one UPDATE and sends them on its SMTP
  connection, kept open while there is work; the recorder writes the outcomes of all
  senders in one transaction about every RECORD_LINGER seconds, retrying within the
  claims' leases when the database cannot write.
- The sweeper, at start and every SHOP_MAIL_SWEEP_SECONDS (or when a retry falls due),
  takes back emails whose sender died (expired lease) and wakes the senders.
- The circuit breaker and the database's trouble (breaker.py) stop the senders instead of
  letting them spin. `SyncDispatch` is in delivery.py, `CeleryDispatch` in tasks.py.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from shop.mail import outbox
from shop.mail.breaker import CircuitBreaker, DatabaseTrouble, RateLimit
from shop.mail.delivery import SyncDispatch, lease_seconds, send_claimed, smtp_session
from shop.mail.outbox import Attempt, ClaimedEmail
from shop.mail.recorder import Recorder
from shop.mail.sender import SmtpSession
from shop.models import utcnow

log = logging.getLogger(__name__)

FRESH_HINTS = 1000  # ids of just-committed emails held in memory (the rest wait in the table)
_POOLS: weakref.WeakSet[MailPool] = weakref.WeakSet()


@atexit.register
def _stop_pools() -> None:
    """The pools' threads are daemons, so the interpreter does not join them at exit before
    the atexit handlers run (concurrent.futures' pool is joined earlier, by a private hook,
    and would still claim queued work): here they stop claiming first, and the sends in
    progress finish and are recorded."""
    for pool in list(_POOLS):
        pool.stop()


class MailPool:
    """One process's senders, sweeper and recorder, started lazily in the serving process."""

    mode = "thread"

    def __init__(self, app: Flask) -> None:
        self.app, config = app, app.config
        self.workers: int = config["SHOP_MAIL_WORKERS"]
        self.batch: int = config["SHOP_MAIL_BATCH"]
        self.capacity = self.workers * self.batch  # emails claimed in memory at most
        self.timeout: float = config["MAIL_TIMEOUT"]
        self.sweep_seconds: float = config["SHOP_MAIL_SWEEP_SECONDS"]
        self.max_attempts: int = config["SHOP_MAIL_MAX_ATTEMPTS"]
        self.stop_wait = lease_seconds(self.timeout)  # past it a claim is the sweep's anyway
        rate = config["SHOP_MAIL_RATE_PER_MINUTE"]
        self.rate_limit = RateLimit(rate) if rate else None
        self._reset()
        # gunicorn forks workers from a master that may have imported the app (--preload):
        # a child gets a copy of this object but none of its threads, so it starts afresh.
        os.register_at_fork(after_in_child=self._reset)
        _POOLS.add(self)  # stopped at exit (below)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # senders wait here for work
        self._generation = 0  # counts signals, so that none is lost between a claim and a wait
        self._fresh: deque[int] = deque(maxlen=FRESH_HINTS)
        self._senders: list[threading.Thread] = []
        self._sweeper: threading.Thread | None = None
        self._stopping = threading.Event()
        probe_max = self.app.config["SHOP_MAIL_PROBE_MAX_SECONDS"]
        self.breaker = CircuitBreaker(f"{socket.gethostname()}:{os.getpid()}", probe_max)
        self.database = DatabaseTrouble()
        self.recorder = Recorder(self.app, self.database)
        self._next_due: datetime | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, sweeper: bool = True) -> None:
        """Start the threads unless running; cheap to call on every request."""
        if self._senders or self._stopping.is_set():
            return
        with self._lock:
            if self._senders or self._stopping.is_set():
                return
            self.recorder.start()
            self._senders = [self._thread(self._sender_loop, f"mail-sender-{n}") for n in range(self.workers)]
            if sweeper:
                self._sweeper = self._thread(self._sweep_loop, "mail-sweeper")
        log.info("mail dispatcher started: %d sender threads, sweep every %gs", self.workers, self.sweep_seconds)

    @staticmethod
    def _thread(target: object, name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        return thread

    def request_stop(self) -> None:
        """Stop claiming at once (a signal handler may call it); stop() waits for the rest."""
        self._stopping.set()

    def stop(self) -> None:
        """Stop claiming; let the sends in progress finish (each within MAIL_TIMEOUT), release
        the claimed emails not yet tried and record every outcome. Emails not claimed stay
        pending in the database for the next start."""
        self.request_stop()
        self._signal(everyone=True)
        deadline = time.monotonic() + self.stop_wait
        for thread in [*self._senders, self._sweeper]:
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.recorder.finish(timeout=max(1.0, deadline - time.monotonic()))

    @property
    def running(self) -> bool:
        return bool(self._senders) and not self._stopping.is_set()

    @property
    def outcomes(self) -> Counter[str]:
        """What this process's senders did ('sent', 'retry', 'failed', 'released')."""
        return self.recorder.outcomes

    def in_flight(self) -> int:
        """Emails this process has claimed and not yet recorded."""
        return self.recorder.in_flight

    # ------------------------------------------------------------------ hand-off and signals
    def hand_off(self, email_ids: Iterable[int | None]) -> None:
        """These emails were just committed: send them before the backlog."""
        ids = [i for i in email_ids if i is not None]
        if not ids:
            return
        self.start()
        with self._lock:
            self._fresh.extend(ids)
        self.breaker.fresh_email_waits()
        self._signal()

    def _signal(self, everyone: bool = False) -> None:
        with self._work:
            self._generation += 1
            self._work.notify_all() if everyone else self._work.notify()

    def _take_fresh(self, limit: int) -> list[int]:
        with self._lock:
            return [self._fresh.popleft() for _ in range(min(limit, len(self._fresh)))]

    # ------------------------------------------------------------------ senders
    def _sender_loop(self) -> None:
        session = smtp_session(self.app.config, self.app.extensions["mail"])
        try:
            while not self._stopping.is_set():
                with self._lock:
                    generation = self._generation
                if not self._work_once(session):
                    self._idle(session, generation)
        except Exception:  # a bug: say so; the claimed emails go back when their leases expire
            log.exception("mail sender thread stopped")
        finally:
            session.close()

    def _idle(self, session: SmtpSession, generation: int, at_most: float = 3600.0) -> None:
        """Wait for a signal (or `at_most` seconds), closing an SMTP connection left idle."""
        deadline = time.monotonic() + at_most
        while not self._stopping.is_set():
            wait = deadline - time.monotonic()
            idle_left = session.close_if_idle()
            if idle_left is not None:
                wait = min(wait, idle_left)
            with self._work:
                if self._generation != generation or deadline <= time.monotonic():
                    return
                self._work.wait(max(wait, 0.01))

    def _work_once(self, session: SmtpSession) -> bool:
        """Claim and send one batch; False when there was nothing to claim."""
        if self.recorder.retrying or self.database.wait_left() > 0:
            # The database cannot write: no new claims (their outcomes could not be recorded).
            self._stopping.wait(max(self.database.wait_left(), 0.1))
            return True
        permit = self.breaker.permit()
        if not permit.claim:
            with self._lock:
                generation = self._generation
            self._idle(session, generation, at_most=permit.wait)
            return True
        limit = 1 if permit.probe else self.batch
        fresh = [] if permit.probe else self._take_fresh(limit)  # a probe may fail: not with a fresh one
        try:
            with self.app.app_context():
                emails = self._claim(limit, fresh)
                if permit.probe and not emails:
                    self.breaker.probe_unused()
                if emails:
                    self._send(session, emails, permit.probe)
        except SQLAlchemyError as error:
            if permit.probe:
                self.breaker.probe_unused()
            with self._lock:
                self._fresh.extendleft(reversed(fresh))  # still first, once the database writes again
            self._stopping.wait(self.database.failed(error))
            return True
        return bool(emails or fresh)

    def _claim(self, limit: int, ids: list[int] | None = None) -> list[ClaimedEmail]:
        emails = outbox.claim_batch(len(ids) if ids else limit, lease_seconds(self.timeout, limit), ids or None)
        if not self.recorder.retrying:
            self.database.succeeded()
        self.recorder.claimed(len(emails))
        return emails

    def _send(self, session: SmtpSession, emails: list[ClaimedEmail], probe: bool) -> None:
        """Send a claimed batch on this sender's connection, fresh hand-offs first; release
        what is left untried if the breaker opens, the pool stops or a lease runs short."""
        waiting = list(emails)
        while waiting:
            if not probe and self._fresh and len(waiting) < self.batch:
                waiting[:0] = self._claim_fresh(self.batch - len(waiting))
            email = waiting[0]
            margin = timedelta(seconds=self.timeout + 5)
            if (
                self._stopping.is_set()
                or (self.breaker.is_open and not probe)
                or email.lease_expires_at - utcnow() < margin
                or (self.rate_limit is not None and not self.rate_limit.wait(self._stopping))
            ):
                break
            waiting.pop(0)
            attempt, result = send_claimed(session, email)
            self.recorder.add([attempt])
            if result.server_down:
                self.breaker.failed(result.error, probe)
                break
            if self.breaker.succeeded():
                self._signal(everyone=True)
        self.recorder.add([Attempt(email, tried=False) for email in waiting])

    def _claim_fresh(self, limit: int) -> list[ClaimedEmail]:
        fresh = self._take_fresh(limit)
        try:
            return self._claim(limit, fresh) if fresh else []
        except SQLAlchemyError as error:
            self.database.failed(error)
            return []

    # ------------------------------------------------------------------ sweeper and drain
    def sweep(self) -> bool:
        """Take back emails of senders that died; True if emails are due now."""
        try:
            with self.app.app_context():
                outbox.reclaim_expired(self.max_attempts)
                due = outbox.next_due_at()
                self.breaker.remember()  # while open: the owner's view stays fresh
            if not self.recorder.retrying:
                self.database.succeeded()
        except SQLAlchemyError as error:
            self.database.failed(error)
            return False
        self._next_due = due
        return due is not None and due <= utcnow()

    def _sweep_loop(self) -> None:
        while not self._stopping.is_set():
            if self.sweep():
                self._signal(everyone=True)
            wait = self.sweep_seconds
            if self._next_due is not None:
                wait = min(wait, max(0.05, (self._next_due - utcnow()).total_seconds()))
            self._stopping.wait(wait)

    def drain(self, loop: bool = False) -> Counter[str]:
        """Send everything due, in the foreground, until nothing is due (or the SMTP server is
        unreachable; with loop: until stopped); what this process's senders did. For
        `flask outbox drain`, from cron or as a worker process."""
        self.start(sweeper=False)
        try:
            while not self._stopping.is_set():
                due = self.sweep()
                if due:
                    self._signal(everyone=True)
                idle = self.in_flight() == 0 and not self._fresh
                if idle and not loop and (not due or self.breaker.is_open):
                    break
                self._stopping.wait(0.2 if not idle else min(1.0, self.sweep_seconds))
        finally:
            self.stop()
        return self.outcomes


class ThreadDispatch(MailPool):
    """SHOP_MAIL_DISPATCH=thread: this process's pool sends after the commit."""


def get_dispatcher(app: Flask | None = None) -> MailPool | SyncDispatch:  # or CeleryDispatch
    """The app's dispatch object (ThreadDispatch, SyncDispatch or CeleryDispatch): call
    `hand_off(ids)` after the commit of a transaction that queued emails."""
    return (app or current_app).extensions["swiftcart.mail"]
