"""A postal address as a shopper gives it: at checkout, and in the account's address book."""

from __future__ import annotations

from dataclasses import dataclass


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
