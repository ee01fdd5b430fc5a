from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import Order, Product
from tests.conftest import ADDRESS, Browser, count, settings_for


def test_404_page_is_in_the_site_layout(browser):
    response = browser.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert '<a class="brand"' in html
    assert "There is nothing here" in html


def test_405_names_the_allowed_methods(browser):
    response = browser.client.delete("/cart")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_400_for_a_missing_csrf_token(browser, products):
    response = browser.client.post("/auth/login", data={"email": "a@example.com", "password": "x"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_413_for_an_oversized_body(browser):
    response = browser.client.post("/auth/login", data={"email": "a" * (12 * 1024 * 1024)})  # MAX_CONTENT_LENGTH: 11 MB
    assert response.status_code == 413


@pytest.mark.parametrize("code", [400, 403, 404, 409, 500])
def test_every_error_page_renders_in_the_layout(tmp_path, smtp, db_url, code):
    from flask import abort

    from shop import create_app

    app = create_app(settings_for(tmp_path, smtp, db_url, PROPAGATE_EXCEPTIONS=False))

    @app.get("/fail")
    def fail():
        if code == 500:
            raise RuntimeError("boom")
        abort(code)

    response = app.test_client().get("/fail")
    assert response.status_code == code
    html = response.get_data(as_text=True)
    assert '<a class="brand"' in html
    assert "boom" not in html
    assert "Traceback" not in html


@contextmanager
def writes_locked_out(app, db_url):
    """Another connection holds the lock that writing needs (SQLite's write lock; on
    PostgreSQL a lock on the product table): the shop's next write fails after 0.1 s
    instead of its usual wait, with the error a locked database gives (OperationalError)."""
    with app.app_context():
        engine = db.engine
    sqlite = engine.dialect.name == "sqlite"

    def wait_briefly(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=100" if sqlite else "SET lock_timeout = '100ms'")
        cursor.close()
        if not sqlite:
            dbapi_connection.commit()

    sa.event.listen(engine, "connect", wait_briefly)
    engine.dispose()  # the pooled connections are replaced by ones that wait briefly
    holder = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        with holder.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if sqlite else "LOCK TABLE product IN SHARE MODE")
            yield
            conn.rollback()
    finally:
        holder.dispose()
        sa.event.remove(engine, "connect", wait_briefly)
        engine.dispose()


def test_a_checkout_the_database_cannot_write_says_no_order_was_placed_and_nothing_charged(
    app, db_url, products, shopper, smtp
):
    shopper.add(products["TEA"], 2)
    form = {**Browser.form(shopper.get("/checkout"), "/checkout")["fields"], **ADDRESS}
    with writes_locked_out(app, db_url):
        response = shopper.client.post("/checkout", data=form)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    text = " ".join(response.get_data(as_text=True).split())
    assert "No order was placed and nothing was charged" in text
    assert "Your cart is kept" in text
    assert count(app, Order) == 0
    with app.app_context():
        assert db.session.get(Product, products["TEA"]).stock == 100
    assert "Assam Tea" in shopper.get("/cart").get_data(as_text=True)
    # Once the database writes again, the same form places the order, once.
    assert shopper.client.post("/checkout", data=form).status_code == 303
    assert count(app, Order) == 1
