"""GET /healthz: up or down for anyone (a load balancer, a monitor); the details (database,
outbox counts, the mail server) only for a signed-in admin or a monitor with
SHOP_HEALTH_TOKEN.

Up means the database can take a write, not only a read: on SQLite `BEGIN IMMEDIATE`
(the write lock) then `ROLLBACK`, and room on its disk; on PostgreSQL a transaction id
(refused by a read-only server); and this process's mail pool has not seen its writes
refused. A full disk made every checkout fail while a read-only check said "ok".
"""

from __future__ import annotations

import hmac
import os
import shutil
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from shop.database import SQLITE_BEGIN, SQLITE_BUSY_TIMEOUT_SECONDS
from shop.extensions import db, get_settings
from shop.mail.breaker import describe, server_unreachable
from shop.mail.dispatcher import get_dispatcher
from shop.mail.outbox import counts_by_status

bp = Blueprint("health", __name__)

MIN_FREE_BYTES = 1024 * 1024  # SQLite: below this on the database's disk, writes are about to fail
PROBE_BUSY_MS = 2000  # SQLite: how long BEGIN IMMEDIATE may wait for another writer


class Unwritable(Exception):
    """The database answers but cannot take a write; the message says why."""


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 {"status": "ok"} or 503 {"status": "error"}; with the details when allowed:
    {"database": "ok" | "unavailable" | "unwritable", "error": ..., "outbox": {status: count},
    "mail_server": "reachable" | "unreachable since ... UTC (...)"}."""
    details: dict[str, Any] = {}
    try:
        _check_writable()
        details["outbox"] = counts_by_status()
        details["mail_server"] = describe(server_unreachable(get_settings()))
        details["database"] = "ok"
        status, code = "ok", 200
    except Unwritable as error:
        details = {"database": "unwritable", "error": str(error)}
        status, code = "error", 503
    except SQLAlchemyError as error:
        db.session.rollback()
        details = {"database": "unavailable", "error": type(error).__name__}
        status, code = "error", 503
    body = {"status": status, **details} if _may_see_details() else {"status": status}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, code


def _check_writable() -> None:
    """Raise Unwritable (or SQLAlchemyError) unless the database can take a write now."""
    trouble = getattr(get_dispatcher(), "database", None)
    if trouble is not None and trouble.since is not None:
        raise Unwritable(f"the mail senders' writes fail since {trouble.since:%Y-%m-%d %H:%M:%S} UTC")
    engine = db.engine
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(database))).free
            if free < MIN_FREE_BYTES:
                raise Unwritable(f"{free} bytes free on the database's disk")
        with engine.connect() as connection:
            # On the driver's connection: through SQLAlchemy the PRAGMA would begin a transaction.
            driver = connection.connection.driver_connection
            driver.execute(f"PRAGMA busy_timeout={PROBE_BUSY_MS}")
            try:
                # The "begin" listener (shop/database.py) emits BEGIN IMMEDIATE: it takes the
                # write lock; nothing is written.
                connection.execution_options(**{SQLITE_BEGIN: "BEGIN IMMEDIATE"}).begin().rollback()
            finally:
                driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
    else:
        with engine.connect() as connection:
            transaction = connection.begin()
            connection.execute(sa.text("SET LOCAL statement_timeout = 2000"))
            connection.execute(sa.text("SELECT txid_current()"))  # a read-only server refuses it
            transaction.rollback()


def _may_see_details() -> bool:
    """A monitor's bearer token (compared in constant time), or the signed-in owner."""
    token = get_settings().health_token
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        return bool(current_user.is_authenticated and current_user.is_owner)
    except SQLAlchemyError:  # the database is down: the user cannot be loaded
        db.session.rollback()
        return False
