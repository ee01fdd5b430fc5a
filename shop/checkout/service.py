"""place_order(): the cart becomes an order, in one transaction, and the emails go out after.

In that one transaction:
1. stock is taken for every line by one conditional UPDATE (`stock >= wanted`), which
   also returns the prices from the database; a line that is short updates nothing
   (stock.py: one more UPDATE, of the variants' table, when the cart holds variants);
2. a voucher's use is taken by one conditional UPDATE (`times_used < usage_limit`);
3. the totals are computed (shop/pricing.py, the shipping option's cost) and, when the form
   says what the checkout page showed, compared with it (shown.py): a changed price,
   shipping or total stops here; the order and its lines are written, with names and
   prices as they are now, in the status the payment method starts it in;
4. the emails are written to the outbox (emails.py): the shopper's confirmation, the
   owner's "new order", and a "low stock" notice for each product (or variant) this order
   took down to its threshold.
After the commit the emails' ids are handed to the mail dispatcher. If anything fails
before the commit, nothing at all was written: no stock or voucher use taken, no order,
no email.

The checkout form's hidden `checkout_token` is the order's idempotency key: it is made
when the page is shown, stored with the order (unique), and the same form posted again,
even twice at once, gets the order the first one made instead of a second order.

The number of SQL statements does not depend on the number of lines in the cart. The
order's life after this (status moves, cancelling, links) is shop/orders/.

Next: shop/mail/messages.py (emails.py picks the order's emails; messages.py writes each)
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from shop.addresses import ShippingAddress
from shop.cart.service import Item
from shop.checkout.emails import LowStock, enqueue_order_emails
from shop.checkout.errors import EmptyCart, FormAlreadyUsed, MethodNotOffered, OrderTooLarge
from shop.checkout.payment_page import resume_payment, start_payment
from shop.checkout.shown import Shown
from shop.checkout.stock import take_stock
from shop.clock import shop_today
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.mail.dispatcher import get_dispatcher
from shop.models import Order, OrderLine, OrderTaxLine, User
from shop.payment import PaymentMethod, payment_method
from shop.pricing import Totals, quote
from shop.shipping import ShippingOption, ZoneRate, shipping_option
from shop.shipping_zones import zone_rate
from shop.tax.rates import goods_by_rate
from shop.vouchers import take_voucher_use, usable_voucher, voucher_discount

log = logging.getLogger(__name__)

# Order numbers: the date, then 6 letters and digits nobody confuses (no 0/O, 1/I, 5/S, 8/B).
ORDER_NUMBER_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"


# Order amounts are 32-bit integers of cents in the database (PostgreSQL's integer):
# an order above this is refused rather than overflowing.
MAX_ORDER_CENTS = 2_000_000_000


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
    """What the shopper chose at checkout besides the goods: codes of a shipping option and
    a payment method (as the form posts them), and the voucher code applied ("" none)."""

    shipping_method: str
    payment_method: str
    voucher_code: str = ""


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    duplicate: bool  # the same checkout form was submitted before: this is that order
    payment_url: str | None = None  # the provider's page to pay on (card); None: none


def new_order_number() -> str:
    """'260114-K7QX3M': the shop's date (SHOP_TIMEZONE) and six characters nobody confuses."""
    today = shop_today().strftime("%y%m%d")
    return today + "-" + "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(6))


def new_checkout_token() -> str:
    """A new idempotency key for a checkout form: 32 URL-safe characters (192 random bits)."""
    return secrets.token_urlsafe(24)


def find_order_by_token(customer: Customer, checkout_token: str) -> Order | None:
    """The order `customer` placed with this idempotency key; None if there is none (or it
    is someone else's)."""
    order = db.session.execute(sa.select(Order).where(Order.checkout_token == checkout_token)).scalar_one_or_none()
    if order is None or order.user_id != customer.user_id:
        return None
    return order if customer.user_id is not None or order.email == customer.email else None


def check_choices(choices: Choices) -> tuple[PaymentMethod, ShippingOption]:
    """The payment method and shipping option chosen, if the shop offers both and they fit
    each other. Raises MethodNotOffered saying which does not."""
    settings = get_settings()
    method, option = payment_method(choices.payment_method), shipping_option(choices.shipping_method)
    if option is None or option.code not in settings.shipping_methods:
        raise MethodNotOffered(_("Please choose one of the shipping options shown."))
    if method is None or method.code not in settings.payment_methods:
        raise MethodNotOffered(_("Please choose one of the payment methods shown."))
    if not method.fits(option):
        raise MethodNotOffered(_("%(method)s cannot be combined with this shipping option.", method=method.label))
    return method, option


def place_order(
    customer: Customer,
    items: Mapping[Item | int, int],
    ship_to: ShippingAddress,
    choices: Choices,
    checkout_token: str,
    shown: Shown | None = None,
) -> PlacedOrder:
    """Turn the cart `items` ({item: quantity}: a product, or a variant of one; a bare
    product id is that product) into an order for `customer`.

    `checkout_token` is the idempotency key of the checkout form: the same key twice
    returns the first order (`duplicate`) instead of making a second one, whatever changed
    since. `shown` is what the checkout page showed (shown.py); when given, an order that
    would differ from it in any line, price, discount, shipping or total is not placed.
    A method paid on a provider's page (card) gets that page once the order is committed
    (payment_page.py): `payment_url`. Raises a CheckoutError (EmptyCart, OutOfStock,
    MethodNotOffered, FormAlreadyUsed, OrderTooLarge), NotShippable (no shipping zone takes
    the country), a VoucherError or PriceChanged, with nothing written; PaymentNotStarted,
    with the order written and cancelled.
    """
    earlier = find_order_by_token(customer, checkout_token)
    if earlier is not None:
        return PlacedOrder(earlier, duplicate=True, payment_url=resume_payment(earlier))
    # A bare product id is that product's line (how callers from before variants say it).
    items = {item if isinstance(item, Item) else Item(item): qty for item, qty in items.items()}
    if not items:
        raise EmptyCart()
    method, option = check_choices(choices)
    if not option.needs_address:  # the name says who collects it; no address is kept
        ship_to = ShippingAddress(ship_to.full_name, "", "", "", "")
    zone = zone_rate(ship_to.country, get_settings()) if option.needs_address else None
    try:
        with transaction():
            order, lines, low = _write_order(
                customer, items, ship_to, choices, (method, option, zone), checkout_token, shown
            )
            email_ids = enqueue_order_emails(order, lines, low)
    except IntegrityError:
        # Two submissions of one form raced: the other one's order stands.
        db.session.rollback()
        earlier = find_order_by_token(customer, checkout_token)
        if earlier is None:  # the token of someone else's order, sent back by hand
            raise FormAlreadyUsed() from None
        return PlacedOrder(earlier, duplicate=True, payment_url=resume_payment(earlier))
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
    return PlacedOrder(order, duplicate=False, payment_url=start_payment(order))


def _write_order(
    customer: Customer,
    items: dict[Item, int],
    ship_to: ShippingAddress,
    choices: Choices,
    methods: tuple[PaymentMethod, ShippingOption, ZoneRate | None],
    checkout_token: str,
    shown: Shown | None,
) -> tuple[Order, list[OrderLine], list[LowStock]]:
    method, option, zone = methods
    settings = get_settings()
    rows = take_stock(items)
    subtotal = sum(row.price_cents * items[row.item] for row in rows)
    if subtotal > MAX_ORDER_CENTS:
        raise OrderTooLarge()

    voucher, discount = None, 0
    if choices.voucher_code:
        voucher = usable_voucher(choices.voucher_code, subtotal)
        take_voucher_use(voucher)
        discount = voucher_discount(voucher, subtotal)
    line_rates = {row.item: settings.tax_rate_bp if row.rate_bp is None else row.rate_bp for row in rows}
    by_rate = goods_by_rate((line_rates[row.item], row.price_cents * items[row.item]) for row in rows)
    totals = quote(subtotal, option, discount, settings, zone, goods_by_rate=by_rate)
    if shown is not None:  # from the rows the UPDATE returned: no query of its own
        shown.check(rows, items, option.code, totals, settings.currency)

    order = Order(
        number=new_order_number(),
        user_id=customer.user_id,
        email=customer.email,
        status=method.initial_status,
        payment_method=method.code,
        shipping_method=option.code,
        checkout_token=checkout_token,
        voucher_id=voucher.id if voucher else None,
        voucher_code=voucher.code if voucher else "",
        **_figures(totals),
        **vars(ship_to),
    )
    order.tax_lines = [OrderTaxLine(**vars(line)) for line in totals.tax_lines]  # for the emails too
    db.session.add(order)
    db.session.flush()  # INSERT the order (and its tax lines): its id, for the lines and the email's link
    lines = [
        {
            "order_id": order.id,
            "product_id": row.item.product_id,
            "variant_id": row.item.variant_id,
            "name": row.name,
            "option": row.option,
            "sku": row.sku,
            "unit_price_cents": row.price_cents,
            "quantity": items[row.item],
            "tax_rate_bp": line_rates[row.item],
        }
        for row in rows
    ]
    # One INSERT (executemany) for all lines: the ORM would send one per line here.
    # render_nulls: a product's line (variant_id None) and a variant's go in the same batch
    # (the ORM would otherwise leave the None out and split the INSERT by the keys given).
    db.session.execute(sa.insert(OrderLine).execution_options(render_nulls=True), lines)
    low = []
    for row in rows:
        threshold = row.low_stock_threshold
        if threshold is None:
            threshold = settings.low_stock_threshold
        if row.stock <= threshold < row.stock + items[row.item]:  # this order crossed it
            low.append(LowStock(row.item, row.title, row.sku, row.stock, threshold))
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
