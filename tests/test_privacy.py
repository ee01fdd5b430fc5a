"""Erasing a customer (shop/privacy.py; issue 19, item 4): the person's details are gone
from every table of the database, the books (orders, amounts) are not, and nobody else's
data is touched."""

from __future__ import annotations

import re

import sqlalchemy as sa

from shop.extensions import db
from shop.models import Order, OutboxEmail, User
from shop.privacy import ERASED_EMAIL, Erasure, erase_customer
from tests.conftest import ADDRESS, PASSWORD, Browser, order_id_from, signed_in_browser, wait_until

ADA = {
    "full_name": "Ada Byron-Lovelace",
    "address": "12 Analytical Street",
    "city": "Marylebone",
    "postal_code": "W1U 8AB",
}
GRACE = {"full_name": "Grace Hopper", "address": "1 Navy Yard", "city": "Arlington", "postal_code": "22201"}


def everything_stored(app) -> str:
    """Every value of every row of every table of the database (reflected: the search
    index and anything no model names included), as one text."""
    with app.app_context():
        parts = []
        with db.engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    parts.append(" ".join(str(value) for value in row))
        return "\n".join(parts)


def all_sent(app) -> None:
    """Wait until no email is waiting or being sent (their rows change as they go)."""
    with app.app_context():
        pending = sa.select(OutboxEmail.id).where(OutboxEmail.status.in_(("pending", "sending")))
        wait_until(lambda: db.session.execute(pending).first() is None, what="every email sent")
        db.session.rollback()


def totals(app) -> list[tuple[int, int, int]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(Order.subtotal_cents, Order.tax_cents, Order.total_cents).order_by(Order.id)
        ).all()
        return [tuple(r) for r in rows]


def test_erasing_a_customer_leaves_nothing_of_them_in_any_table_and_the_books_unchanged(make_app, products, smtp):
    app = make_app(SHOP_OWNER_EMAIL="owner@example.com")  # the owner's "new order" emails quote the address
    # Ada orders as a guest (under another capitalisation), registers, saves an address,
    # orders, and moves her account to another address; Grace is another customer.
    guest = Browser(app.test_client())
    guest.add(products["TEA"], 1)
    assert guest.checkout(email="Ada@Example.com", **ADA).status_code == 303
    ada = signed_in_browser(app, "ada@example.com")
    ada.submit("/account/addresses/new", "/account/addresses/new", {**ADDRESS, **ADA})
    ada.add(products["MUG"], 2)
    order_id_from(ada.checkout(**ADA))
    ada.submit("/account", "/account/email", {"new_email": "ada.king@example.com", "current_password": PASSWORD})
    mail = smtp.wait_for(1, to="ada.king@example.com", subject_contains="Confirm your new address")[0]
    link = re.search(r"http://shop\.test(/account/email/\S+)", mail.text).group(1)
    ada.submit(link, link)
    grace = signed_in_browser(app, "grace@example.com")
    grace.add(products["TEA"], 1)
    order_id_from(grace.checkout(**GRACE))
    all_sent(app)
    stored = everything_stored(app)
    for trace in ("ada@example.com", "ada.king@example.com", *ADA.values(), *GRACE.values()):
        assert trace.lower() in stored.lower(), trace  # all there before
    books = totals(app)

    with app.app_context():
        erasure = erase_customer("ADA.KING@example.com")

    assert erasure.account is True
    assert erasure.orders == 2
    assert erasure.addresses == 1
    assert erasure.emails_deleted >= 4  # confirmations, the order's, the address change's
    assert erasure.emails_blanked == 2  # the owner's "new order" emails of her two orders
    stored = everything_stored(app).lower()
    for trace in ("ada@example.com", "ada.king@example.com", "ada byron", *(v.lower() for v in ADA.values())):
        assert trace.lower() not in stored, trace
    for trace in GRACE.values():
        assert trace.lower() in stored, trace  # nobody else's data
    assert "grace@example.com" in stored
    assert totals(app) == books  # the amounts stay for the books
    with app.app_context():
        emails = db.session.execute(sa.select(Order.email).order_by(Order.id)).scalars().all()
        assert emails == [ERASED_EMAIL, ERASED_EMAIL, "grace@example.com"]
        assert db.session.execute(sa.select(User.email)).scalars().all() == ["grace@example.com"]
    admin_page_visitor = Browser(app.test_client())
    assert admin_page_visitor.get("/").status_code == 200


def test_erasing_an_unknown_address_changes_nothing(app, products, smtp):
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(products["TEA"], 1)
    order_id_from(shopper.checkout())
    all_sent(app)
    before = everything_stored(app)
    with app.app_context():
        assert erase_customer("nobody@example.com") == Erasure(False, 0, 0, 0, 0)
    assert everything_stored(app) == before


def test_a_guest_without_an_account_is_erased_too(app, products, smtp):
    guest = Browser(app.test_client())
    guest.add(products["TEA"], 1)
    guest.checkout(email="guest@example.com", **ADA)
    with app.app_context():
        erasure = erase_customer("guest@example.com")
    assert (erasure.account, erasure.orders) == (False, 1)
    stored = everything_stored(app).lower()
    assert "guest@example.com" not in stored
    assert ADA["address"].lower() not in stored
    register = Browser(app.test_client()).register("erased@erased.invalid")  # the placeholder claims nothing
    assert register.status_code == 422
