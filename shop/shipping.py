"""How an order reaches the shopper: one class per shipping option, and every rule about it.

An option computes its own cost, says whether it needs an address, and whether the order
is handed over at the shop (a pickup is never "shipped"; "delivered" means collected).
Nothing else in the shop compares shipping codes: it asks the option. Adding an option is
one subclass and a line in SHIPPING_OPTIONS; the owner offers it with SHOP_SHIPPING_METHODS.

Delivery costs what the shipping zone of the address's country says (a ZoneRate, found by
shop/shipping_zones.py); amounts are minor units of SHOP_CURRENCY.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from config import Settings
from shop.language import pickup_address
from shop.money import format_money


@dataclass(frozen=True)
class ZoneRate:
    """A shipping zone's prices: a flat rate, free from an amount of goods (None: never)."""

    rate_cents: int
    free_over_cents: int | None

    @classmethod
    def from_settings(cls, settings: Settings) -> ZoneRate:
        """SHOP_SHIPPING_FLAT_RATE, free from SHOP_FREE_SHIPPING_OVER: the default zone's."""
        return cls(settings.shipping_flat_rate, settings.free_shipping_over)


class ShippingOption:
    code: ClassVar[str]  # stored on the order and posted by the checkout form
    label: ClassVar[str]  # what the shopper chooses at checkout
    in_words: ClassVar[str]  # the option inside a sentence: "Shipping (delivery): €4.90"
    needs_address: ClassVar[bool] = True
    handed_over_at_shop: ClassVar[bool] = False  # collected: never shipped, delivered on collection

    def cost(self, goods_cents: int, settings: Settings, zone: ZoneRate | None = None) -> int:
        """What it costs, in minor units, for goods worth `goods_cents` (after the discount),
        sent to an address in `zone` (None: the default zone, the settings' rate). Each
        option implements it."""
        raise NotImplementedError

    def describe_cost(self, settings: Settings, zone: ZoneRate | None = None) -> str:
        """The cost rule as the checkout page shows it under the choice. Each option
        implements it."""
        raise NotImplementedError


class Delivery(ShippingOption):
    """To the shopper's address, at a flat rate, free from a threshold of goods."""

    code = "standard"
    label = _l("Delivery to your address")
    in_words = _l("delivery")

    def cost(self, goods_cents: int, settings: Settings, zone: ZoneRate | None = None) -> int:
        """The zone's flat rate, or nothing once the goods reach its free-from amount."""
        zone = zone or ZoneRate.from_settings(settings)
        if zone.free_over_cents is not None and goods_cents >= zone.free_over_cents:
            return 0
        return zone.rate_cents

    def describe_cost(self, settings: Settings, zone: ZoneRate | None = None) -> str:
        """'€4.90, free from €50.00', '€4.90' or 'free', in the shop's locale."""
        zone = zone or ZoneRate.from_settings(settings)
        if zone.rate_cents == 0:
            return _("free")
        cost = format_money(zone.rate_cents, settings.currency, settings.locale)
        if zone.free_over_cents is None:
            return cost
        free_over = format_money(zone.free_over_cents, settings.currency, settings.locale)
        return _("%(cost)s, free from %(threshold)s", cost=cost, threshold=free_over)


class Pickup(ShippingOption):
    """Collected at the shop (SHOP_PICKUP_ADDRESS): no address, no cost."""

    code = "pickup"
    label = _l("Pickup in store")
    in_words = _l("pickup in store")
    needs_address = False
    handed_over_at_shop = True

    def cost(self, goods_cents: int, settings: Settings, zone: ZoneRate | None = None) -> int:
        return 0

    def describe_cost(self, settings: Settings, zone: ZoneRate | None = None) -> str:
        return _("free, at %(place)s", place=pickup_address(settings))


# Every option the code knows, by code; SHOP_SHIPPING_METHODS chooses which are offered.
SHIPPING_OPTIONS: dict[str, ShippingOption] = {o.code: o for o in (Delivery(), Pickup())}


def shipping_option(code: str) -> ShippingOption | None:
    """The option stored as `code`; None for a code the shop does not know."""
    return SHIPPING_OPTIONS.get(code)


def offered_shipping_options(settings: Settings) -> list[ShippingOption]:
    """The options the owner switched on (SHOP_SHIPPING_METHODS), in that order."""
    return [SHIPPING_OPTIONS[code] for code in settings.shipping_methods]
