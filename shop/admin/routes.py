"""The shop owner's pages under /admin (is_admin only; see require_admin)."""

from flask import render_template

from shop.admin import bp
from shop.mail.outbox import counts_by_status


@bp.get("")
def dashboard() -> str:
    return render_template("admin/dashboard.html", outbox=counts_by_status())
