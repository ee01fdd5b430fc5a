"""Who sends the outbox, and when: the dispatch mode is one object chosen in create_app():
`ThreadDispatch` here, `SyncDispatch` in delivery.py, `CeleryDispatch` in tasks.py. A
MailPool runs per process: SHOP_MAIL_WORKERS senders, each claiming up to SHOP_MAIL_BATCH
due emails in one UPDATE (ids handed off after a commit first) and sending them on its SMTP
connection, kept open while there is work. A recorder writes all outcomes (recorder.py); a
sweeper, at start and every SHOP_MAIL_SWEEP_SECONDS, takes back emails whose sender died
and wakes the senders. The circuit breaker and the database's trouble (breaker.py) stop
the senders instead of letting them spin. Next: shop/mail/delivery.py
"""

from __future__ import annotations

import atexit
import contextlib
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

from shop.extensions import get_settings
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
        self.app, settings = app, get_settings(app)
        self.workers, self.batch = settings.mail_workers, settings.mail_batch
        self.capacity = self.workers * self.batch  # emails claimed in memory at most
        self.timeout: float = app.config["MAIL_TIMEOUT"]
        self.sweep_seconds = settings.mail_sweep_seconds
        self.max_attempts = settings.mail_max_attempts
        self.stop_wait = lease_seconds(self.timeout)  # past it a claim is the sweep's anyway
        rate = settings.mail_rate_per_minute
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
        probe_max = get_settings(self.app).mail_probe_max_seconds
        self.breaker = CircuitBreaker(f"{socket.gethostname()}:{os.getpid()}", probe_max)
        self.database = DatabaseTrouble()
        self.recorder = Recorder(self.app, self.database)
        self._next_due: datetime | None = None
        self.sweeps = 0

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
        (thread := threading.Thread(target=target, name=name, daemon=True)).start()  # type: ignore[arg-type]
        return thread

    def request_stop(self) -> None:
        """Stop claiming at once (a signal handler may call it); stop() waits for the rest."""
        self._stopping.set()

    def stop(self) -> None:
        """Stop claiming; let the sends in progress finish (each within MAIL_TIMEOUT), release
        the claimed emails not yet tried and record every outcome; the rest stay pending."""
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

    def in_flight(self) -> int:
        """Emails this process has claimed and not yet recorded."""
        return self.recorder.in_flight

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

    def _sender_loop(self) -> None:
        session = smtp_session(self.app)
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
        while not self._stopping.is_set() and (now := time.monotonic()) < deadline:
            idle_left = session.close_if_idle()
            with self._work:
                if self._generation != generation:
                    return
                self._work.wait(max(0.01, min(deadline - now, at_most if idle_left is None else idle_left)))

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
                emails = self._claim(limit, fresh or None)
                if permit.probe and not emails:
                    self.breaker.probe_unused()
                if emails:
                    self._send(session, emails, permit.probe)
        except SQLAlchemyError:  # the claim failed (noted): nothing was claimed
            if permit.probe:
                self.breaker.probe_unused()
            with self._lock:
                self._fresh.extendleft(reversed(fresh))  # still first, once the database writes again
            self._stopping.wait(self.database.wait_left())
            return True
        return bool(emails or fresh)

    def _claim(self, limit: int, ids: list[int] | None = None) -> list[ClaimedEmail]:
        """Claim `ids` (if any) or due emails, up to `limit`; a database error is noted and raised."""
        if ids == []:
            return []
        try:
            emails = outbox.claim_batch(len(ids) if ids else limit, lease_seconds(self.timeout, limit), ids)
        except SQLAlchemyError as error:
            self.database.failed(error)
            raise
        if not self.recorder.retrying:
            self.database.succeeded()
        self.recorder.claimed(len(emails))
        return emails

    def _send(self, session: SmtpSession, emails: list[ClaimedEmail], probe: bool) -> None:
        """Send a claimed batch on this sender's connection, fresh hand-offs first; release
        what is left untried if the breaker opens, the pool stops or a lease runs short."""
        waiting, margin = list(emails), timedelta(seconds=self.timeout + 5)
        try:
            while waiting:
                if not probe and self._fresh and len(waiting) < self.batch:
                    with contextlib.suppress(SQLAlchemyError):  # noted by _claim; they wait in the table
                        waiting[:0] = self._claim(
                            self.batch - len(waiting), self._take_fresh(self.batch - len(waiting))
                        )
                if (
                    self._stopping.is_set()
                    or (self.breaker.is_open and not probe)
                    or waiting[0].lease_expires_at - utcnow() < margin
                    or (self.rate_limit is not None and not self.rate_limit.wait(self._stopping))
                ):
                    break
                attempt, result = send_claimed(session, waiting.pop(0))
                self.recorder.add([attempt])
                if result.server_down:
                    self.breaker.failed(result.error, probe)
                    break
                if (was_open_since := self.breaker.succeeded()) is not None:
                    with contextlib.suppress(SQLAlchemyError):  # then they wait for their retry
                        outbox.due_again(was_open_since)  # the probes' emails need not wait any longer
                    self._signal(everyone=True)
        finally:
            self.recorder.add([Attempt(email, tried=False) for email in waiting])

    def sweep(self) -> bool:
        """Take back emails of senders that died; True if emails are due now."""
        self.sweeps += 1
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
            self._stopping.wait(self._until_next_sweep())

    def _until_next_sweep(self) -> float:
        """SHOP_MAIL_SWEEP_SECONDS, or less when a retry falls due before (emails due already
        are the senders' business, or, while the breaker is open, the probe's)."""
        soon = (self._next_due - utcnow()).total_seconds() if self._next_due is not None else self.sweep_seconds
        return min(self.sweep_seconds, max(0.05, soon)) if soon > 0 else self.sweep_seconds

    def drain(self, loop: bool = False) -> Counter[str]:
        """Send everything due, in the foreground, until nothing is due or the SMTP server is
        unreachable (with loop: until stopped); what this process's senders did. For
        `flask outbox drain`, from cron or as a worker process."""
        self.start(sweeper=False)
        try:
            while not self._stopping.is_set():
                if due := self.sweep():
                    self._signal(everyone=True)
                if self.in_flight() == 0 and not self._fresh and not loop and (not due or self.breaker.is_open):
                    break
                self._stopping.wait(min(1.0, self._until_next_sweep()))
        finally:
            self.stop()
        return self.recorder.outcomes


class ThreadDispatch(MailPool):
    """SHOP_MAIL_DISPATCH=thread: this process's pool sends after the commit."""


def get_dispatcher(app: Flask | None = None) -> MailPool | SyncDispatch:  # or CeleryDispatch
    """The app's dispatch object (ThreadDispatch, SyncDispatch or CeleryDispatch): call
    `hand_off(ids)` after the commit of a transaction that queued emails."""
    return (app or current_app).extensions["swiftcart.mail"]
