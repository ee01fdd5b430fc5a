"""Each test's own database, migrated with the real migrations.

SQLite (the default): the migrations run once into a file, and each test gets a copy.
PostgreSQL (TEST_DATABASE_URL=postgresql+psycopg://user@host/db): the migrations run once into a
template database, and each test gets `CREATE DATABASE ... TEMPLATE` (a fast file copy),
dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shop import create_app
from shop.extensions import db


class TestDatabases:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, workdir: Path, server_url: str | None = None) -> None:
        self.workdir = workdir
        self.server_url = make_url(server_url) if server_url else None
        self._numbers = itertools.count()
        self._prefix = f"swiftcart_{os.getpid()}"

    @classmethod
    def from_environment(cls, workdir: Path) -> TestDatabases:
        return cls(workdir, os.environ.get("TEST_DATABASE_URL") or None)

    @property
    def kind(self) -> str:
        return "postgresql" if self.server_url else "sqlite"

    def prepare(self) -> TestDatabases:
        from flask_migrate import upgrade

        if self.server_url is None:
            self.template = self.workdir / "template.db"
            url = f"sqlite:///{self.template}"
        else:
            self._admin(
                f'DROP DATABASE IF EXISTS "{self._prefix}_template" WITH (FORCE)',
                f'CREATE DATABASE "{self._prefix}_template"',
            )
            url = self.server_url.set(database=f"{self._prefix}_template").render_as_string(hide_password=False)
        app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "t" * 32,
                "SHOP_INSTANCE_PATH": str(self.workdir),
            }
        )
        with app.app_context():
            upgrade()
            db.engine.dispose()
        return self

    def new(self, tmp_path: Path) -> str:
        """A fresh migrated database for one test; its URL."""
        if self.server_url is None:
            path = tmp_path / "shop.db"
            shutil.copy(self.template, path)
            return f"sqlite:///{path}"
        name = f"{self._prefix}_{next(self._numbers)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._prefix}_template"')
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def empty(self, tmp_path: Path) -> str:
        """A database with no tables at all, for tests of the migrations themselves."""
        if self.server_url is None:
            return f"sqlite:///{tmp_path / 'empty.db'}"
        name = f"{self._prefix}_{next(self._numbers)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        if self.server_url is not None:
            self._admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    def close(self) -> None:
        if self.server_url is not None:
            self._admin(f'DROP DATABASE IF EXISTS "{self._prefix}_template" WITH (FORCE)')

    def _admin(self, *statements: str) -> None:
        engine = sa.create_engine(self.server_url, isolation_level="AUTOCOMMIT")  # CREATE DATABASE: no transaction
        try:
            with engine.connect() as conn:
                for statement in statements:
                    conn.execute(sa.text(statement))
        finally:
            engine.dispose()
