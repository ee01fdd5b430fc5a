"""The account page (issue 20, item 4): a new email address confirmed by a link sent to it
(the old one told), a new password (the current one counted like a sign-in attempt), both
ending every other session while this browser stays signed in; the address book that
fills in checkout; and deleting the account by an emailed link (issue 19, item 4)."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import Address, Order, User
from tests.conftest import ADDRESS, PASSWORD, Browser, count, order_id_from, signed_in_browser
from tests.smtp_sink import SmtpSink

NEW_PASSWORD = "a-brand-new-password"


def signed_in(browser: Browser) -> bool:
    return browser.get("/account").status_code == 200


def login(browser: Browser, email: str, password: str = PASSWORD, remember: bool = False):
    data = {"email": email, "password": password, **({"remember": "y"} if remember else {})}
    return browser.submit("/auth/login", "/auth/login", data)


def link_in(smtp: SmtpSink, to: str, subject: str, path: str) -> str:
    mail = smtp.wait_for(1, to=to, subject_contains=subject)[-1]
    return re.search(rf"http://shop\.test({path}/\S+)", mail.text).group(1)


def flashed(browser: Browser, response) -> str:
    """The text of the page a redirect leads to (entities decoded)."""
    return html.unescape(browser.get(response.headers["Location"]).get_data(as_text=True))


# ---------------------------------------------------------------- email address
def test_a_new_address_is_used_once_the_link_sent_to_it_is_opened(app, smtp):
    here = signed_in_browser(app, "ada@example.com")
    elsewhere = Browser(app.test_client())
    assert login(elsewhere, "ada@example.com", remember=True).status_code == 303
    response = here.submit(
        "/account", "/account/email", {"new_email": "Ada.New@Example.com", "current_password": PASSWORD}
    )
    assert response.status_code == 303
    assert "Check your inbox at ada.new@example.com" in flashed(here, response)
    with app.app_context():  # nothing changes before the link is opened
        assert db.session.execute(sa.select(User.email)).scalar_one() == "ada@example.com"
    assert signed_in(elsewhere)

    link = link_in(smtp, "ada.new@example.com", "Confirm your new address", "/account/email")
    page = here.get(link)
    assert "Move the account ada@example.com to" in page.get_data(as_text=True)
    confirmed = here.submit(link, link)
    assert confirmed.status_code == 303
    assert "Your account's address is now ada.new@example.com" in flashed(here, confirmed)
    with app.app_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        assert (user.email, user.email_confirmed_at is not None) == ("ada.new@example.com", True)
    assert signed_in(here)  # the browser that opened the link goes on
    assert not signed_in(elsewhere)  # every other session ended, remember cookie too
    elsewhere.client.delete_cookie("session")
    assert not signed_in(elsewhere)
    [told] = smtp.wait_for(1, to="ada@example.com", subject_contains="address was changed")
    assert "changed from ada@example.com to ada.new@example.com" in told.text
    assert login(Browser(app.test_client()), "ada.new@example.com").status_code == 303
    assert here.get(link).status_code == 400  # used: the account's address is another now


def test_the_link_can_be_opened_in_a_browser_signed_in_to_nothing(app, smtp):
    browser = signed_in_browser(app, "ada@example.com")
    browser.submit("/account", "/account/email", {"new_email": "new@example.com", "current_password": PASSWORD})
    link = link_in(smtp, "new@example.com", "Confirm your new address", "/account/email")
    phone = Browser(app.test_client())
    response = phone.submit(link, link)
    assert response.headers["Location"] == "/auth/login"
    assert not signed_in(phone)
    assert not signed_in(browser)  # it was another session of the account


def test_a_wrong_password_or_the_same_address_changes_nothing(app, smtp):
    browser = signed_in_browser(app, "ada@example.com")
    wrong = browser.submit(
        "/account", "/account/email", {"new_email": "new@example.com", "current_password": "not-my-password"}
    )
    assert wrong.status_code == 422
    assert "That is not your current password." in wrong.get_data(as_text=True)
    same = browser.submit("/account", "/account/email", {"new_email": "ADA@example.com", "current_password": PASSWORD})
    assert same.status_code == 422
    assert "That is the address the account has now." in same.get_data(as_text=True)
    smtp.wait_for(1, to="ada@example.com", subject_contains="Confirm your address")  # registration's
    assert smtp.received(to="new@example.com") == []


def test_an_address_with_an_account_gets_the_same_answer_and_its_owner_is_told(app, smtp):
    signed_in_browser(app, "bob@example.com")
    browser = signed_in_browser(app, "ada@example.com")
    response = browser.submit(
        "/account", "/account/email", {"new_email": "bob@example.com", "current_password": PASSWORD}
    )
    assert response.status_code == 303
    assert "Check your inbox at bob@example.com" in flashed(browser, response)
    [notice] = smtp.wait_for(1, to="bob@example.com", subject_contains="given for another")
    assert "nothing was changed" in notice.text
    assert "/account/email/" not in notice.text
    with app.app_context():
        assert db.session.execute(sa.select(User.email).order_by(User.id)).scalars().all() == [
            "bob@example.com",
            "ada@example.com",
        ]


def test_a_link_sent_before_a_password_change_no_longer_works(app, smtp):
    browser = signed_in_browser(app, "ada@example.com")
    browser.submit("/account", "/account/email", {"new_email": "new@example.com", "current_password": PASSWORD})
    link = link_in(smtp, "new@example.com", "Confirm your new address", "/account/email")
    changed = browser.submit(
        "/account",
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 303
    stale = browser.get(link)
    assert stale.status_code == 400
    assert "stopped working" in stale.get_data(as_text=True)
    forged = browser.get(link[:-4] + "abcd")
    assert forged.status_code == 400


# ---------------------------------------------------------------- password
def test_changing_the_password_ends_other_sessions_and_keeps_this_one(app, smtp):
    here = signed_in_browser(app, "ada@example.com")
    elsewhere = Browser(app.test_client())
    assert login(elsewhere, "ada@example.com", remember=True).status_code == 303
    response = here.submit(
        "/account",
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 303
    assert "Your password is changed. Every other session was signed out." in flashed(here, response)
    assert signed_in(here)
    assert not signed_in(elsewhere)
    assert login(Browser(app.test_client()), "ada@example.com").status_code == 422
    assert login(Browser(app.test_client()), "ada@example.com", NEW_PASSWORD).status_code == 303


def test_a_remembered_browser_that_changes_its_password_stays_remembered(app, smtp):
    browser = Browser(app.test_client())
    browser.register("ada@example.com")
    browser.submit("/", "/auth/logout")
    assert login(browser, "ada@example.com", remember=True).status_code == 303
    browser.submit(
        "/account",
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    browser.client.delete_cookie("session")  # the browser closed: only the remember cookie is left
    assert signed_in(browser)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"current_password": "wrong-password-123"}, "That is not your current password."),
        ({"new_password": "short", "confirm": "short"}, "Use 10 to 128 characters"),
        ({"confirm": "something-else-entirely"}, "The two passwords differ"),
        ({"new_password": "ada@example.com", "confirm": "ada@example.com"}, "does not contain your email"),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(app, smtp, fields, message):
    browser = signed_in_browser(app, "ada@example.com")
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD, **fields}
    response = browser.submit("/account", "/account/password", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert login(Browser(app.test_client()), "ada@example.com").status_code == 303


def test_current_passwords_count_like_sign_in_attempts(make_app, smtp):
    app = make_app(SHOP_LOGIN_LIMIT="3 per minute")
    browser = signed_in_browser(app, "ada@example.com")
    wrong = {"current_password": "guess-number-x", "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    statuses = [browser.submit("/account", "/account/password", wrong).status_code for _ in range(3)]
    assert statuses == [422, 422, 422]
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    refused = browser.submit("/account", "/account/password", right)
    assert refused.status_code == 429  # even the right one, once the limit is used up
    assert refused.headers["Retry-After"]
    assert browser.submit("/account", "/account/delete", {"current_password": PASSWORD}).status_code == 429
    assert login(Browser(app.test_client()), "ada@example.com").status_code == 429  # the same counter


# ---------------------------------------------------------------- address book
HOME = {**ADDRESS, "full_name": "Ada Lovelace", "address": "12 Analytical Street"}
WORK = {**ADDRESS, "full_name": "Ada King", "address": "1 Engine Yard", "city": "Cambridge", "postal_code": "CB1"}


def addresses(app) -> list[tuple[str, bool]]:
    with app.app_context():
        rows = db.session.execute(sa.select(Address.address, Address.is_default).order_by(Address.id)).all()
        return [tuple(r) for r in rows]


def test_the_address_book_adds_edits_deletes_and_keeps_one_default(app, smtp):
    browser = signed_in_browser(app, "ada@example.com")
    assert browser.submit("/account/addresses/new", "/account/addresses/new", HOME).status_code == 303
    assert browser.submit("/account/addresses/new", "/account/addresses/new", WORK).status_code == 303
    assert addresses(app) == [("12 Analytical Street", True), ("1 Engine Yard", False)]  # the first is the default
    with app.app_context():
        home_id, work_id = db.session.execute(sa.select(Address.id).order_by(Address.id)).scalars().all()
    assert browser.submit("/account", f"/account/addresses/{work_id}/default").status_code == 303
    assert addresses(app) == [("12 Analytical Street", False), ("1 Engine Yard", True)]
    edit = f"/account/addresses/{home_id}"
    assert browser.submit(edit, edit, {**HOME, "address": "13 Analytical Street"}).status_code == 303
    assert addresses(app) == [("13 Analytical Street", False), ("1 Engine Yard", True)]
    bad = browser.submit(edit, edit, {**HOME, "postal_code": "<N1>", "city": ""})
    assert bad.status_code == 422
    assert "Enter the town or city." in bad.get_data(as_text=True)
    assert browser.submit("/account", f"/account/addresses/{work_id}/delete").status_code == 303
    assert addresses(app) == [("13 Analytical Street", True)]  # the one left is the default now
    page = browser.get("/account").get_data(as_text=True)
    assert "13 Analytical Street" in page
    assert "Default: filled in at checkout" in page


def test_another_shoppers_address_is_not_found(app, smtp):
    ada = signed_in_browser(app, "ada@example.com")
    ada.submit("/account/addresses/new", "/account/addresses/new", HOME)
    with app.app_context():
        address_id = db.session.execute(sa.select(Address.id)).scalar_one()
    bob = signed_in_browser(app, "bob@example.com")
    assert bob.get(f"/account/addresses/{address_id}").status_code == 404
    token = bob.csrf_token("/account")
    for action in ("default", "delete"):
        response = bob.client.post(f"/account/addresses/{address_id}/{action}", data={"csrf_token": token})
        assert response.status_code == 404
    assert addresses(app) == [("12 Analytical Street", True)]


def test_checkout_fills_in_the_default_address_else_the_last_orders(app, products, smtp):
    browser = signed_in_browser(app, "ada@example.com")
    browser.add(products["TEA"], 1)
    assert 'value="12 Analytical Street"' not in browser.get("/checkout").get_data(as_text=True)
    order_id_from(browser.checkout(**{"address": "9 Old Road"}))
    browser.add(products["TEA"], 1)
    assert 'value="9 Old Road"' in browser.get("/checkout").get_data(as_text=True)  # the last order's
    browser.submit("/account/addresses/new", "/account/addresses/new", WORK)
    page = browser.get("/checkout").get_data(as_text=True)
    assert 'value="1 Engine Yard"' in page  # the address book's default wins
    assert 'value="Cambridge"' in page
    assert 'value="Ada King"' in page


# ---------------------------------------------------------------- deleting the account
def test_deleting_the_account_takes_an_emailed_link_and_erases_the_customer(app, products, smtp):
    browser = signed_in_browser(app, "ada@example.com")
    browser.submit("/account/addresses/new", "/account/addresses/new", HOME)
    browser.add(products["TEA"], 2)
    order_id = order_id_from(browser.checkout())
    wrong = browser.submit("/account", "/account/delete", {"current_password": "not-my-password"})
    assert wrong.status_code == 422
    response = browser.submit("/account", "/account/delete", {"current_password": PASSWORD})
    assert response.status_code == 303
    assert count(app, User) == 1  # nothing goes before the link is opened
    link = link_in(smtp, "ada@example.com", "delete your", "/account/delete")
    page = browser.get(link)
    assert page.status_code == 200
    assert "This cannot be undone." in page.get_data(as_text=True)
    deleted = browser.submit(link, link)
    assert deleted.status_code == 303
    assert "Your account is deleted" in flashed(browser, deleted)
    assert not signed_in(browser)
    assert count(app, User) == 0
    assert count(app, Address) == 0
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert (order.user_id, order.email, order.full_name, order.address) == (
            None,
            "erased@erased.invalid",
            "(erased)",
            "(erased)",
        )
        assert order.total_cents == 2 * 1250 + 490  # the amounts stay
    assert login(Browser(app.test_client()), "ada@example.com").status_code == 422


def test_the_deletion_link_works_only_for_its_account_signed_in(app, smtp):
    ada = signed_in_browser(app, "ada@example.com")
    ada.submit("/account", "/account/delete", {"current_password": PASSWORD})
    link = link_in(smtp, "ada@example.com", "delete your", "/account/delete")
    stranger = Browser(app.test_client())
    assert stranger.get(link).headers["Location"].startswith("/auth/login?next=")  # sign in first
    bob = signed_in_browser(app, "bob@example.com")
    wrong_account = bob.get(link)
    assert wrong_account.status_code == 400
    assert "for another account" in wrong_account.get_data(as_text=True)
    assert ada.get(link[:-4] + "abcd").status_code == 400
    assert count(app, User) == 2


def test_an_owners_account_is_not_deleted_from_the_account_page(app, smtp):
    from tests.conftest import signed_in_admin

    owner = signed_in_admin(app)
    response = owner.submit("/account", "/account/delete", {"current_password": PASSWORD})
    assert response.status_code == 409
    assert "owner's account" in html.unescape(response.get_data(as_text=True))
    assert smtp.received(subject_contains="delete your") == []
