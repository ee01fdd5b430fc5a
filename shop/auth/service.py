"""Accounts: register, check credentials, change them. Views do the signing in (Flask-Login).

Every credential change (a password reset, a password or address change) replaces the
account's session token in its own transaction, which refuses every session and remember
cookie issued before it, on every process (User.get_id, load_user). The view that made
the change signs its own browser in again with the new token.
"""

from __future__ import annotations

import functools
import logging
import uuid

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from shop.audit import record_change
from shop.auth.claims import enqueue_claim_email
from shop.auth.links import (
    CONFIRM_LINK_DAYS,
    RESET_LINK_SECONDS,
    LinkInvalid,
    fingerprint,
    read_link,
    sign_link,
)
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.mail.dispatcher import get_dispatcher
from shop.mail.messages import enqueue_email
from shop.models import Role, User, utcnow
from shop.urls import absolute_url_for

log = logging.getLogger(__name__)


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so a wrong email takes as long as a
    wrong password and the timing does not tell which accounts exist."""
    return generate_password_hash("not anybody's password")


class EmailTaken(Exception):
    pass


class WrongPassword(Exception):
    """The current password given to confirm a change is not the account's."""


def _normalised(email: str) -> str:
    return email.strip().lower()


def find_user(email: str) -> User | None:
    """The account with this address (compared stripped and lower-cased), or None."""
    return db.session.execute(sa.select(User).where(User.email == _normalised(email))).scalar_one_or_none()


def authenticate(email: str, password: str) -> User | None:
    """The user with these credentials, or None (same answer and time for an unknown email).
    Count the attempt first (shop.auth.throttle.count_login_attempt)."""
    user = find_user(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if user.check_password(password) else None


# ---------------------------------------------------------------- registering
def register_user(email: str, password: str, role: Role = Role.CUSTOMER) -> User:
    """Create the account and email a link to confirm the address; if guests ordered with
    this address, also email a link that adds those orders (only someone who reads that
    mailbox can claim them). An owner or staff account (made by a command) is recorded in
    the audit trail. Raises EmailTaken when the address has an account."""
    user = User(email=_normalised(email), role=role)
    user.set_password(password)
    try:
        with transaction():
            db.session.add(user)
            db.session.flush()
            if role != Role.CUSTOMER:
                record_change(None, "user.role", "user", user.id, None, {"role": str(role)})
            email_ids = [
                _enqueue_confirm_email(user, key=f"confirm_email:user-{user.id}"),
                enqueue_claim_email(user, key=f"claim_orders:user-{user.id}"),
            ]
    except IntegrityError:
        raise EmailTaken(email) from None
    get_dispatcher().hand_off(email_ids)
    return user


def make_admin(user: User) -> None:
    """Make `user` an owner (every page of /admin); by a command, so the audit trail names
    no one."""
    with transaction():
        db.session.add(user)
        if user.role != Role.OWNER:
            record_change(None, "user.role", "user", user.id, {"role": user.role}, {"role": str(Role.OWNER)})
        user.role = Role.OWNER


def register_shopper(email: str, password: str) -> User | None:
    """The register form: the new account (to be signed in), or None when the address has
    an account already. Then nothing is created and the account's owner is emailed that
    someone tried to register with their address (at most once a day per account, so the
    form cannot flood a mailbox). Both cases hash the password and enqueue one email, so
    they take about as long; the view answers both alike (see docs/security.md)."""
    try:
        return register_user(email, password)
    except EmailTaken:
        pass
    user = find_user(email)
    if user is None:  # deleted meanwhile: nothing to warn about
        return None
    day = utcnow().date().isoformat()
    with transaction():
        email_id = enqueue_email(
            "account_exists",
            key=f"account_exists:user-{user.id}:{day}",
            recipient=user.email,
            subject=_("Someone tried to register at %(shop)s with your address", shop=get_settings().shop_name),
            email=user.email,
            login_url=absolute_url_for("auth.login"),
            reset_url=absolute_url_for("auth.reset_request"),
        )
    get_dispatcher().hand_off([email_id])
    log.info("registration with the address of account %s refused silently", user.id)
    return None


def _enqueue_confirm_email(user: User, key: str) -> int | None:
    """In the caller's transaction: the email with the link that confirms `user`'s address."""
    token = sign_link("confirm-email", [user.id, user.email])
    return enqueue_email(
        "confirm_email",
        key=key,
        recipient=user.email,
        subject=_("Confirm your address for %(shop)s", shop=get_settings().shop_name),
        email=user.email,
        link=absolute_url_for("auth.confirm_email", token=token),
        days=CONFIRM_LINK_DAYS,
        reset_url=absolute_url_for("auth.reset_request"),
    )


def user_for_confirm_token(token: str) -> User:
    """The account a confirmation link is for. Raises LinkInvalid (or LinkExpired) when it
    is forged, too old, or for an address the account no longer has."""
    user_id, email = read_link("confirm-email", token, CONFIRM_LINK_DAYS * 24 * 3600, length=2)
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.email != email:
        raise LinkInvalid(_("This link is not valid: the address it confirms has changed."))
    return user


def confirm_address(token: str) -> User:
    """Record that the link sent to the account's address was opened (email_confirmed_at);
    the account. Raises as user_for_confirm_token."""
    user = user_for_confirm_token(token)
    if user.email_confirmed_at is None:
        with transaction():
            user.email_confirmed_at = utcnow()
            db.session.add(user)
    return user


# ---------------------------------------------------------------- credentials
def _password_fingerprint(user: User) -> str:
    """Changes when the password changes, so a reset link works once."""
    return fingerprint(user.password_hash)


def make_reset_token(user: User) -> str:
    """The token of a password-reset link for `user`: it names the password it replaces."""
    return sign_link("password-reset", [user.id, _password_fingerprint(user)])


def user_for_reset_token(token: str) -> User | None:
    """The user a reset link is for, or None if it is forged, expired or already used."""
    try:
        user_id, password_print = read_link("password-reset", token, RESET_LINK_SECONDS, length=2)
    except LinkInvalid:
        return None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or password_print != _password_fingerprint(user):
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
    with transaction():
        email_id = enqueue_email(
            "password_reset",
            key=f"password_reset:{user.id}:{uuid.uuid4().hex}",
            recipient=user.email,
            subject=_("Reset your %(shop)s password", shop=get_settings().shop_name),
            link=link,
            minutes=RESET_LINK_SECONDS // 60,
        )
    get_dispatcher().hand_off([email_id])


def complete_password_reset(user: User, password: str) -> None:
    """Set the password chosen through an emailed reset link. Every other session of the
    account ends (a new session token), the address counts as confirmed (the link was read
    in its mailbox), and if guest orders wait for the account a new claim link is emailed
    (the new token voids the earlier ones)."""
    with transaction():
        user.set_password(password)
        user.replace_session_token()
        if user.email_confirmed_at is None:
            user.email_confirmed_at = utcnow()
        db.session.add(user)
        db.session.flush()
        email_id = enqueue_claim_email(user, key=f"claim_orders:user-{user.id}:reset-{uuid.uuid4().hex}")
    get_dispatcher().hand_off([email_id])


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Replace a signed-in user's password; every other session of the account ends.
    Raises WrongPassword when `current_password` is not the account's (count the attempt
    as a sign-in attempt first: it is one). The caller signs its own browser in again."""
    if not user.check_password(current_password):
        raise WrongPassword()
    with transaction():
        user.set_password(new_password)
        user.replace_session_token()
        db.session.add(user)


def change_email(user: User, current_password: str, new_email: str) -> None:
    """Move the account to another address, unconfirmed until the link emailed there is
    opened; every other session of the account ends. Raises WrongPassword, or EmailTaken
    when another account has that address. The caller signs its own browser in again."""
    if not user.check_password(current_password):
        raise WrongPassword()
    try:
        with transaction():
            user.email = _normalised(new_email)
            user.email_confirmed_at = None
            user.replace_session_token()
            db.session.add(user)
            db.session.flush()
            email_id = _enqueue_confirm_email(user, key=f"confirm_email:user-{user.id}:{uuid.uuid4().hex}")
    except IntegrityError:
        db.session.refresh(user)
        raise EmailTaken(new_email) from None
    get_dispatcher().hand_off([email_id])
