"""GET /orders (My Orders) and GET /orders/<id> (only your own)."""

import sqlalchemy as sa
from flask import abort, render_template
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.models import Order
from shop.orders import bp


@bp.get("")
@login_required
def index() -> str:
    statement = (
        sa.select(Order)
        .where(Order.user_id == current_user.id)
        .options(selectinload(Order.lines))
        .order_by(Order.created_at.desc(), Order.id.desc())
    )
    page = db.paginate(statement, per_page=20, max_per_page=20)
    return render_template("orders/index.html", page=page)


@bp.get("/<int:order_id>")
@login_required
def detail(order_id: int) -> str:
    order = db.get_or_404(Order, order_id)
    if order.user_id != current_user.id:
        abort(404)  # not 403: another shopper's order number must not be confirmed to exist
    return render_template("orders/detail.html", order=order)
