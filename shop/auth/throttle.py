"""Sign-in attempts: counted before the password is checked, so that no number of parallel
requests gets more password checks than the limit, and keyed so that a stranger cannot
lock the owner out.

Each attempt counts, atomically (Flask-Limiter's storage: a locked counter in memory, one
Lua INCR+EXPIRE call in Redis), against three limits:

- SHOP_LOGIN_LIMIT per account and client address: someone guessing from one address;
- SHOP_LOGIN_ADDRESS_LIMIT per client address, over all accounts: one address trying many;
- SHOP_LOGIN_ACCOUNT_LIMIT per account, over all addresses: guessing from many addresses.
  It does not apply to a browser the account has signed in on before, which holds a signed
  "known device" cookie for it: a flood from strangers locks out strangers only. This is
  OWASP's "Slow Down Online Guessing Attacks with Device Cookies"
  (https://owasp.org/www-community/Slow_Down_Online_Guessing_Attacks_with_Device_Cookies).

The device cookie names the account and a fingerprint of its session token, so a
credential change voids it like every session.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterator

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import RateLimitItem, parse_many

from shop.auth.links import fingerprint
from shop.extensions import get_settings, limiter
from shop.models import User

DEVICE_COOKIE = "known_device"
DEVICE_COOKIE_DAYS = 365
DEVICE_ACCOUNTS = 5  # accounts one browser is remembered for (a family computer)


class TooManyAttempts(Exception):
    """A limit is used up; `retry_after` seconds until it has room again."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many sign-in attempts; retry after {retry_after} s")
        self.retry_after = retry_after


def _account_key(email: str) -> str:
    # A digest, not the address: the counters' keys (in Redis, say) name nobody.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _limits(rates: str, *identifiers: str) -> Iterator[tuple[RateLimitItem, tuple[str, ...]]]:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "swiftcart"
    for item in parse_many(rates):
        yield item, (prefix, *identifiers)


def count_login_attempt(email: str, client_address: str, known_device: bool) -> None:
    """Count one attempt to sign in as `email` from `client_address`, before its password
    is checked. Raises TooManyAttempts at the first limit that was used up already (the
    limits after it are not counted then). `known_device`: the browser holds a valid device
    cookie for this account (is_known_device), so the per-account limit does not apply."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    account, settings = _account_key(email), get_settings()
    checks = [
        *_limits(settings.login_limit, "login-account-address", account, client_address),
        *_limits(settings.login_address_limit, "login-address", client_address),
    ]
    if not known_device:
        checks += _limits(settings.login_account_limit, "login-account", account)
    strategy = limiter.limiter  # Flask-Limiter's limits strategy over its configured storage
    for item, identifiers in checks:
        if not strategy.hit(item, *identifiers):  # counts, then compares: one atomic step
            reset_at = strategy.get_window_stats(item, *identifiers).reset_time
            raise TooManyAttempts(max(1, math.ceil(reset_at - time.time())))


def forget_attempts(email: str, client_address: str) -> None:
    """After a successful sign-in: the account's attempts from this address start again
    (the other two counters stay: they bound what strangers can do)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    rates = get_settings().login_limit
    for item, identifiers in _limits(rates, "login-account-address", _account_key(email), client_address):
        limiter.limiter.clear(item, *identifiers)


# ---------------------------------------------------------------- the known-device cookie
def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="known-device")


def _entries(cookie: str | None) -> list[list]:
    """The [account id, token fingerprint] pairs in a device cookie; none if it is forged or old."""
    if not cookie:
        return []
    try:
        entries = _device_serializer().loads(cookie, max_age=DEVICE_COOKIE_DAYS * 24 * 3600)
    except BadSignature:  # SignatureExpired included
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, list) and len(e) == 2]


def is_known_device(cookie: str | None, user: User | None) -> bool:
    """Whether the device cookie `cookie` was issued to this browser when it signed in as
    `user`, since the account's credentials last changed."""
    if user is None:
        return False
    return [user.id, fingerprint(user.session_token)] in _entries(cookie)


def device_cookie_after_sign_in(cookie: str | None, user: User) -> str:
    """The device cookie's new value once this browser signed in as `user`: this account
    first, then up to DEVICE_ACCOUNTS - 1 others it held already."""
    others = [e for e in _entries(cookie) if e[0] != user.id]
    entries = [[user.id, fingerprint(user.session_token)], *others][:DEVICE_ACCOUNTS]
    return _device_serializer().dumps(entries)
