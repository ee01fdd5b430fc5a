"""How an order reaches the shopper: delivered to an address, or collected at the shop."""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from shop.money import format_money


@dataclass(frozen=True)
class ShippingOption:
    code: str
    label: str
    needs_address: bool

    def describe_cost(self, settings: Settings) -> str:
        """'€4.90, free from €50.00' or 'free': the rule, for the checkout's choice."""
        if self.code == "pickup":
            return f"free, at {settings.pickup_address}"
        currency = settings.currency
        rate, free_over = settings.shipping_flat_rate, settings.free_shipping_over
        if rate == 0:
            return "free"
        cost = format_money(rate, currency)
        return f"{cost}, free from {format_money(free_over, currency)}" if free_over is not None else cost


SHIPPING_OPTIONS: dict[str, ShippingOption] = {
    "standard": ShippingOption("standard", "Delivery to your address", needs_address=True),
    "pickup": ShippingOption("pickup", "Pickup in store", needs_address=False),
}


def offered_shipping_options(settings: Settings) -> list[ShippingOption]:
    """The options the owner switched on (SHOP_SHIPPING_METHODS), in that order."""
    return [SHIPPING_OPTIONS[code] for code in settings.shipping_methods]
