import re

import pytest

from shop.models import User
from tests.conftest import PASSWORD, Browser, count


def signed_in(browser: Browser) -> bool:
    return browser.get("/orders").status_code == 200


def test_register_signs_in_and_stores_a_hashed_password(app, browser, smtp):
    response = browser.register("New.Person@Example.com")
    assert response.status_code == 303
    assert "Check your inbox at new.person@example.com to confirm your address." in browser.get("/").get_data(
        as_text=True
    )
    assert signed_in(browser)
    from shop.extensions import db

    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        assert user.email == "new.person@example.com"
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash
        assert not user.is_admin
        assert user.email_confirmed_at is None  # until the emailed link is opened
    smtp.wait_for(1, to="new.person@example.com", subject_contains="Confirm your address")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-email"}, "Enter an email address"),
        ({"email": ""}, "Enter your email address"),
        ({"password": "short", "confirm": "short"}, "Use 10 to 128 characters"),
        ({"confirm": "something-else-entirely"}, "The two passwords differ"),
        ({"password": "ada@example.com", "confirm": "ada@example.com"}, "does not contain your email"),
        (
            {"password": "my-ada-lovelace-1", "confirm": "my-ada-lovelace-1", "email": "lovelace@example.com"},
            "does not contain your email",
        ),
    ],
)
def test_register_refuses_bad_input_with_a_message(app, browser, data, message):
    form = {"email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD, **data}
    response = browser.submit("/auth/register", "/auth/register", form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app, User) == 0


def flash_of(browser: Browser, response) -> str:
    """The flash message the page after `response`'s redirect shows."""
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    return re.search(r'<p class="flash flash-(\w+)">([^<]*)</p>', page).groups()


def test_registering_a_taken_address_answers_as_a_new_one_does_and_signs_nobody_in(app, smtp):
    owner = Browser(app.test_client())
    owner.register("ada@example.com")
    new, taken = Browser(app.test_client()), Browser(app.test_client())
    first = new.submit(
        "/auth/register?next=/cart",
        "/auth/register",
        {"email": "bob@example.com", "password": PASSWORD, "confirm": PASSWORD},
    )
    second = taken.submit(
        "/auth/register?next=/cart",
        "/auth/register",
        {"email": "ADA@example.com", "password": "another-password-1", "confirm": "another-password-1"},
    )
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"] == "/cart"
    assert flash_of(new, first) == ("info", "Check your inbox at bob@example.com to confirm your address.")
    assert flash_of(taken, second) == ("info", "Check your inbox at ada@example.com to confirm your address.")
    assert signed_in(new)
    assert not signed_in(taken)  # the one difference left: see docs/security.md
    assert count(app, User) == 2
    [notice] = smtp.wait_for(1, to="ada@example.com", subject_contains="Someone tried to register")
    assert "/auth/login" in notice.text
    assert "/auth/reset" in notice.text
    # The owner can still sign in with their own password; the stranger's did nothing.
    assert Browser(app.test_client()).login("ada@example.com", "another-password-1").status_code == 422
    assert Browser(app.test_client()).login("ada@example.com").status_code == 303


def test_the_owner_is_told_of_attempts_to_register_their_address_once_a_day(app, smtp):
    Browser(app.test_client()).register("ada@example.com")
    for _ in range(5):
        assert Browser(app.test_client()).register("ada@example.com").status_code == 303
    smtp.wait_for(1, to="ada@example.com", subject_contains="Someone tried to register")
    with app.app_context():
        from shop.extensions import db
        from shop.models import OutboxEmail

        kinds = db.session.execute(db.select(OutboxEmail.kind).order_by(OutboxEmail.id)).scalars().all()
    assert kinds == ["confirm_email", "account_exists"]


def test_registration_is_limited_per_client_address(make_app, smtp):
    app = make_app(SHOP_REGISTER_LIMIT="3 per hour")
    statuses = []
    for i in range(4):
        browser = Browser(app.test_client())
        browser.client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
        statuses.append(browser.register(f"user{i}@example.com").status_code)
    assert statuses == [303, 303, 303, 429]
    assert count(app, User) == 3
    elsewhere = Browser(app.test_client())
    elsewhere.client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert elsewhere.register("user9@example.com").status_code == 303


def confirm_link(smtp, email: str) -> str:
    mail = smtp.wait_for(1, to=email, subject_contains="Confirm your address")[-1]
    return re.search(r"http://shop\.test(/auth/confirm/\S+)", mail.text).group(1)


def test_the_emailed_link_confirms_the_address(app, smtp):
    Browser(app.test_client()).register("ada@example.com")
    link = confirm_link(smtp, "ada@example.com")
    visitor = Browser(app.test_client())  # confirming needs no sign-in: the mailbox is the proof
    page = visitor.get(link)
    assert page.status_code == 200
    assert "Confirm that ada@example.com is your address" in page.get_data(as_text=True)
    with app.app_context():
        from shop.extensions import db

        assert db.session.execute(db.select(User.email_confirmed_at)).scalar_one() is None  # a GET changes nothing
    response = visitor.submit(link, link)
    assert response.status_code == 303
    with app.app_context():
        assert db.session.execute(db.select(User.email_confirmed_at)).scalar_one() is not None
    assert "is confirmed already" in visitor.get(link).get_data(as_text=True)


@pytest.mark.parametrize("tamper", ["x", "extra"])
def test_a_forged_confirmation_link_is_refused(app, smtp, tamper):
    Browser(app.test_client()).register("ada@example.com")
    link = confirm_link(smtp, "ada@example.com")
    response = Browser(app.test_client()).get(link[:-3] + "abc" if tamper == "x" else link + "x")
    assert response.status_code == 400
    assert "This link is not valid." in response.get_data(as_text=True)


def test_login_and_logout(app, browser):
    Browser(app.test_client()).register("ada@example.com")
    response = browser.login("ada@example.com")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert signed_in(browser)
    assert browser.get("/auth/logout").status_code == 405  # signing out is a POST only
    response = browser.submit("/", "/auth/logout")
    assert response.status_code == 303
    assert not signed_in(browser)


def test_wrong_password_and_unknown_email_get_the_same_answer(app, browser):
    Browser(app.test_client()).register("ada@example.com")
    wrong = browser.login("ada@example.com", "wrong-password-123")
    unknown = browser.login("nobody@example.com", "wrong-password-123")
    assert wrong.status_code == unknown.status_code == 422
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    assert "Wrong email or password." in unknown.get_data(as_text=True)
    assert not signed_in(browser)


def test_login_honours_next_on_this_site_only(app):
    Browser(app.test_client()).register("ada@example.com")
    for target, expected in [
        ("/orders", "/orders"),
        ("/checkout", "/checkout"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ]:
        browser = Browser(app.test_client())
        response = browser.login("ada@example.com", next_url=target)
        assert response.status_code == 303
        assert response.headers["Location"] == expected, target


def test_pages_for_customers_send_guests_to_login_with_next(browser):
    for path in ("/orders", "/orders/1"):  # /checkout: see test_checkout (guests may check out)
        response = browser.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login?next=")
