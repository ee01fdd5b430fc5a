"""Sign-in limits (issue 13, item 3): counted before the password is checked, so parallel
guesses never get more checks than the limit (in memory, in Redis, across two gunicorn
workers); keyed per account and address, so a stranger cannot lock the owner out; and a
per-account limit over all addresses that a browser the owner signed in on is exempt from
(OWASP's device cookies).

Redis on 127.0.0.1:6379 is needed for the Redis tests; they are skipped without it, except
under CI=true, where that fails the run (as the Celery tests do).
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

import shop.models.accounts
from shop.auth.throttle import DEVICE_COOKIE
from tests.conftest import PASSWORD, Browser
from tests.served import HiddenFields, HttpShopper, ServedShop

OWNER = "owner@example.com"
WRONG = "wrong-password-0"
NEW = "a-brand-new-password"
REDIS = "redis://127.0.0.1:6379/14"


def from_address(app, address: str) -> Browser:
    browser = Browser(app.test_client())
    browser.client.environ_base["REMOTE_ADDR"] = address
    return browser


def login(browser: Browser, email: str = OWNER, password: str = PASSWORD):
    return browser.submit("/auth/login", "/auth/login", {"email": email, "password": password})


@pytest.fixture
def redis_url() -> str:
    try:
        import redis

        client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis on 127.0.0.1:6379 is needed for the Redis rate-limit tests: {error}")
        pytest.skip(f"Redis on 127.0.0.1:6379 is not reachable: {error}")
    return REDIS


@pytest.fixture
def password_checks(monkeypatch) -> Counter:
    """Counts the password hashes checked against the accounts (the real check still runs)."""
    checks: Counter = Counter()
    real = shop.models.accounts.check_password_hash
    lock = threading.Lock()

    def counting(pwhash: str, password: str) -> bool:
        with lock:
            checks["checked"] += 1
        return real(pwhash, password)

    monkeypatch.setattr(shop.models.accounts, "check_password_hash", counting)
    return checks


# ---------------------------------------------------------------- no lock-out by strangers
def test_ten_wrong_passwords_from_one_address_do_not_lock_the_owner_out_elsewhere(app, smtp):
    Browser(app.test_client()).register(OWNER)
    attacker = from_address(app, "203.0.113.66")
    statuses = [login(attacker, password=WRONG).status_code for _ in range(11)]
    assert statuses == [422] * 10 + [429]
    refused = login(attacker)  # even the right password, from there, for now
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in refused.get_data(as_text=True)
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    owner = from_address(app, "198.51.100.7")
    assert login(owner).status_code == 303


def test_one_address_trying_many_accounts_is_stopped(make_app, smtp):
    app = make_app(SHOP_LOGIN_ADDRESS_LIMIT="15 per minute")
    browser = from_address(app, "203.0.113.66")
    statuses = [login(browser, f"user{i}@example.com", WRONG).status_code for i in range(16)]
    assert statuses == [422] * 15 + [429]
    assert login(from_address(app, "203.0.113.67"), "user99@example.com", WRONG).status_code == 422


def test_a_flood_from_many_addresses_stops_strangers_but_not_the_owners_known_browser(make_app, smtp):
    app = make_app(SHOP_LOGIN_ACCOUNT_LIMIT="20 per hour")
    Browser(app.test_client()).register(OWNER)
    laptop = from_address(app, "198.51.100.7")
    assert login(laptop).status_code == 303  # this browser now holds a device cookie for the account
    assert laptop.client.get_cookie(DEVICE_COOKIE, path="/auth") is not None
    laptop.submit("/", "/auth/logout")

    # An attacker with a device cookie of their own account gains nothing against the owner's.
    attacker_account = from_address(app, "203.0.113.1")
    attacker_account.register("mallory@example.com")
    statuses = Counter()
    for i in range(30):
        bot = from_address(app, f"203.0.113.{10 + i}")
        cookie = attacker_account.client.get_cookie(DEVICE_COOKIE, path="/auth")
        bot.client.set_cookie(DEVICE_COOKIE, cookie.value, path="/auth")
        statuses[login(bot, password=WRONG).status_code] += 1
    # Bounded: 20 attempts an hour from browsers the account never signed in on, from any
    # number of addresses (the owner's first sign-in on the laptop was one of them).
    assert statuses == {422: 19, 429: 11}

    assert login(from_address(app, "192.0.2.50")).status_code == 429  # a browser the owner never used
    assert login(laptop).status_code == 303  # the owner's own browser goes on


def test_a_device_cookie_from_before_a_password_reset_no_longer_exempts(make_app, smtp):
    """Whoever signed in before a reset (the stranger who registered the owner's address, say)
    is a stranger again; the browser that made the reset gets a new device cookie."""
    app = make_app(SHOP_LOGIN_ACCOUNT_LIMIT="3 per hour")
    Browser(app.test_client()).register(OWNER)
    before = from_address(app, "203.0.113.1")
    assert login(before).status_code == 303  # attempt 1 of 3: it had no device cookie yet
    before.submit("/", "/auth/logout")
    Browser(app.test_client()).submit("/auth/reset", "/auth/reset", {"email": OWNER})
    mail = smtp.wait_for(1, to=OWNER, subject_contains="Reset your")[0]
    link = re.search(r"http://shop\.test(/auth/reset/\S+)", mail.text).group(1)
    resetter = from_address(app, "198.51.100.7")
    assert resetter.submit(link, link, {"password": NEW, "confirm": NEW}).status_code == 303
    resetter.submit("/", "/auth/logout")
    assert [login(before, password=WRONG).status_code for _ in range(3)] == [422, 422, 429]
    assert login(resetter, password=NEW).status_code == 303


def test_a_successful_sign_in_starts_the_count_again_for_that_address(app, smtp):
    Browser(app.test_client()).register(OWNER)
    browser = Browser(app.test_client())
    for _ in range(3):
        for _ in range(9):
            assert login(browser, password=WRONG).status_code == 422
        assert login(browser).status_code == 303
        browser.submit("/", "/auth/logout")


# ---------------------------------------------------------------- parallel guesses
def sixty_at_once(post: Callable[[int], int]) -> Counter:
    """Call post(i) for i in 0..59 from 60 threads released together; the statuses."""
    gate, statuses, lock = threading.Barrier(60), Counter(), threading.Lock()

    def run(i: int) -> None:
        gate.wait()
        status = post(i)
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_sixty_parallel_wrong_passwords_get_at_most_ten_checks(make_app, smtp, request, password_checks, storage):
    settings = {}
    if storage == "redis":
        settings = {
            "RATELIMIT_STORAGE_URI": request.getfixturevalue("redis_url"),
            "RATELIMIT_KEY_PREFIX": uuid.uuid4().hex,
        }
    app = make_app(**settings)
    Browser(app.test_client()).register(OWNER)
    password_checks.clear()
    forms = []
    for _ in range(60):
        browser = Browser(app.test_client())
        forms.append((browser, Browser.form(browser.client.get("/auth/login"), "/auth/login")["fields"]))

    def post(i: int) -> int:
        browser, fields = forms[i]
        return browser.client.post("/auth/login", data={**fields, "email": OWNER, "password": WRONG}).status_code

    statuses = sixty_at_once(post)
    assert statuses == {422: 10, 429: 50}
    assert password_checks["checked"] == 10


@pytest.mark.slow
def test_sixty_parallel_wrong_passwords_to_two_gunicorn_workers_sharing_redis_get_ten_answers(
    app, db_url, smtp, redis_url, tmp_path: Path
):
    shop = ServedShop(
        db_url,
        smtp.port,
        tmp_path / "gunicorn.log",
        RATELIMIT_STORAGE_URI=redis_url,
        RATELIMIT_KEY_PREFIX=uuid.uuid4().hex,
    )
    try:
        shop.start(workers=2)
        HttpShopper(shop.url).register(OWNER)
        shoppers = []
        for _ in range(60):
            shopper = HttpShopper(shop.url)
            fields = HiddenFields.form(shopper.session.get(shop.url + "/auth/login", timeout=10).text, "/auth/login")
            shoppers.append((shopper, fields["fields"]))

        def post(i: int) -> int:
            shopper, fields = shoppers[i]
            data = {**fields, "email": OWNER, "password": WRONG}
            try:
                return shopper.session.post(shop.url + "/auth/login", data=data, timeout=60).status_code
            except requests.RequestException as error:
                return repr(error)

        statuses = sixty_at_once(post)
        assert statuses == {422: 10, 429: 50}, shop.log()
    finally:
        shop.kill()
