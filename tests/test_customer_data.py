"""A customer's data in the admin (issue 19, item 4): the owner downloads everything the
shop holds about an email address as JSON, and erases a customer; afterwards nothing of
them is in any table or in an export, and the amounts and tax of their orders are as they
were. (The erasure's own rules: tests/test_privacy.py.)"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from shop.extensions import db
from shop.models import AuditEntry, Order, Refund, Role, User
from shop.privacy import ERASED, ERASED_EMAIL
from tests.conftest import ADDRESS, Browser, order_id_from, signed_in_browser
from tests.test_privacy import ADA, GRACE, all_sent, everything_stored, totals


def export(owner: Browser, email: str) -> dict:
    response = owner.submit("/admin/customers", "/admin/customers/export", {"email": email})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="customer-data-')
    assert "@" not in disposition  # the address is not in the file's name
    return json.loads(response.get_data(as_text=True))


def shop_with_ada_and_grace(app, products) -> None:
    """Ada: a guest order, then an account with a saved address and an order; Grace: an order."""
    guest = Browser(app.test_client())
    guest.add(products["POT"], 1)
    assert guest.checkout(email="Ada@Example.com", **ADA).status_code == 303
    ada = signed_in_browser(app, "ada@example.com")
    ada.submit("/account/addresses/new", "/account/addresses/new", {**ADDRESS, **ADA})
    ada.add(products["MUG"], 2)
    order_id_from(ada.checkout(**ADA))
    grace = signed_in_browser(app, "grace@example.com")
    grace.add(products["TEA"], 1)
    order_id_from(grace.checkout(**GRACE))
    all_sent(app)


def test_the_export_holds_the_account_addresses_orders_with_lines_and_emails_and_nothing_else(app, products, admin):
    shop_with_ada_and_grace(app, products)
    with app.app_context():
        first = db.session.execute(sa.select(Order.id).order_by(Order.id)).scalars().first()
        db.session.add(Refund(order_id=first, amount_cents=500, reason="Lid chipped", idempotency_key="k1"))
        db.session.commit()
    data = export(admin, " ADA@example.com ")

    assert data["format"] == 1
    assert data["account"]["email"] == "ada@example.com"
    assert data["account"]["role"] == "customer"
    assert [a["full_name"] for a in data["addresses"]] == [ADA["full_name"]]
    orders = data["orders"]
    assert [o["full_name"] for o in orders] == [ADA["full_name"], ADA["full_name"]]  # the guest order too
    assert [[(line["sku"], line["quantity"]) for line in o["lines"]] for o in orders] == [[("POT", 1)], [("MUG", 2)]]
    assert orders[1]["total_cents"] == totals(app)[1][2]
    assert orders[1]["status_history"] == []
    assert [(r["amount_cents"], r["reason"]) for r in orders[0]["refunds"]] == [(500, "Lid chipped")]
    assert orders[1]["refunds"] == []
    kinds = sorted(e["kind"] for e in data["emails"])
    assert kinds == ["claim_orders", "confirm_email", "order_confirmation", "order_confirmation"]
    assert all(e["recipient"].lower() == "ada@example.com" for e in data["emails"])
    text = json.dumps(data)
    assert "grace" not in text.lower()  # nobody else
    with app.app_context():
        ada = db.session.execute(sa.select(User).where(User.email == "ada@example.com")).scalar_one()
        assert ada.password_hash not in text  # no secret
        assert ada.session_token not in text


def test_an_address_the_shop_does_not_know_exports_empty(app, admin):
    data = export(admin, "nobody@example.com")
    assert (data["account"], data["addresses"], data["orders"], data["emails"]) == (None, [], [], [])


def test_erasing_from_the_admin_leaves_nothing_in_any_table_or_export_and_the_books_unchanged(make_app, products, smtp):
    app = make_app(SHOP_OWNER_EMAIL="owner@example.com")  # the owner's "new order" emails quote the address
    from tests.conftest import signed_in_admin

    owner = signed_in_admin(app)
    shop_with_ada_and_grace(app, products)
    books = totals(app)

    response = owner.submit(
        "/admin/customers", "/admin/customers/erase", {"email": "ada@example.com", "confirm": "ADA@example.com"}
    )
    assert response.status_code == 303
    page = owner.get(response.headers["Location"]).get_data(as_text=True)
    assert "Erased: the account, 2 order(s) (amounts kept), 1 saved address(es)" in page

    stored = everything_stored(app).lower()
    for trace in ("ada@example.com", *(value.lower() for value in ADA.values())):
        assert trace not in stored, trace
    for trace in ("grace@example.com", *(value.lower() for value in GRACE.values())):
        assert trace in stored, trace  # nobody else's data
    assert totals(app) == books  # the amounts and tax stay for the books
    data = export(owner, "ada@example.com")
    assert (data["account"], data["addresses"], data["orders"], data["emails"]) == (None, [], [], [])
    with app.app_context():
        erased = db.session.execute(sa.select(Order).where(Order.email == ERASED_EMAIL)).scalars().all()
        assert [(o.full_name, o.address, o.city) for o in erased] == [(ERASED, ERASED, ERASED)] * 2
        entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "customer.erased")).scalar_one()
        assert entry.actor_email == "owner@example.com"
        assert entry.before == {"account": True, "orders": [o.number for o in erased]}
        assert entry.after["requested_by"] == "owner"
    assert "grace@example.com" in json.dumps(export(owner, "grace@example.com"))


def test_an_erasure_needs_the_address_typed_twice(app, products, admin):
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(products["TEA"], 1)
    order_id_from(shopper.checkout())
    response = admin.submit(
        "/admin/customers", "/admin/customers/erase", {"email": "ada@example.com", "confirm": "ada@example.org"}
    )
    assert response.status_code == 422
    assert "The two addresses differ." in response.get_data(as_text=True)
    response = admin.submit("/admin/customers", "/admin/customers/erase", {"email": "", "confirm": ""})
    assert response.status_code == 422
    with app.app_context():
        assert db.session.execute(sa.select(User.email).where(User.email == "ada@example.com")).scalar_one()


def test_the_owners_and_staff_accounts_are_not_erased(app, admin):
    signed_in_browser(app, "packer@example.com")
    app.test_cli_runner().invoke(args=["shop", "create-staff", "packer@example.com", "--password", "x" * 12])
    for email in ("packer@example.com", "owner@example.com"):
        response = admin.submit("/admin/customers", "/admin/customers/erase", {"email": email, "confirm": email})
        assert response.status_code == 409
        assert "take the staff role away first" in response.get_data(as_text=True)
    with app.app_context():
        roles = dict(db.session.execute(sa.select(User.email, User.role)).all())
    assert roles == {"owner@example.com": Role.OWNER, "packer@example.com": Role.STAFF}


def test_erasing_an_address_the_shop_does_not_know_says_so(app, admin):
    response = admin.submit(
        "/admin/customers", "/admin/customers/erase", {"email": "nobody@example.com", "confirm": "nobody@example.com"}
    )
    assert response.status_code == 303
    assert "nothing was erased" in admin.get(response.headers["Location"]).get_data(as_text=True)


def test_the_page_names_each_field_once(app, admin):
    html = admin.get("/admin/customers").get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(ids)
    assert 'for="erase-email"' in html
