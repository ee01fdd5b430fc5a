"""Shipping zones: which countries the shop delivers to, and each zone's rate.

The owner defines zones in the admin (shop/admin/zones.py): a name, a set of countries
(ISO codes, each in one zone at most), a flat rate and an optional amount of goods from
which delivery is free. One zone may be the "rest of the world": it takes every country in
no other zone. Without one, a country in no zone cannot be shipped to, and checkout says so
before the shopper fills in the rest (its country list has only the countries shipped to).

A new shop has one zone, "Everywhere" (migration 0010), the rest of the world at
SHOP_SHIPPING_FLAT_RATE, free from SHOP_FREE_SHIPPING_OVER: today's behaviour, until the
owner changes it. The delivery option computes its cost from the zone's rate
(shop/shipping.py, Delivery.cost); pickup needs no zone. Amounts are minor units.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from config import Settings
from shop.audit import Actor, record_change
from shop.countries import all_country_codes
from shop.database import transaction
from shop.extensions import db
from shop.models import ShippingZone, ShippingZoneCountry
from shop.shipping import ZoneRate


class ZoneError(Exception):
    """A zone cannot be saved as asked; the message is for the owner."""


class ZoneNotFound(Exception):
    pass


class NotShippable(Exception):
    """No zone takes this country: nothing can be delivered there."""

    def __init__(self, country: str) -> None:
        super().__init__(country)
        self.country = country


@dataclass(frozen=True)
class ZoneValues:
    """What the admin form says a zone is: amounts in minor units, countries as codes."""

    name: str
    countries: frozenset[str]
    rate_cents: int
    free_over_cents: int | None
    rest_of_world: bool


def all_zones() -> list[ShippingZone]:
    """Every zone, by name, with its countries."""
    return list(
        db.session.execute(
            sa.select(ShippingZone).options(selectinload(ShippingZone.countries)).order_by(ShippingZone.name)
        ).scalars()
    )


def get_zone(zone_id: int) -> ShippingZone:
    """The zone `zone_id`. Raises ZoneNotFound."""
    zone = db.session.get(ShippingZone, zone_id)
    if zone is None:
        raise ZoneNotFound(zone_id)
    return zone


def zone_rate(country: str, settings: Settings) -> ZoneRate:
    """What delivery to `country` (an ISO code) costs: its zone's rate, or the rest of the
    world's. Raises NotShippable when no zone takes it (or it is no country code)."""
    if country not in all_country_codes():
        raise NotShippable(country)
    # One statement: the country's own zone first, else the rest of the world.
    listed = sa.select(ShippingZoneCountry.zone_id).where(ShippingZoneCountry.country == country)
    zone = db.session.execute(
        sa.select(ShippingZone)
        .where(sa.or_(ShippingZone.id.in_(listed), ShippingZone.rest_of_world.is_(True)))
        .order_by(ShippingZone.rest_of_world)
        .limit(1)
    ).scalar_one_or_none()
    if zone is None:
        raise NotShippable(country)
    if zone.follows_settings:
        return ZoneRate.from_settings(settings)
    return ZoneRate(zone.rate_cents or 0, zone.free_over_cents)


def shippable_countries() -> frozenset[str]:
    """The codes of every country some zone takes (all of them with a rest-of-world zone);
    one statement."""
    rows = db.session.execute(
        sa.select(ShippingZone.rest_of_world, ShippingZoneCountry.country).outerjoin(ShippingZoneCountry)
    ).all()
    if any(rest_of_world for rest_of_world, _country in rows):
        return all_country_codes()
    return frozenset(country for _rest, country in rows if country is not None)


def save_zone(values: ZoneValues, zone_id: int | None = None, *, by: Actor | None) -> ShippingZone:
    """Create a zone (`zone_id` None) or change zone `zone_id` to `values`, recorded in the
    audit trail as made `by` this user. Raises ZoneNotFound, or ZoneError when the name is
    taken, a country is in another zone already or another zone is the rest of the world."""
    with transaction():
        zone = ShippingZone() if zone_id is None else get_zone(zone_id)
        before = None if zone_id is None else _audited(zone)
        others = sa.select(ShippingZoneCountry).where(ShippingZoneCountry.country.in_(values.countries))
        if zone_id is not None:
            others = others.where(ShippingZoneCountry.zone_id != zone_id)
        taken = db.session.execute(others.options(selectinload(ShippingZoneCountry.zone))).scalars().all()
        if taken:
            where = ", ".join(sorted(f"{c.country} ({c.zone.name})" for c in taken))
            raise ZoneError(_("These countries are in another zone already: %(where)s.", where=where))
        if values.rest_of_world:
            world = sa.select(ShippingZone.name).where(ShippingZone.rest_of_world.is_(True))
            if zone_id is not None:
                world = world.where(ShippingZone.id != zone_id)
            other = db.session.execute(world).scalar()
            if other is not None:
                raise ZoneError(_("%(zone)s is the rest of the world already: only one zone can be.", zone=other))
        zone.name, zone.rate_cents, zone.free_over_cents = values.name, values.rate_cents, values.free_over_cents
        zone.rest_of_world = values.rest_of_world
        kept = {c.country: c for c in zone.countries}
        zone.countries = [kept.get(code) or ShippingZoneCountry(country=code) for code in sorted(values.countries)]
        db.session.add(zone)
        try:
            db.session.flush()
        except IntegrityError:
            raise ZoneError(_("A zone named %(name)s exists already.", name=values.name)) from None
        action = "shipping_zone.created" if before is None else "shipping_zone.changed"
        record_change(by, action, "shipping_zone", zone.id, before, _audited(zone))
    return zone


def _audited(zone: ShippingZone) -> dict:
    return {
        "name": zone.name,
        "rate_cents": zone.rate_cents,
        "free_over_cents": zone.free_over_cents,
        "rest_of_world": zone.rest_of_world,
        "countries": sorted(c.country for c in zone.countries),
    }


def delete_zone(zone_id: int, *, by: Actor | None) -> str:
    """Delete zone `zone_id` (its countries can no longer be shipped to, unless the rest of
    the world takes them), recorded in the audit trail as done `by` this user; its name.
    Orders keep what they cost. Raises ZoneNotFound."""
    with transaction():
        zone = get_zone(zone_id)
        name = zone.name
        record_change(by, "shipping_zone.deleted", "shipping_zone", zone.id, _audited(zone), None)
        db.session.delete(zone)
    return name
