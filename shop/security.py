"""Protections every response gets: security headers, and the client address behind a proxy."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from shop.inputs import refuse_unstorable_text

# No inline script or style anywhere: a script injected into a page would not run.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def register_security(app: Flask) -> None:
    if app.config["SHOP_PROXY_COUNT"]:
        # Behind nginx: the client's address and scheme come from the proxy's headers, which
        # are trusted only as far as the proxies we know of (a client cannot forge them).
        count = app.config["SHOP_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    production = app.config["SHOP_ENV"] == "production"
    # First of all: before CSRFProtect's check, which would fail on them with a 500.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unparsable_origin)
    app.before_request(refuse_unstorable_text)

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


def refuse_unparsable_origin() -> None:
    """400 for an HTTPS form post whose Referer or Host does not parse as an address.

    Flask-WTF checks that such a post comes from this site (WTF_CSRF_SSL_STRICT) by
    comparing urlparse() of the Referer with "https://<Host>/"; urlparse's .port raises
    ValueError for "https://[::1" or a port out of range (a 500). Checked the same way here,
    for the requests Flask-WTF checks, and refused with a message.
    """
    if not request.is_secure or request.method not in current_app.config["WTF_CSRF_METHODS"]:
        return
    for what, address in (("Referer", request.referrer or ""), ("Host", f"https://{request.host}/")):
        try:
            parts = urlsplit(address)
            parts.port  # noqa: B018  (parsing it is the check)
        except ValueError:
            abort(400, f"The {what} header of this request is not a valid address.")
