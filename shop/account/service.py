"""A signed-in shopper's own account: a new email address (confirmed by a link sent to it),
the address book, and deleting the account (confirmed by a link sent to its address).

Each link is signed (shop/auth/links.py) and names the account's session token, so a
password change, an address change or a sign-out everywhere voids the links sent before.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from shop.addresses import ShippingAddress
from shop.auth.links import LinkInvalid, fingerprint, read_link, sign_link
from shop.auth.service import EmailTaken, WrongPassword, find_user
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.mail.dispatcher import get_dispatcher
from shop.mail.messages import enqueue_email
from shop.models import Address, User, utcnow
from shop.privacy import Erasure, erase_customer
from shop.urls import absolute_url_for

EMAIL_CHANGE_LINK_DAYS = 2
DELETION_LINK_HOURS = 24
MAX_ADDRESSES = 20


class AddressNotFound(Exception):
    """No such address in this shopper's book."""


class TooManyAddresses(Exception):
    pass


class OwnerAccount(Exception):
    """An owner's or staff member's account is not deleted from the account page (the owner
    manages staff; shop/privacy.py refuses to erase either)."""


# ---------------------------------------------------------------- email address
def request_email_change(user: User, current_password: str, new_email: str) -> None:
    """Email a link to `new_email` that moves the account there once it is opened; nothing
    changes before. Raises WrongPassword (count the attempt as a sign-in attempt first).
    If another account has that address, that address is told instead, and the answer is
    the same (the form tells nobody which addresses have accounts)."""
    if not user.check_password(current_password):
        raise WrongPassword()
    new_email = new_email.strip().lower()
    shop = get_settings().shop_name
    with transaction():
        if find_user(new_email) is not None:
            email_id = enqueue_email(
                "email_change_taken",
                key=f"email_change_taken:user-{user.id}:{uuid.uuid4().hex}",
                recipient=new_email,
                subject=_("Your address was given for another %(shop)s account", shop=shop),
                email=new_email,
            )
        else:
            token = sign_link("change-email", [user.id, user.email, new_email, fingerprint(user.session_token)])
            email_id = enqueue_email(
                "email_change",
                key=f"email_change:user-{user.id}:{uuid.uuid4().hex}",
                recipient=new_email,
                subject=_("Confirm your new address for %(shop)s", shop=shop),
                email=new_email,
                link=absolute_url_for("account.confirm_email_change", token=token),
                days=EMAIL_CHANGE_LINK_DAYS,
            )
    get_dispatcher().hand_off([email_id])


def email_change_of(token: str) -> tuple[User, str]:
    """The account and new address an email-change link is for. Raises LinkInvalid (or
    LinkExpired) when it is forged, old, or stale (the account changed since it was sent)."""
    user_id, old, new, token_print = read_link("change-email", token, EMAIL_CHANGE_LINK_DAYS * 24 * 3600, length=4)
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or user.email != old or token_print != fingerprint(user.session_token):
        raise LinkInvalid(_("This link stopped working: the account's address or password changed since it was sent."))
    return user, new


def complete_email_change(token: str) -> User:
    """Move the account to the address the link was sent to (which is thereby confirmed),
    end every session of the account (a new session token), and tell the old address.
    Raises LinkInvalid, or EmailTaken when an account took the address meanwhile."""
    user, new_email = email_change_of(token)
    old_email = user.email
    try:
        with transaction():
            user.email = new_email
            user.email_confirmed_at = utcnow()
            user.replace_session_token()
            db.session.flush()
            email_id = enqueue_email(
                "email_changed",
                key=f"email_changed:user-{user.id}:{uuid.uuid4().hex}",
                recipient=old_email,
                subject=_("Your %(shop)s address was changed", shop=get_settings().shop_name),
                old_email=old_email,
                new_email=new_email,
                reset_url=absolute_url_for("auth.reset_request"),
            )
    except IntegrityError:
        db.session.rollback()
        raise EmailTaken(new_email) from None
    get_dispatcher().hand_off([email_id])
    return user


# ---------------------------------------------------------------- address book
def addresses_of(user: User) -> list[Address]:
    """The shopper's saved addresses, the default first."""
    return list(
        db.session.execute(
            sa.select(Address).where(Address.user_id == user.id).order_by(Address.is_default.desc(), Address.id)
        ).scalars()
    )


def address_of(user: User, address_id: int) -> Address:
    address = db.session.get(Address, address_id)
    if address is None or address.user_id != user.id:
        raise AddressNotFound(address_id)  # another shopper's is not found either
    return address


def save_address(user: User, address_id: int | None, values: ShippingAddress, make_default: bool) -> Address:
    """Add an address (`address_id` None) or change one; the first one, or one saved with
    `make_default`, becomes the default. Raises AddressNotFound, TooManyAddresses."""
    with transaction():
        if address_id is None:
            count = db.session.execute(sa.select(sa.func.count()).where(Address.user_id == user.id)).scalar_one()
            if count >= MAX_ADDRESSES:
                raise TooManyAddresses()
            address = Address(user_id=user.id, is_default=False)
            db.session.add(address)
            make_default = make_default or count == 0
        else:
            address = address_of(user, address_id)
        for name, value in vars(values).items():
            setattr(address, name, value)
        if make_default:
            _make_default(user, address)
    return address


def _make_default(user: User, address: Address) -> None:
    # First the old default off, flushed, then the new one on: the unique index allows one.
    db.session.execute(
        sa.update(Address).where(Address.user_id == user.id, Address.is_default.is_(True)).values(is_default=False)
    )
    db.session.flush()
    address.is_default = True


def make_default_address(user: User, address_id: int) -> None:
    """Raises AddressNotFound."""
    with transaction():
        _make_default(user, address_of(user, address_id))


def delete_address(user: User, address_id: int) -> None:
    """Remove an address; if it was the default, the oldest one left becomes it."""
    with transaction():
        address = address_of(user, address_id)
        was_default = address.is_default
        db.session.delete(address)
        db.session.flush()
        if was_default:
            left = db.session.execute(
                sa.select(Address).where(Address.user_id == user.id).order_by(Address.id).limit(1)
            ).scalar_one_or_none()
            if left is not None:
                left.is_default = True


# ---------------------------------------------------------------- deleting the account
def request_account_deletion(user: User, current_password: str) -> None:
    """Email the account's address a link that deletes the account. Raises WrongPassword
    (count the attempt first), OwnerAccount for the owner or staff."""
    if not user.check_password(current_password):
        raise WrongPassword()
    if user.is_staff:
        raise OwnerAccount()
    token = sign_link("delete-account", [user.id, user.email, fingerprint(user.session_token)])
    with transaction():
        email_id = enqueue_email(
            "delete_account",
            key=f"delete_account:user-{user.id}:{uuid.uuid4().hex}",
            recipient=user.email,
            subject=_("Confirm: delete your %(shop)s account", shop=get_settings().shop_name),
            link=absolute_url_for("account.confirm_deletion", token=token),
            hours=DELETION_LINK_HOURS,
        )
    get_dispatcher().hand_off([email_id])


def check_deletion_token(user: User, token: str) -> None:
    """Raises LinkInvalid unless `token` was sent to this account's address since its
    credentials last changed, within DELETION_LINK_HOURS."""
    user_id, email, token_print = read_link("delete-account", token, DELETION_LINK_HOURS * 3600, length=3)
    if user_id != user.id or email != user.email:
        raise LinkInvalid(_("This link is for another account: sign in with the account it was sent to."))
    if token_print != fingerprint(user.session_token):
        raise LinkInvalid(_("This link stopped working: the account's password or address changed since it was sent."))


def delete_account(user: User, token: str) -> Erasure:
    """Delete the account and erase its customer's details (shop/privacy.py). Raises
    LinkInvalid as check_deletion_token, OwnerAccount for the owner or staff."""
    check_deletion_token(user, token)
    if user.is_staff:
        raise OwnerAccount()
    return erase_customer(user.email)
