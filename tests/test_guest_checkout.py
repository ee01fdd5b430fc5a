"""Guest checkout: an email instead of an account, the signed link to the order, and
claiming guest orders with an account later."""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from shop.extensions import db
from shop.models import Order, OutboxEmail
from tests.conftest import ADDRESS, Browser, change_settings, count, signed_in_browser

GUEST = "guest@example.com"


def guest_checkout(app, products, email: str = GUEST, **fields: str):
    """A visitor without an account buys 2 × Assam Tea; the response to Place order."""
    guest = Browser(app.test_client())
    guest.add(products["TEA"], 2)
    return guest, guest.submit("/checkout", "/checkout", {**ADDRESS, "email": email, **fields})


def guest_link_from(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    assert re.fullmatch(r"/orders/guest/[\w.-]+", location), location
    return location


def test_a_guest_checks_out_with_an_email_and_reaches_the_order_by_its_signed_link(app, products, smtp):
    guest, response = guest_checkout(app, products, "Guest@Example.com ")
    link = guest_link_from(response)
    page = guest.get(link).get_data(as_text=True)
    number = re.search(r"<h1>Order ([A-Z0-9-]+)</h1>", page).group(1)
    assert "Awaiting payment" in page
    assert "IBAN: GB33 BUKB 2020 1555 5555 55" in page  # the development example IBAN
    assert f"Reference: {number}" in page
    assert "Create an account" in page

    with app.app_context():
        order = db.session.execute(db.select(Order)).scalar_one()
        assert (order.user_id, order.email, order.payment_method) == (None, GUEST, "bank_transfer")

    [mail] = smtp.wait_for(1, to=GUEST)
    assert number in mail.subject
    assert f"Reference: {number}" in mail.text
    # The email's link (signed a moment before the redirect's, so its timestamp may differ)
    # works from anywhere: another browser, no cookies.
    emailed = re.search(r"http://shop\.test(/orders/guest/\S+)", mail.text).group(1)
    stranger = Browser(app.test_client())
    assert f"<h1>Order {number}</h1>" in stranger.get(emailed).get_data(as_text=True)
    assert stranger.get(link).status_code == 200
    # ...but the order is in nobody's My Orders.
    assert "/orders/" not in signed_in_browser(app, "other@example.com").get("/orders").get_data(as_text=True)


def test_a_tampered_guest_link_is_404_and_an_expired_one_says_so(app, products, smtp):
    guest, response = guest_checkout(app, products)
    link = guest_link_from(response)
    token = link.rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert guest.get(f"/orders/guest/{flipped}").status_code == 404
    assert guest.get("/orders/guest/not-a-token").status_code == 404
    with app.app_context():
        order = db.session.execute(db.select(Order)).scalar_one()
        # Signed with the right key but for another order number: 404 too.
        other = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="guest-order").dumps([order.id, "X"])
    assert guest.get(f"/orders/guest/{other}").status_code == 404

    change_settings(app, SHOP_GUEST_LINK_DAYS=1)
    real_time = time.time
    try:  # itsdangerous reads time.time() when it checks the age: two days later
        time.time = lambda: real_time() + 2 * 24 * 3600
        expired = guest.get(link)
    finally:
        time.time = real_time
    assert expired.status_code == 410
    assert "This order link has expired" in expired.get_data(as_text=True)


def test_a_guest_must_give_a_valid_email(app, products, smtp):
    for email, message in (("", "Enter your email address."), ("not-an-email", "Enter an email address like")):
        _, response = guest_checkout(app, products, email)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    _, response = guest_checkout(app, products, "evil@example.com\r\nBcc: victim@example.com")
    assert response.status_code == 422
    assert count(app, Order) == 0


def test_the_same_guest_form_twice_makes_one_order(app, products, smtp):
    guest = Browser(app.test_client())
    guest.add(products["TEA"], 1)
    form = Browser.form(guest.client.get("/checkout"), "/checkout")["fields"]
    data = {**form, **ADDRESS, "email": GUEST}
    first = guest.client.post("/checkout", data=data)
    second = guest.client.post("/checkout", data=data)
    pages = [guest.get(guest_link_from(response)).get_data(as_text=True) for response in (first, second)]
    assert re.search(r"<h1>Order [A-Z0-9-]+</h1>", pages[0]).group() in pages[1]  # the same order
    assert "it was not ordered twice" in pages[0]  # both flashes show on the first page seen
    assert count(app, Order) == 1


def test_guest_checkout_can_be_switched_off(make_app, smtp):
    app = make_app(SHOP_GUEST_CHECKOUT=False)
    guest = Browser(app.test_client())
    response = guest.get("/checkout")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")
    token = guest.csrf_token()
    assert guest.client.post("/checkout", data={"csrf_token": token, "email": GUEST}).status_code == 302
    assert count(app, Order) == 0


def test_an_account_made_later_with_that_email_claims_the_guest_orders_after_confirming(app, products, smtp):
    _, response = guest_checkout(app, products)
    guest_link_from(response)
    guest_checkout(app, products)
    guest_checkout(app, products, "someone-else@example.com")
    smtp.wait_for(2, to=GUEST)

    shopper = signed_in_browser(app, GUEST)
    # Registering alone shares nothing: whoever registers must prove they read the mailbox.
    assert "/orders/" not in shopper.get("/orders").get_data(as_text=True)
    [mail] = smtp.wait_for(1, to=GUEST, subject_contains="guest orders")
    claim = re.search(r"http://shop\.test(/auth/claim-orders/\S+)", mail.text).group(1)
    assert "2 orders" in mail.text

    intruder = signed_in_browser(app, "intruder@example.com")
    assert intruder.get(claim).status_code == 400  # the link is for the account it was sent to
    page = shopper.get(claim)
    assert page.status_code == 200
    assert "Add them to My Orders" in page.get_data(as_text=True)
    response = shopper.submit(claim, claim)
    assert response.status_code == 303
    orders = shopper.get("/orders").get_data(as_text=True)
    assert len(re.findall(r'href="/orders/\d+"', orders)) == 2
    assert "2 earlier orders added to My Orders" in orders
    with app.app_context():
        mine = db.session.execute(db.select(Order).where(Order.email == GUEST)).scalars().all()
        assert {o.user_id for o in mine} == {shopper_id(app, GUEST)}
        other = db.session.execute(db.select(Order).where(Order.email != GUEST)).scalar_one()
        assert other.user_id is None  # someone else's guest order stays theirs


def test_no_claim_email_when_there_are_no_guest_orders(app, smtp):
    signed_in_browser(app, "fresh@example.com")
    assert count(app, OutboxEmail, OutboxEmail.kind == "claim_orders") == 0


def shopper_id(app, email: str) -> int:
    from shop.models import User

    return db.session.execute(db.select(User.id).where(User.email == email)).scalar_one()


@pytest.mark.parametrize("tamper", ["x", "extra"])
def test_a_forged_claim_link_is_refused(app, smtp, tamper):
    shopper = signed_in_browser(app, GUEST)
    assert shopper.get(f"/auth/claim-orders/{tamper}").status_code == 400


def test_a_guest_order_with_the_address_of_an_account_is_offered_to_that_account(app, products, smtp):
    owner = signed_in_browser(app, GUEST)
    _, response = guest_checkout(app, products)  # someone (perhaps the owner, signed out) orders as a guest
    guest_link_from(response)
    [mail] = smtp.wait_for(1, to=GUEST, subject_contains="guest orders")
    assert "which has a Swiftcart account" in mail.text
    claim = re.search(r"http://shop\.test(/auth/claim-orders/\S+)", mail.text).group(1)
    assert owner.submit(claim, claim).status_code == 303
    assert len(re.findall(r'href="/orders/\d+"', owner.get("/orders").get_data(as_text=True))) == 1


def test_the_token_of_someone_elses_order_gets_a_fresh_form_not_an_error(app, products, smtp):
    guest = Browser(app.test_client())
    guest.add(products["TEA"], 1)
    form = Browser.form(guest.client.get("/checkout"), "/checkout")["fields"]
    assert guest.client.post("/checkout", data={**form, **ADDRESS, "email": GUEST}).status_code == 303
    guest.add(products["TEA"], 1)
    again = guest.client.post("/checkout", data={**form, **ADDRESS, "email": "other@example.com"})
    assert again.status_code == 409
    assert "This form was used for another order already" in again.get_data(as_text=True)
    fresh = Browser.form(again, "/checkout")["fields"]["checkout_token"]
    assert fresh != form["checkout_token"]
    assert (
        guest.client.post("/checkout", data={**fresh_form(again), **ADDRESS, "email": "o@example.com"}).status_code
        == 303
    )
    assert count(app, Order) == 2


def fresh_form(response) -> dict:
    return Browser.form(response, "/checkout")["fields"]


def test_a_pickup_needs_the_name_of_who_collects_it(app, products, smtp):
    _, response = guest_checkout(app, products, shipping_method="pickup", full_name="", address="")
    assert response.status_code == 422
    assert "Enter your full name." in response.get_data(as_text=True)
    _, response = guest_checkout(app, products, shipping_method="pickup", address="", city="")
    guest_link_from(response)
