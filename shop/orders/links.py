"""Links to an order: its page in My Orders, or for a guest's order a signed link that
works without an account (sent in its emails), and the check of such a link."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from shop.extensions import db, get_settings
from shop.models import Order
from shop.urls import absolute_url_for

GUEST_LINK_SALT = "guest-order"  # itsdangerous' salt: a link of another kind never passes for this one


class GuestLinkExpired(Exception):
    """The link was genuine but is older than SHOP_GUEST_LINK_DAYS."""


def _guest_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=GUEST_LINK_SALT)


def guest_order_token(order: Order) -> str:
    """The token of a guest's link to `order`: its id and number, signed with SECRET_KEY."""
    return _guest_serializer().dumps([order.id, order.number])


def order_from_guest_token(token: str) -> Order | None:
    """The order a guest link names; None if the link was altered or the order is gone.
    Raises GuestLinkExpired after SHOP_GUEST_LINK_DAYS."""
    max_age = get_settings().guest_link_days * 24 * 3600
    try:
        order_id, number = _guest_serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise GuestLinkExpired() from None
    except (BadSignature, ValueError, TypeError):
        return None
    order = db.session.get(Order, order_id) if isinstance(order_id, int) else None
    return order if order is not None and order.number == number else None


def order_link(order: Order) -> str:
    """The order's page as a full URL, for emails: My Orders for an account, a signed link
    for a guest."""
    if order.user_id is not None:
        return absolute_url_for("orders.detail", order_id=order.id)
    return absolute_url_for("orders.guest_detail", token=guest_order_token(order))
