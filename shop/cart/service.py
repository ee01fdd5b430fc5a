"""The shopper's cart: {item: quantity} in the signed session cookie.

An item is a product without variants ("12", the format carts had before variants, so
carts already in sessions keep working) or one variant of a product ("12.7": product 12,
variant 7). A guest has a cart without an account, and it survives signing in because the
session does. Prices are never kept here: they are read from the database each time.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.forms import MAX_QUANTITY
from shop.models import Product, ProductVariant
from shop.tax.rates import goods_by_rate, product_rates

ITEM_KEY = re.compile(r"([0-9]{1,18})(?:\.([0-9]{1,18}))?")
MAX_LINES = 50  # keeps the session cookie well under the browsers' 4 KB


class CartError(Exception):
    """A change the cart cannot take; the message is for the shopper."""


class TooManyOfOne(CartError):
    """More than MAX_QUANTITY of one product: no cart takes that."""


class CannotAdd(CartError):
    """Not now: the product is not sold, short of stock, or the cart is full."""


@dataclass(frozen=True, order=True)
class Item:
    """What a cart line is of: a product without variants (`variant_id` None), or one variant."""

    product_id: int
    variant_id: int | None = None

    @property
    def key(self) -> str:
        """How the session stores it: '12', or '12.7' for variant 7 of product 12."""
        return str(self.product_id) if self.variant_id is None else f"{self.product_id}.{self.variant_id}"

    @classmethod
    def parse(cls, key: str) -> Item | None:
        """The inverse of `key`; None for anything else."""
        match = ITEM_KEY.fullmatch(str(key))
        if match is None:
            return None
        product, variant = match.groups()
        return cls(int(product), int(variant) if variant else None)


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int
    variant: ProductVariant | None = None

    @property
    def item(self) -> Item:
        return Item(self.product.id, self.variant.id if self.variant else None)

    @property
    def name(self) -> str:
        """'Assam Tea — 250 g', or the product's name: how the cart and checkout name it."""
        return f"{self.product.name} — {self.variant.option}" if self.variant else self.product.name

    title = name  # as an order line calls it (templates/_order_lines.html shows both)

    @property
    def unit_price_cents(self) -> int:
        return self.variant.unit_price_cents if self.variant else self.product.price_cents

    @property
    def subtotal_cents(self) -> int:
        return self.unit_price_cents * self.quantity

    @property
    def active(self) -> bool:
        return self.variant.on_sale if self.variant else self.product.active

    @property
    def stock(self) -> int:
        return self.variant.stock if self.variant else self.product.stock

    @property
    def problem(self) -> str | None:
        """Why this line cannot be bought as it is ('no longer sold', 'out of stock',
        'only 2 left', or, for a product that has variants now, choose one); None when it can."""
        if self.variant is None and self.product.has_variants:
            return _("now sold in several options: remove it and choose one on its page")
        return shortfall(self.active, self.stock, self.quantity)


def shortfall(active: bool, stock: int, wanted: int) -> str | None:
    """Why `wanted` of a product cannot be bought now, as a phrase for the shopper: 'no
    longer sold' (switched off by the owner), 'out of stock', 'only 2 left'; None if it can."""
    if not active:
        return _("no longer sold")
    if stock <= 0:
        return _("out of stock")
    if stock < wanted:
        return ngettext("only %(num)d left", "only %(num)d left", stock)
    return None


def describe_shortfall(name: str | None, active: bool, stock: int, wanted: int) -> str:
    """The same as a clause naming the product: 'Enamel Mug is no longer sold', 'Clay Teapot
    is out of stock', 'Assam Tea: only 2 left, you asked for 3'. `name` None: a product
    that was deleted from the catalogue."""
    if name is None:
        return _("a product in your cart is no longer sold")
    why = shortfall(active, stock, wanted)
    if why is None:  # short a moment ago, back since (an order was cancelled)
        return _("%(name)s was short a moment ago, please try again", name=name)
    if stock > 0 and active:
        return _("%(name)s: %(why)s, you asked for %(wanted)d", name=name, why=why, wanted=wanted)
    return _("%(name)s is %(why)s", name=name, why=why)


def describe_removed(count: int) -> str:
    """What the shopper is told when Cart.lines() took deleted products out of the cart."""
    return ngettext(
        "A product in your cart is no longer sold; it was taken out of your cart.",
        "%(num)d products in your cart are no longer sold; they were taken out of your cart.",
        count,
    )


class Cart:
    def __init__(self, session: MutableMapping[str, Any]) -> None:
        self._session = session
        self.removed = 0  # lines of products deleted from the catalogue, taken out by lines()

    def items(self) -> dict[Item, int]:
        """{item: quantity}; anything malformed in the cookie is ignored."""
        raw = self._session.get("cart")
        if not isinstance(raw, dict):
            return {}
        items = {}
        for key, value in raw.items():
            item = Item.parse(key)
            if item is not None and isinstance(value, int) and 0 < value <= MAX_QUANTITY:
                items[item] = value
        return items

    def count(self) -> int:
        return sum(self.items().values())

    def _save(self, items: dict[Item, int]) -> None:
        self._session["cart"] = {item.key: qty for item, qty in items.items()}

    def add(self, product: Product, quantity: int, variant: ProductVariant | None = None) -> int:
        """Add to the line of this product (or this variant of it); the line's new
        quantity. Raises as set()."""
        items = self.items()
        return self.set(product, items.get(Item(product.id, variant.id if variant else None), 0) + quantity, variant)

    def set(self, product: Product, quantity: int, variant: ProductVariant | None = None) -> int:
        """Set the quantity of the line of `product` (`variant` of it, for a product that has
        variants) (0 removes it), within 0..99 and the stock on hand; the line's new
        quantity. Raises TooManyOfOne, or CannotAdd (not sold, short of stock, a full cart)."""
        items = self.items()
        line = CartLine(product, quantity, variant)
        if quantity <= 0:
            items.pop(line.item, None)
            self._save(items)
            return 0
        if variant is None and product.has_variants:
            raise CannotAdd(_("Please choose one of the options of %(name)s.", name=product.name))
        if not line.active:
            raise CannotAdd(_("Sorry, %(why)s.", why=describe_shortfall(line.name, False, line.stock, quantity)))
        if quantity > MAX_QUANTITY:
            raise TooManyOfOne(_("At most %(most)d of one product per order.", most=MAX_QUANTITY))
        if quantity > line.stock:
            raise CannotAdd(_("Sorry, %(why)s.", why=describe_shortfall(line.name, True, line.stock, quantity)))
        if line.item not in items and len(items) >= MAX_LINES:
            raise CannotAdd(_("A cart holds at most %(most)d different products.", most=MAX_LINES))
        items[line.item] = quantity
        self._save(items)
        return quantity

    def remove(self, item: Item) -> None:
        items = self.items()
        items.pop(item, None)
        self._save(items)

    def clear(self) -> None:
        self._session.pop("cart", None)

    def lines(self) -> list[CartLine]:
        """The cart's lines with their products, in one query. A product deleted from the
        catalogue is taken out of the cart (it could never be bought, nor removed from a
        page that does not show it); `removed` counts them for the page to say so."""
        items = self.items()
        if not items:
            return []
        products = db.session.execute(
            sa.select(Product)
            .where(Product.id.in_({item.product_id for item in items}))
            .options(selectinload(Product.variants))
        ).scalars()
        by_id = {p.id: p for p in products}
        variants = {v.id: v for p in by_id.values() for v in p.variants}
        kept = {
            item: qty
            for item, qty in items.items()
            if item.product_id in by_id
            and (
                item.variant_id is None or getattr(variants.get(item.variant_id), "product_id", None) == item.product_id
            )
        }
        if len(kept) != len(items):
            self.removed += len(items) - len(kept)
            self._save(kept)
        return [
            CartLine(by_id[item.product_id], qty, variants[item.variant_id] if item.variant_id else None)
            for item, qty in kept.items()
        ]


def lines_total_cents(lines: list[CartLine]) -> int:
    return sum(line.subtotal_cents for line in lines)


def lines_by_rate(lines: list[CartLine]) -> dict[int, int]:
    """{tax rate bp: cents} of the lines, each at its product's rate (shop/tax/rates.py)."""
    rates = product_rates((line.product.id, line.product.tax_rate_id) for line in lines)
    return goods_by_rate((rates[line.product.id], line.subtotal_cents) for line in lines)
