"""The shopper's cart: {product id: quantity} in the signed session cookie.

A guest has a cart without an account, and it survives signing in because the session
does. Prices are never kept here: they are read from the database each time.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shop.extensions import db
from shop.forms import MAX_QUANTITY
from shop.models import Product
from shop.tax.rates import goods_by_rate, product_rates

MAX_LINES = 50  # keeps the session cookie well under the browsers' 4 KB


class CartError(Exception):
    """A change the cart cannot take; the message is for the shopper."""


class TooManyOfOne(CartError):
    """More than MAX_QUANTITY of one product: no cart takes that."""


class CannotAdd(CartError):
    """Not now: the product is not sold, short of stock, or the cart is full."""


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def name(self) -> str:
        return self.product.name

    @property
    def unit_price_cents(self) -> int:
        return self.product.price_cents

    @property
    def subtotal_cents(self) -> int:
        return self.product.price_cents * self.quantity

    @property
    def problem(self) -> str | None:
        """Why this line cannot be bought as it is ('no longer sold', 'out of stock',
        'only 2 left'); None when it can."""
        return shortfall(self.product.active, self.product.stock, self.quantity)


def shortfall(active: bool, stock: int, wanted: int) -> str | None:
    """Why `wanted` of a product cannot be bought now, as a phrase for the shopper: 'no
    longer sold' (switched off by the owner), 'out of stock', 'only 2 left'; None if it can."""
    if not active:
        return "no longer sold"
    if stock <= 0:
        return "out of stock"
    if stock < wanted:
        return f"only {stock} left"
    return None


def describe_shortfall(name: str | None, active: bool, stock: int, wanted: int) -> str:
    """The same as a clause naming the product: 'Enamel Mug is no longer sold', 'Clay Teapot
    is out of stock', 'Assam Tea: only 2 left, you asked for 3'. `name` None: a product
    that was deleted from the catalogue."""
    if name is None:
        return "a product in your cart is no longer sold"
    why = shortfall(active, stock, wanted)
    if why is None:  # short a moment ago, back since (an order was cancelled)
        return f"{name} was short a moment ago, please try again"
    return f"{name}: {why}, you asked for {wanted}" if stock > 0 and active else f"{name} is {why}"


def describe_removed(count: int) -> str:
    """What the shopper is told when Cart.lines() took deleted products out of the cart."""
    if count == 1:
        return "A product in your cart is no longer sold; it was taken out of your cart."
    return f"{count} products in your cart are no longer sold; they were taken out of your cart."


class Cart:
    def __init__(self, session: MutableMapping[str, Any]) -> None:
        self._session = session
        self.removed = 0  # lines of products deleted from the catalogue, taken out by lines()

    def items(self) -> dict[int, int]:
        """{product id: quantity}; anything malformed in the cookie is ignored."""
        raw = self._session.get("cart")
        if not isinstance(raw, dict):
            return {}
        items = {}
        for key, value in raw.items():
            if str(key).isdigit() and isinstance(value, int) and 0 < value <= MAX_QUANTITY:
                items[int(key)] = value
        return items

    def count(self) -> int:
        return sum(self.items().values())

    def _save(self, items: dict[int, int]) -> None:
        self._session["cart"] = {str(pid): qty for pid, qty in items.items()}

    def add(self, product: Product, quantity: int) -> int:
        """Add to the line of this product; the line's new quantity. Raises as set()."""
        items = self.items()
        return self.set(product, items.get(product.id, 0) + quantity)

    def set(self, product: Product, quantity: int) -> int:
        """Set the line's quantity (0 removes it), within 0..99 and the stock on hand; the
        line's new quantity. Raises TooManyOfOne, or CannotAdd (not sold, short of stock,
        a full cart)."""
        items = self.items()
        if quantity <= 0:
            items.pop(product.id, None)
            self._save(items)
            return 0
        if not product.active:
            raise CannotAdd(f"Sorry, {describe_shortfall(product.name, False, product.stock, quantity)}.")
        if quantity > MAX_QUANTITY:
            raise TooManyOfOne(f"At most {MAX_QUANTITY} of one product per order.")
        if quantity > product.stock:
            raise CannotAdd(f"Sorry, {describe_shortfall(product.name, True, product.stock, quantity)}.")
        if product.id not in items and len(items) >= MAX_LINES:
            raise CannotAdd(f"A cart holds at most {MAX_LINES} different products.")
        items[product.id] = quantity
        self._save(items)
        return quantity

    def remove(self, product_id: int) -> None:
        items = self.items()
        items.pop(product_id, None)
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
        products = db.session.execute(sa.select(Product).where(Product.id.in_(items))).scalars()
        by_id = {p.id: p for p in products}
        gone = [pid for pid in items if pid not in by_id]
        if gone:
            self.removed += len(gone)
            self._save({pid: qty for pid, qty in items.items() if pid in by_id})
        return [CartLine(by_id[pid], qty) for pid, qty in items.items() if pid in by_id]


def lines_total_cents(lines: list[CartLine]) -> int:
    return sum(line.subtotal_cents for line in lines)


def lines_by_rate(lines: list[CartLine]) -> dict[int, int]:
    """{tax rate bp: cents} of the lines, each at its product's rate (shop/tax/rates.py)."""
    rates = product_rates((line.product.id, line.product.tax_rate_id) for line in lines)
    return goods_by_rate((rates[line.product.id], line.subtotal_cents) for line in lines)
