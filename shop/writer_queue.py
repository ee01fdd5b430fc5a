"""SQLite's writers take turns in a queue that wakes the next one the moment the last is
done, instead of sleeping in SQLite's busy handler (shop/database.py's transaction() asks
for a turn before its BEGIN IMMEDIATE). Kept because it earns its lines: the checkout's
p99 under load is less than half without it (docs/performance.md, "The writer queue").
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

# SQLite's busy timeout (pysqlite's `timeout`, PRAGMA busy_timeout), and how long a writer
# waits for its turn in its process before it leaves the wait to SQLite.
SQLITE_BUSY_TIMEOUT_SECONDS = 15

log = logging.getLogger(__name__)


class WriterQueue:
    """The writers of one SQLite database take turns here instead of in SQLite.

    SQLite lets one transaction write at a time, and a writer that finds the write lock
    taken does not wait for it to be freed: SQLite's busy handler sleeps 1, 2, 5, 10 ...
    up to 100 ms and tries again. With a dozen threads writing (requests and mail senders
    of two gunicorn workers) most of them sleep through the moment the lock is freed; the
    lock sits idle or goes to whoever asks next, and some orders waited 1-2 s
    (docs/performance.md). Here a writer waits on locks that wake it the moment the last
    writer is done:
    - a threading.Lock among the threads of this process;
    - then an exclusive flock() on `<database>-writers.lock` among the processes (gunicorn
      workers, `flask outbox drain`, other commands). The kernel wakes the waiter when the
      holder is done, and frees the lock if the holder's process dies.

    Correctness never depends on these locks, SQLite's own lock does that; they only
    order the waiting. A thread that has waited SQLITE_BUSY_TIMEOUT_SECONDS for its turn in
    this process goes ahead and leaves the wait to SQLite, whose busy timeout fails it as
    before. flock() has no timeout: the one thread per process waiting there waits as long
    as the holder's transaction lasts. The holder has (or is taking) SQLite's write lock,
    so every writer waits for that transaction anyway; only one that never ends (a hung
    process) would hold this thread for ever, where SQLite would have failed it after its
    busy timeout. Writers that do not come through transaction() (a migration, the sqlite3
    shell) still meet SQLite's busy handler.
    """

    def __init__(self, lock_path: str | None) -> None:
        self.lock_path = lock_path  # None: an in-memory database, no other process sees it
        self._lock = threading.Lock()

    @contextmanager
    def turn(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_SECONDS):
            log.warning("waited %d s for another writer of this process; going ahead", SQLITE_BUSY_TIMEOUT_SECONDS)
            yield
            return
        try:
            fd = self._lock_file()
            try:
                yield
            finally:
                if fd is not None:
                    os.close(fd)  # releases the flock
        finally:
            self._lock.release()

    def _lock_file(self) -> int | None:
        """Open the lock file and wait for its exclusive flock; None if it cannot be opened
        (a read-only folder): then the processes take turns in SQLite's busy handler."""
        if self.lock_path is None:
            return None
        try:
            # Read-only is enough for flock(), so one made by another user (a command run
            # as root) can be used too.
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as error:
            log.warning("cannot open %s (%s): writers of other processes wait in SQLite", self.lock_path, error)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd


_writer_queues: dict[str, WriterQueue] = {}
_writer_queues_lock = threading.Lock()


def writer_queue(engine: sa.Engine) -> WriterQueue:
    """This process's WriterQueue for the SQLite database of `engine`."""
    database = engine.url.database
    in_memory = database in (None, "", ":memory:")
    key = str(engine.url) if in_memory else os.path.abspath(database)
    with _writer_queues_lock:
        if key not in _writer_queues:
            _writer_queues[key] = WriterQueue(None if in_memory else key + "-writers.lock")
        return _writer_queues[key]


def _forget_writer_queues() -> None:
    """A forked child starts with no writers: a lock copied while held would stay held."""
    global _writer_queues_lock
    _writer_queues.clear()
    _writer_queues_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_writer_queues)
