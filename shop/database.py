"""Database plumbing shared by every business action: the transaction, and SQLite's settings."""

from __future__ import annotations

import functools
import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, SessionTransactionOrigin, scoped_session

from shop.extensions import db
from shop.files import create_private_file, keep_from_others
from shop.writer_queue import SQLITE_BUSY_TIMEOUT_SECONDS, writer_queue

log = logging.getLogger(__name__)


class TransactionAlreadyOpen(RuntimeError):
    """transaction() was called while the session holds a transaction it must not decide
    about: one begun explicitly (a transaction() inside a transaction(), or a
    `db.session.begin()`), or an autobegun one that has written or has changes pending.
    A programming error, never a user's: the caller ends that transaction first."""


# While transaction() runs, its SQLite connection begins with this (an execution option read
# by configure_sqlite's "begin" listener); any other transaction begins at its first write.
SQLITE_BEGIN = "swiftcart_sqlite_begin"
_WROTE = "swiftcart_wrote"  # session.info: the session's current transaction has written


@contextmanager
def transaction(*, write: bool = True) -> Iterator[scoped_session]:
    """One business action, one transaction: BEGIN, then COMMIT at the end or ROLLBACK on
    any error (re-raised). Yields the session.

    Strict: raises TransactionAlreadyOpen instead of committing a transaction it did not
    begin. A transaction() inside another one is an error (not a half-commit of the outer
    one), and so is a transaction the session autobegan and wrote in (a flush, an UPDATE,
    an object added or changed and not flushed yet).

    One kind of open transaction is ended here, on purpose: the read-only one the session
    autobegan at its first query. Nearly every request has one before it calls a service
    (Flask-Login loaded the signed-in user; place_order looks its idempotency key up), and
    making every caller end it by hand would spread transaction control into views, which
    is what this function exists to keep in one place. It is ended with COMMIT, which
    commits nothing (it is checked to have written nothing) and, with expire_on_commit
    off, keeps the objects it loaded; the action then reads what it decides on in a
    transaction of its own.

    On SQLite a transaction that writes first waits for its turn among the database's
    writers (shop/writer_queue.py), then begins with BEGIN IMMEDIATE: it takes the write
    lock before doing anything, so it waits at its start, never halfway through. The BEGIN
    comes from the engine's "begin" event (configure_sqlite, after SQLAlchemy's pysqlite
    recipe). `write=False` is for a transaction that only reads; it begins with a plain
    BEGIN (one snapshot for all its reads) and waits for nobody.

    Raises TransactionAlreadyOpen as above; any error of the action, after the ROLLBACK.
    """
    session = db.session()
    _end_read_only_transaction(session)
    engine = db.engine
    if engine.dialect.name != "sqlite":
        with session.begin():
            yield db.session
        return
    if not write:
        with session.begin():
            session.connection(execution_options={SQLITE_BEGIN: "BEGIN"})
            yield db.session
        return
    with writer_queue(engine).turn(), session.begin():
        session.connection(execution_options={SQLITE_BEGIN: "BEGIN IMMEDIATE"})
        yield db.session


def _end_read_only_transaction(session: Session) -> None:
    """End the session's autobegun, read-only transaction; raise TransactionAlreadyOpen for
    any other open transaction."""
    current = session.get_transaction()
    if current is None:
        return
    if current.origin is not SessionTransactionOrigin.AUTOBEGIN:
        raise TransactionAlreadyOpen("transaction() inside a transaction: a nested unit of work")
    if session.info.get(_WROTE) or session.new or session.deleted or any(map(session.is_modified, session.dirty)):
        raise TransactionAlreadyOpen(
            "transaction() with changes outside it: make them inside it, or end that transaction first"
        )
    session.commit()


@sa.event.listens_for(db.session, "after_transaction_end")
def _forget_writes(session: Session, ended: SessionTransaction) -> None:
    # At the end, not at the start: do_orm_execute runs before the session autobegins.
    if ended.parent is None:
        session.info.pop(_WROTE, None)


@sa.event.listens_for(db.session, "after_flush")
def _remember_flush(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


@sa.event.listens_for(db.session, "do_orm_execute")
def _remember_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete or _is_written_text(state.statement):
        state.session.info[_WROTE] = True


def _is_written_text(statement: Any) -> bool:
    """A text() statement that is not a SELECT (or PRAGMA): counted as a write."""
    if not isinstance(statement, sa.TextClause):
        return False
    return not statement.text.lstrip().upper().startswith(("SELECT", "WITH", "PRAGMA", "EXPLAIN"))


def sqlite_engine_options() -> dict[str, Any]:
    # pysqlite's timeout is SQLite's busy timeout: a writer waits for the lock, not fails.
    return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}}


def configure_sqlite(app: Flask) -> None:
    """WAL (readers never wait for the writer), foreign keys on, on every new connection;
    SQLAlchemy, not pysqlite, emits BEGIN (BEGIN IMMEDIATE in a transaction() that writes);
    every connection comes back to the pool with no statement left open."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return
    _keep_database_private(engine.url)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite begins nothing itself (it would BEGIN deferred before the first write
        # only): the "begin" listener below does, at SQLAlchemy's begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # SQLAlchemy's recipe for pysqlite ("Enabling Non-Legacy SQLite Transactional
        # Modes"): transaction() says how its transaction begins (BEGIN IMMEDIATE to write,
        # BEGIN to read a consistent snapshot). Any other begins at its first write.
        begin = conn.get_execution_options().get(SQLITE_BEGIN)
        if begin:
            conn.exec_driver_sql(begin)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _begin_before_a_write(conn: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        # A transaction begun outside transaction() (a command, a test, a migration) is
        # what pysqlite made of it before: its reads each see the latest commit, and a
        # BEGIN comes before its first write. Made a snapshot from its first read, a
        # thread's long-lived session would see no new row for ever (and keep the WAL
        # from being checkpointed), and a read followed by a write would fail with
        # "database is locked" instead of waiting whenever another writer came between.
        driver = conn.connection.driver_connection
        if conn.in_transaction() and not driver.in_transaction and not statement.lstrip().upper().startswith(_READS):
            driver.execute("BEGIN")

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _remember_cursor(conn: sa.Connection, cursor: Any, *_: Any) -> None:
        conn.info.setdefault(_OPEN_CURSORS, weakref.WeakSet()).add(cursor)

    @sa.event.listens_for(engine, "reset")
    def _close_cursors(_dbapi_connection: Any, record: Any, _state: Any) -> None:
        _close_open_cursors(record.info)


_OPEN_CURSORS = "swiftcart_cursors"
# Statements that need no transaction of their own (and those that control one).
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "BEGIN", "COMMIT", "ROLLBACK", "END", "RELEASE")


def _keep_database_private(url: sa.URL) -> None:
    """The database file is made by us, mode 0o600, before SQLite opens it (SQLite would
    make it 0o644, and gives its -wal and -shm files the database's mode); one that others
    can read loses those bits."""
    database, options = url.database, dict(url.query)  # the URL's ?options
    if database in (None, "", ":memory:") or options.get("uri"):
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
