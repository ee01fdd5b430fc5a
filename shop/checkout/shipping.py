"""How an order reaches the shopper: delivered to an address, or collected at the shop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shop.money import format_money


@dataclass(frozen=True)
class ShippingOption:
    code: str
    label: str
    needs_address: bool

    def describe_cost(self, settings: Mapping[str, Any]) -> str:
        """'€4.90, free from €50.00' or 'free': the rule, for the checkout's choice."""
        if self.code == "pickup":
            return f"free, at {settings['SHOP_PICKUP_ADDRESS']}"
        currency = settings["SHOP_CURRENCY"]
        rate, free_over = settings["SHOP_SHIPPING_FLAT_RATE"], settings["SHOP_FREE_SHIPPING_OVER"]
        if rate == 0:
            return "free"
        cost = format_money(rate, currency)
        return f"{cost}, free from {format_money(free_over, currency)}" if free_over is not None else cost


SHIPPING_OPTIONS: dict[str, ShippingOption] = {
    "standard": ShippingOption("standard", "Delivery to your address", needs_address=True),
    "pickup": ShippingOption("pickup", "Pickup in store", needs_address=False),
}


def offered_shipping_options(settings: Mapping[str, Any]) -> list[ShippingOption]:
    """The options the owner switched on (SHOP_SHIPPING_METHODS), in that order."""
    return [SHIPPING_OPTIONS[code] for code in settings["SHOP_SHIPPING_METHODS"]]
