"""Accounts: who signs in, and the token every session of theirs names."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from shop.extensions import db
from shop.models.base import utcnow

if TYPE_CHECKING:  # the relationships' other ends
    from shop.models.orders import Order


class Role(enum.StrEnum):
    """What an account may do in the back office (/admin); stored as these strings. Which
    admin page each role may open is marked on the page itself (shop/admin/access.py)."""

    OWNER = "owner"  # every page: figures, prices, vouchers, customers' data, staff
    STAFF = "staff"  # the orders (status, notes) and their emails; no revenue, prices or data
    CUSTOMER = "customer"  # no admin page

    @property
    def label(self) -> str:
        return self.value.capitalize()


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    # A Role. Migration 0012 made the is_admin flag of before into this (admins: owners).
    role: Mapped[str] = mapped_column(sa.String(10), default=Role.CUSTOMER)
    # Named in every session and remember cookie (get_id); replaced when the password or
    # the email changes, so every cookie issued before that is refused, on every process.
    session_token: Mapped[str] = mapped_column(sa.String(32), default=lambda: secrets.token_hex(16))
    # None: nobody has yet shown they read this mailbox (a link sent to it was opened).
    email_confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    orders: Mapped[list[Order]] = relationship(back_populates="user", order_by="Order.id.desc()")

    @hybrid_property
    def is_owner(self) -> bool:
        """The owner: every admin page."""
        return self.role == Role.OWNER

    @hybrid_property
    def is_staff(self) -> bool:
        """The owner or a staff member: may open the admin's pages marked for staff (as
        Django's `is_staff`, the owner is staff too)."""
        return self.role in (Role.OWNER, Role.STAFF)

    @is_staff.inplace.expression
    @classmethod
    def _is_staff_expression(cls) -> sa.ColumnElement[bool]:
        return cls.role.in_((Role.OWNER, Role.STAFF))

    # The name from before roles, kept so that code and tests written then (`is_admin=True`,
    # `.where(User.is_admin)`, `current_user.is_admin`) keep their meaning: the owner.
    @hybrid_property
    def is_admin(self) -> bool:
        return self.role == Role.OWNER

    @is_admin.inplace.setter
    def _is_admin_setter(self, value: bool) -> None:
        self.role = Role.OWNER if value else Role.CUSTOMER

    @is_admin.inplace.update_expression
    @classmethod
    def _is_admin_update(cls, value: bool) -> list[tuple[object, str]]:
        return [(cls.role, Role.OWNER if value else Role.CUSTOMER)]

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)  # werkzeug's default: scrypt

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and in the remember cookie: "<id>:<session
        token>". load_user (shop/__init__.py) refuses it once the token was replaced."""
        return f"{self.id}:{self.session_token}"

    def replace_session_token(self) -> None:
        """Refuse every session and remember cookie issued so far, on every process (they
        name the old token). Called, in the change's transaction, by every credential change."""
        self.session_token = secrets.token_hex(16)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class Address(db.Model):
    """A shopper's saved address (the address book); at most one is the default, which
    checkout fills in."""

    __tablename__ = "address"
    __table_args__ = (
        sa.Index(
            "uq_address_one_default",
            "user_id",
            unique=True,
            sqlite_where=sa.text("is_default"),
            postgresql_where=sa.text("is_default"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    full_name: Mapped[str] = mapped_column(sa.String(120))
    address: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100))
    postal_code: Mapped[str] = mapped_column(sa.String(20))
    country: Mapped[str] = mapped_column(sa.String(80))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
