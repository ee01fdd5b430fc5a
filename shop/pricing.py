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
- tax: per rate (each product has one, shop/tax; a product without one has the shop's
  SHOP_TAX_RATE_BP, so a shop that never made a rate has one rate, as before). The
  discount and the shipping are shared among the rates in proportion to the goods
  (split_by_rate, below), and each rate's tax is computed once on its whole amount and
  rounded once (the rule above), as an invoice states it per rate (EU VAT Directive,
  art. 226). With prices that include tax (SHOP_PRICES_INCLUDE_TAX, the default) a rate's
  tax is the part of its amount that is tax, rate / (100 + rate); with prices that
  exclude it, it is added on top. The order's tax is the sum of its rates' taxes.

Why halves up and not half-even (banker's rounding): a rate's tax is rounded once per
order, not summed over thousands of roundings where half-even's lack of bias would
matter; half up is what a customer checks with a calculator, and it keeps every figure
of a one-rate shop exactly as it was before rates per product.

total = subtotal - discount + shipping (+ tax when prices exclude it); never negative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from config import Settings
from shop.shipping import ShippingOption, ZoneRate

BASIS_POINTS = 10_000  # 100 % in hundredths of a percent


def divide_rounding_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest whole number, halves up; both non-negative."""
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True)
class TaxLine:
    """One rate's share of an order: net + tax = gross, in cents; the rate in basis points."""

    rate_bp: int
    net_cents: int
    tax_cents: int
    gross_cents: int


def allocate(amount: int, weights: list[int]) -> list[int]:
    """`amount` (cents, >= 0) shared in proportion to `weights` (>= 0), in whole cents that
    add up to exactly `amount`: each gets the floor of its share, and the cents left over go
    to the largest remainders (ties: the earlier weight; the largest remainder method). All
    weights 0: the whole amount to the first."""
    total = sum(weights)
    if not weights:
        return []
    if total == 0:
        return [amount] + [0] * (len(weights) - 1)
    shares = [amount * w // total for w in weights]
    left = amount - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in by_remainder[:left]:
        shares[i] += 1
    return shares


def split_by_rate(
    goods_by_rate: Mapping[int, int], discount_cents: int, shipping_cents: int, prices_include_tax: bool
) -> tuple[TaxLine, ...]:
    """The tax lines of goods worth `goods_by_rate` ({rate in basis points: cents at the
    shop's prices}) less `discount_cents`, plus `shipping_cents`, highest rate first.

    The discount and the shipping are shared among the rates in proportion to the goods
    (after the discount, for the shipping) by `allocate`: the shipping is taxed pro rata,
    as the goods it carries (an ancillary cost follows its principal supply). Each rate's
    tax is rounded once, halves up. Rates with nothing to tax are left out (all of them
    nothing: the highest rate's line of zeros stays, so there is always one line).
    Raises ValueError for a negative amount or rate."""
    rates = sorted(goods_by_rate, reverse=True) or [0]
    goods = [goods_by_rate.get(rate, 0) for rate in rates]
    if min(*goods, discount_cents, shipping_cents, *rates) < 0:
        raise ValueError("amounts and tax rates cannot be negative")
    discounts = allocate(min(discount_cents, sum(goods)), goods)
    after = [g - d for g, d in zip(goods, discounts, strict=True)]
    shipping = allocate(shipping_cents, after)
    lines = []
    for rate, base in zip(rates, (a + s for a, s in zip(after, shipping, strict=True)), strict=True):
        if prices_include_tax:
            tax = divide_rounding_half_up(base * rate, BASIS_POINTS + rate)
            lines.append(TaxLine(rate, base - tax, tax, base))
        else:
            tax = divide_rounding_half_up(base * rate, BASIS_POINTS)
            lines.append(TaxLine(rate, base, tax, base + tax))
    kept = tuple(line for line in lines if line.gross_cents)
    return kept or (lines[0],)


@dataclass(frozen=True)
class Totals:
    subtotal_cents: int  # the goods, at the prices shown in the shop
    discount_cents: int
    shipping_cents: int
    tax_cents: int
    tax_rate_bp: int  # the one rate; with several, the highest (tax_lines has each)
    prices_include_tax: bool
    tax_lines: tuple[TaxLine, ...] = field(default=())  # highest rate first

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
    return totals_by_rate({tax_rate_bp: subtotal_cents}, discount_cents, shipping_cents, prices_include_tax)


def totals_by_rate(
    goods_by_rate: Mapping[int, int], discount_cents: int, shipping_cents: int, prices_include_tax: bool
) -> Totals:
    """The order's figures for goods at several rates ({rate bp: cents}): see split_by_rate.
    The discount is capped at the goods. Raises ValueError for a negative amount or rate."""
    subtotal = sum(goods_by_rate.values())
    discount = min(discount_cents, subtotal)
    lines = split_by_rate(goods_by_rate, discount, shipping_cents, prices_include_tax)
    tax = sum(line.tax_cents for line in lines)
    top_rate = max(goods_by_rate, default=lines[0].rate_bp)
    return Totals(subtotal, discount, shipping_cents, tax, top_rate, prices_include_tax, lines)


def discount_cents(kind: str, amount: int, subtotal_cents: int) -> int:
    """A voucher's discount on goods worth `subtotal_cents`: `amount` is hundredths of a
    percent for kind "percent", cents for "fixed"."""
    if kind == "percent":
        return divide_rounding_half_up(subtotal_cents * min(amount, BASIS_POINTS), BASIS_POINTS)
    return min(amount, subtotal_cents)


def quote(
    subtotal_cents: int,
    shipping: ShippingOption,
    discount: int,
    settings: Settings,
    zone: ZoneRate | None = None,
    *,
    goods_by_rate: Mapping[int, int] | None = None,
) -> Totals:
    """The totals of goods worth `subtotal_cents` with `discount` minor units off, sent by
    the `shipping` option to an address in `zone` (None: the default zone's rate), under the
    shop's tax settings. `goods_by_rate`: the goods per tax rate ({rate bp: minor units},
    adding up to `subtotal_cents`); None: all at SHOP_TAX_RATE_BP."""
    discount = min(discount, subtotal_cents)
    shipping_cost = shipping.cost(subtotal_cents - discount, settings, zone)
    by_rate = goods_by_rate if goods_by_rate is not None else {settings.tax_rate_bp: subtotal_cents}
    return totals_by_rate(by_rate, discount, shipping_cost, settings.prices_include_tax)


def format_rate(rate_bp: int) -> str:
    """2000 -> '20 %', 770 -> '7.7 %'."""
    whole, rest = divmod(rate_bp, 100)
    return f"{whole} %" if not rest else f"{whole}.{rest:02d}".rstrip("0") + " %"


def split_gross(amount_cents: int, gross_by_rate: Mapping[int, int]) -> tuple[TaxLine, ...]:
    """The tax lines of `amount_cents` paid back (a refund, a credit note) out of an order
    whose gross per rate was `gross_by_rate` ({rate bp: cents}): the amount is shared
    among the rates in proportion to their gross (`allocate`), and each share, which
    includes its tax, gives its tax as prices that include tax do. Highest rate first."""
    rates = sorted(gross_by_rate, reverse=True) or [0]
    shares = allocate(amount_cents, [gross_by_rate.get(rate, 0) for rate in rates])
    return by_rate_gross(dict(zip(rates, shares, strict=True)))


def by_rate_gross(gross_by_rate: Mapping[int, int]) -> tuple[TaxLine, ...]:
    """Tax lines of amounts that include their tax ({rate bp: gross cents}), highest rate
    first, rates with nothing left out (all nothing: one line of zeros at the highest)."""
    return split_by_rate(gross_by_rate, 0, 0, prices_include_tax=True)
