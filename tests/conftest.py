"""Fixtures: a real SMTP server, the app on its own database (SQLite, or PostgreSQL with
TEST_DATABASE_URL; migrated with the real migrations), a browser-like client that fills in
forms, and a signed-in shopper."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from config import Settings, settings_from_env
from shop import create_app
from shop.extensions import SETTINGS, db, get_settings
from shop.mail.dispatcher import get_dispatcher
from shop.models import Category, Product, Role, User
from shop.payment import METHODS
from tests.databases import TestDatabases
from tests.served import HiddenFields
from tests.smtp_sink import SmtpSink
from tests.stripe_standin import StripeStandIn

PASSWORD = "correct-horse-battery"


# ---------------------------------------------------------------- SMTP
@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server on a free port; `smtp.behave(...)` makes it slow, refuse, hang..."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


# ---------------------------------------------------------------- Stripe (a stand-in)
@pytest.fixture
def stripe_standin() -> Iterator[StripeStandIn]:
    """A local stand-in for Stripe's API (tests/stripe_standin.py: Stripe cannot run here)."""
    standin = StripeStandIn().start()
    yield standin
    standin.stop()


def card_settings(standin: StripeStandIn, **overrides: Any) -> dict[str, Any]:
    """Settings that offer card payment (and bank transfer) against the stand-in, in test mode."""
    return {
        "SHOP_PAYMENT_METHODS": ("card", "bank_transfer"),
        "STRIPE_SECRET_KEY": "sk_test_standin",
        "STRIPE_WEBHOOK_SECRET": standin.webhook_secret,
        "STRIPE_API_BASE": standin.url,
        "STRIPE_TIMEOUT_SECONDS": 1.0,
        **overrides,
    }


# ---------------------------------------------------------------- translations
TRANSLATIONS = Path(__file__).resolve().parent.parent / "shop" / "translations"


@pytest.fixture(scope="session")
def german_catalogue() -> Path:
    """shop/translations/de/LC_MESSAGES/messages.mo, compiled from its .po as `make
    translations` (pybabel compile) does, when missing or older than the .po: so `pytest`
    alone runs the German tests too. The .mo is not committed (.gitignore)."""
    po = TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        with po.open("rb") as source:
            catalogue = read_po(source, locale="de")
        written = mo.with_suffix(f".{os.getpid()}.tmp")  # complete before it is seen: a parallel run reads it
        with written.open("wb") as target:
            write_mo(target, catalogue)
        written.replace(mo)
    return mo


# ---------------------------------------------------------------- the app
@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabases]:
    """SQLite copies, or PostgreSQL databases when TEST_DATABASE_URL says so (make test-pg)."""
    made = TestDatabases.from_environment(tmp_path_factory.mktemp("databases")).prepare()
    yield made
    made.close()


@pytest.fixture
def db_url(databases: TestDatabases, tmp_path: Path) -> Iterator[str]:
    """This test's own migrated database."""
    url = databases.new(tmp_path)
    yield url
    databases.drop(url)


def settings_for(tmp_path: Path, smtp: SmtpSink, db_url: str, **overrides: Any) -> dict[str, Any]:
    settings = {
        "TESTING": True,
        "SHOP_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp.port,
        "MAIL_DEFAULT_SENDER": "Swiftcart <shop@example.com>",
        "MAIL_TIMEOUT": 2.0,
        "SHOP_BASE_URL": "http://shop.test",
        "SHOP_MAIL_SWEEP_SECONDS": 0.5,
        "SHOP_MAIL_RETRY_BASE_SECONDS": 0.2,
        # Every test client comes from 127.0.0.1: one address registering for the whole suite.
        "SHOP_REGISTER_LIMIT": "1000 per minute",
    }
    settings.update(overrides)
    return settings


@pytest.fixture
def make_app(tmp_path: Path, smtp: SmtpSink, db_url: str) -> Iterator[Callable[..., Flask]]:
    """Build an app on this test's database with some settings changed; stopped at the end."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = create_app(settings_for(tmp_path, smtp, db_url, **overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        get_dispatcher(app).stop()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


def change_settings(app: Flask, **changes: Any) -> Settings:
    """As if the owner had changed settings and restarted: the app's one (frozen) settings
    object is replaced by one with `changes`, by the names create_app takes
    (SHOP_TAX_RATE_BP=1000). The settings before, to put back with restore_settings."""
    before = get_settings(app)
    app.extensions[SETTINGS] = before.replace(**changes)
    return before


def restore_settings(app: Flask, settings: Settings) -> None:
    app.extensions[SETTINGS] = settings


def settings_with(**changes: Any) -> Settings:
    """The default settings (an empty environment) with `changes`, by name: for code that
    takes a Settings object, tested without an app."""
    return Settings.from_mapping(settings_from_env({}, methods=METHODS)).replace(**changes)


@pytest.fixture
def products(app: Flask) -> dict[str, int]:
    """A small catalogue: {sku: product id}."""
    with app.app_context():
        tea = Category(name="Tea", slug="tea")
        mugs = Category(name="Mugs", slug="mugs")
        items = [
            Product(
                sku="TEA", name="Assam Tea", description="Malty black tea.", price_cents=1250, stock=100, category=tea
            ),
            Product(sku="MUG", name="Enamel Mug", description="A blue mug.", price_cents=825, stock=100, category=mugs),
            Product(
                sku="POT", name="Clay Teapot", description="Holds a litre.", price_cents=3100, stock=1, category=tea
            ),
            Product(sku="OLD", name="Retired Kettle", description="Gone.", price_cents=999, stock=5, active=False),
        ]
        db.session.add_all(items)
        db.session.commit()
        return {p.sku: p.id for p in items}


# ---------------------------------------------------------------- a browser-like client
class Browser:
    """The test client used like a browser: GET a page, submit one of its forms with the
    hidden fields it carries (CSRF token, checkout token) plus what the user types."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, url: str, **kw: Any) -> TestResponse:
        response = self.client.get(url, **kw)
        response.get_data()  # read it all, then close: a static file's handle is released
        response.close()
        return response

    def submit(self, page_url: str, action: str, data: dict[str, Any] | None = None, **kw: Any) -> TestResponse:
        page = self.client.get(page_url, follow_redirects=True)  # /products/<id> moves to its slug
        assert page.status_code == 200, f"GET {page_url}: {page.status_code}"
        form = self.form(page, action)
        values = {**form["fields"], **(data or {})}
        if kw.get("content_type") == "multipart/form-data":
            # Encoded here, in memory: the test client would spool a large body to a
            # temporary file and leave it open.
            files = {k: FileStorage(v[0], filename=v[1]) if isinstance(v, tuple) else v for k, v in values.items()}
            boundary, body = encode_multipart(files)
            kw["content_type"] = f"multipart/form-data; boundary={boundary}"
            return self.client.post(form["action"], data=body, **kw)
        return self.client.post(form["action"], data=values, **kw)

    @staticmethod
    def form(page: TestResponse, action: str) -> dict[str, Any]:
        return HiddenFields.form(page.get_data(as_text=True), action)

    def register(self, email: str, password: str = PASSWORD) -> TestResponse:
        return self.submit(
            "/auth/register", "/auth/register", {"email": email, "password": password, "confirm": password}
        )

    def login(self, email: str, password: str = PASSWORD, next_url: str | None = None) -> TestResponse:
        page = f"/auth/login?next={next_url}" if next_url else "/auth/login"
        return self.submit(page, "/auth/login", {"email": email, "password": password})

    def add(self, product_id: int, quantity: Any = 1) -> TestResponse:
        return self.submit(f"/products/{product_id}", f"/cart/add/{product_id}", {"quantity": quantity})

    def checkout(self, **address: str) -> TestResponse:
        return self.submit("/checkout", "/checkout", {**ADDRESS, **address})

    def csrf_token(self, page_url: str = "/auth/login") -> str:
        html = self.client.get(page_url, follow_redirects=True).get_data(as_text=True)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        assert match, f"no CSRF token on {page_url}"
        return match.group(1)


ADDRESS = {
    "full_name": "Ada Lovelace",
    "address": "12 Analytical Street",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
}


@pytest.fixture
def browser(app: Flask) -> Browser:
    return Browser(app.test_client())


def signed_in_browser(app: Flask, email: str) -> Browser:
    """A new visitor who registers through the form (and so is signed in)."""
    browser = Browser(app.test_client())
    response = browser.register(email)
    assert response.status_code == 303, response.get_data(as_text=True)
    return browser


def signed_in_admin(app: Flask, email: str = "owner@example.com") -> Browser:
    """A visitor who registers and is then made the owner (as `flask shop create-admin` would)."""
    browser = signed_in_browser(app, email)
    with app.app_context():
        db.session.execute(sa.update(User).where(User.email == email).values(role=Role.OWNER))
        db.session.commit()
    return browser


@pytest.fixture
def admin(app: Flask) -> Browser:
    """A signed-in owner, owner@example.com."""
    return signed_in_admin(app)


@pytest.fixture
def shopper(app: Flask) -> Browser:
    """A signed-in shopper with email ada@example.com."""
    return signed_in_browser(app, "ada@example.com")


def add_product(app: Flask, name: str, price_cents: int, stock: int = 100) -> int:
    """One more product in the catalogue; its id."""
    with app.app_context():
        product = Product(sku=name.upper().replace(" ", "-")[:64], name=name, price_cents=price_cents, stock=stock)
        db.session.add(product)
        db.session.commit()
        return product.id


def order_id_from(response: TestResponse) -> int:
    assert response.status_code == 303, (response.status_code, response.get_data(as_text=True)[:500])
    match = re.fullmatch(r"/orders/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def count(app: Flask, model: type, *where: Any) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


# ---------------------------------------------------------------- migrations
@pytest.fixture
def fresh(databases: TestDatabases, tmp_path: Path) -> Iterator[Flask]:
    """A shop on an empty database (no tables): for the migration tests, which upgrade it
    to a revision, write rows as that revision had them, and upgrade or downgrade."""
    url = databases.empty(tmp_path)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "t" * 32,
            "SHOP_INSTANCE_PATH": str(tmp_path / "instance"),
            "SHOP_BASE_URL": "http://shop.test",
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()
    databases.drop(url)


def rows(statement: str) -> list[tuple]:
    """The rows of a raw SQL statement (a migration test reads tables the models may not have)."""
    with db.engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(statement))]
