"""The owner's business actions and figures: order status changes, products, the dashboard."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from shop.database import like_pattern, transaction
from shop.extensions import db
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
    utcnow,
)
from shop.money import format_amount
from shop.urls import absolute_url_for

PENDING_TOO_LONG = timedelta(hours=1)


class StatusChangeRefused(Exception):
    """The move is not allowed from the order's current status; the message says why."""


# ---------------------------------------------------------------- orders
def change_order_status(order_id: int, to_status: str, by: User, note: str = "") -> Order:
    """Move an order along an allowed transition, record who did it, and do what the move
    means: cancelling puts the stock back (exactly once), shipping emails the customer.

    The move is one conditional UPDATE (`WHERE status = <the status we saw>`), so two owners
    clicking at once, or one form submitted twice, make one change.
    """
    order = db.get_or_404(Order, order_id)
    from_status = order.status
    if to_status not in OrderStatus.NEXT.get(from_status, ()):
        raise StatusChangeRefused(f"An order that is {from_status} cannot become {to_status}.")
    email_id = None
    with transaction():
        moved = db.session.execute(
            sa.update(Order)
            .where(Order.id == order_id, Order.status == from_status)
            .values(status=to_status)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not moved:
            raise StatusChangeRefused("The order was changed meanwhile; reload it and try again.")
        db.session.add(
            OrderStatusChange(
                order_id=order_id, from_status=from_status, to_status=to_status, changed_by_id=by.id, note=note.strip()
            )
        )
        if to_status == OrderStatus.CANCELLED:
            _restock(order_id)
        if to_status == OrderStatus.SHIPPED:
            email_id = _queue_shipped_email(order, note.strip())
    db.session.refresh(order)
    get_dispatcher().hand_off([email_id])
    return order


def _restock(order_id: int) -> None:
    """Put every line's quantity back on the shelf, in one UPDATE."""
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
            .values(stock=Product.stock + returned)
            .execution_options(synchronize_session=False)
        )


def _queue_shipped_email(order: Order, note: str) -> int | None:
    return queue_email(
        "order_shipped",
        key=f"order_shipped:{order.id}",
        recipient=order.user.email,
        subject=f"Your {current_app.config['SHOP_NAME']} order {order.number} has shipped",
        order=order,
        note=note,
        order_url=absolute_url_for("orders.detail", order_id=order.id),
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
            statement = statement.join(User, Order.user_id == User.id).where(
                User.email.ilike(like_pattern(self.customer), escape="\\")
            )
        if self.date_from:
            statement = statement.where(Order.created_at >= datetime.combine(self.date_from, datetime.min.time()))
        if self.date_to:
            statement = statement.where(
                Order.created_at < datetime.combine(self.date_to + timedelta(days=1), datetime.min.time())
            )
        return statement


def orders_csv(orders: list[Order]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "number",
            "created_utc",
            "customer",
            "status",
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
                o.user.email,
                o.status,
                format_amount(o.total_cents),
                o.item_count,
                *_safe_cells(o.full_name, o.address, o.city, o.postal_code, o.country),
            ]
        )
    return out.getvalue()


# ---------------------------------------------------------------- products
def products_csv(products: list[Product]) -> str:
    """The import format (sku,name,description,price,stock,category): export, edit, import."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sku", "name", "description", "price", "stock", "category"])
    for p in products:
        writer.writerow(
            [
                *_safe_cells(p.sku, p.name, p.description),
                format_amount(p.price_cents),
                p.stock,
                *_safe_cells(p.category.name if p.category else ""),
            ]
        )
    return out.getvalue()


def _safe_cells(*values: str) -> list[str]:
    """A cell starting with = + - @ is run as a formula by spreadsheets: quote it."""
    return [f"'{v}" if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v for v in values]


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
            .where(Product.active.is_(True), Product.stock <= threshold)
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
