"""Who sends the outbox, and when: the dispatch mode, one object chosen in create_app().

- `ThreadDispatch` (SHOP_MAIL_DISPATCH=thread, the default) is a MailPool: a bounded set of
  sender threads per process. `hand_off(ids)` is called after a transaction that queued
  emails has committed; the pool sends them while the shopper already sees the next page.
- `SyncDispatch` sends inside the request (the blocking design, for comparison and tests);
  `CeleryDispatch` (shop/mail/tasks.py) hands the ids to a Celery worker.
- Each of them sends through delivery.py's `deliver()`.
- A sweeper thread runs at start and every SHOP_MAIL_SWEEP_SECONDS: it takes back emails
  whose sender died (expired lease) and hands due emails to the pool. It finds whatever a
  hand-off missed: a full pool, a process killed between commit and send, a retry.

Memory holds at most `capacity` ids; everything else waits in the database.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterable

from flask import Flask, current_app

from shop.mail import outbox
from shop.mail.delivery import deliver, lease_seconds

log = logging.getLogger(__name__)


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


class MailPool:
    """One process's sender threads and sweeper, started lazily in the serving process.

    Memory holds at most `capacity` ids; everything else waits in the database.
    """

    mode = "thread"

    def __init__(self, app: Flask) -> None:
        self.app = app
        config = app.config
        self.workers: int = config["SHOP_MAIL_WORKERS"]
        self.capacity = 2 * self.workers  # ids held in memory at most: in flight or queued
        self.sweep_seconds: float = config["SHOP_MAIL_SWEEP_SECONDS"]
        self.max_attempts: int = config["SHOP_MAIL_MAX_ATTEMPTS"]
        # stop() waits this long for a send in progress; past it the claim's lease ends and
        # the email belongs to whoever sweeps next anyway.
        self.stop_wait = lease_seconds(config["MAIL_TIMEOUT"])
        rate = config["SHOP_MAIL_RATE_PER_MINUTE"]
        self.rate_limit = RateLimit(rate) if rate else None
        self._reset()
        # gunicorn forks workers from a master that may have imported the app (--preload):
        # a child gets a copy of this object but none of its threads, so it starts afresh.
        os.register_at_fork(after_in_child=self._reset)
        # The sender threads are daemons, so the interpreter does not join them at exit
        # before atexit handlers run (concurrent.futures' pool is joined earlier, by a
        # private hook, and would still claim queued work): here they are told to stop
        # claiming first, and their sends in progress finish.
        atexit.register(self.stop)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._senders: list[threading.Thread] = []
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
        """Start the sender threads (and the sweeper) unless running; cheap to call on every
        request."""
        if self._senders or self._stopping.is_set():
            return
        with self._lock:
            if self._senders or self._stopping.is_set():
                return
            self._senders = [
                threading.Thread(target=self._sender_loop, name=f"mail-sender-{n}", daemon=True)
                for n in range(self.workers)
            ]
            for thread in self._senders:
                thread.start()
            if sweeper:
                self._sweeper = threading.Thread(target=self._sweep_loop, name="mail-sweeper", daemon=True)
                self._sweeper.start()
        log.info("mail dispatcher started: %d sender threads, sweep every %gs", self.workers, self.sweep_seconds)

    def request_stop(self) -> None:
        """Stop claiming at once (safe in a signal handler: it only sets events); stop()
        waits for the sends in progress."""
        self._stopping.set()
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; let sends in progress finish (each within MAIL_TIMEOUT); emails not
        yet claimed stay pending in the database for the next start."""
        self.request_stop()
        senders, sweeper = list(self._senders), self._sweeper
        for _ in senders:
            self._queue.put(None)  # one "stop" for each sender, behind the ids it skips
        deadline = time.monotonic() + self.stop_wait
        for thread in [*senders, sweeper]:
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))

    @property
    def running(self) -> bool:
        return bool(self._senders) and not self._stopping.is_set()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._inflight)

    # ------------------------------------------------------------------ work
    def hand_off(self, email_ids: Iterable[int | None]) -> None:
        """Send these just-committed emails now, in the pool (started if need be)."""
        ids = [i for i in email_ids if i is not None]
        if ids:
            self.start()
            self._submit(ids)

    def _submit(self, email_ids: Iterable[int]) -> int:
        submitted = 0
        with self._lock:
            if not self._senders or self._stopping.is_set():
                return 0
            for email_id in email_ids:
                if email_id in self._inflight:
                    continue
                if len(self._inflight) >= self.capacity:
                    self._more_due = True  # it waits in the database; a freed slot fetches it
                    break
                self._inflight.add(email_id)
                self._queue.put(email_id)
                submitted += 1
        return submitted

    def _sender_loop(self) -> None:
        while (email_id := self._queue.get()) is not None:
            self._run(email_id)

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

    def drain(self, loop: bool = False) -> Counter[str]:
        """Send everything due, in the foreground, until nothing is due (or, with loop, until
        stopped); what this process's senders did. For `flask outbox drain`, from cron or as
        a worker process."""
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
                        break
                    self._stopping.wait(min(1.0, self.sweep_seconds))
                else:
                    self._wake.wait(0.2)
                    self._wake.clear()
        finally:
            self.stop()
        return self.outcomes


class ThreadDispatch(MailPool):
    """SHOP_MAIL_DISPATCH=thread: this process's pool sends after the commit."""


class SyncDispatch:
    """SHOP_MAIL_DISPATCH=sync: the request itself sends (the blocking design, kept for
    comparison and for tests)."""

    mode = "sync"

    def __init__(self, app: Flask) -> None:
        self.app = app

    def hand_off(self, email_ids: Iterable[int | None]) -> None:
        for email_id in email_ids:
            if email_id is not None:
                deliver(email_id)

    def start(self) -> None:
        """Nothing runs in the background."""

    def stop(self) -> None:
        """Nothing runs in the background."""


def get_dispatcher(app: Flask | None = None) -> MailPool | SyncDispatch:
    """The app's dispatch object (ThreadDispatch, SyncDispatch or CeleryDispatch): call
    `hand_off(ids)` after the commit of a transaction that queued emails."""
    return (app or current_app).extensions["swiftcart.mail"]
