"""Shipping zones: where the shop delivers to, and at what rate (shop/shipping_zones.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.extensions import db


class ShippingZone(db.Model):
    """A named set of countries delivered to at one flat rate, free from an amount of goods.

    A country is in at most one zone (ShippingZoneCountry's key). The one zone marked
    `rest_of_world` (at most one, the service checks) takes every country in no other zone;
    without it, a country in no zone cannot be shipped to. `rate_cents` None: the zone
    follows SHOP_SHIPPING_FLAT_RATE and SHOP_FREE_SHIPPING_OVER (the zone migration 0010
    seeds, so that a shop keeps its behaviour until the owner says otherwise). Amounts are
    minor units of SHOP_CURRENCY."""

    __tablename__ = "shipping_zone"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    rate_cents: Mapped[int | None]
    free_over_cents: Mapped[int | None]  # None: never free (ignored while rate_cents is None)
    rest_of_world: Mapped[bool] = mapped_column(default=False)

    countries: Mapped[list[ShippingZoneCountry]] = relationship(
        back_populates="zone", cascade="all, delete-orphan", order_by="ShippingZoneCountry.country"
    )

    @property
    def follows_settings(self) -> bool:
        return self.rate_cents is None

    @property
    def country_codes(self) -> list[str]:
        return [c.country for c in self.countries]


class ShippingZoneCountry(db.Model):
    """One country (ISO 3166-1 alpha-2 code) of a zone; in one zone at most."""

    __tablename__ = "shipping_zone_country"

    country: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    zone_id: Mapped[int] = mapped_column(sa.ForeignKey("shipping_zone.id", ondelete="CASCADE"), index=True)

    zone: Mapped[ShippingZone] = relationship(back_populates="countries")
