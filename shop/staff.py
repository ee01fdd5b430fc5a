"""Who works in the back office: the owner (every admin page) and staff members (the orders
and their emails; shop/admin/access.py says which page is whose). The owner gives an
existing account the staff role, or takes it away, at /admin/staff; `flask shop
create-staff EMAIL` does the same from the command line (creating the account if need be),
`flask shop create-admin EMAIL` makes an owner. Every change of role is in the audit trail.
"""

from __future__ import annotations

import sqlalchemy as sa

from shop.audit import Actor, record_change
from shop.database import transaction
from shop.extensions import db
from shop.models import Role, User


class AccountNotFound(Exception):
    """No account has this email address (the person registers first)."""


class RoleRefused(Exception):
    """This change of role is not made here; the message says why."""


def staff_members() -> list[User]:
    """The owners, then the staff members, each A-Z by email."""
    statement = sa.select(User).where(User.is_staff).order_by(User.role != Role.OWNER, User.email)
    return list(db.session.execute(statement).scalars())


def set_role(email: str, role: Role, *, by: Actor | None) -> User:
    """Make the account with this email address (any case) a staff member (`Role.STAFF`) or
    a customer again (`Role.CUSTOMER`), recorded in the audit trail as done `by` this user;
    the account. A change to or from the owner's role is refused: owners are made with
    `flask shop create-admin`, on the server. Setting the role it has changes nothing.
    Raises AccountNotFound, RoleRefused."""
    if role not in (Role.STAFF, Role.CUSTOMER):
        raise RoleRefused(f"The {Role(role).label.lower()} role is given with `flask shop create-admin`.")
    with transaction():
        user = db.session.execute(
            sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()).with_for_update()
        ).scalar_one_or_none()
        if user is None:
            raise AccountNotFound(email)
        if user.is_owner:
            raise RoleRefused(f"{user.email} is an owner; an owner's role is not changed here.")
        if user.role != role:
            record_change(by, "user.role", "user", user.id, {"role": user.role}, {"role": str(role)})
            user.role = role
    return user
