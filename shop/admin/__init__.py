"""The shop owner's pages under /admin (is_admin only): one blueprint, its views in one
module per area (dashboard, products, orders, vouchers, emails), each thin over the
services of the area it shows.

Every change is a POST with a CSRF token that ends with a flash message and a redirect.
"""

from flask import Blueprint, Response, abort
from flask_login import current_user

from shop.extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 25  # rows per page of every admin list


@bp.before_request
def require_admin():  # type: ignore[no-untyped-def]
    """Every page under /admin: guests are sent to sign in, customers get 403."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    return None


def csv_download(text: str, filename: str) -> Response:
    """`text` as a CSV file the browser saves as `filename`."""
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# The views, registered on bp.
from shop.admin import dashboard, emails, orders, photos, products, tax, vouchers  # noqa: E402,F401
