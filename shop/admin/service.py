"""The owner's figures: the orders list's filter and CSV export, and the dashboard's sales,
low stock and emails needing attention. The owner's actions are the other areas' services
(shop/orders, shop/catalog, shop/vouchers.py)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import ngettext
from sqlalchemy.orm import selectinload

from shop.audit import Actor, record_change
from shop.clock import day_end, day_start, shop_date, shop_today
from shop.csv_cells import escape_cell
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.mail.dispatcher import get_dispatcher
from shop.mail.outbox import make_failed_pending
from shop.models import EmailStatus, Order, OrderStatus, OutboxEmail, Product, ProductVariant, utcnow
from shop.money import format_amount, format_money

PENDING_TOO_LONG = timedelta(hours=1)


class EmailNotFound(Exception):
    pass


# ---------------------------------------------------------------- orders
@dataclass(frozen=True)
class OrderFilter:
    """The orders list's filter: a status, part of the customer's email (any case, taken
    literally), the first and last shop day (SHOP_TIMEZONE, shop/clock.py) they were placed
    on; empty: any."""

    status: str = ""
    customer: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def statement(self, newest_first: bool) -> sa.Select:
        """The orders that match, with their customers and lines."""
        statement = sa.select(Order).options(selectinload(Order.user), selectinload(Order.lines))
        return self.apply(statement.order_by(Order.id.desc() if newest_first else Order.id))

    def apply(self, statement: sa.Select) -> sa.Select:
        if self.status:
            statement = statement.where(Order.status == self.status)
        if self.customer:
            statement = statement.where(Order.email.icontains(self.customer, autoescape=True))
        if self.date_from:
            statement = statement.where(Order.created_at >= day_start(self.date_from))
        if self.date_to:
            statement = statement.where(Order.created_at < day_end(self.date_to))
        return statement


def orders_csv(chosen: OrderFilter) -> str:
    """The orders `chosen` matches as CSV, oldest first, one row each; text a customer typed
    is escaped (shop/csv_cells.py) so that a spreadsheet opening the file runs none of it as
    a formula. Amounts are written as the owner types them (shop/money.py format_amount:
    '12,50' in de), times in UTC (ISO 8601)."""
    settings = get_settings()

    def amount(minor_units: int) -> str:
        return format_amount(minor_units, settings.currency, settings.locale)

    orders = db.session.execute(chosen.statement(newest_first=False)).scalars()
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
                *(amount(c) for c in (o.subtotal_cents, o.discount_cents, o.shipping_cents, o.tax_cents)),
                amount(o.total_cents),
                o.item_count,
                *map(escape_cell, (o.full_name, o.address, o.city, o.postal_code, o.country)),
            ]
        )
    return out.getvalue()


def emails_about(order: Order) -> list[OutboxEmail]:
    """The emails whose outbox key names this order ("order_confirmation:42", "low_stock:7:42")."""
    statement = sa.select(OutboxEmail).where(OutboxEmail.key.like(f"%:{order.id}")).order_by(OutboxEmail.id)
    return list(db.session.execute(statement).scalars())


# ---------------------------------------------------------------- emails
def emails_matching(status: str = "", kind: str = "", recipient: str = "") -> sa.Select:
    """The outbox, newest first: in `status` (ignored unless an EmailStatus), of `kind`, to
    an address containing `recipient` (any case, taken literally); empty: any."""
    statement = sa.select(OutboxEmail).order_by(OutboxEmail.id.desc())
    if status in EmailStatus.ALL:
        statement = statement.where(OutboxEmail.status == status)
    if kind:
        statement = statement.where(OutboxEmail.kind == kind)
    if recipient:
        statement = statement.where(OutboxEmail.recipient.icontains(recipient, autoescape=True))
    return statement


def email_kinds() -> list[str]:
    """Every kind of email in the outbox, A-Z."""
    return list(db.session.execute(sa.select(OutboxEmail.kind).distinct().order_by(OutboxEmail.kind)).scalars())


def get_email(email_id: int) -> OutboxEmail:
    """Raises EmailNotFound."""
    email = db.session.get(OutboxEmail, email_id)
    if email is None:
        raise EmailNotFound(email_id)
    return email


def resend_email(email_id: int, *, by: Actor | None) -> tuple[OutboxEmail, bool]:
    """Send a failed email again (pending, due now, with fresh attempts) and hand it to the
    dispatcher; the email, and whether it was failed (any other is left alone). A resend
    is recorded in the audit trail as done `by` this user. Raises EmailNotFound."""
    email = get_email(email_id)
    with transaction():
        resent = bool(make_failed_pending([email.id]))
        if resent:
            before, after = {"status": str(EmailStatus.FAILED)}, {"status": str(EmailStatus.PENDING)}
            record_change(by, "email.resent", "email", email.id, before, after)
    db.session.refresh(email)
    if resent:
        get_dispatcher().hand_off([email.id])
    return email, resent


# ---------------------------------------------------------------- the dashboard
@dataclass(frozen=True)
class DaySales:
    day: date
    orders: int
    revenue_cents: int


def sales_by_day(days: int = 30, now: datetime | None = None) -> list[DaySales]:
    """Orders and revenue (cancelled orders left out) for each of the last `days` shop days
    (SHOP_TIMEZONE; 23 or 25 hours long where the clocks change), oldest first.

    One query: each order's day is the number of day starts (UTC) at or before its time, a
    CASE over the boundaries, so any zone's midnight (Asia/Kathmandu: 18:15 UTC) is exact
    on SQLite and PostgreSQL alike."""
    first = shop_today(now) - timedelta(days=days - 1)
    starts = [day_start(first + timedelta(days=i)) for i in range(days + 1)]
    day = sa.case(*((Order.created_at < start, i - 1) for i, start in enumerate(starts[1:], 1)), else_=days)
    rows = db.session.execute(
        sa.select(day, sa.func.count(Order.id), sa.func.coalesce(sa.func.sum(Order.total_cents), 0))
        .where(Order.created_at >= starts[0], Order.created_at < starts[-1], Order.status != OrderStatus.CANCELLED)
        .group_by(day)
    ).all()
    by_day = {int(i): (n, total) for i, n, total in rows}
    return [DaySales(first + timedelta(days=i), *by_day.get(i, (0, 0))) for i in range(days)]


@dataclass(frozen=True)
class LowStockLine:
    """A product without variants, or a variant, at or below its low-stock threshold."""

    id: int  # the product's (its admin page)
    name: str  # 'Colour Mug — Blue' for a variant
    stock: int
    low_stock_threshold: int | None  # the product's own; None: the shop's


def low_stock_products(threshold: int) -> list[LowStockLine]:
    """Products without variants, and variants, on sale at or below their product's
    threshold (`threshold` for those without one), the emptiest first."""
    alert_at = sa.func.coalesce(Product.low_stock_threshold, threshold)
    has_variants = sa.select(ProductVariant.id).where(ProductVariant.product_id == Product.id).exists()
    products = db.session.execute(
        sa.select(Product.id, Product.name, Product.stock, Product.low_stock_threshold).where(
            Product.active.is_(True), ~has_variants, Product.stock <= alert_at
        )
    ).all()
    variants = db.session.execute(
        sa.select(Product.id, Product.name, ProductVariant.option, ProductVariant.stock, Product.low_stock_threshold)
        .join(ProductVariant.product)
        .where(Product.active.is_(True), ProductVariant.active.is_(True), ProductVariant.stock <= alert_at)
    ).all()
    lines = [LowStockLine(*row) for row in products] + [
        LowStockLine(pid, f"{name} — {option}", stock, alert) for pid, name, option, stock, alert in variants
    ]
    return sorted(lines, key=lambda line: (line.stock, line.name))


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
    settings = get_settings()

    def money(minor_units: int) -> str:
        return format_money(minor_units, settings.currency, settings.locale)

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
                ngettext(
                    "%(day)s: %(num)d order, %(revenue)s",
                    "%(day)s: %(num)d orders, %(revenue)s",
                    s.orders,
                    day=shop_date(s.day),
                    revenue=money(s.revenue_cents),
                ),
            )
        )
    return {
        "bars": bars,
        "bar_width": round(step - 2, 1),
        "width": width,
        "height": height,
        "best_cents": best if best > 1 else 0,
    }
