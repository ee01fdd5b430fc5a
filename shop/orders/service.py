"""The order after it is placed: where its status may move, the moves and what each means
(paid, shipped, cancelled and restocked), and how it was paid and shipped, as its pages and
emails show it.

Checkout creates orders (shop/checkout/service.py); the admin and the order pages come
here. What depends on the payment method or the shipping option is asked of it
(shop/payment, shop/shipping.py). Beside this module: links.py (links to an order),
refunds.py, unpaid.py (`flask shop cancel-unpaid`), payments.py (what a payment provider
says), confirmation.py (the order's confirmation emails).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from shop.audit import Actor, record_change
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.language import in_sentence
from shop.mail.dispatcher import get_dispatcher
from shop.models import Order, OrderLine, OrderStatus, OrderStatusChange, Product, ProductVariant, User, utcnow
from shop.orders.invoicing import documents_for_move
from shop.orders.refunds import refund_payment, refundable_cents
from shop.orders.status_emails import enqueue_status_email
from shop.payment import PaymentMethod, payment_method
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
        return str(self.payment.label) if self.payment else ""

    @property
    def shipping_label(self) -> str:
        return str(self.shipping.label) if self.shipping else ""

    @property
    def shipping_in_words(self) -> str:
        """'delivery', 'pickup in store': the option inside a sentence."""
        return str(self.shipping.in_words) if self.shipping else _("delivery")

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

    @property
    def dashboard_url(self) -> str:
        """The payment in the provider's dashboard, for the owner ("" : none)."""
        return self.payment.dashboard_url(self.order, get_settings()) if self.payment else ""

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
    order_id: int, to_status: str, by: Actor | None, note: str = "", seen_status: str | None = None
) -> Order:
    """Move an order along an allowed transition, record who did it (None: the shop
    itself, e.g. `flask shop cancel-unpaid`) in its history and the audit trail, and do
    what the move means: cancelling puts
    the stock and the voucher's use back (exactly once), tells the customer and then the
    payment method (`on_cancel`); shipping emails the customer; a move to paid (or handing
    over an order paid on handover) records when the money came. Cancelling a paid order
    of a method that `refunds_on_cancel` (card) refunds what is left of its payment
    first (shop/orders/refunds.py): if the provider refuses, RefundFailed is raised and
    the order stays as it was.

    `seen_status` is the status the admin's page showed: if the order has another one now
    (another admin marked it paid meanwhile), StatusChangeRefused says so and nothing
    changes. The move is one conditional UPDATE (`WHERE status = <the status seen>`), so
    two owners clicking at once, or one form submitted twice, make one change.
    Raises OrderNotFound, StatusChangeRefused, shop.payment.method.RefundFailed.
    """
    order = get_order(order_id)
    from_status = seen_status or order.status
    if order.status != from_status and order.status == to_status:
        raise StatusChangeRefused(
            _("This order is %(status)s already (changed meanwhile).", status=in_sentence(order.status_label))
        )
    if order.status != from_status:
        raise StatusChangeRefused(
            _(
                "This order was %(seen)s when you opened it and is %(now)s now (changed meanwhile), "
                "so it was not made %(wanted)s. Check it and choose again.",
                seen=in_sentence(OrderStatus.label_of(from_status)),
                now=in_sentence(order.status_label),
                wanted=in_sentence(OrderStatus.label_of(to_status)),
            )
        )
    if to_status not in next_statuses(order):
        raise StatusChangeRefused(
            _(
                "An order that is %(seen)s cannot become %(wanted)s.",
                seen=in_sentence(OrderStatus.label_of(from_status)),
                wanted=in_sentence(OrderStatus.label_of(to_status)),
            )
        )
    method = payment_method(order.payment_method)
    if to_status == OrderStatus.CANCELLED and method is not None and method.refunds_on_cancel:
        _refund_before_cancelling(order, by, note)
    values: dict[str, object] = {}
    paid_now = to_status == OrderStatus.PAID or (
        to_status == OrderStatus.DELIVERED and method is not None and method.paid_on_handover
    )
    if paid_now and order.paid_at is None:
        values["paid_at"] = utcnow()
    with transaction():
        moved, email_id = move_order(order, from_status, to_status, by, note, **values)
        if not moved:
            raise StatusChangeRefused(_("The order was changed meanwhile; reload it and try again."))
    db.session.refresh(order)
    get_dispatcher().hand_off([email_id])
    if to_status == OrderStatus.CANCELLED and method is not None:
        method.on_cancel(order)
    return order


def move_order(
    order: Order,
    from_status: str,
    to_status: str,
    by: Actor | None,
    note: str = "",
    tell_customer: bool = True,
    **values: object,
) -> tuple[bool, int | None]:
    """Inside the caller's transaction: move `order` from `from_status` to `to_status` by
    one conditional UPDATE (setting `values` too: paid_at=...), record the change, and do
    what it means (cancelling restocks and gives the voucher's use back; cancelling and
    shipping enqueue the customer's email, unless not `tell_customer`). Returns (moved, the email's outbox id or
    None); moved is False when the order was not in `from_status` any more: nothing changed."""
    moved = db.session.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.status == from_status)
        .values(status=to_status, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        return False, None
    db.session.add(
        OrderStatusChange(
            order_id=order.id,
            from_status=from_status,
            to_status=to_status,
            changed_by_id=by.id if by is not None else None,
            note=note.strip()[:500],
        )
    )
    record_change(by, "order.status", "order", order.id, {"status": from_status}, {"status": to_status})
    email_id = None
    if to_status == OrderStatus.CANCELLED:
        _restock(order.id)
        give_back_voucher_use(order.voucher_id)
        if tell_customer:
            email_id = enqueue_status_email(order, "order_cancelled", note.strip())
    if to_status == OrderStatus.SHIPPED and tell_customer:
        email_id = enqueue_status_email(order, "order_shipped", note.strip())
    # The invoice (numbered in this transaction) or a credit note: shop/orders/invoicing.py.
    email_id = documents_for_move(order, to_status, "paid_at" in values, note) or email_id
    return True, email_id


def _refund_before_cancelling(order: Order, by: Actor | None, note: str) -> None:
    """A paid order of a method that refunds on cancel (card) gets what is left of its
    payment back first; a refused refund (RefundFailed) stops the cancellation, so the
    order stays as it was. Its refund_issued email goes out with the cancellation's."""
    if order.paid_at is None:
        return
    left = refundable_cents(order.id)
    if left > 0:
        refund_payment(order.id, left, note.strip() or _("Order cancelled"), by)


def _restock(order_id: int) -> None:
    """Put every line's quantity back on the shelf: one UPDATE for the products without
    variants, one for the variants (each only if the order has such lines), each counting
    up the rows' versions, so an edit form showing the old stock cannot write it back."""
    lines = db.session.execute(
        sa.select(OrderLine.product_id, OrderLine.variant_id, sa.func.sum(OrderLine.quantity))
        .where(OrderLine.order_id == order_id)
        .group_by(OrderLine.product_id, OrderLine.variant_id)
    ).all()
    products = {pid: qty for pid, vid, qty in lines if vid is None}
    variants = {vid: qty for _, vid, qty in lines if vid is not None}
    for model, returned in ((Product, products), (ProductVariant, variants)):
        if returned:
            db.session.execute(
                sa.update(model)
                .where(model.id.in_(returned))
                .values(stock=model.stock + sa.case(returned, value=model.id), version_id=model.version_id + 1)
                .execution_options(synchronize_session=False)
            )
