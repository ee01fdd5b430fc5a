"""The order after it is placed: where its status may move, the moves and what each means
(paid, shipped, cancelled and restocked), cancelling orders left unpaid, and how it was paid
and shipped, as its pages and emails show it.

Checkout creates orders (shop/checkout/service.py); the admin, `flask shop cancel-unpaid`
and the order pages come here. What depends on the payment method or the shipping option
is asked of it (shop/payment, shop/shipping.py). The links to an order are in links.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from shop.database import transaction
from shop.extensions import db, get_settings
from shop.mail.dispatcher import get_dispatcher
from shop.mail.messages import enqueue_email
from shop.models import Order, OrderLine, OrderStatus, OrderStatusChange, Product, User, utcnow
from shop.orders.invoicing import documents_for_move
from shop.orders.links import order_link
from shop.payment import PAYMENT_METHODS, PaymentMethod, payment_method
from shop.shipping import ShippingOption, shipping_option
from shop.vouchers import give_back_voucher_use

log = logging.getLogger(__name__)

# The moves an owner can make, before next_statuses() narrows them by the order's payment
# method and shipping option. Cancelling puts the stock back.
ALLOWED_MOVES: dict[OrderStatus, tuple[OrderStatus, ...]] = {
    OrderStatus.AWAITING_PAYMENT: (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED),
    OrderStatus.PLACED: (OrderStatus.PAID, OrderStatus.CANCELLED),
    OrderStatus.PAID: (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED),
    OrderStatus.SHIPPED: (OrderStatus.DELIVERED,),
    OrderStatus.DELIVERED: (),
    OrderStatus.CANCELLED: (),
}
HANDED_OVER = (OrderStatus.SHIPPED, OrderStatus.DELIVERED)


class OrderNotFound(Exception):
    """No such order (or not one of this shopper's)."""


class StatusChangeRefused(Exception):
    """The move is not allowed from the order's current status; the message says why."""


@dataclass(frozen=True)
class HowPaidAndShipped:
    """An order's payment method and shipping option, for its pages and emails. Either is
    None for a code the shop does not know (an order from before payment methods has "")."""

    order: Order
    payment: PaymentMethod | None
    shipping: ShippingOption | None

    @property
    def payment_label(self) -> str:
        return self.payment.label if self.payment else ""

    @property
    def shipping_label(self) -> str:
        return self.shipping.label if self.shipping else ""

    @property
    def shipping_in_words(self) -> str:
        """'delivery', 'pickup in store': the option inside a sentence."""
        return self.shipping.in_words if self.shipping else "delivery"

    @property
    def collected(self) -> bool:
        """Handed over at the shop: no address to show, never shipped."""
        return self.shipping is not None and self.shipping.handed_over_at_shop

    @property
    def reference(self) -> str:
        """What the payment carries for the owner to match it ("" : nothing)."""
        return self.payment.reference(self.order) if self.payment else ""

    @property
    def collect_after_payment(self) -> bool:
        """Still waiting for money that must come before the goods are handed over."""
        waiting = self.order.status in (OrderStatus.AWAITING_PAYMENT, OrderStatus.PLACED)
        return waiting and self.payment is not None and not self.payment.paid_on_handover

    def instructions(self) -> list[str]:
        """How to pay, as lines for the order page and the emails (none for an unknown method)."""
        return self.payment.instructions(self.order, get_settings()) if self.payment else []


def how_paid_and_shipped(order: Order) -> HowPaidAndShipped:
    """The order's payment method and shipping option, as its pages and emails show them."""
    return HowPaidAndShipped(order, payment_method(order.payment_method), shipping_option(order.shipping_method))


def get_order(order_id: int) -> Order:
    """The order with this id. Raises OrderNotFound."""
    order = db.session.get(Order, order_id)
    if order is None:
        raise OrderNotFound(order_id)
    return order


def order_of(user: User, order_id: int) -> Order:
    """`user`'s order with this id. Raises OrderNotFound for another shopper's order too, so
    that a page does not confirm that someone else's order number exists."""
    order = db.session.get(Order, order_id)
    if order is None or order.user_id != user.id:
        raise OrderNotFound(order_id)
    return order


def orders_of(user: User) -> sa.Select:
    """`user`'s orders, newest first, with their lines (a statement, for a page of them)."""
    return (
        sa.select(Order)
        .where(Order.user_id == user.id)
        .options(selectinload(Order.lines))
        .order_by(Order.created_at.desc(), Order.id.desc())
    )


def next_statuses(order: Order) -> tuple[OrderStatus, ...]:
    """Where the owner may move `order`: only an order collected at the shop is handed over
    without shipping, and only one paid on handover is shipped (and delivered) before it is
    paid."""
    how = how_paid_and_shipped(order)
    paid_on_handover = how.payment is not None and how.payment.paid_on_handover
    allowed = []
    for status in ALLOWED_MOVES.get(order.status, ()):
        if status == OrderStatus.SHIPPED and how.collected:
            continue
        if status == OrderStatus.DELIVERED and order.status != OrderStatus.SHIPPED and not how.collected:
            continue
        if order.status == OrderStatus.AWAITING_PAYMENT and status in HANDED_OVER and not paid_on_handover:
            continue
        allowed.append(status)
    return tuple(allowed)


def change_order_status(
    order_id: int, to_status: str, by: User | None, note: str = "", seen_status: str | None = None
) -> Order:
    """Move an order along an allowed transition, record who did it (None: the shop
    itself, e.g. `flask shop cancel-unpaid`), and do what the move means: cancelling puts
    the stock and the voucher's use back (exactly once), tells the customer and then the
    payment method (`on_cancel`: a refund); shipping emails the customer; a move to paid
    (or handing over an order paid on handover) records when the money came.

    `seen_status` is the status the admin's page showed: if the order has another one now
    (another admin marked it paid meanwhile), StatusChangeRefused says so and nothing
    changes. The move is one conditional UPDATE (`WHERE status = <the status seen>`), so
    two owners clicking at once, or one form submitted twice, make one change.
    Raises OrderNotFound, StatusChangeRefused.
    """
    order = get_order(order_id)
    from_status = seen_status or order.status
    if order.status != from_status and order.status == to_status:
        raise StatusChangeRefused(f"This order is {order.status_label.lower()} already (changed meanwhile).")
    if order.status != from_status:
        raise StatusChangeRefused(
            f"This order was {OrderStatus.label_of(from_status).lower()} when you opened it and is "
            f"{order.status_label.lower()} now (changed meanwhile), so it was not made "
            f"{OrderStatus.label_of(to_status).lower()}. Check it and choose again."
        )
    if to_status not in next_statuses(order):
        raise StatusChangeRefused(
            f"An order that is {OrderStatus.label_of(from_status).lower()} cannot become "
            f"{OrderStatus.label_of(to_status).lower()}."
        )
    method = payment_method(order.payment_method)
    values: dict[str, object] = {"status": to_status}
    paid_now = to_status == OrderStatus.PAID or (
        to_status == OrderStatus.DELIVERED and method is not None and method.paid_on_handover
    )
    if paid_now and order.paid_at is None:
        values["paid_at"] = utcnow()
    email_id = None
    with transaction():
        moved = db.session.execute(
            sa.update(Order)
            .where(Order.id == order_id, Order.status == from_status)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            raise StatusChangeRefused("The order was changed meanwhile; reload it and try again.")
        db.session.add(
            OrderStatusChange(
                order_id=order_id,
                from_status=from_status,
                to_status=to_status,
                changed_by_id=by.id if by is not None else None,
                note=note.strip(),
            )
        )
        if to_status == OrderStatus.CANCELLED:
            _restock(order_id)
            give_back_voucher_use(order.voucher_id)
            email_id = _enqueue_status_email(order, "order_cancelled", "has been cancelled", note.strip())
        if to_status == OrderStatus.SHIPPED:
            email_id = _enqueue_status_email(order, "order_shipped", "has shipped", note.strip())
        # The invoice (numbered in this transaction) or a credit note: shop/orders/invoicing.py.
        email_id = documents_for_move(order, to_status, "paid_at" in values, note) or email_id
    db.session.refresh(order)
    get_dispatcher().hand_off([email_id])
    if to_status == OrderStatus.CANCELLED and method is not None:
        method.on_cancel(order)
    return order


def unpaid_orders_due(days: int | None = None, now: datetime | None = None) -> list[tuple[int, timedelta]]:
    """(order id, the time it was given to pay) for every order still awaiting payment past
    its payment method's `unpaid_deadline` (methods without one never expire), oldest id
    first. `days`: this many days instead of each method's deadline."""
    now, settings = now or utcnow(), get_settings()
    due = []
    for method in PAYMENT_METHODS.values():
        wait = method.unpaid_deadline(settings)
        if wait is None:
            continue
        if days is not None:
            wait = timedelta(days=days)
        ids = db.session.execute(
            sa.select(Order.id).where(
                Order.status == OrderStatus.AWAITING_PAYMENT,
                Order.payment_method == method.code,
                Order.created_at < now - wait,
            )
        ).scalars()
        due += [(order_id, wait) for order_id in ids]
    return sorted(due)


def cancel_unpaid_orders(days: int | None = None, now: datetime | None = None) -> list[Order]:
    """Cancel (restock, email) every order unpaid past its deadline (unpaid_orders_due);
    each once, however often this runs or however many run at once (the move is
    conditional). The orders cancelled."""
    cancelled = []
    for order_id, wait in unpaid_orders_due(days, now):
        try:
            note = f"Not paid within {wait.days} days."
            cancelled.append(change_order_status(order_id, OrderStatus.CANCELLED, None, note))
        except (StatusChangeRefused, OrderNotFound):
            continue  # paid or cancelled meanwhile
    return cancelled


def _restock(order_id: int) -> None:
    """Put every line's quantity back on the shelf, in one UPDATE (which counts up each
    product's version, so an edit form showing the old stock cannot write it back)."""
    lines = db.session.execute(
        sa.select(OrderLine.product_id, sa.func.sum(OrderLine.quantity))
        .where(OrderLine.order_id == order_id)
        .group_by(OrderLine.product_id)
    ).all()
    if lines:
        returned = sa.case(dict(lines), value=Product.id)
        db.session.execute(
            sa.update(Product)
            .where(Product.id.in_([pid for pid, _ in lines]))
            .values(stock=Product.stock + returned, version_id=Product.version_id + 1)
            .execution_options(synchronize_session=False)
        )


def _enqueue_status_email(order: Order, kind: str, what_happened: str, note: str) -> int | None:
    """The customer's email about a change of their order ("order_shipped", "order_cancelled")."""
    return enqueue_email(
        kind,
        key=f"{kind}:{order.id}",
        recipient=order.email,
        subject=f"Your {get_settings().shop_name} order {order.number} {what_happened}",
        order=order,
        note=note,
        order_url=order_link(order),
    )
