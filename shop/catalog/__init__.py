from flask import Blueprint

bp = Blueprint("catalog", __name__)

# routes registers the views on bp; search, the events that keep Product.search_text filled.
from shop.catalog import routes, search  # noqa: E402,F401
