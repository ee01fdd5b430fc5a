from flask import Blueprint

bp = Blueprint("cart", __name__, url_prefix="/cart")

from shop.cart import routes  # noqa: E402,F401  (registers the views on bp)
