"""Staff (issue 19, item 5): a staff member sees and handles the orders (status, notes) and
their emails, and nothing of the revenue, prices, vouchers, customers' data or staff; the
owner adds and removes staff at /admin/staff or with `flask shop create-staff`; migration
0012 turns the is_admin flag into the role, up and down, with orders in the shop.
(Which route is whose, for every route: tests/test_access.py.)"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from shop.extensions import db
from shop.models import AuditEntry, Order, Role, User
from tests.conftest import PASSWORD, Browser, order_id_from, rows, signed_in_browser


def make_staff(app: Flask, email: str = "packer@example.com") -> Browser:
    """A visitor who registers and is then made a staff member by the owner's command."""
    browser = signed_in_browser(app, email)
    result = app.test_cli_runner().invoke(args=["shop", "create-staff", email, "--password", "x" * 12])
    assert result.exit_code == 0, result.output
    return browser


def role_of(app: Flask, email: str) -> str:
    with app.app_context():
        return db.session.execute(sa.select(User.role).where(User.email == email)).scalar_one()


def test_a_staff_member_handles_an_order_but_sees_no_revenue_prices_or_customers_data(app, products, shopper):
    shopper.add(products["TEA"], 2)
    order_id = order_id_from(shopper.checkout())
    staff = make_staff(app)

    home = staff.get("/").get_data(as_text=True)
    assert 'href="/admin/orders">Admin</a>' in home  # the header's link goes to the orders, not the dashboard
    page = staff.get(f"/admin/orders/{order_id}").get_data(as_text=True)
    nav = re.search(r'<nav aria-label="Admin".*?</nav>', page, re.S).group()
    assert "Orders" in nav
    assert "Emails" in nav
    for owners_page in ("Dashboard", "Products", "Vouchers", "Customers", "Staff", "Audit trail"):
        assert owners_page not in nav, owners_page
    response = staff.submit(
        f"/admin/orders/{order_id}", f"/admin/orders/{order_id}/status", {"to_status": "paid", "note": "Paid in cash"}
    )
    assert response.status_code == 303
    page = staff.get(f"/admin/orders/{order_id}").get_data(as_text=True)
    assert "Awaiting payment → Paid by packer@example.com — “Paid in cash”" in page
    for url in ("/admin", "/admin/products", f"/admin/products/{products['TEA']}", "/admin/vouchers", "/admin/audit"):
        assert staff.get(url).status_code == 403, url


def test_the_owner_adds_a_staff_member_and_takes_the_role_away_again(app, admin):
    packer = signed_in_browser(app, "packer@example.com")
    assert packer.get("/admin/orders").status_code == 403
    response = admin.submit("/admin/staff", "/admin/staff", {"email": " Packer@Example.com "})
    assert response.status_code == 303
    page = admin.get("/admin/staff").get_data(as_text=True)
    assert "packer@example.com is a staff member" in page
    assert role_of(app, "packer@example.com") == Role.STAFF
    assert packer.get("/admin/orders").status_code == 200  # at once, in the session they have

    response = admin.submit("/admin/staff", "/admin/staff/remove", {"email": "packer@example.com"})
    assert response.status_code == 303
    assert role_of(app, "packer@example.com") == Role.CUSTOMER
    assert packer.get("/admin/orders").status_code == 403
    with app.app_context():
        changes = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "user.role")).scalars().all()
        assert [(e.actor_email, e.before, e.after) for e in changes] == [
            ("owner@example.com", {"role": "customer"}, {"role": "staff"}),
            ("owner@example.com", {"role": "staff"}, {"role": "customer"}),
        ]


@pytest.mark.parametrize(
    ("action", "email", "status", "message"),
    [
        ("/admin/staff", "nobody@example.com", 404, "registers first"),
        ("/admin/staff", "owner@example.com", 409, "is an owner"),
        ("/admin/staff/remove", "owner@example.com", 409, "is an owner"),
        ("/admin/staff", "", 422, "Enter an email address"),
    ],
)
def test_staff_changes_that_cannot_be_made_say_why(app, admin, action, email, status, message):
    token = admin.csrf_token("/admin/staff")  # the page shows no "remove" for an owner: posted as a forger would
    response = admin.client.post(action, data={"csrf_token": token, "email": email})
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert role_of(app, "owner@example.com") == Role.OWNER


def test_create_staff_makes_a_new_account_or_an_existing_one_staff_and_leaves_owners_alone(app, shopper):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["shop", "create-staff", "New@Example.com", "--password", "a-long-staff-password"])
    assert result.exit_code == 0, result.output
    assert "created staff member new@example.com" in result.output
    assert role_of(app, "new@example.com") == Role.STAFF
    with app.app_context():
        assert (
            db.session.execute(sa.select(User).where(User.email == "new@example.com"))
            .scalar_one()
            .check_password("a-long-staff-password")
        )
    result = runner.invoke(args=["shop", "create-staff", "ada@example.com", "--password", "whatever-it-is-1"])
    assert "ada@example.com is now a staff member" in result.output
    assert role_of(app, "ada@example.com") == Role.STAFF
    runner.invoke(args=["shop", "create-admin", "boss@example.com", "--password", "a-long-owner-password"])
    result = runner.invoke(args=["shop", "create-staff", "boss@example.com", "--password", "whatever-it-is-1"])
    assert result.exit_code != 0
    assert "is an owner" in result.output
    assert role_of(app, "boss@example.com") == Role.OWNER
    result = runner.invoke(args=["shop", "create-staff", "short@example.com", "--password", "short"])
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output


def test_a_staff_member_cannot_delete_their_account_from_the_account_page(app):
    staff = make_staff(app)
    response = staff.submit("/account", "/account/delete", {"current_password": PASSWORD})
    assert response.status_code == 409
    assert role_of(app, "packer@example.com") == Role.STAFF


def test_code_written_before_roles_keeps_its_meaning_is_admin_is_the_owner(app):
    with app.app_context():
        db.session.add_all(
            [
                User(email="a@example.com", password_hash="x", is_admin=True),
                User(email="b@example.com", password_hash="x"),
            ]
        )
        db.session.commit()
        db.session.execute(sa.update(User).where(User.email == "b@example.com").values(is_admin=True))
        db.session.execute(sa.update(User).where(User.email == "a@example.com").values(is_admin=False))
        db.session.commit()
        roles = dict(db.session.execute(sa.select(User.email, User.role)).all())
        assert roles == {"a@example.com": Role.CUSTOMER, "b@example.com": Role.OWNER}
        owners = db.session.execute(sa.select(User.email).where(User.is_admin)).scalars().all()
        assert owners == ["b@example.com"]
        staff = User(email="c@example.com", password_hash="x", role=Role.STAFF)
        assert (staff.is_admin, staff.is_owner, staff.is_staff) == (False, False, True)


# ---------------------------------------------------------------- migration 0012


def test_0012_turns_admins_into_owners_keeps_every_order_and_goes_back_down(fresh):
    with fresh.app_context():
        upgrade(revision="0007")
        with db.engine.begin() as c:
            for user_id, email, is_admin in ((1, "owner@example.com", True), (2, "ada@example.com", False)):
                c.execute(
                    sa.text(
                        "INSERT INTO user_account (id, email, password_hash, is_admin, created_at, session_token)"
                        " VALUES (:id, :email, 'x', :admin, '2026-01-01', 'tok')"
                    ),
                    {"id": user_id, "email": email, "admin": is_admin},
                )
            c.execute(
                sa.text(
                    "INSERT INTO address (user_id, full_name, address, city, postal_code, country, is_default,"
                    " created_at) VALUES (2, 'Ada', '1 St', 'London', 'N1', 'UK', true, '2026-01-02')"
                )
            )
            c.execute(
                sa.text(
                    "INSERT INTO customer_order (id, number, user_id, email, status, payment_method, shipping_method,"
                    " full_name, address, city, postal_code, country, subtotal_cents, discount_cents, shipping_cents,"
                    " tax_cents, tax_rate_bp, prices_include_tax, total_cents, voucher_code, checkout_token,"
                    " created_at) VALUES (1, 'N1', 2, 'ada@example.com', 'paid', '', 'standard', 'Ada', '1 St',"
                    " 'London', 'N1', 'UK', 300, 0, 0, 50, 2000, true, 300, '', 'tok', '2026-01-01')"
                )
            )
        upgrade()
        assert rows("SELECT id, role FROM user_account ORDER BY id") == [(1, "owner"), (2, "customer")]
        assert rows("SELECT count(*) FROM address") == [(1,)]  # the table was altered in place, not rebuilt
        assert db.session.get(Order, 1).user_id == 2
        db.session.remove()
        with db.engine.begin() as c:
            c.execute(sa.text("UPDATE user_account SET role = 'staff' WHERE id = 2"))
            c.execute(
                sa.text(
                    "INSERT INTO audit_entry (created_at, actor_id, actor_email, action, object_type, object_id)"
                    " VALUES ('2026-01-03', 1, 'owner@example.com', 'order.status', 'order', 1)"
                )
            )
        downgrade(revision="0007")
        assert rows("SELECT id, is_admin FROM user_account ORDER BY id") == [(1, True), (2, False)]
        assert "audit_entry" not in sa.inspect(db.engine).get_table_names()
        assert rows("SELECT count(*) FROM address") == [(1,)]
        assert rows("SELECT user_id FROM customer_order") == [(2,)]
        upgrade()
        assert rows("SELECT id, role FROM user_account ORDER BY id") == [(1, "owner"), (2, "customer")]
        db.engine.dispose()
