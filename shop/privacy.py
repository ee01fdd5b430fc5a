"""Erasing a customer (GDPR art. 17, "right to erasure"): what the shop holds about a
person goes, what the books need stays.

Erased: the account (its password hash, sessions, saved addresses), and on every order of
the account or placed as a guest with its address the name, street, town, postal code,
country and email address, which become placeholders. The emails the shop sent or will
send to the person are deleted from the outbox, and the bodies of the owner's emails about
those orders ("new order", which quote the address) are blanked.
Kept: the orders themselves, their lines, amounts, tax, status history and numbers, so
revenue and tax figures do not change (invoices and tax reports are kept for the books).

Called by the shopper's own account deletion (shop/account) and by the owner's admin
(/admin/customers), which also exports what the shop holds about an address
(shop/customer_data.py).
Each erasure is recorded in the audit trail, naming the orders (by number) and what was
erased, never the address. The owner's and staff accounts are not erased (StaffAccount):
the owner takes a staff member's role away first (/admin/staff).
Sign-in counters (shop/auth/throttle.py) name no address, only a digest, and expire.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import sqlalchemy as sa

from shop.audit import Actor, record_change
from shop.database import transaction
from shop.extensions import db
from shop.models import Address, Order, OrderStatusChange, OutboxEmail, User

log = logging.getLogger(__name__)

ERASED = "(erased)"
# The .invalid top-level domain is reserved (RFC 2606, RFC 6761): it never reaches a mailbox,
# and no form of the shop accepts it, so no account can claim these orders.
ERASED_EMAIL = "erased@erased.invalid"


@dataclass(frozen=True)
class Erasure:
    """What erase_customer changed."""

    account: bool  # an account was deleted
    orders: int  # orders whose customer details became placeholders
    addresses: int
    emails_deleted: int
    emails_blanked: int


class StaffAccount(Exception):
    """The address is the owner's or a staff member's account: not erased."""


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class HeldRecords:
    """Where the shop holds a person's data: their account (or None), and conditions on
    Order and OutboxEmail that match their orders and the emails sent to them."""

    user: User | None
    orders: sa.ColumnElement[bool]
    emails: sa.ColumnElement[bool]


def records_of(email: str) -> HeldRecords:
    """What the shop holds about the person with this email address (any case): the
    account, the orders (of the account, and guest orders placed with its address or one
    its orders went to) and the emails to them. What erase_customer erases and
    shop/customer_data.py exports."""
    email = email.strip().lower()
    user = db.session.execute(sa.select(User).where(sa.func.lower(User.email) == email)).scalar_one_or_none()
    return _records_of(email, user)


def _records_of(email: str, user: User | None) -> HeldRecords:
    # The person's addresses: this one, and those the account's orders went to (an
    # address it had before), whose guest orders are theirs too.
    addresses = {email}
    if user is not None:
        used = db.session.execute(sa.select(Order.email).where(Order.user_id == user.id)).scalars()
        addresses |= {address.lower() for address in used}
    mine = sa.func.lower(Order.email).in_(sorted(addresses))
    if user is not None:
        mine = sa.or_(mine, Order.user_id == user.id)
    to_them = sa.func.lower(OutboxEmail.recipient).in_(sorted(addresses))
    if user is not None:  # also what went to an address the account had before
        keyed = _like_escaped(f"user-{user.id}")
        to_them = sa.or_(
            to_them,
            OutboxEmail.key.like(f"%:{keyed}", escape="\\"),
            OutboxEmail.key.like(f"%:{keyed}:%", escape="\\"),
            OutboxEmail.key.like(f"password\\_reset:{user.id}:%", escape="\\"),
        )
    return HeldRecords(user, mine, to_them)


def erase_customer(email: str, by: Actor | None = None) -> Erasure:
    """Erase the customer with this email address (an account, guest orders, or both), in
    one transaction; what changed. With an account, the guest orders placed with any
    address its own orders went to are erased too (an address it had before). Addresses
    are compared without regard to case. An unknown one changes nothing (Erasure of zeros,
    no audit entry). `by`: the owner erasing; None: the customer deleting their own account.
    Raises StaffAccount."""
    email = email.strip().lower()
    with transaction():
        user = db.session.execute(sa.select(User).where(sa.func.lower(User.email) == email)).scalar_one_or_none()
        if user is not None and user.is_staff:
            raise StaffAccount()
        held = _records_of(email, user)
        erased_orders = db.session.execute(
            sa.select(Order.id, Order.number).where(held.orders).order_by(Order.id)
        ).all()
        order_ids = [order_id for order_id, _ in erased_orders]
        to_them = held.emails
        emails_deleted = db.session.execute(sa.delete(OutboxEmail).where(to_them)).rowcount
        emails_blanked = 0
        for order_id in order_ids:  # the owner's emails about these orders quote the address
            emails_blanked += db.session.execute(
                sa.update(OutboxEmail)
                .where(OutboxEmail.key.like(f"%:{order_id}"))
                .values(text_body=ERASED, html_body="", raw_message=None)
            ).rowcount
        if order_ids:
            db.session.execute(
                sa.update(Order)
                .where(Order.id.in_(order_ids))
                .values(
                    user_id=None,
                    email=ERASED_EMAIL,
                    full_name=ERASED,
                    address=ERASED,
                    city=ERASED,
                    postal_code="",
                    country="",
                )
                .execution_options(synchronize_session=False)
            )
        address_count = 0
        if user is not None:
            address_count = db.session.execute(sa.delete(Address).where(Address.user_id == user.id)).rowcount
            db.session.execute(
                sa.update(OrderStatusChange)
                .where(OrderStatusChange.changed_by_id == user.id)
                .values(changed_by_id=None)
            )
            db.session.execute(sa.delete(User).where(User.id == user.id))
        erasure = Erasure(user is not None, len(order_ids), address_count, emails_deleted, emails_blanked)
        if user is not None or order_ids:
            record_change(
                by,
                "customer.erased",
                "customer",
                user.id if user is not None else None,
                {"account": user is not None, "orders": [number for _, number in erased_orders]},
                {"requested_by": "owner" if by is not None else "customer", **dataclasses.asdict(erasure)},
            )
    db.session.expire_all()  # objects loaded before (the signed-in user) are gone or changed
    log.info("customer erased: %s", erasure)  # never the address itself
    return erasure
