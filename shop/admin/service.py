"""The owner's business actions and figures: order status changes, products, the dashboard."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from shop.checkout.service import order_link
from shop.checkout.vouchers import normalise_code
from shop.csv_cells import escape_cell
from shop.database import like_pattern, transaction
from shop.extensions import db, get_settings
from shop.mail.dispatcher import get_dispatcher
from shop.mail.messages import queue_email
from shop.models import (
    EmailStatus,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    OutboxEmail,
    Product,
    User,
    Voucher,
    utcnow,
)
from shop.money import format_amount

PENDING_TOO_LONG = timedelta(hours=1)


class StatusChangeRefused(Exception):
    """The move is not allowed from the order's current status; the message says why."""


# ---------------------------------------------------------------- orders
def change_order_status(
    order_id: int, to_status: str, by: User | None, note: str = "", seen_status: str | None = None
) -> Order:
    """Move an order along an allowed transition, record who did it (None: the shop
    itself, e.g. `flask shop cancel-unpaid`), and do what the move means: cancelling puts
    the stock and the voucher's use back (exactly once) and tells the customer, shipping emails the customer,
    and a move to paid (or a cash order handed over) records when the money came.

    `seen_status` is the status the admin's page showed: if the order has another one now
    (another admin marked it paid meanwhile), StatusChangeRefused says so and nothing
    changes. The move is one conditional UPDATE (`WHERE status = <the status seen>`), so
    two owners clicking at once, or one form submitted twice, make one change.
    """
    order = db.get_or_404(Order, order_id)
    from_status = seen_status or order.status
    if order.status != from_status and order.status == to_status:
        raise StatusChangeRefused(f"This order is {order.status_label.lower()} already (changed meanwhile).")
    if order.status != from_status:
        raise StatusChangeRefused(
            f"This order was {OrderStatus.label(from_status).lower()} when you opened it and is "
            f"{order.status_label.lower()} now (changed meanwhile), so it was not made "
            f"{OrderStatus.label(to_status).lower()}. Check it and choose again."
        )
    if to_status not in order.next_statuses():
        raise StatusChangeRefused(
            f"An order that is {OrderStatus.label(from_status).lower()} cannot become "
            f"{OrderStatus.label(to_status).lower()}."
        )
    values: dict[str, object] = {"status": to_status}
    paid_now = to_status == OrderStatus.PAID or (
        to_status == OrderStatus.DELIVERED and order.payment_method in ("cash_on_delivery", "pay_at_pickup")
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
            _give_back_voucher_use(order)
            email_id = _queue_order_email(order, "order_cancelled", "has been cancelled", note.strip())
        if to_status == OrderStatus.SHIPPED:
            email_id = _queue_order_email(order, "order_shipped", "has shipped", note.strip())
    db.session.refresh(order)
    get_dispatcher().hand_off([email_id])
    return order


def unpaid_orders_due(days: int, now: datetime | None = None) -> list[int]:
    """Ids of bank-transfer orders still awaiting payment `days` after they were placed."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    return list(
        db.session.execute(
            sa.select(Order.id)
            .where(
                Order.status == OrderStatus.AWAITING_PAYMENT,
                Order.payment_method == "bank_transfer",
                Order.created_at < cutoff,
            )
            .order_by(Order.id)
        ).scalars()
    )


def cancel_unpaid_orders(days: int, now: datetime | None = None) -> list[Order]:
    """Cancel (restock, email) every bank-transfer order unpaid after `days`; each once,
    however often this runs or however many run at once (the move is conditional)."""
    cancelled = []
    for order_id in unpaid_orders_due(days, now):
        try:
            cancelled.append(
                change_order_status(order_id, OrderStatus.CANCELLED, None, f"Not paid within {days} days.")
            )
        except StatusChangeRefused:
            continue  # paid or cancelled meanwhile
    return cancelled


def _give_back_voucher_use(order: Order) -> None:
    """A cancelled order did not use its voucher: the use counts for someone else."""
    if order.voucher_id is not None:
        db.session.execute(
            sa.update(Voucher)
            .where(Voucher.id == order.voucher_id, Voucher.times_used > 0)
            .values(times_used=Voucher.times_used - 1)
            .execution_options(synchronize_session=False)
        )


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


def _queue_order_email(order: Order, kind: str, what_happened: str, note: str) -> int | None:
    """The customer's email about a change of their order ("order_shipped", "order_cancelled")."""
    return queue_email(
        kind,
        key=f"{kind}:{order.id}",
        recipient=order.email,
        subject=f"Your {get_settings().shop_name} order {order.number} {what_happened}",
        order=order,
        note=note,
        order_url=order_link(order),
    )


@dataclass(frozen=True)
class OrderFilter:
    status: str = ""
    customer: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def apply(self, statement: sa.Select) -> sa.Select:
        if self.status:
            statement = statement.where(Order.status == self.status)
        if self.customer:
            statement = statement.where(Order.email.ilike(like_pattern(self.customer), escape="\\"))
        if self.date_from:
            statement = statement.where(Order.created_at >= datetime.combine(self.date_from, datetime.min.time()))
        if self.date_to:
            statement = statement.where(
                Order.created_at < datetime.combine(self.date_to + timedelta(days=1), datetime.min.time())
            )
        return statement


def orders_csv(orders: list[Order]) -> str:
    """The orders as CSV, one row each; text a customer typed is escaped (shop/csv_cells.py)
    so that a spreadsheet opening the file runs none of it as a formula."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "number",
            "created_utc",
            "customer",
            "status",
            "payment",
            "shipping",
            "voucher",
            "goods",
            "discount",
            "shipping_cost",
            "tax",
            "total",
            "items",
            "full_name",
            "address",
            "city",
            "postal_code",
            "country",
        ]
    )
    for o in orders:
        writer.writerow(
            [
                o.number,
                o.created_at.isoformat(timespec="seconds"),
                escape_cell(o.email),
                o.status,
                o.payment_method,
                o.shipping_method,
                escape_cell(o.voucher_code),
                *(format_amount(c) for c in (o.subtotal_cents, o.discount_cents, o.shipping_cents, o.tax_cents)),
                format_amount(o.total_cents),
                o.item_count,
                *map(escape_cell, (o.full_name, o.address, o.city, o.postal_code, o.country)),
            ]
        )
    return out.getvalue()


# ---------------------------------------------------------------- vouchers
class VoucherCodeTaken(Exception):
    pass


def create_voucher(
    code: str,
    kind: str,
    amount: int,
    min_basket_cents: int = 0,
    valid_from: date | None = None,
    valid_until: date | None = None,
    usage_limit: int | None = None,
) -> Voucher:
    """A new voucher, valid from the start of `valid_from` to the end of `valid_until` (UTC)."""
    voucher = Voucher(
        code=normalise_code(code),
        kind=kind,
        amount=amount,
        min_basket_cents=min_basket_cents,
        valid_from=datetime.combine(valid_from, datetime.min.time()) if valid_from else None,
        valid_until=datetime.combine(valid_until + timedelta(days=1), datetime.min.time()) if valid_until else None,
        usage_limit=usage_limit,
    )
    try:
        with transaction():
            db.session.add(voucher)
    except IntegrityError:
        raise VoucherCodeTaken(code) from None
    return voucher


# ---------------------------------------------------------------- the dashboard
@dataclass(frozen=True)
class DaySales:
    day: date
    orders: int
    revenue_cents: int


def sales_by_day(days: int = 30) -> list[DaySales]:
    """Orders and revenue (cancelled orders left out) for each of the last `days` days, UTC."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    day = sa.func.date(Order.created_at)
    rows = db.session.execute(
        sa.select(day, sa.func.count(Order.id), sa.func.coalesce(sa.func.sum(Order.total_cents), 0))
        .where(Order.created_at >= datetime.combine(first, datetime.min.time()), Order.status != OrderStatus.CANCELLED)
        .group_by(day)
    ).all()
    by_day = {(d if isinstance(d, date) else date.fromisoformat(str(d))): (n, total) for d, n, total in rows}
    return [DaySales(first + timedelta(days=i), *by_day.get(first + timedelta(days=i), (0, 0))) for i in range(days)]


def low_stock_products(threshold: int) -> list[Product]:
    return list(
        db.session.execute(
            sa.select(Product)
            .where(Product.active.is_(True), Product.stock <= sa.func.coalesce(Product.low_stock_threshold, threshold))
            .order_by(Product.stock, Product.name)
        ).scalars()
    )


def emails_needing_attention(limit: int = 20) -> list[OutboxEmail]:
    """Failed emails, and emails pending for over an hour."""
    stale = utcnow() - PENDING_TOO_LONG
    return list(
        db.session.execute(
            sa.select(OutboxEmail)
            .where(
                sa.or_(
                    OutboxEmail.status == EmailStatus.FAILED,
                    sa.and_(OutboxEmail.status == EmailStatus.PENDING, OutboxEmail.created_at < stale),
                )
            )
            .order_by(OutboxEmail.id.desc())
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class ChartBar:
    x: float
    y: float
    height: float
    label: str


def sales_chart(sales: list[DaySales], width: int = 600, height: int = 160) -> dict:
    """Bars for an inline SVG: revenue per day, scaled to the best day."""
    best = max((s.revenue_cents for s in sales), default=0) or 1
    step = width / max(len(sales), 1)
    bars = []
    for i, s in enumerate(sales):
        h = round(s.revenue_cents / best * (height - 20), 1)
        bars.append(
            ChartBar(
                round(i * step + 1, 1),
                round(height - h, 1),
                h,
                f"{s.day:%d %b}: {s.orders} orders, {format_amount(s.revenue_cents)}",
            )
        )
    return {
        "bars": bars,
        "bar_width": round(step - 2, 1),
        "width": width,
        "height": height,
        "best_cents": best if best > 1 else 0,
    }
