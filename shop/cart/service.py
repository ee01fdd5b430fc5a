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
from shop.models import Product

MAX_QUANTITY = 99
MAX_LINES = 50  # keeps the session cookie well under the browsers' 4 KB


class CartError(Exception):
    """A change the cart cannot take; the message is for the shopper."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


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
    def available(self) -> bool:
        return self.product.active and self.product.stock >= self.quantity


class Cart:
    def __init__(self, session: MutableMapping[str, Any]) -> None:
        self._session = session

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
        """Add to the line of this product; the line's new quantity."""
        items = self.items()
        return self.set(product, items.get(product.id, 0) + quantity)

    def set(self, product: Product, quantity: int) -> int:
        """Set the line's quantity (0 removes it), within 0..99 and the stock on hand."""
        items = self.items()
        if quantity <= 0:
            items.pop(product.id, None)
            self._save(items)
            return 0
        if not product.active:
            raise CartError(f"{product.name} is no longer sold.", 409)
        if quantity > MAX_QUANTITY:
            raise CartError(f"At most {MAX_QUANTITY} of one product per order.", 422)
        if quantity > product.stock:
            left = f"only {product.stock} left" if product.stock else "it is out of stock"
            raise CartError(f"Sorry, {product.name}: {left}.", 409)
        if product.id not in items and len(items) >= MAX_LINES:
            raise CartError(f"A cart holds at most {MAX_LINES} different products.", 409)
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
        """The cart's lines with their products, in one query; vanished products drop out."""
        items = self.items()
        if not items:
            return []
        products = db.session.execute(sa.select(Product).where(Product.id.in_(items))).scalars()
        by_id = {p.id: p for p in products}
        return [CartLine(by_id[pid], qty) for pid, qty in items.items() if pid in by_id]


def lines_total_cents(lines: list[CartLine]) -> int:
    return sum(line.subtotal_cents for line in lines)
