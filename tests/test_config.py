import secrets

import pytest

from config import ConfigError
from config import settings_from_env as read_settings
from shop import create_app
from shop.payment import METHODS


def settings_from_env(env):
    """The settings as create_app reads them: the methods checked against the shop's."""
    return read_settings(env, methods=METHODS)


RANDOM_KEY = "7de3057a7b142e624e6d43c419b5db63406a3a7a1d945885f5c9b07a37ced81a"  # secrets.token_hex(32)


def test_development_defaults_are_safe_and_complete():
    settings = settings_from_env({})
    assert settings["SHOP_ENV"] == "development"
    assert settings["SHOP_MAIL_DISPATCH"] == "thread"
    assert settings["SHOP_MAIL_WORKERS"] == 4
    assert settings["MAIL_TIMEOUT"] == 10
    assert settings["SHOP_MAIL_MAX_ATTEMPTS"] == 8
    assert settings["SHOP_MAIL_RETRY_BASE_SECONDS"] == 30
    assert settings["SHOP_MAIL_SWEEP_SECONDS"] == 15
    assert settings["SHOP_MAIL_RATE_PER_MINUTE"] is None
    assert settings["MAIL_SUPPRESS_SEND"] is False
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert settings["SESSION_COOKIE_SECURE"] is False
    assert settings["SECRET_KEY"] == ""  # no secret in the code: development makes one


def test_environment_variables_are_read():
    settings = settings_from_env(
        {
            "DATABASE_URL": "sqlite:////tmp/x.db",
            "MAIL_SERVER": "smtp.example.com",
            "MAIL_PORT": "587",
            "MAIL_USE_TLS": "yes",
            "MAIL_USERNAME": "shop",
            "MAIL_PASSWORD": "pw",
            "MAIL_DEFAULT_SENDER": "Shop <s@example.com>",
            "MAIL_TIMEOUT": "2.5",
            "SHOP_NAME": "Tea Corner",
            "SHOP_MAIL_DISPATCH": "sync",
            "SHOP_MAIL_WORKERS": "2",
        }
    )
    assert settings["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/x.db"
    assert (settings["MAIL_SERVER"], settings["MAIL_PORT"], settings["MAIL_USE_TLS"]) == ("smtp.example.com", 587, True)
    assert settings["MAIL_TIMEOUT"] == 2.5
    assert settings["SHOP_NAME"] == "Tea Corner"
    assert settings["SHOP_MAIL_DISPATCH"] == "sync"
    assert settings["SHOP_MAIL_WORKERS"] == 2


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MAIL_PORT", "smtp", "MAIL_PORT must be a whole number"),
        ("SHOP_MAIL_WORKERS", "0", "at least 1"),
        ("SHOP_MAIL_DISPATCH", "carrier-pigeon", "thread, sync or celery"),
        ("MAIL_USE_TLS", "maybe", "yes/no"),
        ("SHOP_ENV", "staging", "development, production or testing"),
        ("SHOP_PAYMENT_METHODS", "bank_transfer,bitcoin", "comma-separated list of bank_transfer"),
        ("SHOP_SHIPPING_METHODS", "", "comma-separated list of standard, pickup"),
        ("SHOP_SHIPPING_FLAT_RATE", "4.999", "an amount like 4.90"),
        ("SHOP_FREE_SHIPPING_OVER", "-1", "an amount like 4.90"),
        ("SHOP_TAX_RATE", "7.777", "at most two decimals"),
        ("SHOP_TAX_RATE", "120", "from 0 to 100"),
        ("SHOP_TAX_RATE", "sNaN", "from 0 to 100"),
        ("SHOP_SHIPPING_FLAT_RATE", "sNaN", "an amount like 4.90"),
        ("SHOP_UNPAID_CANCEL_DAYS", "0", "at least 1"),
        # Decimal reads these; arithmetic on them raised decimal.Overflow, not a ConfigError.
        ("SHOP_SHIPPING_FLAT_RATE", "1e999999999", "an amount like 4.90"),
        ("SHOP_FREE_SHIPPING_OVER", "-1e999999999", "an amount like 4.90"),
        ("SHOP_SHIPPING_FLAT_RATE", "1e-999999999", "an amount like 4.90"),
        ("SHOP_TAX_RATE", "1e999999999", "from 0 to 100"),
        ("SHOP_UNPAID_CANCEL_DAYS", "99999999", "at most 3650"),  # a date that far back does not exist
        ("SHOP_CURRENCY", "EURO", "ISO 4217 currency code"),
        ("SHOP_TIMEZONE", "Europe/Bonn", "SHOP_TIMEZONE must be an IANA time zone name"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(name, value, message):
    with pytest.raises(ConfigError, match=message):
        settings_from_env({name: value})


def test_amounts_in_settings_have_the_decimals_of_the_currency():
    """ISO 4217 minor units, as Babel knows them: JPY has none, BHD three."""
    jpy = {"SHOP_CURRENCY": "jpy", "SHOP_SHIPPING_FLAT_RATE": "500", "SHOP_FREE_SHIPPING_OVER": "5000"}
    settings = settings_from_env(jpy)
    assert (settings["SHOP_CURRENCY"], settings["SHOP_SHIPPING_FLAT_RATE"]) == ("JPY", 500)
    with pytest.raises(ConfigError, match=r"SHOP_SHIPPING_FLAT_RATE must be an amount like 4.90 in JPY .* 0 decimals"):
        settings_from_env({**jpy, "SHOP_SHIPPING_FLAT_RATE": "4.90"})
    bhd = settings_from_env({"SHOP_CURRENCY": "BHD", "SHOP_SHIPPING_FLAT_RATE": "1.250", "SHOP_FREE_SHIPPING_OVER": ""})
    assert (bhd["SHOP_SHIPPING_FLAT_RATE"], bhd["SHOP_FREE_SHIPPING_OVER"]) == (1250, None)


def test_tls_and_ssl_together_are_refused():
    with pytest.raises(ConfigError, match="exclude each other"):
        settings_from_env({"MAIL_USE_TLS": "1", "MAIL_USE_SSL": "1"})


@pytest.mark.parametrize("key", [None, "", "dev", "changeme", "short-key"])
def test_production_refuses_to_start_without_a_real_secret_key(key):
    env = {"SHOP_ENV": "production"}
    if key is not None:
        env["SECRET_KEY"] = key
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        settings_from_env(env)


def test_production_with_a_real_secret_key_has_secure_cookies():
    settings = settings_from_env(
        {
            "SHOP_ENV": "production",
            "SECRET_KEY": RANDOM_KEY,
            "SHOP_BASE_URL": "https://shop.example.com",
            "SHOP_BANK_IBAN": "DE89 3704 0044 0532 0130 00",
        }
    )
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True


def test_production_app_refuses_a_weak_key_given_in_code(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(
            {"SHOP_ENV": "production", "SECRET_KEY": "dev", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}
        )


def test_development_key_is_random_and_kept_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = create_app({"SHOP_INSTANCE_PATH": str(tmp_path)})
    second = create_app({"SHOP_INSTANCE_PATH": str(tmp_path)})
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # readable by the owner only
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    other = create_app({"SHOP_INSTANCE_PATH": str(tmp_path / "elsewhere")})
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"SECRET_KEY": "x" * 32, "SHOP_INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/shop.db"


def test_selling_defaults_and_settings():
    settings = settings_from_env({})
    assert settings["SHOP_GUEST_CHECKOUT"] is True
    assert settings["SHOP_PAYMENT_METHODS"] == ("bank_transfer", "cash_on_delivery", "pay_at_pickup")
    assert settings["SHOP_SHIPPING_METHODS"] == ("standard", "pickup")
    assert (settings["SHOP_SHIPPING_FLAT_RATE"], settings["SHOP_FREE_SHIPPING_OVER"]) == (490, 5000)
    assert (settings["SHOP_TAX_RATE_BP"], settings["SHOP_PRICES_INCLUDE_TAX"]) == (2000, True)
    assert settings["SHOP_UNPAID_CANCEL_DAYS"] == 7
    assert settings["SHOP_BANK_IBAN"] == "GB33 BUKB 2020 1555 5555 55"  # development's example only
    settings = settings_from_env(
        {
            "SHOP_PAYMENT_METHODS": " Cash_On_Delivery ",
            "SHOP_SHIPPING_METHODS": "standard",
            "SHOP_FREE_SHIPPING_OVER": "",
            "SHOP_TAX_RATE": "7.7",
            "SHOP_PRICES_INCLUDE_TAX": "no",
        }
    )
    assert settings["SHOP_PAYMENT_METHODS"] == ("cash_on_delivery",)
    assert settings["SHOP_FREE_SHIPPING_OVER"] is None
    assert (settings["SHOP_TAX_RATE_BP"], settings["SHOP_PRICES_INCLUDE_TAX"]) == (770, False)
    assert settings["SHOP_BANK_IBAN"] == ""  # no bank transfer, no bank details needed


def test_production_refuses_to_start_without_its_own_address():
    with pytest.raises(ConfigError, match="SHOP_BASE_URL"):
        settings_from_env({"SHOP_ENV": "production", "SECRET_KEY": RANDOM_KEY})


@pytest.mark.parametrize(
    ("payment", "shipping", "unfit"),
    [
        ("cash_on_delivery", "pickup", "cash_on_delivery, pickup"),
        ("bank_transfer,pay_at_pickup", "standard", "pay_at_pickup"),
    ],
)
def test_a_method_that_could_never_be_chosen_is_refused(payment, shipping, unfit):
    with pytest.raises(ConfigError, match=f"^{unfit} cannot be chosen"):
        settings_from_env({"SHOP_PAYMENT_METHODS": payment, "SHOP_SHIPPING_METHODS": shipping})


def test_payment_that_fits_no_shipping_is_refused():
    with pytest.raises(ConfigError, match="cash on delivery needs standard shipping"):
        settings_from_env({"SHOP_PAYMENT_METHODS": "cash_on_delivery", "SHOP_SHIPPING_METHODS": "pickup"})


def test_production_refuses_bank_transfer_without_bank_details():
    env = {"SHOP_ENV": "production", "SECRET_KEY": RANDOM_KEY, "SHOP_BASE_URL": "https://shop.example.com"}
    with pytest.raises(ConfigError, match="SHOP_BANK_IBAN"):
        settings_from_env(env)
    no_transfer = {**env, "SHOP_PAYMENT_METHODS": "cash_on_delivery,pay_at_pickup"}
    assert settings_from_env(no_transfer)["SHOP_BANK_IBAN"] == ""


PRODUCTION = {"SHOP_ENV": "production", "SHOP_BASE_URL": "https://shop.example.com", "SHOP_BANK_IBAN": "DE89 3704"}


@pytest.mark.parametrize(
    "key",
    [
        "k" * 64,
        "ab" * 32,
        "abcdefghijklmnop" * 4,
        "0123456789abcdefghijklmnopqrstuv",
        "test-secret-key-" + "x" * 32,
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
    ],
)
def test_production_refuses_a_secret_key_that_looks_typed(key):
    with pytest.raises(ConfigError, match=r"^SECRET_KEY looks typed, not random"):
        settings_from_env({**PRODUCTION, "SECRET_KEY": key})


@pytest.mark.parametrize("make_key", [lambda: secrets.token_hex(32), lambda: secrets.token_urlsafe(32)])
def test_production_takes_keys_made_by_secrets(make_key):
    for _ in range(200):
        key = make_key()
        assert settings_from_env({**PRODUCTION, "SECRET_KEY": key})["SECRET_KEY"] == key


@pytest.mark.parametrize(
    "base_url", ["http://shop.example.com", "shop.example.com", "https://", "ftp://shop.example.com", "https://x?y=1"]
)
def test_production_refuses_a_base_url_that_is_not_https(base_url):
    with pytest.raises(ConfigError, match=r"^SHOP_BASE_URL must be an https:// address"):
        settings_from_env({**PRODUCTION, "SECRET_KEY": RANDOM_KEY, "SHOP_BASE_URL": base_url})


def test_the_rate_limit_counters_prefix_is_read_from_the_environment():
    """Two shops (or two test runs) counting in one Redis must not share counters: a served
    shop took the default prefix whatever its environment said."""
    assert settings_from_env({})["RATELIMIT_KEY_PREFIX"] == ""
    assert settings_from_env({"RATELIMIT_KEY_PREFIX": " shop-a "})["RATELIMIT_KEY_PREFIX"] == "shop-a"


def test_x_forwarded_host_is_trusted_only_when_configured():
    assert settings_from_env({})["SHOP_PROXY_TRUST_HOST"] is False
    assert settings_from_env({"SHOP_PROXY_TRUST_HOST": "yes"})["SHOP_PROXY_TRUST_HOST"] is True


# ---------------------------------------------------------------- mail settings (i13-mail)
def test_mail_settings_beyond_ascii_and_the_health_token():
    assert settings_from_env({})["MAIL_SMTPUTF8"] is False
    assert settings_from_env({})["SHOP_HEALTH_TOKEN"] == ""
    with pytest.raises(ConfigError, match="SHOP_HEALTH_TOKEN must be at least 16"):
        settings_from_env({"SHOP_HEALTH_TOKEN": "short"})
    with pytest.raises(ConfigError, match="MAIL_DEFAULT_SENDER has letters beyond ASCII before the @"):
        settings_from_env({"MAIL_DEFAULT_SENDER": "Jörg <jörg@example.com>"})
    with pytest.raises(ConfigError, match="SHOP_OWNER_EMAIL must be an address"):
        settings_from_env({"SHOP_OWNER_EMAIL": "nobody"})
    ok = settings_from_env({"MAIL_DEFAULT_SENDER": "Jörg <jörg@bücher.example>", "MAIL_SMTPUTF8": "true"})
    assert ok["MAIL_SMTPUTF8"] is True
    assert settings_from_env({"MAIL_DEFAULT_SENDER": "Bücher, «Grün» <shop@bücher.example>"})  # a domain is fine


def test_shop_locale_is_read_as_babels_id_and_an_unknown_one_is_refused():
    assert settings_from_env({})["SHOP_LOCALE"] == "en"
    assert settings_from_env({"SHOP_LOCALE": "de-at"})["SHOP_LOCALE"] == "de_AT"
    with pytest.raises(ConfigError, match="SHOP_LOCALE"):
        settings_from_env({"SHOP_LOCALE": "xx_nowhere"})


def test_the_shop_locale_is_the_locale_of_pages_and_of_work_outside_requests(make_app, german_catalogue):
    from flask import render_template_string
    from flask_babel import get_locale

    app = make_app(SHOP_LOCALE="de")
    with app.app_context():  # as the mail threads and commands render emails
        assert str(get_locale()) == "de"
        assert render_template_string("{{ _('Cart') }}") == "Warenkorb"
    with app.test_request_context("/"):
        assert str(get_locale()) == "de"
