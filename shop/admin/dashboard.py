"""GET /admin: today's and this week's sales, a chart, low stock, emails needing attention."""

from __future__ import annotations

from flask import render_template

from shop.admin import bp
from shop.admin.service import emails_needing_attention, low_stock_products, sales_by_day, sales_chart
from shop.clock import week_start
from shop.extensions import get_settings
from shop.mail.breaker import server_unreachable
from shop.mail.outbox import counts_by_status


@bp.get("")
def dashboard() -> str:
    sales = sales_by_day(30)
    this_week = [s for s in sales if s.day >= week_start(sales[-1].day)]
    threshold = get_settings().low_stock_threshold
    return render_template(
        "admin/dashboard.html",
        today=sales[-1],
        week_orders=sum(s.orders for s in this_week),
        week_revenue_cents=sum(s.revenue_cents for s in this_week),
        chart=sales_chart(sales),
        sales=sales,
        low_stock=low_stock_products(threshold),
        threshold=threshold,
        emails=emails_needing_attention(),
        outbox=counts_by_status(),
        mail_server=server_unreachable(get_settings()),
    )
