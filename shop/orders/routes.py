"""GET /orders (My Orders), GET /orders/<id> (only your own), and a guest's signed link."""

import sqlalchemy as sa
from flask import abort, render_template
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from shop.checkout.service import GuestLinkExpired, how_paid_and_shipped, order_from_guest_token
from shop.extensions import db, get_settings
from shop.inputs import paginate
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
    page = paginate(statement, 20)
    return render_template("orders/index.html", page=page)


@bp.get("/<id:order_id>")
@login_required
def detail(order_id: int) -> str:
    order = db.get_or_404(Order, order_id)
    if order.user_id != current_user.id:
        abort(404)  # not 403: another shopper's order number must not be confirmed to exist
    return render_order(order)


@bp.get("/guest/<token>")
def guest_detail(token: str) -> tuple[str, int] | str:
    """The page a guest reaches from the link in the confirmation email."""
    try:
        order = order_from_guest_token(token)
    except GuestLinkExpired:
        message = (
            "This order link has expired. Create an account with the email address you ordered with "
            "to see the order in My Orders."
        )
        return render_template("errors/error.html", code=410, message=message), 410
    if order is None:
        abort(404)
    return render_order(order)


def render_order(order: Order) -> str:
    settings = get_settings()
    how = how_paid_and_shipped(order)
    return render_template(
        "orders/detail.html",
        order=order,
        payment_label=how.payment_label,
        payment_instructions=how.payment.instructions(order, settings) if how.payment else [],
        shipping_label=how.shipping_label,
        pickup_address=settings.pickup_address,
    )
