"""A postal address as a shopper gives it: at checkout, and in the account's address book."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from shop.extensions import db
from shop.models import Address, Order, User


@dataclass(frozen=True)
class ShippingAddress:
    """Where an order goes (all empty but the name for a pickup: the name says who collects)."""

    full_name: str
    address: str
    city: str
    postal_code: str
    # An ISO 3166-1 alpha-2 code from the forms' lists (shop/countries.py); addresses from
    # before migration 0010 may hold the text typed then, when it was not recognisable.
    country: str


def checkout_address(user: User) -> ShippingAddress | None:
    """What checkout fills in for `user`: the address book's default, else where the latest
    order delivered to an address went (most people ship to the same place); None if neither."""
    default = db.session.execute(
        sa.select(Address).where(Address.user_id == user.id, Address.is_default.is_(True))
    ).scalar_one_or_none()
    if default is not None:
        return ShippingAddress(default.full_name, default.address, default.city, default.postal_code, default.country)
    order = db.session.execute(
        sa.select(Order).where(Order.user_id == user.id, Order.address != "").order_by(Order.id.desc()).limit(1)
    ).scalar_one_or_none()
    if order is None:
        return None
    return ShippingAddress(order.full_name, order.address, order.city, order.postal_code, order.country)
