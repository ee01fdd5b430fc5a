"""What an order costs: goods, discount, shipping and tax, in whole minor units of
SHOP_CURRENCY (cents of EUR, yen, fils of BHD: the rules below hold for any of them, as
they never divide a minor unit; "cent" below means a minor unit).

One rounding rule, applied once per order: an amount that falls between two cents is
rounded to the nearer, and exactly half a cent is rounded up (away from zero; all amounts
here are positive). So a 10 % voucher on €0.05 takes €0.01 off, and 20 % tax included in
€0.03 is €0.01 (0.005 rounded up).

- discount: a percentage of the goods (rounded), or a fixed amount, never more than the goods;
- shipping: what the shipping option says for the goods after the discount
  (ShippingOption.cost in shop/shipping.py: a flat rate, free from a threshold, or nothing);
- tax: one shop-wide rate on goods after the discount plus shipping. With prices that
  include tax (SHOP_PRICES_INCLUDE_TAX, the default) it is the part of the total that is
  tax, rate / (100 + rate); with prices that exclude it, it is added on top.

total = subtotal - discount + shipping (+ tax when prices exclude it); never negative.
"""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from shop.shipping import ShippingOption, ZoneRate

BASIS_POINTS = 10_000  # 100 % in hundredths of a percent


def divide_rounding_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest whole number, halves up; both non-negative."""
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class Totals:
    subtotal_cents: int  # the goods, at the prices shown in the shop
    discount_cents: int
    shipping_cents: int
    tax_cents: int
    tax_rate_bp: int
    prices_include_tax: bool

    @property
    def total_cents(self) -> int:
        total = self.subtotal_cents - self.discount_cents + self.shipping_cents
        return total if self.prices_include_tax else total + self.tax_cents

    @property
    def goods_after_discount_cents(self) -> int:
        return self.subtotal_cents - self.discount_cents


def compute_totals(
    subtotal_cents: int, discount_cents: int, shipping_cents: int, tax_rate_bp: int, prices_include_tax: bool
) -> Totals:
    """The order's figures from its parts, in cents (the rate in basis points); the
    discount is capped at the goods. Raises ValueError for a negative amount or rate."""
    if min(subtotal_cents, discount_cents, shipping_cents, tax_rate_bp) < 0:
        raise ValueError("amounts and the tax rate cannot be negative")
    discount_cents = min(discount_cents, subtotal_cents)
    taxable = subtotal_cents - discount_cents + shipping_cents
    if prices_include_tax:
        tax = divide_rounding_half_up(taxable * tax_rate_bp, BASIS_POINTS + tax_rate_bp)
    else:
        tax = divide_rounding_half_up(taxable * tax_rate_bp, BASIS_POINTS)
    return Totals(subtotal_cents, discount_cents, shipping_cents, tax, tax_rate_bp, prices_include_tax)


def discount_cents(kind: str, amount: int, subtotal_cents: int) -> int:
    """A voucher's discount on goods worth `subtotal_cents`: `amount` is hundredths of a
    percent for kind "percent", cents for "fixed"."""
    if kind == "percent":
        return divide_rounding_half_up(subtotal_cents * min(amount, BASIS_POINTS), BASIS_POINTS)
    return min(amount, subtotal_cents)


def quote(
    subtotal_cents: int, shipping: ShippingOption, discount: int, settings: Settings, zone: ZoneRate | None = None
) -> Totals:
    """The totals of goods worth `subtotal_cents` with `discount` minor units off, sent by
    the `shipping` option to an address in `zone` (None: the default zone's rate), under the
    shop's tax settings."""
    discount = min(discount, subtotal_cents)
    shipping_cost = shipping.cost(subtotal_cents - discount, settings, zone)
    return compute_totals(subtotal_cents, discount, shipping_cost, settings.tax_rate_bp, settings.prices_include_tax)


def format_rate(rate_bp: int) -> str:
    """2000 -> '20 %', 770 -> '7.7 %'."""
    whole, rest = divmod(rate_bp, 100)
    return f"{whole} %" if not rest else f"{whole}.{rest:02d}".rstrip("0") + " %"
