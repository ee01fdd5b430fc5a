"""Protections every response gets: security headers, and the client address behind a proxy."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request, session
from flask_babel import gettext as _
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from shop.extensions import get_settings
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


# Files: the same for whoever asks (Flask and send_from_directory set how long to keep them).
FILE_ENDPOINTS = frozenset({"static", "catalog.product_image"})
# Pages that show an anonymous visitor nothing of their own (the catalogue, and what it
# tells search engines).
PUBLIC_PAGES = frozenset({"catalog.index", "catalog.product", "catalog.sitemap", "catalog.robots"})


def shows_personal_data() -> bool:
    """Whether the response may show someone's own data, so no cache may keep it
    (Cache-Control: no-store): every page of a signed-in visitor, and every page but the
    catalogue for anyone (a cart, a checkout, a guest's order link, account pages, errors).
    A new page is private unless it is added to PUBLIC_PAGES."""
    if request.endpoint in FILE_ENDPOINTS:
        return False
    # The session says who is signed in without asking the database (which may be down).
    return request.endpoint not in PUBLIC_PAGES or "_user_id" in session


def register_security(app: Flask) -> None:
    settings = get_settings(app)
    if settings.proxy_count:
        # Behind nginx: the client's address and scheme come from the proxy's headers, which
        # are trusted only as far as the proxies we know of (a client cannot forge them).
        # X-Forwarded-Host only when SHOP_PROXY_TRUST_HOST says the proxy sets it: a proxy
        # that passes a client's own X-Forwarded-Host on would let it choose the host.
        count = settings.proxy_count
        host = count if settings.proxy_trust_host else 0
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=host)  # type: ignore[method-assign]
    production = settings.env == "production"
    # First of all: before CSRFProtect's check, which would fail on them with a 500.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unparsable_origin)
    app.before_request(refuse_unstorable_text)

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        if shows_personal_data():
            headers["Cache-Control"] = "no-store"
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


def refuse_unparsable_origin() -> None:
    """400 for an HTTPS form post whose Referer does not parse as an address.

    Flask-WTF checks that such a post comes from this site (WTF_CSRF_SSL_STRICT) by
    comparing urlparse() of the Referer with "https://<Host>/"; urlparse's .port raises
    ValueError for "https://[::1" or a port out of range (a 500). Checked the same way here,
    for the requests Flask-WTF checks, and refused with a message. (The Host needs no check:
    werkzeug's request.host is "" for one that is not a valid host and port.)
    """
    if not request.is_secure or request.method not in current_app.config["WTF_CSRF_METHODS"]:
        return
    try:
        urlsplit(request.referrer or "").port  # noqa: B018  (parsing it is the check)
    except ValueError:
        abort(400, _("The Referer header of this request is not a valid address."))
