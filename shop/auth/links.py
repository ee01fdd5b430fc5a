"""The signed links the shop emails about accounts, and how the admin's preview hides them.

Each link is signed with SECRET_KEY (itsdangerous, one salt per purpose, so a link of one
kind never passes for another) and names what makes it stale: a reset link a fingerprint of
the password hash (it works once), a claim link the account's session token (a password
reset voids it), a confirmation link the address it confirms.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from flask import current_app, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

RESET_LINK_SECONDS = 3600  # a password-reset link works for one hour
CLAIM_LINK_DAYS = 7
CONFIRM_LINK_DAYS = 7

# The pages whose link in an email acts for whoever holds it: the admin's email preview
# shows these links without their token (the email itself is sent unchanged).
LIVE_LINK_ENDPOINTS = (
    "auth.reset_password",
    "auth.claim_orders",
    "auth.confirm_email",
    "account.confirm_email_change",
    "account.confirm_deletion",
)
HIDDEN = "[link hidden]"


class LinkInvalid(Exception):
    """A link that is forged, expired or stale; the message says which, for the shopper."""


class LinkExpired(LinkInvalid):
    pass


def fingerprint(secret: str) -> str:
    """16 hex digits standing for `secret` in a link, without showing it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def sign_link(purpose: str, payload: list[Any]) -> str:
    """The token for a link of `purpose` ("password-reset", "claim-orders", "confirm-email")."""
    return _serializer(purpose).dumps(payload)


def read_link(purpose: str, token: str, max_age_seconds: int, length: int) -> list[Any]:
    """The payload of a token signed by sign_link, a list of `length` values.

    Raises LinkExpired when it is older than `max_age_seconds`, LinkInvalid when it is
    forged, for another purpose, or not of the expected shape.
    """
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise LinkExpired(_("This link has expired.")) from None
    except BadSignature:
        raise LinkInvalid(_("This link is not valid.")) from None
    if not isinstance(payload, list) or len(payload) != length:
        raise LinkInvalid(_("This link is not valid."))
    return payload


def hide_live_links(body: str) -> str:
    """`body` (an email's text or HTML) with the token of every live account link replaced
    by "[link hidden]": what the admin sees must not let them reset a password, confirm an
    address or claim orders in a shopper's name."""
    for endpoint in LIVE_LINK_ENDPOINTS:
        prefix = url_for(endpoint, token="TOKEN").removesuffix("TOKEN")
        # itsdangerous' URL-safe tokens: base64url and dots.
        body = re.sub(re.escape(prefix) + r"[A-Za-z0-9_.\-]+", lambda _, p=prefix: p + HIDDEN, body)
    return body
