import pytest

from shop.models import User
from tests.conftest import PASSWORD, Browser, count


def signed_in(browser: Browser) -> bool:
    return browser.get("/orders").status_code == 200


def test_register_signs_in_and_stores_a_hashed_password(app, browser):
    response = browser.register("New.Person@Example.com")
    assert response.status_code == 303
    assert signed_in(browser)
    from shop.extensions import db

    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        assert user.email == "new.person@example.com"
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash
        assert not user.is_admin


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


def test_register_twice_with_one_email_is_refused(app, browser):
    browser.register("ada@example.com")
    other = Browser(app.test_client())
    response = other.register("ADA@example.com")
    assert response.status_code == 409
    assert "already has an account" in response.get_data(as_text=True)
    assert count(app, User) == 1


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
