"""The tax report: per month and rate, the net, tax and gross of paid orders, less refunds.

An order counts in the month it was paid (`paid_at`, UTC), at the tax lines it was placed
with (order_tax_line); a refund counts, negative, in the month it was made, shared among
the order's rates by `refund_tax_lines`. A cancelled order that was paid counts when paid
and again, negative, by its refund.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from shop.extensions import db, get_settings
from shop.models import Order, OrderTaxLine, Refund, RefundStatus, Return
from shop.money import to_decimal
from shop.pricing import TaxLine, split_gross


@dataclass
class ReportRow:
    """One month and rate; amounts in cents, refunds as positive amounts."""

    month: str  # "2026-11"
    rate_bp: int
    sales_net_cents: int = 0
    sales_tax_cents: int = 0
    sales_gross_cents: int = 0
    refunded_net_cents: int = 0
    refunded_tax_cents: int = 0
    refunded_gross_cents: int = 0

    @property
    def net_cents(self) -> int:
        return self.sales_net_cents - self.refunded_net_cents

    @property
    def tax_cents(self) -> int:
        return self.sales_tax_cents - self.refunded_tax_cents

    @property
    def gross_cents(self) -> int:
        return self.sales_gross_cents - self.refunded_gross_cents


def refund_tax_lines(refund: Refund) -> tuple[TaxLine, ...]:
    """A refund's amount per rate: a return's as it computed them from the lines sent
    back; any other refund's shared among its order's rates in proportion to their gross
    (shop/pricing.py split_gross)."""
    returned = db.session.execute(sa.select(Return.tax_lines).where(Return.refund_id == refund.id)).scalar()
    if returned and sum(line["gross_cents"] for line in returned) == refund.amount_cents:
        return tuple(TaxLine(**line) for line in returned)
    gross = {line.rate_bp: line.gross_cents for line in refund.order.tax_lines}
    return split_gross(refund.amount_cents, gross)


def tax_report(year: int) -> list[ReportRow]:
    """The report's rows for `year` (UTC), by month then rate (highest first). Raises
    ValueError for a year outside 1..9998."""
    start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
    rows: dict[tuple[str, int], ReportRow] = {}

    def row(when: datetime, rate_bp: int) -> ReportRow:
        key = (when.strftime("%Y-%m"), rate_bp)
        return rows.setdefault(key, ReportRow(*key))

    sales = db.session.execute(
        sa.select(Order.paid_at, OrderTaxLine)
        .join(OrderTaxLine, OrderTaxLine.order_id == Order.id)
        .where(Order.paid_at >= start, Order.paid_at < end)
    ).all()
    for paid_at, line in sales:
        r = row(paid_at, line.rate_bp)
        r.sales_net_cents += line.net_cents
        r.sales_tax_cents += line.tax_cents
        r.sales_gross_cents += line.gross_cents
    refunds = db.session.execute(
        sa.select(Refund).where(
            Refund.status == RefundStatus.REFUNDED, Refund.created_at >= start, Refund.created_at < end
        )
    ).scalars()
    for refund in refunds:
        for line in refund_tax_lines(refund):
            r = row(refund.created_at, line.rate_bp)
            r.refunded_net_cents += line.net_cents
            r.refunded_tax_cents += line.tax_cents
            r.refunded_gross_cents += line.gross_cents
    return sorted(rows.values(), key=lambda r: (r.month, -r.rate_bp))


CSV_COLUMNS = ["month", "rate_percent", "net", "tax", "gross", "sales_gross", "refunded_gross"]


def tax_report_csv(rows: list[ReportRow]) -> str:
    """The report as CSV: one line per month and rate, amounts as 12.50 (a point, the
    currency's decimals, no currency sign: for a spreadsheet in any locale)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    currency = get_settings().currency
    for r in rows:
        rate = f"{r.rate_bp // 100}.{r.rate_bp % 100:02d}"
        amounts = (r.net_cents, r.tax_cents, r.gross_cents, r.sales_gross_cents, r.refunded_gross_cents)
        writer.writerow([r.month, rate, *(str(to_decimal(c, currency)) for c in amounts)])
    return out.getvalue()
