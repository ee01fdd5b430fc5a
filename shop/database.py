"""Database plumbing shared by every business action: the transaction, and SQLite's settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import scoped_session

from shop.extensions import db

SQLITE_BUSY_TIMEOUT_SECONDS = 15


@contextmanager
def transaction() -> Iterator[scoped_session]:
    """One business action, one transaction: commit at the end, roll back on any error.

    A request has usually read something already (the signed-in user), which opened a
    read transaction; it is ended first so the action starts a transaction of its own.
    """
    if db.session().in_transaction():
        db.session.commit()
    with db.session.begin():
        yield db.session


def sqlite_engine_options() -> dict[str, Any]:
    # pysqlite's timeout is SQLite's busy timeout: a writer waits for the lock, not fails.
    return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}}


def configure_sqlite(app: Flask) -> None:
    """WAL (readers never wait for the writer), foreign keys on, on every new connection."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()


def insert_ignoring_duplicates(model: type, **values: Any) -> int | None:
    """INSERT a row unless one with the same unique key exists; the new id, or None.

    One statement (INSERT ... ON CONFLICT DO NOTHING RETURNING id), so two writers racing
    with the same key cannot both insert and neither fails.
    """
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {dialect}")
    statement = insert(model).values(**values).on_conflict_do_nothing().returning(model.id)
    return db.session.execute(statement).scalar_one_or_none()


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, literally: '50%' does not match everything
    that starts with 50. Use with escape="\\"."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
