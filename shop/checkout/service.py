"""place_order(): the cart becomes an order, in one transaction, and the email goes out after.

In that one transaction:
1. stock is taken for every line by one conditional UPDATE (`stock >= wanted`), which
   also returns the prices from the database; a line that is short updates nothing;
2. the order and its lines are written, with names and prices as they are now;
3. the confirmation email (and the owner's "new order" email) is written to the outbox.
After the commit the email's id is handed to the mail dispatcher. If anything fails before
the commit, nothing at all was written: no stock taken, no order, no email.

The number of SQL statements does not depend on the number of lines in the cart.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from shop.database import transaction
from shop.extensions import db
from shop.mail.dispatcher import get_dispatcher
from shop.mail.messages import queue_email
from shop.models import Order, OrderLine, Product, User, utcnow
from shop.money import format_money
from shop.urls import absolute_url_for

log = logging.getLogger(__name__)

# Order numbers: the date, then 6 letters and digits nobody confuses (no 0/O, 1/I, 5/S, 8/B).
ORDER_NUMBER_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"


class CheckoutError(Exception):
    """The order cannot be placed; the message is for the shopper."""


class EmptyCart(CheckoutError):
    def __init__(self) -> None:
        super().__init__("Your cart is empty: add something before checking out.")


@dataclass(frozen=True)
class Shortage:
    product_id: int
    name: str
    wanted: int
    available: int


class OutOfStock(CheckoutError):
    def __init__(self, shortages: list[Shortage]) -> None:
        self.shortages = shortages
        names = ", ".join(f"{s.name} (you asked for {s.wanted}, {s.available} left)" for s in shortages)
        super().__init__(f"Not enough stock for: {names}. Nothing was ordered; please change your cart.")


@dataclass(frozen=True)
class ShippingAddress:
    full_name: str
    address: str
    city: str
    postal_code: str
    country: str


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    duplicate: bool  # the same checkout form was submitted before: this is that order


def new_order_number() -> str:
    today = utcnow().strftime("%y%m%d")
    return today + "-" + "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(6))


def new_checkout_token() -> str:
    return secrets.token_urlsafe(24)


def find_order_by_token(user: User, checkout_token: str) -> Order | None:
    order = db.session.execute(sa.select(Order).where(Order.checkout_token == checkout_token)).scalar_one_or_none()
    return order if order is not None and order.user_id == user.id else None


def last_shipping_address(user: User) -> ShippingAddress | None:
    order = db.session.execute(
        sa.select(Order).where(Order.user_id == user.id).order_by(Order.id.desc()).limit(1)
    ).scalar_one_or_none()
    if order is None:
        return None
    return ShippingAddress(order.full_name, order.address, order.city, order.postal_code, order.country)


def place_order(user: User, items: dict[int, int], ship_to: ShippingAddress, checkout_token: str) -> PlacedOrder:
    """Turn the cart `items` ({product id: quantity}) into an order for `user`.

    Raises EmptyCart or OutOfStock (nothing written). The same `checkout_token` twice
    returns the first order instead of making a second one.
    """
    earlier = find_order_by_token(user, checkout_token)
    if earlier is not None:
        return PlacedOrder(earlier, duplicate=True)
    if not items:
        raise EmptyCart()
    try:
        with transaction():
            order, lines = _write_order(user, items, ship_to, checkout_token)
            email_ids = _queue_emails(order, lines, user.email)
    except IntegrityError:
        # Two submissions of one form raced: the other one's order stands.
        db.session.rollback()
        earlier = find_order_by_token(user, checkout_token)
        if earlier is None:
            raise
        return PlacedOrder(earlier, duplicate=True)
    log.info(
        "order %s placed by user %s: %d line(s), total %d cents", order.number, user.id, len(items), order.total_cents
    )
    get_dispatcher().hand_off(email_ids)
    return PlacedOrder(order, duplicate=False)


def _write_order(
    user: User, items: dict[int, int], ship_to: ShippingAddress, checkout_token: str
) -> tuple[Order, list[OrderLine]]:
    wanted = sa.case(items, value=Product.id)
    taken = db.session.execute(
        sa.update(Product)
        .where(Product.id.in_(items), Product.active.is_(True), Product.stock >= wanted)
        .values(stock=Product.stock - wanted)
        .returning(Product.id, Product.name, Product.sku, Product.price_cents)
        .execution_options(synchronize_session=False)
    ).all()
    if len(taken) != len(items):
        raise OutOfStock(_shortages(items, {row.id for row in taken}))
    cart_order = {pid: position for position, pid in enumerate(items)}
    rows = sorted(taken, key=lambda row: cart_order[row.id])
    order = Order(
        number=new_order_number(),
        user_id=user.id,
        checkout_token=checkout_token,
        total_cents=sum(row.price_cents * items[row.id] for row in rows),
        **vars(ship_to),
    )
    db.session.add(order)
    db.session.flush()  # INSERT the order: its id, for the lines and the email's link
    lines = [
        {
            "order_id": order.id,
            "product_id": row.id,
            "name": row.name,
            "sku": row.sku,
            "unit_price_cents": row.price_cents,
            "quantity": items[row.id],
        }
        for row in rows
    ]
    # One INSERT (executemany) for all lines: the ORM would send one per line here.
    db.session.execute(sa.insert(OrderLine), lines)
    return order, [OrderLine(**line) for line in lines]


def _shortages(items: dict[int, int], taken_ids: set[int]) -> list[Shortage]:
    """Which lines could not be taken, and how many are left of each."""
    short_ids = [pid for pid in items if pid not in taken_ids]
    products = {p.id: p for p in db.session.execute(sa.select(Product).where(Product.id.in_(short_ids))).scalars()}
    shortages = []
    for pid in short_ids:
        product = products.get(pid)
        available = product.stock if product is not None and product.active else 0
        name = product.name if product is not None else f"product {pid}"
        shortages.append(Shortage(pid, name, items[pid], available))
    return shortages


def _queue_emails(order: Order, lines: list[OrderLine], customer_email: str) -> list[int | None]:
    """The customer's confirmation and, when SHOP_OWNER_EMAIL is set, the owner's notice."""
    config = current_app.config
    context = {"order": order, "lines": lines, "customer_email": customer_email}
    ids = [
        queue_email(
            "order_confirmation",
            key=f"order_confirmation:{order.id}",
            recipient=customer_email,
            subject=f"Your {config['SHOP_NAME']} order {order.number}",
            order_url=absolute_url_for("orders.detail", order_id=order.id),
            **context,
        )
    ]
    if config["SHOP_OWNER_EMAIL"]:
        ids.append(
            queue_email(
                "new_order",
                key=f"new_order:{order.id}",
                recipient=config["SHOP_OWNER_EMAIL"],
                subject=f"New order {order.number}: {format_money(order.total_cents, config['SHOP_CURRENCY'])}",
                order_url=absolute_url_for("admin.order_detail", order_id=order.id),
                **context,
            )
        )
    return ids
