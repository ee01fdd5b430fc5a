"""Swiftcart: a small web shop whose checkout never waits for email.

create_app() builds the application: settings, extensions, blueprints, commands, and the
mail dispatcher (whose threads start lazily, in the process that serves requests).
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, has_request_context, session
from flask_babel import lazy_gettext as _l
from werkzeug.local import LocalProxy

from config import ConfigError, Settings, check_production, settings_from_env
from shop.extensions import SETTINGS, babel, csrf, db, get_settings, limiter, login_manager, migrate
from shop.extensions import mail as mail_extension  # not "mail": that name is the shop.mail package
from shop.files import keep_from_others, private_folder
from shop.models import User
from shop.payment import METHODS

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the shop. `config` overrides settings read from the environment, by the same
    names (tests). Raises ConfigError for settings the shop cannot run with."""
    values = {**settings_from_env(methods=METHODS), **(config or {})}
    if values["SHOP_ENV"] == "production":
        check_production(values, METHODS)
    settings = Settings.from_mapping(values)
    app = Flask(
        __name__,
        instance_path=str(Path(settings.instance_path).resolve()) if settings.instance_path else None,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    own = set(Settings.names())
    app.config.from_mapping({name: value for name, value in values.items() if name not in own})
    app.extensions[SETTINGS] = settings
    keep_from_others(private_folder(Path(app.instance_path)))  # the database, uploads, the key
    _finish_flask_config(app, settings)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    mail_extension.init_app(app)
    # One language per shop (SHOP_LOCALE), for pages and for the emails that threads and
    # commands render outside any request alike.
    babel.init_app(
        app,
        default_locale=settings.locale,
        locale_selector=lambda: get_settings(app).locale,
        timezone_selector=lambda: get_settings(app).timezone,
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see that page.")
    login_manager.login_message_category = "info"
    # "basic": a session used from a new address is no longer "fresh" ("strong" would sign
    # out every phone that changes networks during a checkout).
    login_manager.session_protection = "basic"
    limiter.init_app(app)

    from shop.database import configure_sqlite
    from shop.inputs import IdConverter

    configure_sqlite(app)
    app.url_map.converters["id"] = IdConverter  # every id in a path: <id:product_id>
    _register_blueprints(app)
    _register_templates(app)

    from shop.cli import register_commands
    from shop.errors import register_error_pages
    from shop.security import register_security

    register_commands(app)
    register_error_pages(app)
    register_security(app)
    dispatch = _mail_dispatch(app, settings)
    app.extensions["swiftcart.mail"] = dispatch
    if not app.config.get("TESTING"):
        # The first request of a serving process starts the mail pool and its start-up
        # sweep (gunicorn.conf.py starts it even before that). CLI commands never start it.
        app.before_request(dispatch.start)
    app.logger.setLevel(settings.log_level)  # the "shop" logger; shop.* module loggers pass up to it
    return app


def _mail_dispatch(app: Flask, settings: Settings) -> Any:
    """The one place that reads SHOP_MAIL_DISPATCH: an object with hand_off(ids), start()
    and stop() (shop/mail/dispatcher.py, delivery.py, or tasks.py for Celery)."""
    if settings.mail_dispatch == "celery":
        from shop.mail.tasks import CeleryDispatch  # Celery is an optional extra

        return CeleryDispatch(app)
    from shop.mail.delivery import SyncDispatch
    from shop.mail.dispatcher import ThreadDispatch

    return {"thread": ThreadDispatch, "sync": SyncDispatch}[settings.mail_dispatch](app)


def _finish_flask_config(app: Flask, settings: Settings) -> None:
    config = app.config
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'shop.db'}"
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgres://"):  # Heroku-style URLs
        config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + config["SQLALCHEMY_DATABASE_URI"][11:]
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from shop.database import sqlite_engine_options

        config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", sqlite_engine_options())
    if settings.env != "production" and not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _development_secret_key(Path(app.instance_path) / "secret_key")


def _development_secret_key(path: Path) -> str:
    """A random key kept in the instance folder, so sessions survive a restart in
    development without any secret written in the code. Production sets SECRET_KEY."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key
        raise ConfigError(f"{path} is empty; delete it and start again") from None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return path.read_text().strip()


def _register_blueprints(app: Flask) -> None:
    from shop import account, admin, auth, cart, catalog, checkout, health, orders, webhooks

    for module in (catalog, cart, checkout, orders, auth, account, admin, health, webhooks):
        app.register_blueprint(module.bp)


def _register_templates(app: Flask) -> None:
    from shop.auth.forms import LogoutForm
    from shop.cart.service import Cart
    from shop.clock import shop_date, shop_datetime
    from shop.countries import country_name
    from shop.language import in_sentence, pickup_address, tax_name
    from shop.models import OrderStatus
    from shop.money import format_money
    from shop.pricing import format_rate

    @app.template_filter("money")
    def money_filter(minor_units: int) -> str:
        """Minor units of SHOP_CURRENCY as SHOP_LOCALE writes them: '12,50 €' (de)."""
        settings = get_settings(app)
        return format_money(minor_units, settings.currency, settings.locale)

    app.add_template_filter(format_rate, "rate")
    app.add_template_filter(in_sentence, "in_sentence")
    # Stored UTC times in the shop's zone and locale (shop/clock.py): {{ order.created_at|shop_datetime }}
    app.add_template_filter(shop_datetime, "shop_datetime")
    app.add_template_filter(shop_date, "shop_date")

    @app.template_filter("country_name")
    def country_name_filter(value: str) -> str:
        """An ISO code by its name in the shop's language ('DE' -> 'Germany'); older free text as it is."""
        return country_name(value, get_settings(app).locale)

    app.add_template_filter(OrderStatus.label_of, "status_label")

    @app.context_processor
    def layout_values() -> dict[str, Any]:
        settings = get_settings(app)
        values: dict[str, Any] = {
            "settings": settings,
            "shop_name": settings.shop_name,
            "tax_name": tax_name(settings),  # these two in the shop's language when left at their defaults
            "pickup_address": pickup_address(settings),
        }
        if has_request_context():  # emails are rendered by commands and threads too
            values["cart_count"] = Cart(session).count()
            # Built only if the page uses it (signed in): not for a guest's page, and not
            # for the emails that place_order renders inside its write transaction.
            values["logout_form"] = LocalProxy(lambda: LogoutForm(formdata=None))
        return values


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user a session or remember cookie names ("<id>:<session token>", User.get_id),
    or None when the account is gone or its token was replaced since the cookie was issued
    (a password reset or change): the request is then anonymous. The token is compared in
    constant time (hmac.compare_digest), so the answer's timing does not reveal it."""
    if not isinstance(user_id, str):
        return None
    number, _, token = user_id.partition(":")
    # The id column is a 32-bit INTEGER: a larger number would be a 500 on PostgreSQL.
    if not (token and number.isascii() and number.isdigit() and len(number) <= 10 and int(number) < 2**31):
        return None
    user = db.session.get(User, int(number))
    if user is None or not hmac.compare_digest(user.session_token.encode(), token.encode()):
        return None
    return user
