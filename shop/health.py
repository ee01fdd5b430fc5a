"""GET /healthz: is the database there, and how is the outbox doing (for monitors)."""

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from shop.extensions import db
from shop.mail.outbox import counts_by_status

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    try:
        outbox = counts_by_status()
    except SQLAlchemyError as error:
        db.session.rollback()
        return jsonify(status="error", database="unavailable", error=type(error).__name__), 503
    return jsonify(status="ok", database="ok", outbox=outbox)
