from flask import Blueprint, abort
from flask_login import current_user

from shop.extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def require_admin():  # type: ignore[no-untyped-def]
    """Every page under /admin: guests are sent to sign in, customers get 403."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    return None


from shop.admin import photos, routes  # noqa: E402,F401  (register the views on bp)
