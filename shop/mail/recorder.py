"""The recorder: one thread per process that writes its senders' outcomes, many in one
transaction (at most RECORD_LINGER seconds after they are known), and keeps trying while
the database cannot write, each outcome until its claim's lease is about to run out.

A sender hands its outcomes over and goes on with the next email at once; the window in
which a crash loses a recorded-to-be outcome (the email is then sent again after its
lease) is RECORD_LINGER plus one transaction, as small as before batching.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import timedelta

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from shop.extensions import get_settings
from shop.mail.breaker import DatabaseTrouble
from shop.mail.delivery import record
from shop.mail.outbox import Attempt
from shop.models import utcnow

log = logging.getLogger(__name__)

RECORD_LINGER = 0.05  # seconds: outcomes wait at most this long to share one transaction
LEASE_MARGIN = timedelta(seconds=2)  # give up on an outcome this close to its lease's end


class Recorder:
    """Thread-safe; `start()` after the fork, `finish()` once no sender will add more."""

    def __init__(self, app: Flask, database: DatabaseTrouble) -> None:
        self.app, self.database = app, database
        self._changed = threading.Condition()
        self._queue: list[Attempt] = []
        self._finishing = False
        self._unrecorded = 0
        self.retrying = False  # holding outcomes the database refused: senders claim nothing new
        # What this process's senders did ('sent', 'retry', 'failed', 'released'): other
        # processes share the table, so its counts cannot say it (`outbox drain` reports this).
        self.outcomes: Counter[str] = Counter()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mail-recorder", daemon=True)
        self._thread.start()

    def claimed(self, count: int) -> None:
        """A sender claimed `count` emails: they are in flight until recorded."""
        with self._changed:
            self._unrecorded += count

    def add(self, attempts: list[Attempt]) -> None:
        if attempts:
            with self._changed:
                self._queue.extend(attempts)
                self._changed.notify_all()

    @property
    def in_flight(self) -> int:
        """Emails claimed by this process whose outcome is not written yet."""
        with self._changed:
            return self._unrecorded

    def finish(self, timeout: float) -> None:
        """Write what is left (within `timeout` seconds, or the leases' ends), then stop."""
        with self._changed:
            self._finishing = True
            self._changed.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        last = 0.0
        while True:
            with self._changed:
                while not self._queue and not self._finishing:
                    self._changed.wait()
                if not self._queue:
                    return
                finishing = self._finishing
            linger = last + RECORD_LINGER - time.monotonic()
            if linger > 0 and not finishing:
                time.sleep(linger)  # let more outcomes join this transaction
            with self._changed:
                attempts, self._queue = self._queue, []
            last = time.monotonic()
            self._write(attempts)

    def _write(self, attempts: list[Attempt]) -> None:
        """Record, retrying while the database cannot write."""
        while attempts:
            try:
                with self.app.app_context():
                    outcomes = record(attempts, get_settings(self.app))
            except SQLAlchemyError as error:
                self.retrying = True
                wait = self.database.failed(error)
                soon = utcnow() + LEASE_MARGIN
                kept = [a for a in attempts if a.email.lease_expires_at > soon]
                if len(kept) < len(attempts):
                    lost = sorted({a.email.id for a in attempts} - {a.email.id for a in kept})
                    log.error("outbox ids=%s: outcome not recorded before the lease ran out; may be sent again", lost)
                    self._done(len(lost), [])
                attempts = kept
                if attempts:
                    left = (min(a.email.lease_expires_at for a in attempts) - soon).total_seconds()
                    time.sleep(max(0.05, min(wait, left)))
                continue
            self.retrying = False
            self.database.succeeded()
            self._done(len(attempts), outcomes)
            return
        self.retrying = False

    def _done(self, count: int, outcomes: list[str]) -> None:
        with self._changed:
            self._unrecorded -= count
            self.outcomes.update(outcomes)
            self._changed.notify_all()
