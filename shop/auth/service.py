"""Accounts: register and check credentials. Views do the signing in (Flask-Login)."""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from shop.database import transaction
from shop.extensions import db
from shop.mail.dispatcher import get_dispatcher
from shop.mail.messages import queue_email
from shop.models import User
from shop.urls import absolute_url_for

log = logging.getLogger(__name__)

RESET_TOKEN_MAX_AGE = 3600  # seconds a password-reset link stays valid


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so a wrong email takes as long as a
    wrong password and the timing does not tell which accounts exist."""
    return generate_password_hash("not anybody's password")


class EmailTaken(Exception):
    pass


def register_user(email: str, password: str, is_admin: bool = False) -> User:
    user = User(email=email.strip().lower(), is_admin=is_admin)
    user.set_password(password)
    try:
        with transaction():
            db.session.add(user)
    except IntegrityError:
        raise EmailTaken(email) from None
    return user


def find_user(email: str) -> User | None:
    return db.session.execute(sa.select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def authenticate(email: str, password: str) -> User | None:
    """The user with these credentials, or None (same answer and time for an unknown email)."""
    user = find_user(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if user.check_password(password) else None


# ---------------------------------------------------------------- password reset
def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _password_fingerprint(user: User) -> str:
    """Changes when the password changes, so a reset link works once."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def make_reset_token(user: User) -> str:
    return _reset_serializer().dumps({"user": user.id, "password": _password_fingerprint(user)})


def user_for_reset_token(token: str) -> User | None:
    """The user a reset link is for, or None if it is forged, expired or already used."""
    try:
        data = _reset_serializer().loads(token, max_age=RESET_TOKEN_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("user"), int):
        return None
    user = db.session.get(User, data["user"])
    if user is None or data.get("password") != _password_fingerprint(user):
        return None
    return user


def request_password_reset(email: str) -> None:
    """Email a reset link if the address has an account; do nothing visible otherwise, so
    the answer never tells whether an account exists."""
    user = find_user(email)
    if user is None:
        log.info("password reset asked for an address without an account")
        return
    link = absolute_url_for("auth.reset_password", token=make_reset_token(user))
    context = {"link": link, "minutes": RESET_TOKEN_MAX_AGE // 60}
    with transaction():
        email_id = queue_email(
            "password_reset",
            key=f"password_reset:{user.id}:{uuid.uuid4().hex}",
            recipient=user.email,
            subject=f"Reset your {current_app.config['SHOP_NAME']} password",
            **context,
        )
    get_dispatcher().hand_off([email_id])


def set_password(user: User, password: str) -> None:
    with transaction():
        user.set_password(password)
        db.session.add(user)
