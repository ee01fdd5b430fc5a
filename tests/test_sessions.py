"""Sessions end when they should: signing out, signing in as someone else, and every
credential change (issue 13, items 1 and 2), with cookies copied between browsers as an
attacker would, and across two app instances on one database (two worker processes)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask

from shop.auth.service import EmailTaken, WrongPassword, change_email, change_password
from shop.extensions import db
from shop.models import Order, User
from tests.conftest import PASSWORD, Browser, count
from tests.smtp_sink import SmtpSink

NEW_PASSWORD = "a-brand-new-password"
REMEMBER = "remember_token"


def signed_in(browser: Browser) -> bool:
    return browser.get("/orders").status_code == 200


def signed_in_as(app: Flask, browser: Browser) -> str | None:
    """The address of the account the browser's session names (None: nobody)."""
    assert signed_in(browser)
    with browser.client.session_transaction() as session:
        user_id = int(session["_user_id"].partition(":")[0])
    with app.app_context():
        return db.session.get(User, user_id).email


def login(browser: Browser, email: str, password: str = PASSWORD, remember: bool = False):
    data = {"email": email, "password": password, **({"remember": "y"} if remember else {})}
    return browser.submit("/auth/login", "/auth/login", data)


def restart_browser(browser: Browser) -> None:
    """What closing the browser does: the session cookie goes, a remember cookie stays."""
    browser.client.delete_cookie("session")


def copy_cookies(source: Browser, target: Browser, names: tuple[str, ...] = ("session", REMEMBER)) -> None:
    """What an attacker who copied a browser's cookies does with them."""
    for name in names:
        cookie = source.client.get_cookie(name)
        if cookie is not None:
            target.client.set_cookie(name, cookie.value)


def reset_password_by_email(app: Flask, smtp: SmtpSink, browser: Browser, email: str, password: str = NEW_PASSWORD):
    before = len(smtp.received(to=email, subject_contains="Reset your"))
    browser.submit("/auth/reset", "/auth/reset", {"email": email})
    mail = smtp.wait_for(before + 1, to=email, subject_contains="Reset your")[-1]
    link = re.search(r"http://shop\.test(/auth/reset/\S+)", mail.text).group(1)
    response = browser.submit(link, link, {"password": password, "confirm": password})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response


def register(app: Flask, email: str) -> Browser:
    browser = Browser(app.test_client())
    assert browser.register(email).status_code == 303
    return browser


# ---------------------------------------------------------------- item 1: signing out
def test_signing_out_ends_the_remember_cookie(app, smtp):
    register(app, "ada@example.com")
    browser = Browser(app.test_client())
    assert login(browser, "ada@example.com", remember=True).status_code == 303
    assert browser.client.get_cookie(REMEMBER) is not None
    browser.submit("/", "/auth/logout")
    assert browser.client.get_cookie(REMEMBER) is None  # deleted by the answer to the sign-out
    assert not signed_in(browser)
    restart_browser(browser)
    assert not signed_in(browser)


def test_signing_in_as_someone_else_drops_the_first_ones_remember_cookie(app, smtp):
    """_sign_in empties the session: a remember cookie of whoever used the browser before
    must not outlive the new sign-in and bring that account back later."""
    register(app, "ada@example.com")
    register(app, "bob@example.com")
    shared = Browser(app.test_client())
    assert login(shared, "ada@example.com", remember=True).status_code == 303
    # Bob, at the same computer, opens his reset link and chooses a new password.
    reset_password_by_email(app, smtp, shared, "bob@example.com")
    assert signed_in_as(app, shared) == "bob@example.com"
    assert shared.client.get_cookie(REMEMBER) is None
    restart_browser(shared)
    assert not signed_in(shared)  # not Ada again


# ---------------------------------------------------------------- item 2: credential changes
def test_a_password_reset_ends_every_other_session_and_remember_cookie(app, smtp):
    owner_email = "victim@example.com"
    # The attacker registers the victim's address first: signed in at once, one browser
    # with a session, another with a remember cookie, and a copy of the cookies elsewhere.
    attacker = register(app, owner_email)
    remembered = Browser(app.test_client())
    assert login(remembered, owner_email, remember=True).status_code == 303
    copied = Browser(app.test_client())
    copy_cookies(remembered, copied)
    restart_browser(remembered)  # only the remember cookie is left in this one
    assert signed_in(attacker)
    assert signed_in(remembered)
    assert signed_in(copied)

    # The victim recovers the account through the emailed link.
    victim = Browser(app.test_client())
    reset_password_by_email(app, smtp, victim, owner_email)
    assert signed_in(victim)  # the session that made the change goes on

    for browser in (attacker, remembered, copied):
        response = browser.get("/orders")
        assert response.status_code == 302, response.status_code
        assert response.headers["Location"].startswith("/auth/login")
    old_copy = Browser(app.test_client())
    copy_cookies(attacker, old_copy)
    assert not signed_in(old_copy)
    assert login(Browser(app.test_client()), owner_email, PASSWORD).status_code == 422  # the old password is dead


def test_the_takeover_leaves_the_attacker_no_way_to_the_victims_orders(app, products, smtp):
    """Issue 13's scenario: a stranger registers a shopper's address first, keeps a session;
    the shopper, who ordered as a guest, recovers the account and claims the orders."""
    owner_email = "victim@example.com"
    guest = Browser(app.test_client())
    guest.add(products["TEA"], 1)
    assert guest.checkout(email=owner_email).status_code == 303
    attacker = register(app, owner_email)
    # The claim link went to the victim's mailbox only; the attacker sees no orders.
    [first_claim] = smtp.wait_for(1, to=owner_email, subject_contains="guest orders")
    first_link = re.search(r"http://shop\.test(/auth/claim-orders/\S+)", first_claim.text).group(1)
    assert "/orders/" not in attacker.get("/orders").get_data(as_text=True)

    victim = Browser(app.test_client())
    reset_password_by_email(app, smtp, victim, owner_email)
    # The reset emailed a fresh claim link; the one sent before the reset no longer works.
    fresh = smtp.wait_for(2, to=owner_email, subject_contains="guest orders")[-1]
    fresh_link = re.search(r"http://shop\.test(/auth/claim-orders/\S+)", fresh.text).group(1)
    assert fresh_link != first_link
    stale = victim.get(first_link)
    assert stale.status_code == 400
    assert "stopped working" in stale.get_data(as_text=True)
    assert victim.submit(fresh_link, fresh_link).status_code == 303

    with app.app_context():
        order_id = db.session.execute(sa.select(Order.id)).scalar_one()
    assert victim.get(f"/orders/{order_id}").status_code == 200
    assert attacker.get(f"/orders/{order_id}").status_code == 302  # signed out, to the login page
    assert attacker.get(first_link).status_code == 302
    with app.app_context():
        assert db.session.execute(sa.select(User.email_confirmed_at)).scalar_one() is not None  # the reset proved it


def test_a_reset_on_one_process_refuses_the_cookies_on_another(make_app, smtp):
    """Two app instances on one database: what two gunicorn workers are."""
    first, second = make_app(), make_app()
    register(first, "ada@example.com")
    on_first = Browser(first.test_client())
    assert login(on_first, "ada@example.com", remember=True).status_code == 303
    on_second = Browser(second.test_client())
    copy_cookies(on_first, on_second)
    assert signed_in(on_second)
    reset_password_by_email(first, smtp, Browser(first.test_client()), "ada@example.com")
    assert not signed_in(on_second)
    restart_browser(on_second)
    assert not signed_in(on_second)  # nor with the remember cookie alone


@pytest.mark.parametrize(
    "user_id",
    ["1", 1, "1:", "1:not-the-token", str(2**31) + ":x", "9" * 30 + ":x", "٣:x", ":", "", None],
)
def test_a_session_that_names_no_current_token_is_anonymous(app, smtp, user_id):
    """Sessions from before the token (a bare id), forged or truncated ones: anonymous, never a 500."""
    browser = register(app, "ada@example.com")
    with browser.client.session_transaction() as session:
        session["_user_id"] = user_id
    response = browser.get("/orders")
    assert response.status_code == 302


def test_changing_the_password_ends_the_other_sessions(app, smtp):
    here, elsewhere = register(app, "ada@example.com"), Browser(app.test_client())
    assert login(elsewhere, "ada@example.com", remember=True).status_code == 303
    with app.test_request_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        with pytest.raises(WrongPassword):
            change_password(user, "not-my-password", NEW_PASSWORD)
        change_password(user, PASSWORD, NEW_PASSWORD)
    assert not signed_in(here)
    assert not signed_in(elsewhere)
    restart_browser(elsewhere)
    assert not signed_in(elsewhere)
    assert login(Browser(app.test_client()), "ada@example.com", NEW_PASSWORD).status_code == 303


def test_changing_the_address_ends_the_other_sessions_and_asks_to_confirm_the_new_one(app, smtp):
    browser = register(app, "ada@example.com")
    register(app, "taken@example.com")
    with app.test_request_context():
        user = db.session.execute(sa.select(User).where(User.email == "ada@example.com")).scalar_one()
        with pytest.raises(EmailTaken):
            change_email(user, PASSWORD, "Taken@example.com")
        assert user.email == "ada@example.com"
        change_email(user, PASSWORD, "Ada.New@example.com")
    assert not signed_in(browser)
    [mail] = smtp.wait_for(1, to="ada.new@example.com", subject_contains="Confirm your address")
    link = re.search(r"http://shop\.test(/auth/confirm/\S+)", mail.text).group(1)
    assert browser.submit(link, link).status_code == 303
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == "ada.new@example.com")).scalar_one()
        assert user.email_confirmed_at is not None
    assert count(app, User) == 2
