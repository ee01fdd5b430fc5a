"""place_order(): the cart becomes an order, in one transaction, and the emails go out after.

In that one transaction:
1. stock is taken for every line by one conditional UPDATE (`stock >= wanted`), which
   also returns the prices from the database; a line that is short updates nothing;
2. a voucher's use is taken by one conditional UPDATE (`times_used < usage_limit`);
3. the totals are computed (pricing.py) and, when the form says what the checkout page
   showed, compared with it (shown.py): a changed price, shipping or total stops here;
   the order and its lines are written, with names and prices as they are now;
4. the emails are written to the outbox: the shopper's confirmation, the owner's "new
   order", and a "low stock" notice for each product this order took down to its threshold.
After the commit the emails' ids are handed to the mail dispatcher. If anything fails
before the commit, nothing at all was written: no stock or voucher use taken, no order,
no email.

The number of SQL statements does not depend on the number of lines in the cart.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError

from shop.auth.service import find_user, queue_claim_email
from shop.cart.service import describe_shortfall
from shop.checkout.payment import PaymentMethod, payment_method
from shop.checkout.pricing import Totals, quote
from shop.checkout.shipping import SHIPPING_OPTIONS
from shop.checkout.shown import Shown
from shop.checkout.vouchers import take_voucher_use, usable_voucher, voucher_discount
from shop.database import transaction
from shop.extensions import db, get_settings
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
    name: str | None  # None: the product was deleted from the catalogue
    wanted: int
    available: int  # 0 when it is no longer sold
    sold: bool = True  # False: switched off by the owner, or deleted

    def describe(self) -> str:
        """'Enamel Mug is no longer sold', 'Clay Teapot is out of stock', 'Assam Tea: only 2
        left, you asked for 3'."""
        return describe_shortfall(self.name, self.sold, self.available, self.wanted)


class OutOfStock(CheckoutError):
    """Some lines cannot be bought as they are: out of stock, short, or no longer sold."""

    def __init__(self, shortages: list[Shortage]) -> None:
        self.shortages = shortages
        what = "; ".join(s.describe() for s in shortages)
        super().__init__(f"Some products cannot be ordered: {what}. Nothing was ordered; please change your cart.")


class MethodNotOffered(CheckoutError):
    pass


class FormAlreadyUsed(CheckoutError):
    def __init__(self) -> None:
        super().__init__("This form was used for another order already; please check it and place the order again.")


class OrderTooLarge(CheckoutError):
    def __init__(self) -> None:
        super().__init__("This order is larger than the shop can take at once; please split it or contact us.")


# Order amounts are 32-bit integers of cents in the database (PostgreSQL's integer):
# an order above this is refused rather than overflowing.
MAX_ORDER_CENTS = 2_000_000_000


@dataclass(frozen=True)
class ShippingAddress:
    full_name: str
    address: str
    city: str
    postal_code: str
    country: str


@dataclass(frozen=True)
class Customer:
    """Who orders: an account, or a guest known only by an email address."""

    email: str
    user_id: int | None = None

    @classmethod
    def of(cls, user: User) -> Customer:
        return cls(user.email, user.id)


@dataclass(frozen=True)
class Choices:
    """What the shopper chose at checkout besides the goods."""

    shipping_method: str = "standard"
    payment_method: str = "bank_transfer"
    voucher_code: str = ""


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    duplicate: bool  # the same checkout form was submitted before: this is that order


def new_order_number() -> str:
    today = utcnow().strftime("%y%m%d")
    return today + "-" + "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(6))


def new_checkout_token() -> str:
    return secrets.token_urlsafe(24)


def find_order_by_token(customer: Customer, checkout_token: str) -> Order | None:
    order = db.session.execute(sa.select(Order).where(Order.checkout_token == checkout_token)).scalar_one_or_none()
    if order is None or order.user_id != customer.user_id:
        return None
    return order if customer.user_id is not None or order.email == customer.email else None


def last_shipping_address(user: User) -> ShippingAddress | None:
    order = db.session.execute(
        sa.select(Order).where(Order.user_id == user.id, Order.address != "").order_by(Order.id.desc()).limit(1)
    ).scalar_one_or_none()
    if order is None:
        return None
    return ShippingAddress(order.full_name, order.address, order.city, order.postal_code, order.country)


def check_choices(choices: Choices) -> PaymentMethod:
    """The payment method chosen, if the shop offers it and it fits the shipping chosen."""
    settings = get_settings()
    method = payment_method(choices.payment_method)
    if choices.shipping_method not in settings.shipping_methods:
        raise MethodNotOffered("Please choose one of the shipping options shown.")
    if method is None or method.code not in settings.payment_methods:
        raise MethodNotOffered("Please choose one of the payment methods shown.")
    if not method.fits(choices.shipping_method):
        raise MethodNotOffered(f"{method.label} cannot be combined with this shipping option.")
    return method


def place_order(
    customer: Customer,
    items: dict[int, int],
    ship_to: ShippingAddress,
    choices: Choices,
    checkout_token: str,
    shown: Shown | None = None,
) -> PlacedOrder:
    """Turn the cart `items` ({product id: quantity}) into an order for `customer`.

    `shown` is what the checkout page showed (shown.py); when given, an order that would
    differ from it in any line, price, discount, shipping or total is not placed.
    Raises a CheckoutError (EmptyCart, OutOfStock, MethodNotOffered), a VoucherError or
    PriceChanged, with nothing written. The same `checkout_token` twice returns the first
    order instead of making a second one (whatever changed since).
    """
    earlier = find_order_by_token(customer, checkout_token)
    if earlier is not None:
        return PlacedOrder(earlier, duplicate=True)
    if not items:
        raise EmptyCart()
    method = check_choices(choices)
    if choices.shipping_method == "pickup":  # the name says who collects it; no address is kept
        ship_to = ShippingAddress(ship_to.full_name, "", "", "", "")
    try:
        with transaction():
            order, lines, low = _write_order(customer, items, ship_to, choices, method, checkout_token, shown)
            email_ids = _queue_emails(order, lines, method) + _queue_low_stock_emails(order, low)
            if customer.user_id is None:
                email_ids.append(_offer_to_claim(order))
    except IntegrityError:
        # Two submissions of one form raced: the other one's order stands.
        db.session.rollback()
        earlier = find_order_by_token(customer, checkout_token)
        if earlier is None:  # the token of someone else's order, sent back by hand
            raise FormAlreadyUsed() from None
        return PlacedOrder(earlier, duplicate=True)
    log.info(
        "order %s placed by %s: %d line(s), total %d cents, %s, %s",
        order.number,
        f"user {customer.user_id}" if customer.user_id else "a guest",
        len(items),
        order.total_cents,
        order.shipping_method,
        order.payment_method,
    )
    get_dispatcher().hand_off(email_ids)
    return PlacedOrder(order, duplicate=False)


@dataclass(frozen=True)
class LowStock:
    product_id: int
    name: str
    sku: str
    stock: int
    threshold: int


def _write_order(
    customer: Customer,
    items: dict[int, int],
    ship_to: ShippingAddress,
    choices: Choices,
    method: PaymentMethod,
    checkout_token: str,
    shown: Shown | None,
) -> tuple[Order, list[OrderLine], list[LowStock]]:
    settings = get_settings()
    wanted = sa.case(items, value=Product.id)
    taken = db.session.execute(
        sa.update(Product)
        .where(Product.id.in_(items), Product.active.is_(True), Product.stock >= wanted)
        .values(stock=Product.stock - wanted, version_id=Product.version_id + 1)  # edit forms see the sale
        .returning(
            Product.id, Product.name, Product.sku, Product.price_cents, Product.stock, Product.low_stock_threshold
        )
        .execution_options(synchronize_session=False)
    ).all()
    if len(taken) != len(items):
        raise OutOfStock(_shortages(items, {row.id for row in taken}))
    cart_order = {pid: position for position, pid in enumerate(items)}
    rows = sorted(taken, key=lambda row: cart_order[row.id])
    subtotal = sum(row.price_cents * items[row.id] for row in rows)
    if subtotal > MAX_ORDER_CENTS:
        raise OrderTooLarge()

    voucher, discount = None, 0
    if choices.voucher_code:
        voucher = usable_voucher(choices.voucher_code, subtotal)
        take_voucher_use(voucher)
        discount = voucher_discount(voucher, subtotal)
    totals = quote(subtotal, choices.shipping_method, discount, settings)
    if shown is not None:  # from the rows the UPDATE returned: no query of its own
        shown.check(rows, items, choices.shipping_method, totals, settings.currency)

    order = Order(
        number=new_order_number(),
        user_id=customer.user_id,
        email=customer.email,
        status=method.initial_status,
        payment_method=method.code,
        shipping_method=choices.shipping_method,
        checkout_token=checkout_token,
        voucher_id=voucher.id if voucher else None,
        voucher_code=voucher.code if voucher else "",
        **_figures(totals),
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
    low = []
    for row in rows:
        threshold = row.low_stock_threshold
        if threshold is None:
            threshold = settings.low_stock_threshold
        if row.stock <= threshold < row.stock + items[row.id]:  # this order crossed it
            low.append(LowStock(row.id, row.name, row.sku, row.stock, threshold))
    return order, [OrderLine(**line) for line in lines], low


def _figures(totals: Totals) -> dict[str, int | bool]:
    return {
        "subtotal_cents": totals.subtotal_cents,
        "discount_cents": totals.discount_cents,
        "shipping_cents": totals.shipping_cents,
        "tax_cents": totals.tax_cents,
        "tax_rate_bp": totals.tax_rate_bp,
        "prices_include_tax": totals.prices_include_tax,
        "total_cents": totals.total_cents,
    }


def _shortages(items: dict[int, int], taken_ids: set[int]) -> list[Shortage]:
    """Which lines could not be taken, and how many are left of each."""
    short_ids = [pid for pid in items if pid not in taken_ids]
    products = {p.id: p for p in db.session.execute(sa.select(Product).where(Product.id.in_(short_ids))).scalars()}
    shortages = []
    for pid in short_ids:
        product = products.get(pid)
        if product is None:
            shortages.append(Shortage(pid, None, items[pid], 0, sold=False))
        else:
            available = product.stock if product.active else 0
            shortages.append(Shortage(pid, product.name, items[pid], available, sold=product.active))
    return shortages


@dataclass(frozen=True)
class HowPaidAndShipped:
    """An order's payment and shipping as the shopper chose them, for its pages."""

    payment: PaymentMethod | None  # None: an order from before payment methods
    payment_label: str
    shipping_label: str


def how_paid_and_shipped(order: Order) -> HowPaidAndShipped:
    method, shipping = payment_method(order.payment_method), SHIPPING_OPTIONS.get(order.shipping_method)
    return HowPaidAndShipped(method, method.label if method else "", shipping.label if shipping else "")


def order_link(order: Order) -> str:
    """The order's page: My Orders for an account, a signed link for a guest."""
    if order.user_id is not None:
        return absolute_url_for("orders.detail", order_id=order.id)
    return absolute_url_for("orders.guest_detail", token=guest_order_token(order))


def _queue_emails(order: Order, lines: list[OrderLine], method: PaymentMethod) -> list[int | None]:
    """The customer's confirmation and, when SHOP_OWNER_EMAIL is set, the owner's notice."""
    settings = get_settings()
    context = {
        "order": order,
        "lines": lines,
        "customer_email": order.email,
        "payment_label": method.label,
        "payment_instructions": method.instructions(order, settings),
    }
    ids = [
        queue_email(
            "order_confirmation",
            key=f"order_confirmation:{order.id}",
            recipient=order.email,
            subject=f"Your {settings.shop_name} order {order.number}",
            order_url=order_link(order),
            **context,
        )
    ]
    if settings.owner_email:
        ids.append(
            queue_email(
                "new_order",
                key=f"new_order:{order.id}",
                recipient=settings.owner_email,
                subject=f"New order {order.number}: {format_money(order.total_cents, settings.currency)}",
                order_url=absolute_url_for("admin.order_detail", order_id=order.id),
                **context,
            )
        )
    return ids


def _offer_to_claim(order: Order) -> int | None:
    """A guest who has an account with this address: offer to add the order to it."""
    user = find_user(order.email)
    if user is None:
        return None
    return queue_claim_email(user, key=f"claim_orders:user-{user.id}:order-{order.id}", just_ordered=True)


def _queue_low_stock_emails(order: Order, low: Sequence[LowStock]) -> list[int | None]:
    """One email per product this order took down to its threshold: the key names the
    order, so each crossing is told once, and the next only after a restock."""
    owner = get_settings().owner_email
    if not owner:
        return []
    return [
        queue_email(
            "low_stock",
            key=f"low_stock:{item.product_id}:{order.id}",
            recipient=owner,
            subject=f"Low stock: {item.name} ({item.stock} left)",
            item=item,
            order=order,
            product_url=absolute_url_for("admin.product_edit", product_id=item.product_id),
        )
        for item in low
    ]


# ---------------------------------------------------------------- the guest's signed link
GUEST_LINK_SALT = "guest-order"


def _guest_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=GUEST_LINK_SALT)


def guest_order_token(order: Order) -> str:
    return _guest_serializer().dumps([order.id, order.number])


class GuestLinkExpired(Exception):
    pass


def order_from_guest_token(token: str) -> Order | None:
    """The order a guest link names; None if the link was altered or the order is gone.
    Raises GuestLinkExpired after SHOP_GUEST_LINK_DAYS."""
    max_age = get_settings().guest_link_days * 24 * 3600
    try:
        order_id, number = _guest_serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise GuestLinkExpired() from None
    except (BadSignature, ValueError, TypeError):
        return None
    order = db.session.get(Order, order_id) if isinstance(order_id, int) else None
    return order if order is not None and order.number == number else None
