"""Who may open which admin page: the one place that decides.

Every page under /admin is the owner's, unless its view is marked `@staff_allowed`, which
opens it to staff members too (shop.models.Role). Nothing else needs marking: a page added
without a mark is owner-only, so a new page cannot leak revenue, prices or customers' data
to staff by being forgotten. tests/test_access.py holds the table of who may open each route.

    @bp.get("/orders")
    @staff_allowed
    def orders(): ...

Guests are sent to sign in; customers, and staff on an owner's page, get 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, request
from flask_login import current_user

from shop.extensions import login_manager

View = TypeVar("View", bound=Callable[..., Any])

_MARK = "staff_allowed"


def staff_allowed(view: View) -> View:
    """Mark an admin view as open to staff members as well as the owner."""
    setattr(view, _MARK, True)
    return view


def staff_may_open(endpoint: str | None) -> bool:
    """Whether the view of `endpoint` ("admin.orders") is marked @staff_allowed."""
    view = current_app.view_functions.get(endpoint or "")
    return bool(getattr(view, _MARK, False))


def may_open(endpoint: str) -> bool:
    """Whether the signed-in user may open the admin page `endpoint` (for links and menus)."""
    if not current_user.is_authenticated or not current_user.is_staff:
        return False
    return current_user.is_owner or staff_may_open(endpoint)


def require_role() -> Any:
    """The admin blueprint's before_request: owner-only unless the view is @staff_allowed."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_staff:
        abort(403)
    if not current_user.is_owner and not staff_may_open(request.endpoint):
        abort(403)
    return None
