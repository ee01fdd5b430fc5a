"""GET /healthz: up or down for anyone (a load balancer, a monitor); the details (database,
outbox counts) only for a signed-in admin or a monitor with SHOP_HEALTH_TOKEN."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from shop.extensions import db
from shop.mail.outbox import counts_by_status

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 {"status": "ok"} or 503 {"status": "error"}; with the details when allowed:
    {"database": "ok" | "unavailable", "error": ..., "outbox": {status: count}}."""
    details: dict[str, Any] = {}
    try:
        details["outbox"] = counts_by_status()
        details["database"] = "ok"
        status, code = "ok", 200
    except SQLAlchemyError as error:
        db.session.rollback()
        details = {"database": "unavailable", "error": type(error).__name__}
        status, code = "error", 503
    body = {"status": status, **details} if _may_see_details() else {"status": status}
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, code


def _may_see_details() -> bool:
    """A monitor's bearer token (compared in constant time), or a signed-in admin."""
    token = current_app.config["SHOP_HEALTH_TOKEN"]
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        return bool(current_user.is_authenticated and current_user.is_admin)
    except SQLAlchemyError:  # the database is down: the user cannot be loaded
        db.session.rollback()
        return False
