"""The back office under /admin: one blueprint, its views in one module per area
(dashboard, products, orders, vouchers, shipping zones, emails, customers, staff, audit),
each thin over the services of the area it shows. Every page is the owner's unless marked
@staff_allowed (access.py).

Every change is a POST with a CSRF token that ends with a flash message and a redirect.
"""

from flask import Blueprint, Response

from shop.admin.access import may_open, require_role
from shop.audit import changed_values

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role)
bp.add_app_template_global(may_open, "admin_may_open")
bp.add_app_template_global(changed_values, "audit_changed_values")

PAGE_SIZE = 25  # rows per page of every admin list


def csv_download(text: str, filename: str) -> Response:
    """`text` as a CSV file the browser saves as `filename`."""
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# The views, registered on bp.
from shop.admin import (  # noqa: E402,F401
    audit,
    customers,
    dashboard,
    emails,
    orders,
    photos,
    products,
    staff,
    tax,
    variants,
    vouchers,
    zones,
)
