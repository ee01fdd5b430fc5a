"""Keeping the shop's data safe, and moving it: an online SQLite backup, and a whole-database
export to JSON that imports into an empty database of either kind (SQLite -> PostgreSQL)."""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from shop.catalog.search import reindex_products
from shop.extensions import db
from shop.files import create_private_file, private_folder
from shop.models import Product

FORMAT = "swiftcart-export-1"
# Tables a new database's migrations fill (0010: the "Everywhere" shipping zone): an import
# replaces their rows with the export's.
SEEDED = frozenset({"shipping_zone", "shipping_zone_country"})


class BackupError(Exception):
    pass


def backup_sqlite(target: Path) -> Path:
    """Copy the live SQLite database to `target` with SQLite's backup API: consistent even
    while the shop is taking orders (a plain file copy of a WAL database may not be).
    Raises BackupError when the database is not SQLite or the copy fails its integrity check."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise BackupError("`shop backup` copies a SQLite database; for PostgreSQL use pg_dump (docs/deploy.md)")
    private_folder(target.parent)
    create_private_file(target)  # SQLite writes into it: the copy is never readable by others
    source = sqlite3.connect(url.database)
    copy = sqlite3.connect(target)
    try:
        with copy:
            source.backup(copy)
        if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"the copy at {target} failed SQLite's integrity check")
    finally:
        copy.close()
        source.close()
    return target


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):  # an email's bytes (outbox_email.raw_message)
        return base64.b64encode(value).decode("ascii")
    return value.isoformat() if isinstance(value, (datetime, date)) else value


def export_data(out: IO[str]) -> dict[str, int]:
    """Every table, in an order that satisfies the foreign keys, as JSON; rows per table."""
    tables = db.metadata.sorted_tables
    counts, data = {}, {}
    with db.engine.connect() as conn:
        for table in tables:
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings().all()
            data[table.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
            counts[table.name] = len(rows)
    json.dump({"format": FORMAT, "revision": _revision(), "tables": data}, out)
    return counts


def _revision() -> str | None:
    """The migration the database is at: an export only fits a database at the same one."""
    with db.engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def import_data(source: IO[str]) -> dict[str, int]:
    """Load an export into this (migrated, empty) database, in one transaction; rows per
    table. Raises BackupError for a file that is not an export, one made at another
    migration, or a database that is not empty."""
    dump = json.load(source)
    if dump.get("format") != FORMAT:
        raise BackupError("not a Swiftcart export")
    if dump.get("revision") != _revision():
        # Columns added since would be filled with their defaults, silently (an order
        # without its email address): upgrade the source first, export again.
        raise BackupError(
            f"the export was made at migration {dump.get('revision') or '(unknown)'}, this database is at "
            f"{_revision()}: run `flask db upgrade` on the source shop, export again, and import that"
        )
    tables = db.metadata.sorted_tables
    with db.engine.begin() as conn:
        for table in tables:
            if table.name not in SEEDED and conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
                raise BackupError(f"the database is not empty (table {table.name} has rows); import into a new one")
        for table in reversed(tables):  # what the migrations seed gives way to the export's
            if table.name in SEEDED:
                conn.execute(table.delete())
        counts = {}
        for table in tables:
            rows = [_typed(table, row) for row in dump["tables"].get(table.name, [])]
            if rows:
                conn.execute(table.insert(), rows)
            counts[table.name] = len(rows)
        # The search index is no model's table: it is written from the products imported.
        reindex_products(conn, conn.execute(sa.select(Product.id)).scalars().all())
        if conn.dialect.name == "postgresql":  # ids were given: move each sequence past them
            for table in tables:
                if "id" in table.columns:
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                        )
                    )
    return counts


def _typed(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    typed = {}
    for name, value in row.items():
        column = table.columns[name]
        if value is not None and isinstance(column.type, sa.DateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(column.type, sa.LargeBinary):
            value = base64.b64decode(value)
        typed[name] = value
    return typed
