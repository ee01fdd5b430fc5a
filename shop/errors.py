"""Error pages in the site's layout: the right status code and a clear message, never a
stack trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import escape
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from shop.extensions import db

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("The request could not be understood. If you sent a form, reload the page and try again."),
    403: _l("You are not allowed to see this page."),
    404: _l("There is nothing here. The page may have moved, or the address has a typo."),
    405: _l("This page cannot be used that way."),
    409: _l("That cannot be done in the current state; please reload and try again."),
    413: _l("What you sent is too large."),
    422: _l("Some of what you sent is not valid."),
    429: _l("Too many attempts. Please wait a minute and try again."),
    500: _l("Something went wrong on our side. Nothing you sent was lost; please try again."),
}

# The pages' titles: werkzeug's names of the statuses the shop answers with, translated.
TITLES = {
    400: _l("Bad Request"),
    401: _l("Unauthorized"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    409: _l("Conflict"),
    410: _l("Gone"),
    413: _l("Request Entity Too Large"),
    422: _l("Unprocessable Entity"),
    429: _l("Too Many Requests"),
    500: _l("Internal Server Error"),
    503: _l("Service Unavailable"),
}


def _generic_description(error: HTTPException) -> bool:
    return error.description == type(error).description


def render_error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    generic = _generic_description(error) or code == 429  # Flask-Limiter's text names the limit
    message = str(MESSAGES.get(code, error.name)) if generic else error.description
    title = str(TITLES.get(code, error.name))
    response = error.get_response()
    headers = {k: v for k, v in response.headers.items() if k in ("Allow", "Retry-After", "WWW-Authenticate")}
    if request_ctx.url_adapter is None:  # the Host header could not be routed: no link can be built
        return plain_page(title, message), code, headers
    return render_template("errors/error.html", code=code, title=title, message=message), code, headers


def plain_page(title: str, message: str) -> str:
    """An error page without the layout, for when the layout cannot be rendered."""
    return f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(message)}</p>"


def render_server_error(error: InternalServerError) -> ResponseReturnValue:
    # Flask has logged the exception with its traceback already.
    return render_template("errors/error.html", code=500, title=_("Server error"), message=MESSAGES[500]), 500


# When the database cannot write (locked, read-only, disk full, connection lost): what the
# shopper most needs to know after a failed checkout is that nothing happened. It is true:
# the order, its stock and its voucher use are one transaction, and no payment is taken
# online; and posting the same form again cannot order twice (its checkout token).
DATABASE_UNAVAILABLE = _l("The shop cannot use its database just now. Please try again in a minute.")
CHECKOUT_NOT_SAVED = _l(
    "No order was placed and nothing was charged: the shop could not save your order just now. "
    "Your cart is kept; please try again in a minute."
)
ENDPOINTS_THAT_ORDER = {"checkout.submit"}


def render_database_unavailable(error: OperationalError) -> ResponseReturnValue:
    """503 for an OperationalError (the database is there but cannot do it now)."""
    log.error("database unavailable on %s %s", request.method, request.path, exc_info=error)
    message = str(CHECKOUT_NOT_SAVED if request.endpoint in ENDPOINTS_THAT_ORDER else DATABASE_UNAVAILABLE)
    headers = {"Retry-After": "60"}
    try:
        db.session.rollback()
        page = render_template("errors/error.html", code=503, title=_("Service unavailable"), message=message)
    except SQLAlchemyError:  # the layout asks who is signed in, which needs the database
        page = plain_page(_("Service unavailable"), message)
    return page, 503, headers


def register_error_pages(app: Flask) -> None:
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(InternalServerError, render_server_error)
    app.register_error_handler(OperationalError, render_database_unavailable)
