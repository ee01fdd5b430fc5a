"""Accounts: register and check credentials. Views do the signing in (Flask-Login)."""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from shop.database import transaction
from shop.extensions import db
from shop.models import User


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
