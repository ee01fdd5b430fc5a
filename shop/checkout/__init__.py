from flask import Blueprint

bp = Blueprint("checkout", __name__, url_prefix="/checkout")

from shop.checkout import routes, voucher_routes  # noqa: E402,F401  (registers the views on bp)
