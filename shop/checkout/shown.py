"""What the checkout page showed the shopper, carried back by its form, and the check that
the order about to be written is the one they saw.

The page puts into a hidden field (`shown`) each line's unit price and quantity, the
voucher's discount, and the shipping cost and total of every offered shipping option (the
shopper may pick another option on the page, without JavaScript, so each is there).
place_order() compares it, inside the order's transaction, with what it computed from the
prices the stock UPDATE returned (no extra query); any difference raises PriceChanged, the
transaction rolls back, and the page comes back with the new figures and a new field.

The field is not signed. It is never used for an amount: the order is always priced from
the database. It only decides whether to stop and tell the shopper first, so whoever edits
it can only stop their own order, or let it through at the prices of the moment, which is
what a fresh page does too; the CSRF token keeps other sites from posting the form at all.
Unsigned, it stays short and readable, and any client that posts the page's form sends it.

Format (ASCII; about 20 characters a line, so under 1.5 KB for a full cart of 50 lines):
    lines=12:1250x2,15.7:825x1;discount=250;standard=490:3815;pickup=0:3325
i.e. item (a product id, or product id.variant id):unit price x quantity, then cents off,
then shipping code=shipping:total.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from flask_babel import gettext as _

from shop.cart.service import CartLine, Item
from shop.extensions import get_settings
from shop.money import format_money
from shop.pricing import Totals

MAX_LENGTH = 4000  # 50 lines and a few shipping options, with room to spare

_LINE = r"\d{1,18}(?:\.\d{1,18})?:\d{1,15}x\d{1,3}"
_FORMAT = re.compile(rf"lines=(?:{_LINE}(?:,{_LINE})*)?;discount=\d{{1,15}}(?:;[a-z_]{{1,20}}=\d{{1,15}}:\d{{1,15}})*")


class PricedRow(Protocol):
    """A line as the stock UPDATE returned it."""

    item: Item
    title: str
    price_cents: int


@dataclass(frozen=True)
class Shown:
    lines: dict[Item, tuple[int, int]]  # item -> (unit price in cents, quantity)
    discount_cents: int
    options: dict[str, tuple[int, int]]  # shipping code -> (shipping cents, total cents)

    @classmethod
    def on_page(cls, lines: Sequence[CartLine], totals_by_shipping: Mapping[str, Totals]) -> Shown:
        """What a checkout page showing `lines` and these totals (one per shipping option) shows."""
        discounts = {t.discount_cents for t in totals_by_shipping.values()} or {0}
        return cls(
            {line.item: (line.unit_price_cents, line.quantity) for line in lines},
            max(discounts),  # the same for every option: the voucher is on the goods
            {code: (t.shipping_cents, t.total_cents) for code, t in totals_by_shipping.items()},
        )

    def encode(self) -> str:
        lines = ",".join(f"{item.key}:{price}x{qty}" for item, (price, qty) in self.lines.items())
        options = "".join(f";{code}={ship}:{total}" for code, (ship, total) in self.options.items())
        return f"lines={lines};discount={self.discount_cents}{options}"

    @classmethod
    def parse(cls, text: str) -> Shown:
        """The inverse of encode(); raises ValueError for anything else."""
        if len(text) > MAX_LENGTH or not _FORMAT.fullmatch(text):
            raise ValueError("not a checkout summary")
        lines_part, discount_part, *option_parts = text.split(";")
        lines = {}
        for item in filter(None, lines_part.removeprefix("lines=").split(",")):
            key, rest = item.split(":")
            price, qty = rest.split("x")
            lines[Item.parse(key)] = (int(price), int(qty))
        options = {}
        for part in option_parts:
            code, figures = part.split("=")
            ship, total = figures.split(":")
            options[code] = (int(ship), int(total))
        return cls(lines, int(discount_part.removeprefix("discount=")), options)

    def check(
        self, rows: Sequence[PricedRow], items: Mapping[Item, int], shipping_method: str, totals: Totals, currency: str
    ) -> None:
        """Raise PriceChanged unless the order about to be written (`rows` at the prices the
        database gave, `items` {item: quantity}, `totals` for `shipping_method`) is what
        this page showed: the same lines and quantities, unit prices, discount, shipping
        and total. A total that came out the same does not hide a changed price."""
        cart_changed = {item: qty for item, (_, qty) in self.lines.items()} != dict(items)
        prices = (
            []
            if cart_changed
            else [
                PriceChange(row.title, self.lines[row.item][0], row.price_cents)
                for row in rows
                if self.lines[row.item][0] != row.price_cents
            ]
        )
        shown_shipping, shown_total = self.options.get(shipping_method, (None, None))
        if (
            not cart_changed
            and not prices
            and self.discount_cents == totals.discount_cents
            and (shown_shipping, shown_total) == (totals.shipping_cents, totals.total_cents)
        ):
            return
        raise PriceChanged(
            cart_changed=cart_changed,
            prices=prices,
            discount=(self.discount_cents, totals.discount_cents),
            shipping=(shown_shipping, totals.shipping_cents),
            total=(shown_total, totals.total_cents),
            currency=currency,
        )


@dataclass(frozen=True)
class PriceChange:
    name: str
    shown_cents: int
    now_cents: int


class PriceChanged(Exception):
    """What the order would cost differs from what the checkout page showed: nothing was
    written. Carries the figures (shown, now) and, as its message, a sentence for the shopper."""

    def __init__(
        self,
        *,
        cart_changed: bool,
        prices: list[PriceChange],
        discount: tuple[int, int],
        shipping: tuple[int | None, int],
        total: tuple[int | None, int],
        currency: str,
    ) -> None:
        self.cart_changed, self.prices = cart_changed, prices
        self.discount, self.shipping, self.total = discount, shipping, total
        super().__init__(self._sentence(currency))

    def _sentence(self, currency: str) -> str:
        def money(cents: int, zero: str = "") -> str:
            return zero if zero and not cents else format_money(cents, currency, get_settings().locale)

        if self.cart_changed:  # another tab or window changed it
            what = [_("your cart changed")]
        else:
            what = [
                _(
                    "the price of %(name)s changed from %(before)s to %(now)s",
                    name=p.name,
                    before=money(p.shown_cents),
                    now=money(p.now_cents),
                )
                for p in self.prices
            ]
            (shown_off, off), (shown_shipping, shipping) = self.discount, self.shipping
            if shown_off != off:
                none = _("none")
                what.append(
                    _(
                        "the voucher discount changed from %(before)s to %(now)s",
                        before=money(shown_off, none),
                        now=money(off, none),
                    )
                )
            if shown_shipping is None:
                what.append(_("the shipping options changed"))
            elif shown_shipping != shipping:
                free = _("free")
                what.append(
                    _(
                        "shipping changed from %(before)s to %(now)s",
                        before=money(shown_shipping, free),
                        now=money(shipping, free),
                    )
                )
            if not what:  # e.g. the tax rate
                what.append(_("the total changed"))
        clause = _("%(some)s and %(last)s", some=", ".join(what[:-1]), last=what[-1]) if len(what) > 1 else what[0]
        shown_total, total = self.total
        if shown_total is None or shown_total == total:
            if shown_total == total:
                now = _("the total is still %(total)s", total=money(total))
            else:
                now = _("the total is now %(total)s", total=money(total))
        else:
            now = _("the total is now %(total)s (it was %(before)s)", total=money(total), before=money(shown_total))
        clause = clause[0].upper() + clause[1:]
        return _(
            "%(what)s since you opened this page; %(now)s. Please check and place the order again.",
            what=clause,
            now=now,
        )
