"""Settings, read from environment variables.

Every setting has a safe development default, except that production (SHOP_ENV=production)
refuses to start without a real SECRET_KEY. The table in README.md lists them all.

`settings_from_env()` reads them all into one mapping by their names; create_app() keeps
Flask's and its extensions' keys (SECRET_KEY, SQLALCHEMY_*, MAIL_*, RATELIMIT_*, ...) in
app.config, where they look for them, and the shop's own (SHOP_*) in one frozen `Settings`
object, read through shop.extensions.get_settings().
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from itertools import pairwise
from typing import Any, Protocol
from urllib.parse import urlsplit

# Values that must never sign a production session: empty, or a placeholder someone copied.
KNOWN_BAD_SECRET_KEYS = {"", "dev", "secret", "changeme", "change-me", "development", "please-change-me"}
# Estimated randomness a production SECRET_KEY needs (estimated_key_bits): 16 random bytes
# in hex (secrets.token_hex(16)) score 90 or more in a million tries; token_hex(32) 215.
MIN_SECRET_KEY_BITS = 90

# The longest span in days a setting or command may give (ten years).
MAX_DAYS = 3650

# SHOP_TAX_NAME and SHOP_PICKUP_ADDRESS when unset: the pages and emails show these
# defaults in the shop's language (shop/language.py).
DEFAULT_TAX_NAME = "VAT"
DEFAULT_PICKUP_ADDRESS = "our shop"


class ConfigError(RuntimeError):
    """The environment asks for something the shop cannot run with."""


class MethodRegistry(Protocol):
    """The payment methods and shipping options the code knows, as the settings are checked
    against them: create_app() passes the shop's (shop.payment.METHODS), so this module
    imports nothing of the shop and the imports run one way."""

    payment_codes: tuple[str, ...]  # in the order offered by default
    shipping_codes: tuple[str, ...]

    def fits(self, payment: str, shipping: str) -> bool:
        """Whether the payment method may be chosen with the shipping option."""

    def fit_rules(self) -> str:
        """The rules `fits` applies, in words, for the message that refuses a choice."""

    def needs_settings(self, payment: str) -> Mapping[str, str]:
        """{setting: its development stand-in} the method cannot work without."""

    def label(self, payment: str) -> str:
        """The method's name for people: "Bank transfer"."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"expected a yes/no value, got {value!r}")


def _int(name: str, value: str, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        number = int(value)
    except ValueError:  # int() also refuses over 4300 digits with a ValueError
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {number}")
    return number


def _float(name: str, value: str, minimum: float = 0.0) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def _limit(name: str, value: str) -> str:
    """A rate in Flask-Limiter's notation ("10 per minute", or several: "10/minute; 100/day"),
    checked now so that a typo stops the start instead of every sign-in."""
    from limits import parse_many  # Flask-Limiter's own parser

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must be a rate like '10 per minute' or '10/minute;100/day', got {value!r}") from None
    return value


def _names(name: str, value: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """'a, b' -> ('a', 'b'), each one of `known`, at least one."""
    names = tuple(dict.fromkeys(part.strip().lower() for part in value.split(",") if part.strip()))
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ConfigError(f"{name} takes a comma-separated list of {', '.join(known)}; got {value!r}")
    return names


def _decimal(name: str, value: str, wanted: str) -> Decimal:
    """The setting as a finite decimal number below a trillion; ConfigError otherwise, never a
    decimal error (Decimal reads '1e999999999', and arithmetic on it raises decimal.Overflow)."""
    try:
        number = Decimal(value.strip())
    except ArithmeticError:  # decimal.InvalidOperation and every other decimal error
        raise ConfigError(f"{name} must be {wanted}, got {value!r}") from None
    if not number.is_finite() or number.adjusted() >= 12:
        raise ConfigError(f"{name} must be {wanted}, got {value!r}")
    return number


def _hundredths(number: Decimal) -> int | None:
    """number x 100 if that is whole, else None (exact: `number` is below a trillion)."""
    hundredths = number.quantize(Decimal("0.01"))
    return int(hundredths.scaleb(2)) if hundredths == number else None


def _money(name: str, value: str, currency: str) -> int:
    """'4.90' -> 490 minor units of `currency` (cents of EUR); '500' -> 500 JPY. The amount
    is written with a point, as every setting is, with at most the currency's decimals
    (ISO 4217, as Babel knows them: JPY none, BHD three)."""
    from babel.numbers import get_currency_precision

    places = get_currency_precision(currency)
    amount = _decimal(name, value, "an amount like 4.90")
    # Decimals by the exponent, not by scaling: 1e999999999 would overflow, 1e-999999999
    # would round to 0.
    decimals = places + 1
    if amount.is_finite():
        _sign, digits, exponent = amount.as_tuple()
        zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))  # 4.90: one that is no decimal
        decimals = max(0, -(int(exponent) + zeros)) if any(digits) else 0
    if amount < 0 or amount.adjusted() >= 9 or decimals > places:
        raise ConfigError(
            f"{name} must be an amount like 4.90 in {currency} (SHOP_CURRENCY), with at most {places} decimals, "
            f"got {value!r}"
        )
    return int(amount.scaleb(places))


def _currency(value: str) -> str:
    """SHOP_CURRENCY: an ISO 4217 code Babel knows ('eur' -> 'EUR'). Raises ConfigError."""
    from babel.numbers import list_currencies

    code = value.strip().upper()
    if code not in list_currencies():
        raise ConfigError(f"SHOP_CURRENCY must be an ISO 4217 currency code like EUR, JPY or BHD, got {value!r}")
    return code


def _timezone(value: str) -> str:
    """SHOP_TIMEZONE: an IANA time zone name ('Europe/Berlin'). Raises ConfigError naming it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a name like '../etc' or ''
        raise ConfigError(
            f"SHOP_TIMEZONE must be an IANA time zone name like UTC or Europe/Berlin, got {value!r}"
        ) from None
    return name


def _percent_bp(name: str, value: str) -> int:
    """'20' -> 2000, '7.7' -> 770: a percentage in hundredths of a percent (basis points)."""
    wanted = "a percentage from 0 to 100 with at most two decimals"
    percent = _decimal(name, value, wanted)
    basis_points = _hundredths(percent)
    if not 0 <= percent <= 100 or basis_points is None:
        raise ConfigError(f"{name} must be {wanted}, got {value!r}")
    return basis_points


def settings_from_env(env: Mapping[str, str] | None = None, *, methods: MethodRegistry) -> dict[str, Any]:
    """Read every setting the shop knows from `env` (default: os.environ), by name. The
    payment and shipping methods offered are checked against `methods`, the ones the code
    knows. Raises ConfigError naming the variable that cannot be used."""
    env = os.environ if env is None else env

    def get(name: str, default: str = "") -> str:
        return env.get(name, default)

    shop_env = get("SHOP_ENV", "development").strip().lower()
    if shop_env not in {"development", "production", "testing"}:
        raise ConfigError(f"SHOP_ENV must be development, production or testing, got {shop_env!r}")
    dispatch = get("SHOP_MAIL_DISPATCH", "thread").strip().lower()
    if dispatch not in {"thread", "sync", "celery"}:
        raise ConfigError(f"SHOP_MAIL_DISPATCH must be thread, sync or celery, got {dispatch!r}")
    use_tls, use_ssl = _bool(get("MAIL_USE_TLS", "false")), _bool(get("MAIL_USE_SSL", "false"))
    if use_tls and use_ssl:
        raise ConfigError("MAIL_USE_TLS and MAIL_USE_SSL exclude each other: pick one")
    rate = get("SHOP_MAIL_RATE_PER_MINUTE")
    known_payment, known_shipping = methods.payment_codes, methods.shipping_codes
    # By default every method is offered whose provider's keys are set (card: STRIPE_*);
    # one without a development stand-in for a missing key is left out.
    ready = [pay for pay in known_payment if all(get(n) or s for n, s in methods.needs_settings(pay).items())]
    payment_methods = _names("SHOP_PAYMENT_METHODS", get("SHOP_PAYMENT_METHODS", ",".join(ready)), known_payment)
    shipping_methods = _names(
        "SHOP_SHIPPING_METHODS", get("SHOP_SHIPPING_METHODS", ",".join(known_shipping)), known_shipping
    )
    unfit = [pay for pay in payment_methods if not any(methods.fits(pay, ship) for ship in shipping_methods)]
    unfit += [ship for ship in shipping_methods if not any(methods.fits(pay, ship) for pay in payment_methods)]
    if unfit:
        raise ConfigError(
            f"{', '.join(unfit)} cannot be chosen with SHOP_PAYMENT_METHODS={','.join(payment_methods)} and "
            f"SHOP_SHIPPING_METHODS={','.join(shipping_methods)}: {methods.fit_rules()}"
        )
    free_over = get("SHOP_FREE_SHIPPING_OVER", "50.00").strip()
    currency = _currency(get("SHOP_CURRENCY", "EUR"))

    settings: dict[str, Any] = {
        "SHOP_ENV": shop_env,
        "SECRET_KEY": get("SECRET_KEY"),
        # Where the shop keeps its files (SQLite database, development key); default ./instance.
        "SHOP_INSTANCE_PATH": get("SHOP_INSTANCE_PATH") or None,
        # None: a SQLite file in the instance folder, resolved by create_app().
        "SQLALCHEMY_DATABASE_URI": get("DATABASE_URL") or None,
        "MAIL_SERVER": get("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": _int("MAIL_PORT", get("MAIL_PORT", "8025"), 1),
        "MAIL_USE_TLS": use_tls,
        "MAIL_USE_SSL": use_ssl,
        "MAIL_USERNAME": get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": get("MAIL_DEFAULT_SENDER", "Swiftcart <shop@localhost>"),
        "MAIL_TIMEOUT": _float("MAIL_TIMEOUT", get("MAIL_TIMEOUT", "10"), 0.1),
        # Addresses with letters beyond ASCII before the @ (jörg@example.com) can only be
        # sent to through a server that offers SMTPUTF8 (RFC 6531): accepted at the forms
        # only when the owner says theirs does.
        "MAIL_SMTPUTF8": _bool(get("MAIL_SMTPUTF8", "false")),
        # Flask-Mail silently drops every message when TESTING is on unless told otherwise;
        # our tests send to a real SMTP server, so sending is never suppressed.
        "MAIL_SUPPRESS_SEND": False,
        "SHOP_NAME": get("SHOP_NAME", "Swiftcart"),
        "SHOP_CURRENCY": currency,
        # The shop's days: "today", date filters, voucher days, order numbers (shop/clock.py).
        "SHOP_TIMEZONE": _timezone(get("SHOP_TIMEZONE", "UTC")),
        "SHOP_LOCALE": _locale(get("SHOP_LOCALE", "en")),
        "SHOP_BASE_URL": get("SHOP_BASE_URL").rstrip("/"),
        "SHOP_OWNER_EMAIL": get("SHOP_OWNER_EMAIL").strip(),
        # Selling: see "Selling" in README.md.
        "SHOP_GUEST_CHECKOUT": _bool(get("SHOP_GUEST_CHECKOUT", "true")),
        "SHOP_GUEST_LINK_DAYS": _int("SHOP_GUEST_LINK_DAYS", get("SHOP_GUEST_LINK_DAYS", "90"), 1),
        "SHOP_PAYMENT_METHODS": payment_methods,
        "SHOP_BANK_ACCOUNT_HOLDER": get("SHOP_BANK_ACCOUNT_HOLDER").strip(),
        "SHOP_BANK_IBAN": " ".join(get("SHOP_BANK_IBAN").split()),
        "SHOP_BANK_BIC": get("SHOP_BANK_BIC").strip(),
        # At most MAX_DAYS: a date that many days back must exist (timedelta overflows).
        "SHOP_UNPAID_CANCEL_DAYS": _int("SHOP_UNPAID_CANCEL_DAYS", get("SHOP_UNPAID_CANCEL_DAYS", "7"), 1, MAX_DAYS),
        # Card payments through Stripe Checkout (README.md, "Card payments").
        "STRIPE_SECRET_KEY": get("STRIPE_SECRET_KEY").strip(),
        "STRIPE_WEBHOOK_SECRET": get("STRIPE_WEBHOOK_SECRET").strip(),
        # "" : Stripe's own (https://api.stripe.com); another address for stripe-mock or tests.
        "STRIPE_API_BASE": get("STRIPE_API_BASE").strip().rstrip("/"),
        # How long one request to Stripe may take before checkout gives up on it.
        "STRIPE_TIMEOUT_SECONDS": _float("STRIPE_TIMEOUT_SECONDS", get("STRIPE_TIMEOUT_SECONDS", "3"), 0.1),
        # Stock is held this long for an unpaid card order; Stripe allows 30 minutes to 24 hours.
        "SHOP_CARD_PAYMENT_MINUTES": _int(
            "SHOP_CARD_PAYMENT_MINUTES", get("SHOP_CARD_PAYMENT_MINUTES", "30"), 30, 24 * 60
        ),
        "SHOP_SHIPPING_METHODS": shipping_methods,
        "SHOP_SHIPPING_FLAT_RATE": _money("SHOP_SHIPPING_FLAT_RATE", get("SHOP_SHIPPING_FLAT_RATE", "4.90"), currency),
        # None: shipping is never free.
        "SHOP_FREE_SHIPPING_OVER": _money("SHOP_FREE_SHIPPING_OVER", free_over, currency) if free_over else None,
        "SHOP_PICKUP_ADDRESS": get("SHOP_PICKUP_ADDRESS", DEFAULT_PICKUP_ADDRESS).strip(),
        "SHOP_TAX_RATE_BP": _percent_bp("SHOP_TAX_RATE", get("SHOP_TAX_RATE", "20")),
        "SHOP_TAX_NAME": get("SHOP_TAX_NAME", DEFAULT_TAX_NAME).strip(),
        "SHOP_PRICES_INCLUDE_TAX": _bool(get("SHOP_PRICES_INCLUDE_TAX", "true")),
        # On every invoice and credit note: the shop's postal address (lines separated by
        # " | ") and its VAT number ("" : none shown).
        "SHOP_INVOICE_ADDRESS": get("SHOP_INVOICE_ADDRESS").strip(),
        "SHOP_VAT_ID": get("SHOP_VAT_ID").strip(),
        "SHOP_LOW_STOCK_THRESHOLD": _int("SHOP_LOW_STOCK_THRESHOLD", get("SHOP_LOW_STOCK_THRESHOLD", "5"), 0),
        "SHOP_MAIL_DISPATCH": dispatch,
        "SHOP_MAIL_WORKERS": _int("SHOP_MAIL_WORKERS", get("SHOP_MAIL_WORKERS", "4"), 1),
        "SHOP_MAIL_RETRY_BASE_SECONDS": _float(
            "SHOP_MAIL_RETRY_BASE_SECONDS", get("SHOP_MAIL_RETRY_BASE_SECONDS", "30"), 0.0
        ),
        "SHOP_MAIL_MAX_ATTEMPTS": _int("SHOP_MAIL_MAX_ATTEMPTS", get("SHOP_MAIL_MAX_ATTEMPTS", "8"), 1),
        "SHOP_MAIL_SWEEP_SECONDS": _float("SHOP_MAIL_SWEEP_SECONDS", get("SHOP_MAIL_SWEEP_SECONDS", "15"), 0.05),
        "SHOP_MAIL_RATE_PER_MINUTE": _float("SHOP_MAIL_RATE_PER_MINUTE", rate, 0.001) if rate else None,
        # A sender claims up to this many due emails at once (one UPDATE, one lease each).
        "SHOP_MAIL_BATCH": _int("SHOP_MAIL_BATCH", get("SHOP_MAIL_BATCH", "10"), 1),
        # One SMTP connection carries at most this many emails, and is closed after this
        # many seconds without one.
        "SHOP_MAIL_SMTP_MAX_MESSAGES": _int(
            "SHOP_MAIL_SMTP_MAX_MESSAGES", get("SHOP_MAIL_SMTP_MAX_MESSAGES", "100"), 1
        ),
        "SHOP_MAIL_SMTP_IDLE_SECONDS": _float(
            "SHOP_MAIL_SMTP_IDLE_SECONDS", get("SHOP_MAIL_SMTP_IDLE_SECONDS", "10"), 0.0
        ),
        # While the SMTP server is unreachable a process probes it at most this far apart.
        "SHOP_MAIL_PROBE_MAX_SECONDS": _float(
            "SHOP_MAIL_PROBE_MAX_SECONDS", get("SHOP_MAIL_PROBE_MAX_SECONDS", "8"), 0.1
        ),
        # A monitor sending "Authorization: Bearer <token>" gets /healthz's details; empty:
        # only a signed-in admin does (anyone else: up or down).
        "SHOP_HEALTH_TOKEN": _health_token(get("SHOP_HEALTH_TOKEN").strip()),
        "SHOP_LOG_LEVEL": get("SHOP_LOG_LEVEL", "INFO").strip().upper(),
        "CELERY_BROKER_URL": get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
        "SHOP_PAGE_SIZE": _int("SHOP_PAGE_SIZE", get("SHOP_PAGE_SIZE", "12"), 1),
        # Flask-Limiter: where attempt counters live ("memory://": this process only).
        "RATELIMIT_STORAGE_URI": get("RATELIMIT_STORAGE_URI", "memory://"),
        # In front of every counter's key: shops sharing one Redis keep apart ("": swiftcart).
        "RATELIMIT_KEY_PREFIX": get("RATELIMIT_KEY_PREFIX").strip(),
        "RATELIMIT_ENABLED": _bool(get("RATELIMIT_ENABLED", "true")),
        "RATELIMIT_HEADERS_ENABLED": True,  # a 429 says when to try again (Retry-After)
        # Sign-in attempts, counted before the password is checked (shop/auth/throttle.py):
        # per account from one address; from one address over all accounts; per account
        # from browsers it has never signed in on (no "known device" cookie).
        **{
            name: _limit(name, get(name, default))
            for name, default in (
                ("SHOP_LOGIN_LIMIT", "10 per minute"),
                ("SHOP_LOGIN_ADDRESS_LIMIT", "30 per minute"),
                ("SHOP_LOGIN_ACCOUNT_LIMIT", "100 per hour"),
                # Registrations, and guests' attempts to order, per client address.
                ("SHOP_REGISTER_LIMIT", "10 per hour"),
                ("SHOP_GUEST_ORDER_LIMIT", "20 per hour"),
            )
        },
        # How many proxies (nginx) stand in front and set X-Forwarded-For; 0: none.
        "SHOP_PROXY_COUNT": _int("SHOP_PROXY_COUNT", get("SHOP_PROXY_COUNT", "0"), 0),
        # Whether those proxies' X-Forwarded-Host names the site. Off: the Host header does
        # (nginx passes it on); a client could otherwise choose the host of links built from
        # the request.
        "SHOP_PROXY_TRUST_HOST": _bool(get("SHOP_PROXY_TRUST_HOST", "false")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": shop_env == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": shop_env == "production",
        "REMEMBER_COOKIE_DURATION": 30 * 24 * 3600,
        # Larger bodies than any form of ours (a 10 MB photo and its form) get 413, unread.
        "MAX_CONTENT_LENGTH": 11 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,  # a token lives as long as the session
    }
    _check_mail_addresses(settings)
    if shop_env == "production":
        check_production(settings, methods)
    else:  # a stand-in for what an offered method needs (an example IBAN), development only
        for payment in payment_methods:
            for name, stand_in in methods.needs_settings(payment).items():
                if not (settings[name] or stand_in):  # a provider's key has no stand-in
                    raise ConfigError(
                        f"{methods.label(payment).lower()} is offered (SHOP_PAYMENT_METHODS) but {name} is not "
                        f"set: set it (a test-mode key in development), or leave {payment} out"
                    )
                settings[name] = settings[name] or stand_in
    return settings


@dataclass(frozen=True)
class Settings:
    """The shop's own settings, typed and frozen: made once by create_app() from the
    environment (settings_from_env) and its overrides, read through
    shop.extensions.get_settings(). Each field is the variable SHOP_<FIELD> (shop_name is
    SHOP_NAME); amounts are minor units of SHOP_CURRENCY (cents of EUR, yen, fils of BHD).
    A change is a new object (`replace`), never an edit."""

    env: str  # development, production or testing
    instance_path: str | None  # None: ./instance
    shop_name: str
    currency: str  # ISO 4217 code, upper case; every amount is in its minor units (shop/money.py)
    locale: str  # the shop's language and number formats, a CLDR locale id: en, de, de_CH
    timezone: str  # IANA name: the shop's days and the times it shows (shop/clock.py)
    base_url: str  # "" or https://... without a trailing slash
    owner_email: str  # "" : the owner is not emailed
    log_level: str
    page_size: int  # products per catalogue page
    # Selling (README.md, "Selling")
    guest_checkout: bool
    guest_link_days: int
    payment_methods: tuple[str, ...]  # the codes offered, in the order shown
    bank_account_holder: str
    bank_iban: str
    bank_bic: str
    unpaid_cancel_days: int
    card_payment_minutes: int  # stock held for an unpaid card order
    stripe_secret_key: str  # "" : card payments are not offered
    stripe_webhook_secret: str
    stripe_api_base: str  # "" : Stripe's own
    stripe_timeout_seconds: float  # per request to Stripe
    shipping_methods: tuple[str, ...]
    shipping_flat_rate: int  # minor units; the default shipping zone's rate
    free_shipping_over: int | None  # minor units; None: shipping is never free
    pickup_address: str
    tax_rate_bp: int  # hundredths of a percent: 2000 = 20 %
    tax_name: str
    prices_include_tax: bool
    invoice_address: str  # lines separated by " | "
    vat_id: str
    low_stock_threshold: int
    # Mail dispatch (README.md, "How email works")
    mail_dispatch: str  # thread, sync or celery
    mail_workers: int
    mail_retry_base_seconds: float
    mail_max_attempts: int
    mail_sweep_seconds: float
    mail_rate_per_minute: float | None  # None: no limit
    mail_batch: int  # emails one sender claims at once
    mail_smtp_max_messages: int  # emails sent over one SMTP connection at most
    mail_smtp_idle_seconds: float  # an idle connection is closed after this
    mail_probe_max_seconds: float  # while the server is unreachable, probes at most this far apart
    health_token: str  # "" : /healthz details for signed-in admins only
    # Limits and proxies, in Flask-Limiter's notation ("10 per minute")
    login_limit: str
    login_address_limit: str
    login_account_limit: str
    register_limit: str
    guest_order_limit: str
    proxy_count: int
    proxy_trust_host: bool

    @staticmethod
    def name_of(field_name: str) -> str:
        """The variable a field is read from: 'tax_rate_bp' -> 'SHOP_TAX_RATE_BP'; Stripe's
        settings keep the names Stripe's documentation uses ('stripe_secret_key' ->
        'STRIPE_SECRET_KEY')."""
        if field_name.startswith("stripe_"):
            return field_name.upper()
        return "SHOP_" + field_name.upper().removeprefix("SHOP_")

    @classmethod
    def names(cls) -> dict[str, str]:
        """{variable name: field name} for every field."""
        return {cls.name_of(f.name): f.name for f in fields(cls)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """The settings from a mapping by variable names (settings_from_env's, with any
        overrides); other keys are ignored. Raises KeyError naming a variable that is missing."""
        return cls(**{field: values[name] for name, field in cls.names().items()})

    def as_mapping(self) -> dict[str, Any]:
        """{variable name: value}: the inverse of from_mapping."""
        return {self.name_of(field): value for field, value in asdict(self).items()}

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` by variable name (replace(SHOP_TAX_RATE_BP=1000)). Raises
        TypeError for a name that is not a setting."""
        unknown = sorted(set(changes) - set(self.names()))
        if unknown:
            raise TypeError(f"not settings: {', '.join(unknown)}")
        return Settings.from_mapping({**self.as_mapping(), **changes})


def estimated_key_bits(key: str) -> float:
    """A rough upper bound of the randomness in `key`, in bits: its length times the Shannon
    entropy of its characters, or of the steps between neighbouring characters if that is
    less (so 'abcdefgh...' and 'abcabcabc...' count for little). Not a proof of strength,
    a guard against keys someone typed: secrets.token_hex(32) scores about 245 (at least
    215), 'test-secret-key-xxxxxxxx...' 89, a repeated character 0."""
    steps = [ord(b) - ord(a) for a, b in pairwise(key)]
    return min(_shannon_bits(key), _shannon_bits(steps)) if steps else 0.0


def _shannon_bits(symbols: Sequence[object]) -> float:
    counts = Counter(symbols)
    return sum(n * math.log2(len(symbols) / n) for n in counts.values())


def _locale(value: str) -> str:
    """SHOP_LOCALE as Babel's canonical id ('de-at' -> 'de_AT'). Raises ConfigError, naming
    the variable, for a locale CLDR does not know."""
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(value.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        raise ConfigError(f"SHOP_LOCALE={value!r} is not a locale Babel knows (examples: en, de, fr_CH)") from None


def _health_token(token: str) -> str:
    if token and len(token) < 16:
        raise ConfigError("SHOP_HEALTH_TOKEN must be at least 16 characters (or empty: details for admins only)")
    return token


def _check_mail_addresses(settings: Mapping[str, Any]) -> None:
    """The shop's own addresses must be ones it can send from and to: one with letters
    beyond ASCII before the @ needs MAIL_SMTPUTF8 (a server that offers SMTPUTF8)."""
    for name in ("MAIL_DEFAULT_SENDER", "SHOP_OWNER_EMAIL"):
        value = settings.get(name) or ""
        address = value.rpartition("<")[2].rstrip(">").strip() if value.rstrip().endswith(">") else value.strip()
        if value and "@" not in address:
            raise ConfigError(
                f"{name} must be an address like shop@example.com or Shop <shop@example.com>, got {value!r}"
            )
        if not address.rpartition("@")[0].isascii() and not settings.get("MAIL_SMTPUTF8"):
            raise ConfigError(
                f"{name} has letters beyond ASCII before the @: set MAIL_SMTPUTF8=true (the mail "
                "server must offer SMTPUTF8) or use another address"
            )


def check_production(settings: Mapping[str, Any], methods: MethodRegistry) -> None:
    """Refuse to serve real shoppers with settings that are only safe on a laptop (by name,
    as settings_from_env reads them): raises ConfigError naming the variable."""
    key = settings.get("SECRET_KEY") or ""
    generate = 'generate one with: python -c "import secrets; print(secrets.token_hex(32))"'
    if key.strip().lower() in KNOWN_BAD_SECRET_KEYS or len(key) < 32:
        raise ConfigError(f"SHOP_ENV=production needs a SECRET_KEY of at least 32 random characters; {generate}")
    bits = estimated_key_bits(key)
    if bits < MIN_SECRET_KEY_BITS:
        raise ConfigError(
            f"SECRET_KEY looks typed, not random (about {bits:.0f} bits of randomness; production needs "
            f"{MIN_SECRET_KEY_BITS}): anyone who guesses it can sign in as anyone; {generate}"
        )
    base_url = settings.get("SHOP_BASE_URL") or ""
    if not base_url:
        raise ConfigError(
            "SHOP_ENV=production needs SHOP_BASE_URL (e.g. https://shop.example.com): links in emails sent "
            "by commands and workers cannot take the address from a request"
        )
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"SHOP_BASE_URL must be an https:// address like https://shop.example.com in production, got "
            f"{base_url!r}: its links carry password-reset and order tokens, which must not travel in clear"
        )
    api_base = settings.get("STRIPE_API_BASE") or ""
    if api_base and urlsplit(api_base).scheme != "https":
        raise ConfigError(f"STRIPE_API_BASE must be an https:// address in production, got {api_base!r}")
    for payment in settings.get("SHOP_PAYMENT_METHODS", ()):
        for name in methods.needs_settings(payment):
            if not settings.get(name):
                raise ConfigError(
                    f"{methods.label(payment).lower()} is offered (SHOP_PAYMENT_METHODS) but {name} is not set: "
                    f"shoppers would not know where to pay; set it, or leave {payment} out"
                )
