"""`flask shop backup`, and moving a shop between databases with `shop export` / `shop import`."""

import json
import os
import re
import sqlite3

import pytest
import sqlalchemy as sa

from shop import create_app
from shop.extensions import db
from shop.models import Order, OutboxEmail, Product, User
from tests.conftest import count, order_id_from, settings_for, wait_until
from tests.databases import TestDatabases


def test_backup_copies_the_live_sqlite_database(app, products, shopper, smtp, tmp_path, databases):
    if databases.kind != "sqlite":
        pytest.skip("the SQLite backup command; PostgreSQL uses pg_dump")
    shopper.add(products["TEA"], 2)
    order_id_from(shopper.checkout())
    target = tmp_path / "backups" / "copy.db"
    result = app.test_cli_runner().invoke(args=["shop", "backup", str(target)])
    assert result.exit_code == 0, result.output
    assert f"backed up to {target}" in result.output
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT COUNT(*) FROM customer_order").fetchone() == (1,)
        assert copy.execute("SELECT stock FROM product WHERE sku = 'TEA'").fetchone() == (98,)
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_backup_defaults_to_the_instance_folder(app, tmp_path, databases):
    if databases.kind != "sqlite":
        pytest.skip("the SQLite backup command; PostgreSQL uses pg_dump")
    result = app.test_cli_runner().invoke(args=["shop", "backup"])
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "instance" / "backups").glob("shop-*.db"))


def test_export_then_import_into_an_empty_database_keeps_everything(app, products, shopper, smtp, tmp_path, databases):
    shopper.add(products["TEA"], 1)
    order_id_from(shopper.checkout())
    # The address confirmation (from registering) and the order confirmation.
    wait_until(lambda: count(app, OutboxEmail, OutboxEmail.status == "sent") == 2, what="the emails to be sent")
    dump = tmp_path / "export.json"
    result = app.test_cli_runner().invoke(args=["shop", "export", str(dump)])
    assert result.exit_code == 0, result.output

    (tmp_path / "second").mkdir()
    target_url = databases.new(tmp_path / "second")
    other = create_app(settings_for(tmp_path / "second", smtp, target_url))
    try:
        result = other.test_cli_runner().invoke(args=["shop", "import", str(dump)])
        assert result.exit_code == 0, result.output
        with app.app_context():
            before = _contents()
        with other.app_context():
            assert _contents() == before
        found = other.test_client().get("/?q=enamel").get_data(as_text=True)  # the search index came along
        assert re.search(r'href="/products/\d+-enamel-mug"', found)
        with other.app_context():
            db.session.add(Product(sku="AFTER", name="After the move", price_cents=1, stock=1))
            db.session.commit()  # new ids continue after the imported ones
            db.engine.dispose()
        again = other.test_cli_runner().invoke(args=["shop", "import", str(dump)])
        assert again.exit_code != 0
        assert "not empty" in again.output
    finally:
        with other.app_context():
            db.engine.dispose()
        databases.drop(target_url)


def _contents() -> dict:
    def rows(model, *columns):
        return db.session.execute(sa.select(*columns).order_by(model.id)).all()

    return {
        "users": rows(User, User.id, User.email, User.password_hash),
        "products": rows(Product, Product.id, Product.sku, Product.stock, Product.price_cents),
        "orders": rows(Order, Order.id, Order.number, Order.total_cents, Order.created_at),
        "emails": rows(
            OutboxEmail, OutboxEmail.id, OutboxEmail.status, OutboxEmail.message_id, OutboxEmail.raw_message
        ),
    }


def test_a_sqlite_shop_moves_to_postgresql(app, products, shopper, smtp, tmp_path, databases):
    """The documented move: `shop export` on SQLite, `db upgrade` + `shop import` on PostgreSQL."""
    if databases.kind != "sqlite":
        pytest.skip("this run is on PostgreSQL already")
    server = os.environ.get("SHOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        postgres = TestDatabases(tmp_path, server).prepare()
    except sa.exc.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is needed for this test: {error}")
        pytest.skip(f"PostgreSQL not reachable: {error}")
    shopper.add(products["MUG"], 2)
    order_id_from(shopper.checkout())
    # The address confirmation (from registering) and the order confirmation.
    wait_until(lambda: count(app, OutboxEmail, OutboxEmail.status == "sent") == 2, what="the emails to be sent")
    dump = tmp_path / "export.json"
    assert app.test_cli_runner().invoke(args=["shop", "export", str(dump)]).exit_code == 0
    (tmp_path / "pg").mkdir()
    url = postgres.new(tmp_path / "pg")
    moved = create_app(settings_for(tmp_path / "pg", smtp, url))
    try:
        result = moved.test_cli_runner().invoke(args=["shop", "import", str(dump)])
        assert result.exit_code == 0, result.output
        with app.app_context():
            before = _contents()
        with moved.app_context():
            assert _contents() == before
        assert moved.test_client().get("/").status_code == 200
        found = moved.test_client().get("/?q=ENAMEL").get_data(as_text=True)  # the search index came along
        assert re.search(r'href="/products/\d+-enamel-mug"', found)
    finally:
        with moved.app_context():
            db.engine.dispose()  # close the pool's connections before the database goes
        postgres.drop(url)
        postgres.close()


def test_an_export_from_another_migration_is_refused(app, tmp_path):
    """Columns added since would be filled with defaults, silently: refuse, and say what to do."""
    dump = tmp_path / "export.json"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["shop", "export", str(dump)]).exit_code == 0
    data = json.loads(dump.read_text())
    current = data["revision"]
    assert current is not None
    data["revision"] = "0002"
    dump.write_text(json.dumps(data))
    result = runner.invoke(args=["shop", "import", str(dump)])
    assert result.exit_code != 0
    assert f"the export was made at migration 0002, this database is at {current}" in result.output
