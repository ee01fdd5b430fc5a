"""The audit trail (issue 19, item 6): each change the owner or a staff member makes to
products (price, stock, on sale), vouchers, order statuses, email resends, roles and
erasures is recorded with who, when, and the values before and after, in the change's own
transaction; the admin shows an object's trail on its page and every entry, newest first,
paged, at /admin/audit."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from shop.audit import NotInTransaction, record_change
from shop.extensions import db
from shop.models import AuditEntry, EmailStatus, Order, OutboxEmail, Role, User, Voucher, utcnow
from shop.privacy import erase_customer
from shop.staff import set_role
from tests.conftest import Browser, count, order_id_from, signed_in_browser, wait_until
from tests.test_staff import make_staff


def entries(app: Flask, **where: object) -> list[tuple]:
    """(actor email, action, object type, object id, before, after) of the entries, oldest first."""
    with app.app_context():
        statement = sa.select(AuditEntry).filter_by(**where).order_by(AuditEntry.id)
        return [
            (e.actor_email, e.action, e.object_type, e.object_id, e.before, e.after)
            for e in db.session.execute(statement).scalars()
        ]


def edit_product(owner: Browser, product_id: int, **changes: str):
    url = f"/admin/products/{product_id}"
    page = owner.client.get(url).get_data(as_text=True)
    values = {
        name: re.search(rf'name="{name}"[^>]*value="([^"]*)"', page).group(1)
        for name in ("sku", "name", "price", "stock")
    }
    return owner.submit(url, url, {**values, "category": "", **changes})


# ---------------------------------------------------------------- products
def test_a_price_and_stock_change_is_recorded_with_who_and_before_and_after_and_shown_on_the_product(
    app, products, admin
):
    response = edit_product(admin, products["TEA"], price="13.00", stock="90")
    assert response.status_code == 303
    tea = products["TEA"]
    assert entries(app) == [
        ("owner@example.com", "product.changed", "product", tea, {"price_cents": 1250, "stock": 100},
         {"price_cents": 1300, "stock": 90}),
    ]  # fmt: skip
    page = admin.get(f"/admin/products/{tea}").get_data(as_text=True)
    trail = page[page.index('id="trail-heading"') :]
    assert "owner@example.com" in trail
    assert "<code>price_cents</code>: 1250 → 1300" in trail
    assert "<code>stock</code>: 100 → 90" in trail

    edit_product(admin, tea)  # saved unchanged: nothing to record
    assert len(entries(app)) == 1


def test_creating_a_product_and_taking_it_off_sale_are_recorded(app, admin):
    response = admin.submit(
        "/admin/products/new",
        "/admin/products/new",
        {"sku": "NEW-1", "name": "Oolong", "price": "16.40", "stock": "12"},
    )
    product_id = int(response.headers["Location"].rsplit("/", 1)[1])
    admin.submit("/admin/products", f"/admin/products/{product_id}/active")
    token = admin.csrf_token("/admin/products")
    admin.client.post(f"/admin/products/{product_id}/active", data={"csrf_token": token})  # off again: no change
    created = {"sku": "NEW-1", "name": "Oolong", "price_cents": 1640, "stock": 12, "low_stock_threshold": None}
    assert entries(app) == [
        ("owner@example.com", "product.created", "product", product_id, None, {**created, "active": True}),
        ("owner@example.com", "product.changed", "product", product_id, {"active": True}, {"active": False}),
    ]


def test_a_save_that_is_refused_leaves_no_entry(app, products, admin):
    url = f"/admin/products/{products['TEA']}"
    page = admin.client.get(url)
    form = Browser.form(page, url)
    edit_product(admin, products["TEA"], price="14.00")  # another save lands first
    stale = admin.client.post(url, data={**form["fields"], "price": "99.00", "stock": "1", "sku": "TEA", "name": "T"})
    assert stale.status_code == 409
    assert [e[5] for e in entries(app)] == [{"price_cents": 1400}]


def test_a_csv_import_records_each_product_it_changes(app, products, admin):
    exported = admin.get("/admin/products/export.csv").get_data(as_text=True)
    changed = exported.replace("12.50", "13.75")
    response = admin.submit(
        "/admin/products/import",
        "/admin/products/import",
        {"file": (io.BytesIO(changed.encode()), "p.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert entries(app) == [
        ("owner@example.com", "product.changed", "product", products["TEA"], {"price_cents": 1250},
         {"price_cents": 1375}),
    ]  # fmt: skip


# ---------------------------------------------------------------- vouchers
def test_creating_and_switching_off_a_voucher_are_recorded_and_linked_from_the_vouchers_page(app, admin):
    admin.submit("/admin/vouchers", "/admin/vouchers", {"code": "tea10", "kind": "percent", "amount": "10"})
    with app.app_context():
        voucher_id = db.session.execute(sa.select(Voucher.id)).scalar_one()
    admin.submit("/admin/vouchers", f"/admin/vouchers/{voucher_id}/active", {"active": "0"})
    [created, switched] = entries(app)
    assert created[:4] == ("owner@example.com", "voucher.created", "voucher", voucher_id)
    assert (created[4], created[5]["code"], created[5]["amount"]) == (None, "TEA10", 1000)
    assert switched[1:] == ("voucher.changed", "voucher", voucher_id, {"active": True}, {"active": False})
    page = admin.get("/admin/vouchers").get_data(as_text=True)
    link = f"/admin/audit?type=voucher&amp;id={voucher_id}"
    assert link in page
    trail = admin.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "voucher.created" in trail
    assert "<code>active</code>: True → False" in trail


# ---------------------------------------------------------------- orders and emails
def test_a_status_change_by_staff_is_recorded_and_shown_on_the_order(app, products, shopper, admin):
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout())
    staff = make_staff(app)
    url = f"/admin/orders/{order_id}"
    assert staff.submit(url, f"{url}/status", {"to_status": "paid"}).status_code == 303
    assert entries(app, action="order.status") == [
        ("packer@example.com", "order.status", "order", order_id, {"status": "awaiting_payment"}, {"status": "paid"})
    ]
    page = admin.get(url).get_data(as_text=True)
    trail = page[page.index('id="trail-heading"') :]
    assert "packer@example.com" in trail
    assert "awaiting_payment → paid" in trail


def test_the_shop_itself_cancelling_an_unpaid_order_is_recorded_without_a_person(app, products, shopper, admin):
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout())
    with app.app_context():
        db.session.execute(sa.update(Order).values(created_at=utcnow() - timedelta(days=30)))
        db.session.commit()
    assert app.test_cli_runner().invoke(args=["shop", "cancel-unpaid"]).exit_code == 0
    [entry] = entries(app, action="order.status")
    assert entry == ("", "order.status", "order", order_id, {"status": "awaiting_payment"}, {"status": "cancelled"})
    assert "the shop itself" in admin.get(f"/admin/orders/{order_id}").get_data(as_text=True)


def test_resending_a_failed_email_is_recorded(app, products, admin, shopper, smtp):
    smtp.wait_for(2, subject_contains="Confirm your address")
    smtp.behave("permfail")
    shopper.add(products["TEA"], 1)
    order_id_from(shopper.checkout())
    wait_until(lambda: count(app, OutboxEmail, OutboxEmail.status == EmailStatus.FAILED) == 1, what="failed")
    with app.app_context():
        email_id = db.session.execute(sa.select(OutboxEmail.id).where(OutboxEmail.status == "failed")).scalar_one()
    smtp.behave("accept")
    admin.submit(f"/admin/emails/{email_id}", f"/admin/emails/{email_id}/resend")
    token = admin.csrf_token(f"/admin/emails/{email_id}")
    admin.client.post(f"/admin/emails/{email_id}/resend", data={"csrf_token": token})  # not failed: no resend
    assert entries(app, action="email.resent") == [
        ("owner@example.com", "email.resent", "email", email_id, {"status": "failed"}, {"status": "pending"})
    ]


# ---------------------------------------------------------------- erasures, and the trail's own rules
def test_a_customers_own_erasure_is_recorded_without_their_address(app, products):
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(products["TEA"], 1)
    order_id_from(shopper.checkout())
    with app.app_context():
        number = db.session.execute(sa.select(Order.number)).scalar_one()
        erase_customer("ada@example.com")
    [entry] = entries(app, action="customer.erased")
    assert entry[0] == ""
    assert entry[4] == {"account": True, "orders": [number]}
    assert entry[5]["requested_by"] == "customer"
    assert "ada@" not in str(entry)


def test_the_trail_keeps_who_it_was_after_their_account_is_gone(app, products, shopper):
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout())
    staff = make_staff(app)
    url = f"/admin/orders/{order_id}"
    staff.submit(url, f"{url}/status", {"to_status": "paid"})
    with app.app_context():
        set_role("packer@example.com", Role.CUSTOMER, by=None)
        erase_customer("packer@example.com")
        entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "order.status")).scalar_one()
        assert (entry.actor_id, entry.actor_email) == (None, "packer@example.com")
        assert db.session.execute(sa.select(User).where(User.email == "packer@example.com")).first() is None


def test_an_entry_cannot_be_written_outside_the_changes_transaction(app):
    with app.app_context():
        db.session.commit()
        with pytest.raises(NotInTransaction):
            record_change(None, "product.changed", "product", 1, {"stock": 1}, {"stock": 2})


def test_the_list_is_newest_first_paged_and_filtered(app, products, admin):
    staff = make_staff(app)
    for stock in range(1, 28):
        edit_product(admin, products["MUG"], stock=str(stock))
    admin.submit("/admin/vouchers", "/admin/vouchers", {"code": "tea10", "kind": "percent", "amount": "10"})
    assert staff.get("/admin/audit").status_code == 403
    assert count(app, AuditEntry) == 29  # 27 edits, the voucher, and the staff role given by the command
    first = admin.get("/admin/audit").get_data(as_text=True)
    assert first.count("<li>") - first.count("<li><code>") >= 25
    assert first.index("voucher.created") < first.index("product.changed")
    assert "Page 1 of 2" in first
    second = admin.get("/admin/audit?page=2").get_data(as_text=True)
    assert "<code>stock</code>: 100 → 1" in second  # the first edit, on the last page
    only_vouchers = admin.get("/admin/audit?type=voucher").get_data(as_text=True)
    assert "voucher.created" in only_vouchers
    assert "product.changed" not in only_vouchers
    by_nobody = admin.get("/admin/audit?actor=nobody").get_data(as_text=True)
    assert "No changes recorded." in by_nobody
