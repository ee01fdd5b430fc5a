import re

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import Product
from tests.conftest import Browser


def cart_quantities(browser: Browser) -> dict[int, int]:
    html = browser.get("/cart").get_data(as_text=True)
    return {
        int(pid): int(qty)
        for pid, qty in re.findall(r'action="/cart/update/(\d+)".*?name="quantity"[^>]*value="(\d+)"', html, re.S)
    }


def test_guest_adds_to_cart_and_sees_count_and_total(browser, products):
    response = browser.add(products["TEA"], 2)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/products/{products['TEA']}-assam-tea"
    browser.add(products["MUG"], 1)
    page = browser.get("/cart").get_data(as_text=True)
    assert cart_quantities(browser) == {products["TEA"]: 2, products["MUG"]: 1}
    assert "€33.25" in page  # 2 x 12.50 + 8.25, prices from the database
    assert 'aria-label="3 items in cart">3<' in page


def test_adding_again_adds_to_the_line(browser, products):
    browser.add(products["TEA"], 2)
    browser.add(products["TEA"], 3)
    assert cart_quantities(browser) == {products["TEA"]: 5}


@pytest.mark.parametrize("quantity", ["0", "-1", "abc", "1000000000", "", "2.5", "99999999999999999999999"])
def test_bad_quantity_gets_a_message_not_an_error(browser, products, quantity):
    response = browser.add(products["TEA"], quantity)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'class="error"' in html
    assert re.search(r"whole number|valid integer", html)
    assert cart_quantities(browser) == {}


def test_more_than_in_stock_is_refused_with_what_is_left(browser, products):
    response = browser.add(products["POT"], 2)
    assert response.status_code == 409
    assert "only 1 left" in response.get_data(as_text=True)
    assert cart_quantities(browser) == {}


def test_more_than_99_of_a_product_is_refused(browser, products):
    browser.add(products["TEA"], 60)
    response = browser.add(products["TEA"], 60)
    assert response.status_code == 422
    assert "At most 99" in response.get_data(as_text=True)
    assert cart_quantities(browser) == {products["TEA"]: 60}


def test_unknown_or_retired_product_cannot_be_added(browser, products):
    token = browser.csrf_token()
    assert browser.client.post("/cart/add/99999", data={"quantity": 1, "csrf_token": token}).status_code == 404
    assert (
        browser.client.post(f"/cart/add/{products['OLD']}", data={"quantity": 1, "csrf_token": token}).status_code
        == 404
    )


def test_update_and_remove(browser, products):
    browser.add(products["TEA"], 2)
    browser.add(products["MUG"], 1)
    response = browser.submit("/cart", f"/cart/update/{products['TEA']}", {"quantity": 4})
    assert response.status_code == 303
    assert cart_quantities(browser) == {products["TEA"]: 4, products["MUG"]: 1}
    browser.submit("/cart", f"/cart/update/{products['TEA']}", {"quantity": 0})
    assert cart_quantities(browser) == {products["MUG"]: 1}
    response = browser.submit("/cart", f"/cart/remove/{products['MUG']}")
    assert response.status_code == 303
    assert cart_quantities(browser) == {}
    assert "Your cart is empty" in browser.get("/cart").get_data(as_text=True)


@pytest.mark.parametrize(("quantity", "status"), [("-1", 422), ("abc", 422), ("100", 422), ("101", 422), ("2", 409)])
def test_bad_update_keeps_the_line_and_says_why(browser, products, quantity, status):
    browser.add(products["POT"], 1)
    response = browser.submit("/cart", f"/cart/update/{products['POT']}", {"quantity": quantity})
    assert response.status_code == status
    assert 'class="error"' in response.get_data(as_text=True)
    assert cart_quantities(browser) == {products["POT"]: 1}


def test_update_of_a_product_not_in_the_cart_is_404(browser, products):
    token = browser.csrf_token()
    response = browser.client.post(f"/cart/update/{products['TEA']}", data={"quantity": 1, "csrf_token": token})
    assert response.status_code == 404


def test_post_without_csrf_token_is_refused_and_changes_nothing(browser, products):
    response = browser.client.post(f"/cart/add/{products['TEA']}", data={"quantity": 1})
    assert response.status_code == 400
    assert cart_quantities(browser) == {}


def test_cart_survives_signing_in(app, browser, products):
    Browser(app.test_client()).register("bob@example.com")
    browser.add(products["TEA"], 2)
    response = browser.login("bob@example.com")
    assert response.status_code == 303
    assert cart_quantities(browser) == {products["TEA"]: 2}


def test_cart_shows_when_a_product_has_become_short(app, browser, products):
    browser.add(products["TEA"], 3)
    with app.app_context():
        db.session.get(Product, products["TEA"]).stock = 1
        db.session.commit()
    assert "Only 1 left" in browser.get("/cart").get_data(as_text=True)


def test_a_cart_cookie_signed_with_another_secret_is_ignored(app, products):
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    stranger = Flask("stranger")
    stranger.secret_key = "another-secret"
    interface = SecureCookieSessionInterface()
    forged = interface.get_signing_serializer(stranger).dumps({"cart": {str(products["TEA"]): 5}})
    client = app.test_client()
    client.set_cookie(interface.get_cookie_name(app), forged)
    page = client.get("/cart")
    assert page.status_code == 200
    assert "Your cart is empty" in page.get_data(as_text=True)


def test_each_line_that_cannot_be_bought_says_why_on_the_cart_page(app, browser, products):
    browser.add(products["TEA"], 3)
    browser.add(products["MUG"], 2)
    with app.app_context():
        db.session.get(Product, products["TEA"]).stock = 0
        db.session.get(Product, products["MUG"]).active = False
        db.session.commit()
    page = browser.get("/cart").get_data(as_text=True)
    assert "Out of stock" in page
    assert "No longer sold" in page
    assert "0 left" not in page
    response = browser.submit("/cart", f"/cart/update/{products['MUG']}", {"quantity": 1})
    assert response.status_code == 409
    assert "Sorry, Enamel Mug is no longer sold." in response.get_data(as_text=True)
    response = browser.submit("/cart", f"/cart/update/{products['TEA']}", {"quantity": 1})
    assert "Sorry, Assam Tea is out of stock." in response.get_data(as_text=True)


def test_a_product_deleted_from_the_catalogue_is_taken_out_of_the_cart_and_told_once(app, browser, products):
    browser.add(products["TEA"], 1)
    browser.add(products["MUG"], 2)
    with app.app_context():
        db.session.execute(sa.delete(Product).where(Product.id == products["MUG"]))
        db.session.commit()
    page = browser.get("/cart").get_data(as_text=True)
    assert "A product in your cart is no longer sold; it was taken out of your cart." in page
    assert 'aria-label="1 item in cart"' in page  # the count no longer counts it either
    assert cart_quantities(browser) == {products["TEA"]: 1}
    assert "no longer sold" not in browser.get("/cart").get_data(as_text=True)
