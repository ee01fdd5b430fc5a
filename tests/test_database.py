import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from shop.database import TransactionAlreadyOpen, transaction
from shop.extensions import db
from shop.models import OrderLine, Product
from tests.conftest import signed_in_browser


def test_sqlite_runs_with_wal_a_busy_timeout_and_foreign_keys(app, databases):
    if databases.kind != "sqlite":
        pytest.skip("SQLite's settings: this run is on PostgreSQL")
    with app.app_context():
        pragma = lambda name: db.session.execute(sa.text(f"PRAGMA {name}")).scalar_one()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") >= 5000


def test_foreign_keys_are_enforced(app):
    with app.app_context():
        db.session.add(OrderLine(order_id=4242, product_id=4242, name="x", sku="x", unit_price_cents=1, quantity=1))
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
            db.session.commit()


def test_the_migrations_build_exactly_the_models(app):
    """A model changed without a migration (or the reverse) fails here, not on a shop's server."""
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_upgrading_a_shop_with_orders_keeps_every_row_and_fills_the_new_columns(databases, tmp_path):
    """0003 rebuilds the order table on SQLite: the order lines and history must survive it
    (with foreign keys on, dropping the old table would cascade to them)."""
    from flask_migrate import downgrade, upgrade

    from shop import create_app

    url = databases.empty(tmp_path)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "t" * 32,
            "SHOP_INSTANCE_PATH": str(tmp_path / "instance"),
        }
    )
    tables = ("customer_order", "order_line", "order_status_change")
    try:
        with app.app_context():
            upgrade(revision="0002")
            with db.engine.begin() as c:
                for statement in (
                    "INSERT INTO user_account (id, email, password_hash, is_admin, created_at)"
                    " VALUES (1, 'ada@example.com', 'x', false, '2026-01-01')",
                    "INSERT INTO product (id, sku, name, description, price_cents, stock, active, created_at,"
                    " updated_at) VALUES (1, 'TEA', 'Tea', '', 100, 5, true, '2026-01-01', '2026-01-01')",
                    "INSERT INTO customer_order (id, number, user_id, status, full_name, address, city, postal_code,"
                    " country, total_cents, checkout_token, created_at)"
                    " VALUES (1, 'N1', 1, 'placed', 'Ada', '1 St', 'London', 'N1', 'UK', 300, 'tok', '2026-01-01')",
                    "INSERT INTO order_line (id, order_id, product_id, name, sku, unit_price_cents, quantity)"
                    " VALUES (1, 1, 1, 'Tea', 'TEA', 100, 3)",
                    "INSERT INTO order_status_change (id, order_id, from_status, to_status, note, created_at)"
                    " VALUES (1, 1, 'placed', 'paid', '', '2026-01-02')",
                ):
                    c.execute(sa.text(statement))

            def counts() -> list[int]:
                with db.engine.connect() as c:
                    return [c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in tables]

            upgrade()
            assert counts() == [1, 1, 1]
            with db.engine.connect() as c:
                row = c.execute(
                    sa.text("SELECT email, subtotal_cents, total_cents, payment_method FROM customer_order")
                )
                assert row.one() == ("ada@example.com", 300, 300, "")

            with db.engine.begin() as c:  # a guest order: the old schema cannot hold it
                c.execute(sa.text("UPDATE customer_order SET user_id = NULL, status = 'awaiting_payment'"))
            with pytest.raises(SystemExit):  # Flask-Migrate logs the RuntimeError and exits 1
                downgrade(revision="0002")
            with db.engine.connect() as c:  # refused before it changed anything
                assert c.execute(sa.text("SELECT user_id FROM customer_order")).scalar() is None
            with db.engine.begin() as c:
                c.execute(sa.text("UPDATE customer_order SET user_id = 1"))
            downgrade(revision="0002")
            assert counts() == [1, 1, 1]
            with db.engine.connect() as c:
                assert c.execute(sa.text("SELECT status FROM customer_order")).scalar() == "placed"
            db.engine.dispose()
    finally:
        databases.drop(url)


def stock_of(sku: str) -> int:
    return db.session.execute(sa.select(Product.stock).where(Product.sku == sku)).scalar_one()


def set_stock(sku: str, stock: int) -> None:
    db.session.execute(sa.update(Product).where(Product.sku == sku).values(stock=stock))


def test_a_transaction_commits_its_work_and_rolls_all_of_it_back_on_an_error(app, products):
    with app.app_context():
        with transaction():
            set_stock("TEA", 7)

        def fails_halfway() -> None:
            with transaction():
                set_stock("TEA", 8)
                set_stock("MUG", 0)
                raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            fails_halfway()
        assert (stock_of("TEA"), stock_of("MUG")) == (7, 100)


def test_a_transaction_inside_a_transaction_is_an_error_not_a_half_commit(app, products):
    with app.app_context():

        def nested() -> None:
            with transaction():
                set_stock("TEA", 1)
                with transaction():  # the inner one must not commit the outer one's stock
                    set_stock("MUG", 1)

        with pytest.raises(TransactionAlreadyOpen, match="nested"):
            nested()
        db.session.remove()
        assert (stock_of("TEA"), stock_of("MUG")) == (100, 100)


@pytest.mark.parametrize("opened_by", ["an explicit begin", "a write", "an object added", "an object changed"])
def test_a_transaction_opened_outside_with_writes_is_refused_not_committed(app, products, opened_by):
    with app.app_context():
        if opened_by == "an explicit begin":
            db.session.begin()
        elif opened_by == "a write":
            set_stock("TEA", 1)
        elif opened_by == "an object added":
            db.session.add(Product(name="Stray", sku="STRAY", price_cents=100, stock=1))
        else:
            product = db.session.execute(sa.select(Product).where(Product.sku == "TEA")).scalar_one()
            product.stock = 1
        with pytest.raises(TransactionAlreadyOpen), transaction():
            set_stock("MUG", 1)
        db.session.remove()  # what the end of the request does: the open transaction rolls back
        assert (stock_of("TEA"), stock_of("MUG")) == (100, 100)
        assert db.session.execute(sa.select(Product).where(Product.sku == "STRAY")).first() is None


def test_a_read_before_the_transaction_is_ended_and_what_it_loaded_stays_usable(app, products):
    """The shape of nearly every request: the signed-in user is read, then a service acts."""
    with app.app_context():
        tea = db.session.execute(sa.select(Product).where(Product.sku == "TEA")).scalar_one()
        with transaction():
            set_stock("TEA", tea.stock - 1)
        assert tea.name  # loaded before, still there after
        assert stock_of("TEA") == 100 - 1


def test_a_session_that_only_reads_sees_each_new_commit(app, products):
    """A long-lived session that reads outside transaction() (a poll, a command, a sender
    thread) is not held to the snapshot of its first read: it sees what others commit."""
    with app.app_context():
        assert stock_of("TEA") == 100
        with app.app_context(), transaction():  # another session, as another request has
            set_stock("TEA", 5)
        assert stock_of("TEA") == 5


def test_sqlite_writers_begin_immediate_and_none_is_turned_away(app, products, databases):
    """Twelve threads each read the stock and write it back plus one, five times, at once.
    Every increment lands and none fails with "database is locked": each transaction()
    that writes begins with BEGIN IMMEDIATE, so it holds the write lock from its first
    read. (With a deferred BEGIN, SQLite refuses at once the write of a transaction whose
    snapshot another writer has changed: SQLITE_BUSY, and a lost increment.) A read-only
    transaction() begins with a plain BEGIN."""
    import threading

    if databases.kind != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    gate, errors = threading.Barrier(12), []

    def bump() -> None:
        with app.app_context():
            gate.wait()
            try:
                for _ in range(5):
                    with transaction():
                        set_stock("TEA", stock_of("TEA") + 1)
            except Exception as error:  # reported below, with the thread's error
                errors.append(error)

    threads = [threading.Thread(target=bump) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        assert stock_of("TEA") == 100 + 60
        assert statements.count("BEGIN IMMEDIATE") == 60
        statements.clear()
        db.session.remove()
        with transaction(write=False):
            db.session.execute(sa.select(Product.id)).all()
        assert "BEGIN" in statements
        assert "BEGIN IMMEDIATE" not in statements


def test_a_request_that_failed_halfway_leaves_no_old_snapshot_for_the_next_ones(make_app, products):
    """Reported: an exception raised while a view iterated a result left the result's statement
    open on the pooled connection; on SQLite that pinned the snapshot it read, so the worker's
    later requests did not see a new account (registered on another worker) and bounced it
    to sign-in. Every connection returned to the pool must come back with no statement open."""
    worker, other_worker = make_app(), make_app()  # two gunicorn workers, one database

    @worker.get("/fails-halfway")
    def fails_halfway() -> str:
        rows = db.session.execute(sa.text("SELECT id FROM product ORDER BY id"))
        next(iter(rows))  # one row read, the rest left in the cursor
        raise RuntimeError("failed while reading")

    # The traceback (and with it the half-read result) stays alive, as one in a reference
    # cycle does in a worker until the garbage collector runs.
    with pytest.raises(RuntimeError) as failure:
        worker.test_client().get("/fails-halfway")
    newcomer = signed_in_browser(other_worker, "newcomer@example.com")
    next_visit = worker.test_client()
    next_visit.set_cookie("session", newcomer.client.get_cookie("session").value)
    response = next_visit.get("/orders")
    assert response.status_code == 200, response.headers.get("Location")
    assert "My Orders" in response.get_data(as_text=True)
    assert failure.value is not None
