from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/orders")

from shop.orders import routes  # noqa: E402,F401  (registers the views on bp)
