"""Returns: the owner records some quantities of some lines coming back (and, if chosen,
the shipping), refunds them through refunds.py, and puts the goods back in stock if chosen.

The steps, so that a failed refund leaves nothing and two owners at once cannot return
more than was bought:

1. In one transaction, under the order row's lock: check each quantity against what was
   bought less what every return so far took (pending ones included), compute the amount
   (`return_figures`) and write the return *pending*, with its lines.
2. `refund_payment` (its own lock, transactions and provider call). If it is refused or
   fails, the pending return is deleted: nothing was refunded, restocked or recorded.
3. In a last transaction: the return is *done*, tied to its refund, and the goods go back
   on the shelf if the owner chose so, only now that the money went back.

The refund is made with an idempotency key the pending return holds: a process that dies
between 2 and 3 leaves a pending return that `complete_pending_returns` (after
`complete_pending_refunds`, `flask shop complete-refunds`) finishes by that key.

The amount is what the lines cost as bought: their prices, less their share of the
order's voucher (in proportion to the goods, rounded half up), plus the shipping if it is
refunded, with each rate's tax as the order computed it (shop/pricing.py totals_by_rate);
at most what is left to refund.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from shop.audit import record_change
from shop.database import transaction
from shop.extensions import db
from shop.models import Order, OrderLine, OrderStatus, Product, Refund, RefundStatus, Return, ReturnLine, User, utcnow
from shop.orders.refunds import RefundRefused, new_refund_key, refund_payment, refundable_cents
from shop.payment.method import RefundFailed
from shop.pricing import TaxLine, Totals, divide_rounding_half_up, totals_by_rate


class ReturnRefused(Exception):
    """The return cannot be recorded (nothing chosen, more than was bought or is left, an
    unpaid order, the refund refused or failed); the message says why, for the owner."""


def returned_quantities(order_id: int) -> dict[int, int]:
    """{order line id: quantity returned so far} (pending returns included)."""
    rows = db.session.execute(
        sa.select(ReturnLine.order_line_id, sa.func.sum(ReturnLine.quantity))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.order_id == order_id)
        .group_by(ReturnLine.order_line_id)
    ).all()
    return {line_id: int(quantity) for line_id, quantity in rows}


def returns_of(order_id: int) -> list[Return]:
    """The order's returns, oldest first, with their lines."""
    return list(db.session.execute(sa.select(Return).where(Return.order_id == order_id).order_by(Return.id)).scalars())


def return_figures(order: Order, quantities: dict[int, int], refund_shipping: bool) -> Totals:
    """What returning `quantities` ({order line id: quantity}) of `order` gives back, per
    rate (see the module's docstring); total_cents is the amount."""
    lines = {line.id: line for line in order.lines}
    goods: dict[int, int] = {}
    for line_id, quantity in quantities.items():
        line = lines[line_id]
        goods[line.tax_rate_bp] = goods.get(line.tax_rate_bp, 0) + line.unit_price_cents * quantity
    value = sum(goods.values())
    discount = (
        divide_rounding_half_up(value * order.discount_cents, order.subtotal_cents) if order.subtotal_cents else 0
    )
    shipping = order.shipping_cents if refund_shipping else 0
    return totals_by_rate(goods, discount, shipping, order.prices_include_tax)


def record_return(
    order_id: int,
    quantities: dict[int, int],
    restock: bool,
    refund_shipping: bool,
    reason: str = "",
    by: User | None = None,
) -> Return:
    """Record the return of `quantities` ({order line id: quantity > 0}) of order
    `order_id`, refund it through the order's payment method (the customer is emailed),
    and restock the goods if `restock`. Returns the done Return. Raises ReturnRefused
    (nothing written), RefundFailed (the provider refused: nothing written either)."""
    quantities = {line_id: q for line_id, q in quantities.items() if q}
    if not quantities and not refund_shipping:
        raise ReturnRefused(_("Choose how many of which items came back."))
    if any(q < 0 for q in quantities.values()):
        raise ReturnRefused(_("A quantity cannot be negative."))
    pending = _write_pending(order_id, quantities, restock, refund_shipping, reason, by)
    try:
        by_rate = tuple(TaxLine(**line) for line in pending.tax_lines)
        refund = refund_payment(order_id, pending.amount_cents, pending.reason, by, by_rate, pending.refund_key)
    except (RefundRefused, RefundFailed) as error:
        with transaction():
            db.session.execute(sa.delete(Return).where(Return.id == pending.id, Return.status == "pending"))
        if isinstance(error, RefundRefused):
            raise ReturnRefused(str(error)) from None
        raise
    _complete(pending, refund.id)
    db.session.refresh(pending)
    return pending


def _complete(pending: Return, refund_id: int) -> bool:
    """Step 3: the return is done and tied to its refund, and restocked if chosen; once,
    however often it is called (a conditional UPDATE). Whether this call completed it."""
    with transaction():
        moved = db.session.execute(
            sa.update(Return)
            .where(Return.id == pending.id, Return.status == "pending")
            .values(status="done", refund_id=refund_id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved and pending.restock:
            _restock({line.order_line_id: line.quantity for line in pending.lines})
        if moved:
            after = {
                "return_id": pending.id,
                "lines": {str(line.order_line_id): line.quantity for line in pending.lines},
                "restocked": pending.restock,
                "amount_cents": pending.amount_cents,
            }
            record_change(pending.created_by, "return.recorded", "order", pending.order_id, None, after)
    return bool(moved)


def complete_pending_returns(older_than: timedelta = timedelta(minutes=10)) -> tuple[int, int]:
    """Finish returns a process left pending when it died (run after
    complete_pending_refunds: `flask shop complete-refunds`). A pending return whose
    refund (found by its key) was made is done and restocked as chosen; one older than
    `older_than` whose refund was never written (or failed, and was deleted) is deleted,
    nothing having been refunded; one whose refund is still pending waits. (completed,
    deleted)."""
    completed = deleted = 0
    pending = db.session.execute(sa.select(Return).where(Return.status == "pending")).scalars().all()
    for row in pending:
        refund = db.session.execute(sa.select(Refund).where(Refund.idempotency_key == row.refund_key)).scalar()
        if refund is not None and refund.status == RefundStatus.REFUNDED:
            completed += _complete(row, refund.id)
        elif refund is None and row.created_at < utcnow() - older_than:
            with transaction():
                deleted += db.session.execute(
                    sa.delete(Return).where(Return.id == row.id, Return.status == "pending")
                ).rowcount
    return completed, deleted


def _write_pending(
    order_id: int, quantities: dict[int, int], restock: bool, refund_shipping: bool, reason: str, by: User | None
) -> Return:
    with transaction():
        order = db.session.execute(
            sa.select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if order is None or order.paid_at is None:
            raise ReturnRefused(_("Only a paid order's goods can be returned and refunded."))
        if order.status == OrderStatus.CANCELLED:  # its goods went back in stock then
            raise ReturnRefused(_("This order was cancelled and its goods restocked: refund it instead."))
        bought = {line.id: line for line in order.lines}
        returned = returned_quantities(order_id)
        for line_id, quantity in quantities.items():
            line = bought.get(line_id)
            if line is None:
                raise ReturnRefused(_("That item is not part of this order."))
            left = line.quantity - returned.get(line_id, 0)
            if quantity > left:
                raise ReturnRefused(_("Only %(left)s of %(name)s can still be returned.", left=left, name=line.name))
        if (
            refund_shipping
            and db.session.execute(
                sa.select(Return.id).where(Return.order_id == order_id, Return.shipping_refunded.is_(True))
            ).first()
        ):
            raise ReturnRefused(_("The shipping of this order was refunded already."))
        figures = return_figures(order, quantities, refund_shipping)
        amount = min(figures.total_cents, refundable_cents(order_id))
        if amount <= 0:
            raise ReturnRefused(_("Nothing of this order is left to refund."))
        pending = Return(
            order_id=order_id,
            status="pending",
            restock=restock,
            shipping_refunded=refund_shipping,
            amount_cents=amount,
            tax_lines=[asdict(line) for line in figures.tax_lines if line.gross_cents],
            reason=reason.strip()[:500] or _("Goods returned."),
            refund_key=new_refund_key(order.number),
            created_by_id=by.id if by is not None else None,
            lines=[ReturnLine(order_line_id=line_id, quantity=q) for line_id, q in quantities.items()],
        )
        db.session.add(pending)
    return pending


def _restock(quantities: dict[int, int]) -> None:
    """Put the returned quantities back on their products' shelves, in one UPDATE."""
    rows = db.session.execute(sa.select(OrderLine.id, OrderLine.product_id).where(OrderLine.id.in_(quantities))).all()
    per_product: dict[int, int] = {}
    for line_id, product_id in rows:
        per_product[product_id] = per_product.get(product_id, 0) + quantities[line_id]
    if not per_product:  # only the shipping came back
        return
    returned = sa.case(per_product, value=Product.id)
    db.session.execute(
        sa.update(Product)
        .where(Product.id.in_(per_product))
        .values(stock=Product.stock + returned, version_id=Product.version_id + 1)
        .execution_options(synchronize_session=False)
    )
