"""Accounts: who signs in, and the token every session of theirs names."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from shop.extensions import db
from shop.models.base import utcnow

if TYPE_CHECKING:  # the relationships' other ends
    from shop.models.orders import Order


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    is_admin: Mapped[bool] = mapped_column(default=False)
    # Named in every session and remember cookie (get_id); replaced when the password or
    # the email changes, so every cookie issued before that is refused, on every process.
    session_token: Mapped[str] = mapped_column(sa.String(32), default=lambda: secrets.token_hex(16))
    # None: nobody has yet shown they read this mailbox (a link sent to it was opened).
    email_confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    orders: Mapped[list[Order]] = relationship(back_populates="user", order_by="Order.id.desc()")

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
