"""GET /orders (My Orders), GET /orders/<id> (only your own), and a guest's signed link."""

from flask import abort, render_template
from flask_babel import gettext as _
from flask_login import current_user, login_required

from shop.extensions import get_settings
from shop.inputs import paginate
from shop.language import pickup_address
from shop.models import Order
from shop.orders import bp
from shop.orders.links import GuestLinkExpired, order_from_guest_token
from shop.orders.service import OrderNotFound, how_paid_and_shipped, order_of, orders_of


@bp.get("")
@login_required
def index() -> str:
    return render_template("orders/index.html", page=paginate(orders_of(current_user), 20))


@bp.get("/<id:order_id>")
@login_required
def detail(order_id: int) -> str:
    try:
        order = order_of(current_user, order_id)
    except OrderNotFound:
        abort(404)  # not 403: another shopper's order number must not be confirmed to exist
    return render_order(order)


@bp.get("/guest/<token>")
def guest_detail(token: str) -> tuple[str, int] | str:
    """The page a guest reaches from the link in the confirmation email."""
    try:
        order = order_from_guest_token(token)
    except GuestLinkExpired:
        message = _(
            "This order link has expired. Create an account with the email address you ordered with "
            "to see the order in My Orders."
        )
        return render_template("errors/error.html", code=410, message=message), 410
    if order is None:
        abort(404)
    return render_order(order)


def render_order(order: Order) -> str:
    how = how_paid_and_shipped(order)
    return render_template(
        "orders/detail.html",
        order=order,
        how=how,
        payment_instructions=how.instructions(),
        pickup_address=pickup_address(get_settings()),
    )
