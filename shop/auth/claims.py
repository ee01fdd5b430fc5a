"""A guest's orders, added to the account with the same address through an emailed link.

Only the emailed link adds them: registering an address proves nothing, reading its
mailbox does. The link names the account, its address and its session token, so a link
sent before the password was reset (or the address changed) no longer works: whoever
registered someone else's address cannot use an old link after the owner takes the
account back. A reset emails a fresh link (shop/auth/service.py).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_babel import gettext as _

from shop.auth.links import CLAIM_LINK_DAYS, LinkExpired, LinkInvalid, fingerprint, read_link, sign_link
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.mail.messages import enqueue_email
from shop.models import Order, User
from shop.urls import absolute_url_for

log = logging.getLogger(__name__)


class ClaimLinkInvalid(Exception):
    """The message says why, for the shopper."""


def guest_orders_of(email: str) -> list[Order]:
    """The guest orders placed with this address, not yet in any account, oldest first."""
    return list(
        db.session.execute(
            sa.select(Order).where(Order.email == email, Order.user_id.is_(None)).order_by(Order.id)
        ).scalars()
    )


def enqueue_claim_email(user: User, key: str, just_ordered: bool = False) -> int | None:
    """Email `user` a link that adds the guest orders with their address to the account:
    when they register, when they order as a guest while having an account, and after a
    password reset (which voids the links sent before). The outbox id, or None when
    there are no such orders (or `key` was enqueued before). Call it in a transaction."""
    count = len(guest_orders_of(user.email))
    if not count:
        return None
    token = sign_link("claim-orders", [user.id, user.email, fingerprint(user.session_token)])
    return enqueue_email(
        "claim_orders",
        key=key,
        recipient=user.email,
        subject=_("Add your %(shop)s guest orders to your account", shop=get_settings().shop_name),
        email=user.email,
        count=count,
        days=CLAIM_LINK_DAYS,
        just_ordered=just_ordered,
        claim_url=absolute_url_for("auth.claim_orders", token=token),
    )


def check_claim_token(user: User, token: str) -> None:
    """Raises ClaimLinkInvalid unless `token` was sent to `user`'s address, is recent, and
    was sent since the account's password last changed."""
    try:
        user_id, email, token_print = read_link("claim-orders", token, CLAIM_LINK_DAYS * 24 * 3600, length=3)
    except LinkExpired as error:
        raise ClaimLinkInvalid(str(error)) from None
    except LinkInvalid as error:
        raise ClaimLinkInvalid(str(error)) from None
    if user_id != user.id or email != user.email:
        raise ClaimLinkInvalid(_("This link is for another account: sign in with the account it was sent to."))
    if token_print != fingerprint(user.session_token):
        raise ClaimLinkInvalid(
            _(
                "This link stopped working when the account's password or address changed. "
                "If there were guest orders to add, a new link was emailed then."
            )
        )


def claim_guest_orders(user: User, token: str) -> int:
    """Attach the guest orders placed with the user's email; how many.
    Raises ClaimLinkInvalid as check_claim_token does."""
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
