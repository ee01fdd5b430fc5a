"""Payment providers' webhooks: POST /payments/stripe/webhook (routes.py)."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/payments")

from shop.webhooks import routes  # noqa: E402,F401  (registers the views on bp)
