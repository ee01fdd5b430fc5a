"""Database plumbing shared by every business action: the transaction, and SQLite's settings."""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import scoped_session

from shop.extensions import db
from shop.files import create_private_file, keep_from_others

SQLITE_BUSY_TIMEOUT_SECONDS = 15

log = logging.getLogger(__name__)


@contextmanager
def transaction(*, write: bool = True) -> Iterator[scoped_session]:
    """One business action, one transaction: commit at the end, roll back on any error.

    A request has usually read something already (the signed-in user), which opened a
    read transaction; it is ended first so the action starts a transaction of its own.

    On SQLite a transaction that writes first waits for its turn among the database's
    writers (WriterQueue), then takes SQLite's write lock at once (BEGIN IMMEDIATE): the
    wait is there, before anything is done, never halfway through. `write=False` is for
    a transaction that only reads, which waits for nobody.
    """
    if db.session().in_transaction():
        db.session.commit()
    engine = db.engine
    if not write or engine.dialect.name != "sqlite":
        with db.session.begin():
            yield db.session
        return
    with writer_queue(engine).turn(), db.session.begin():
        # pysqlite would BEGIN (deferred) just before the first INSERT/UPDATE/DELETE; after
        # an explicit BEGIN it adds none, and COMMIT and ROLLBACK work as usual.
        db.session.execute(sa.text("BEGIN IMMEDIATE"))
        yield db.session


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
        self._turn = threading.local()  # set while this thread has the turn

    @contextmanager
    def turn(self) -> Iterator[None]:
        if getattr(self._turn, "held", False):  # transaction() inside transaction()
            yield
            return
        if not self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_SECONDS):
            log.warning("waited %d s for another writer of this process; going ahead", SQLITE_BUSY_TIMEOUT_SECONDS)
            yield
            return
        try:
            fd = self._lock_file()
            self._turn.held = True
            try:
                yield
            finally:
                self._turn.held = False
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


def sqlite_engine_options() -> dict[str, Any]:
    # pysqlite's timeout is SQLite's busy timeout: a writer waits for the lock, not fails.
    return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}}


def configure_sqlite(app: Flask) -> None:
    """WAL (readers never wait for the writer), foreign keys on, on every new connection;
    every connection comes back to the pool with no statement left open."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return
    _keep_database_private(engine.url)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _remember_cursor(conn: sa.Connection, cursor: Any, *_: Any) -> None:
        conn.info.setdefault(_OPEN_CURSORS, weakref.WeakSet()).add(cursor)

    @sa.event.listens_for(engine, "reset")
    def _close_cursors(_dbapi_connection: Any, record: Any, _state: Any) -> None:
        _close_open_cursors(record.info)


_OPEN_CURSORS = "swiftcart_cursors"


def _keep_database_private(url: sa.URL) -> None:
    """The database file is made by us, mode 0o600, before SQLite opens it (SQLite would
    make it 0o644, and gives its -wal and -shm files the database's mode); one that others
    can read loses those bits."""
    database = url.database
    if database in (None, "", ":memory:") or url.query.get("uri"):
        return
    path = Path(database)
    try:
        create_private_file(path)
    except FileNotFoundError:  # no such folder: SQLite says so when it opens it
        return
    for suffix in ("-wal", "-shm"):
        keep_from_others(path.with_name(path.name + suffix))


def _close_open_cursors(info: dict[str, Any]) -> None:
    """Close the cursors a connection's requests left open (`info`: the pool entry's info).

    A result that an exception left half-read keeps its statement running; on SQLite a
    running SELECT holds its read transaction, so the connection keeps reading the snapshot
    it started with until the statement is reset: the worker's next requests did not see
    accounts made by other workers. Returning the connection does not end it: the pool's
    reset calls rollback(), which pysqlite (Python 3.11+, bpo-44092) sends only inside a
    transaction it began (a SELECT begins none) and which no longer resets statements, and
    SQLite keeps a read transaction while any statement is active. Closing the cursor resets
    its statement. Runs on SQLAlchemy's pool "reset" event, for every connection returned.
    """
    for cursor in list(info.pop(_OPEN_CURSORS, ())):
        cursor.close()


def insert_ignoring_duplicates(model: type, **values: Any) -> int | None:
    """INSERT a row unless one with the same unique key exists; the new id, or None.

    One statement (INSERT ... ON CONFLICT DO NOTHING RETURNING id), so two writers racing
    with the same key cannot both insert and neither fails.
    """
    statement = _insert_ignoring_duplicates_statement(model, db.session.get_bind().dialect.name)
    return db.session.execute(statement, values).scalar_one_or_none()


@functools.cache
def _insert_ignoring_duplicates_statement(model: type, dialect: str) -> Any:
    # Built once, with the values passed as parameters: building it with .values() for
    # every email cost about 0.2 ms, inside the checkout's write transaction.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {dialect}")
    return insert(model).on_conflict_do_nothing().returning(model.id)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, literally: '50%' does not match everything
    that starts with 50. Use with escape="\\"."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
