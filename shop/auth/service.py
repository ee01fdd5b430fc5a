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
from shop.models import Order, User
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
    """Create the account; if guests ordered with this email, email a link that adds
    those orders to it (only someone who reads that mailbox can claim them)."""
    user = User(email=email.strip().lower(), is_admin=is_admin)
    user.set_password(password)
    try:
        with transaction():
            db.session.add(user)
            db.session.flush()
            email_id = queue_claim_email(user, key=f"claim_orders:user-{user.id}")
    except IntegrityError:
        raise EmailTaken(email) from None
    get_dispatcher().hand_off([email_id])
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


# ---------------------------------------------------------------- a guest's orders, claimed
CLAIM_LINK_DAYS = 7


def _claim_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="claim-orders")


def guest_orders_of(email: str) -> list[Order]:
    return list(
        db.session.execute(
            sa.select(Order).where(Order.email == email, Order.user_id.is_(None)).order_by(Order.id)
        ).scalars()
    )


def queue_claim_email(user: User, key: str, just_ordered: bool = False) -> int | None:
    """Email `user` a link that adds the guest orders with their address to the account:
    when they register, or when they order as a guest while having an account."""
    count = len(guest_orders_of(user.email))
    if not count:
        return None
    token = _claim_serializer().dumps([user.id, user.email])
    return queue_email(
        "claim_orders",
        key=key,
        recipient=user.email,
        subject=f"Add your {current_app.config['SHOP_NAME']} guest orders to your account",
        email=user.email,
        count=count,
        days=CLAIM_LINK_DAYS,
        just_ordered=just_ordered,
        claim_url=absolute_url_for("auth.claim_orders", token=token),
    )


class ClaimLinkInvalid(Exception):
    """The message says why, for the shopper."""


def check_claim_token(user: User, token: str) -> None:
    """Raises ClaimLinkInvalid unless `token` was sent to `user`'s address, and is recent."""
    try:
        user_id, email = _claim_serializer().loads(token, max_age=CLAIM_LINK_DAYS * 24 * 3600)
    except SignatureExpired:
        raise ClaimLinkInvalid("This link has expired.") from None
    except (BadSignature, ValueError, TypeError):
        raise ClaimLinkInvalid("This link is not valid.") from None
    if user_id != user.id or email != user.email:
        raise ClaimLinkInvalid("This link is for another account: sign in with the account it was sent to.")


def claim_guest_orders(user: User, token: str) -> int:
    """Attach the guest orders placed with the user's email; how many."""
    check_claim_token(user, token)
    with transaction():
        claimed = db.session.execute(
            sa.update(Order)
            .where(Order.email == user.email, Order.user_id.is_(None))
            .values(user_id=user.id)
            .execution_options(synchronize_session=False)
        ).rowcount
    log.info("user %s claimed %d guest order(s)", user.id, claimed)
    return claimed
