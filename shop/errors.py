"""Error pages in the site's layout: the right status code and a clear message, never a
stack trace."""

from __future__ import annotations

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError

MESSAGES = {
    400: "The request could not be understood. If you sent a form, reload the page and try again.",
    403: "You are not allowed to see this page.",
    404: "There is nothing here. The page may have moved, or the address has a typo.",
    405: "This page cannot be used that way.",
    409: "That cannot be done in the current state; please reload and try again.",
    413: "What you sent is too large.",
    422: "Some of what you sent is not valid.",
    429: "Too many attempts. Please wait a minute and try again.",
    500: "Something went wrong on our side. Nothing you sent was lost; please try again.",
}


def _generic_description(error: HTTPException) -> bool:
    return error.description == type(error).description


def render_error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    generic = _generic_description(error) or code == 429  # Flask-Limiter's text names the limit
    message = MESSAGES.get(code, error.name) if generic else error.description
    response = error.get_response()
    headers = {k: v for k, v in response.headers.items() if k in ("Allow", "Retry-After", "WWW-Authenticate")}
    return render_template("errors/error.html", code=code, title=error.name, message=message), code, headers


def render_server_error(error: InternalServerError) -> ResponseReturnValue:
    # Flask has logged the exception with its traceback already.
    return render_template("errors/error.html", code=500, title="Server error", message=MESSAGES[500]), 500


def register_error_pages(app: Flask) -> None:
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(InternalServerError, render_server_error)
