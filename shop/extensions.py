"""The Flask extensions, created once here and bound to an app in create_app(); and the
accessor of the shop's settings, which create_app() keeps among the app's extensions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

if TYPE_CHECKING:
    from config import Settings


class Base(DeclarativeBase):
    # Named constraints, so migrations can alter them later (SQLite rebuilds tables).
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


# expire_on_commit=False: after a business transaction the view still reads the objects it
# just wrote (the order, the current user) without a second round trip to the database.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
# Translations (shop/translations/<locale>/LC_MESSAGES/messages.po) and Babel's formats.
babel = Babel()
mail = Mail()
csrf = CSRFProtect()
login_manager = LoginManager()
# Counts in memory by default (per process); RATELIMIT_STORAGE_URI=redis://... shares the
# counts between gunicorn workers and machines.
limiter = Limiter(key_func=get_remote_address)


SETTINGS = "swiftcart.settings"  # the key of the Settings object in app.extensions


def get_settings(app: Flask | None = None) -> Settings:
    """The shop's settings (config.Settings) of `app`, or of the app of the current context:
    the one frozen object create_app() made. Raises RuntimeError outside an app context."""
    return (app or current_app).extensions[SETTINGS]
