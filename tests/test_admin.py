"""The owner's admin: products, stock, orders, emails, and the dashboard."""

from __future__ import annotations

import csv
import io
import re
import threading

import pytest
import sqlalchemy as sa
from flask import Flask

from shop.extensions import db
from shop.models import EmailStatus, Order, OrderStatusChange, OutboxEmail, Product
from tests.conftest import Browser, count, order_id_from, signed_in_browser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def place_order(app: Flask, browser: Browser, product_id: int, quantity: int = 1) -> int:
    browser.add(product_id, quantity)
    return order_id_from(browser.checkout())


def product(app: Flask, product_id: int) -> Product:
    with app.app_context():
        p = db.session.get(Product, product_id)
        db.session.expunge(p)
        return p


# ---------------------------------------------------------------- access
def test_admin_pages_send_guests_to_login_and_refuse_customers(app, products, shopper):
    guest = Browser(app.test_client())
    for url in ("/admin", "/admin/products", "/admin/orders", "/admin/emails", "/admin/products/new"):
        assert guest.get(url).status_code == 302, url
        assert shopper.get(url).status_code == 403, url


def test_the_header_links_to_the_admin_for_admins_only(app, admin, shopper):
    assert 'href="/admin"' in admin.get("/").get_data(as_text=True)
    assert 'href="/admin"' not in shopper.get("/").get_data(as_text=True)


# ---------------------------------------------------------------- dashboard
def test_dashboard_shows_today_low_stock_failed_emails_and_a_chart(app, products, admin, shopper, smtp):
    smtp.wait_for(2, subject_contains="Confirm your address")  # the registrations' emails, sent first
    smtp.behave("permfail")
    place_order(app, shopper, products["TEA"], 2)
    place_order(app, shopper, products["MUG"], 1)
    from tests.conftest import wait_until

    wait_until(lambda: count(app, OutboxEmail, OutboxEmail.status == EmailStatus.FAILED) == 2, what="2 failed")
    html = admin.get("/admin").get_data(as_text=True)
    assert re.search(r"Orders today</span> <strong>2</strong>", html)
    assert re.search(r"Revenue today</span> <strong>€43.05</strong>", html)
    assert "<svg" in html
    assert html.count('class="bar"') == 30
    assert "Clay Teapot</a>: 1 left" in html  # stock 1, threshold 5
    assert html.count("No such user") == 2  # the failed confirmations, with links
    assert "/admin/emails/" in html


# ---------------------------------------------------------------- products
def test_create_edit_and_deactivate_a_product(app, admin):
    response = admin.submit(
        "/admin/products/new",
        "/admin/products/new",
        {"sku": "NEW-1", "name": "Oolong", "description": "Rolled", "price": "16.40", "stock": "12", "category": "Tea"},
    )
    assert response.status_code == 303
    product_id = int(response.headers["Location"].rsplit("/", 1)[1])
    p = product(app, product_id)
    assert (p.sku, p.name, p.price_cents, p.stock, p.active) == ("NEW-1", "Oolong", 1640, 12, True)
    assert "Created Oolong." in admin.get(response.headers["Location"]).get_data(as_text=True)

    url = f"/admin/products/{product_id}"
    admin.submit(url, url, {"sku": "NEW-1", "name": "Oolong Tea", "price": "17", "stock": "3", "category": ""})
    p = product(app, product_id)
    assert (p.name, p.price_cents, p.stock, p.category_id) == ("Oolong Tea", 1700, 3, None)

    admin.submit("/admin/products", f"/admin/products/{product_id}/active")
    assert product(app, product_id).active is False
    assert Browser(app.test_client()).get(f"/products/{product_id}").status_code == 404
    assert "Activate" in admin.get("/admin/products?show=inactive").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"price": "12.345"}, "fractions of a cent"),
        ({"price": "-1"}, "not an amount"),
        ({"price": "abc"}, "not an amount"),
        ({"stock": "-3"}, "whole number"),
        ({"sku": "has space"}, "Letters, digits"),
        ({"name": ""}, "Enter a name"),
    ],
)
def test_product_form_refuses_bad_values(app, admin, data, message):
    form = {"sku": "OK-1", "name": "Fine", "price": "1.00", "stock": "1", **data}
    response = admin.submit("/admin/products/new", "/admin/products/new", form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app, Product) == 0


def test_a_duplicate_sku_is_refused(app, products, admin):
    response = admin.submit(
        "/admin/products/new", "/admin/products/new", {"sku": "TEA", "name": "Copy", "price": "1", "stock": "1"}
    )
    assert response.status_code == 409
    assert "Another product has this SKU" in response.get_data(as_text=True)


def test_an_image_is_stored_under_a_generated_name_and_served(app, products, admin):
    url = f"/admin/products/{products['TEA']}"
    form = {
        "sku": "TEA",
        "name": "Assam Tea",
        "price": "12.50",
        "stock": "100",
        "image": (io.BytesIO(PNG), "../../etc/evil name.png"),
    }
    response = admin.submit(url, url, form, content_type="multipart/form-data")
    assert response.status_code == 303
    name = product(app, products["TEA"]).image
    assert re.fullmatch(r"[0-9a-f]{32}\.png", name)
    page = Browser(app.test_client()).get(f"/products/{products['TEA']}").get_data(as_text=True)
    assert f'src="/media/products/{name}" alt="Photo of Assam Tea"' in page
    image = Browser(app.test_client()).get(f"/media/products/{name}")
    assert image.status_code == 200
    assert image.get_data() == PNG
    assert Browser(app.test_client()).get("/media/products/..%2F..%2Fconfig.py").status_code == 404


@pytest.mark.parametrize(
    ("payload", "filename", "message"),
    [
        (b"<svg onload=alert(1)></svg>", "logo.svg", "not a PNG, JPEG, GIF or WebP"),
        (b"MZ\x90\x00 a program", "photo.png", "not a PNG, JPEG, GIF or WebP"),
        (b"", "empty.png", "empty"),
        (JPEG + b"\x00" * (2 * 1024 * 1024), "huge.jpg", "larger than 2 MB"),
    ],
)
def test_image_uploads_are_refused_by_content_and_size(app, products, admin, payload, filename, message):
    url = f"/admin/products/{products['TEA']}"
    form = {
        "sku": "TEA",
        "name": "Assam Tea",
        "price": "12.50",
        "stock": "100",
        "image": (io.BytesIO(payload), filename),
    }
    response = admin.submit(url, url, form, content_type="multipart/form-data")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert product(app, products["TEA"]).image is None


def test_csv_import_lists_errors_by_line_and_writes_nothing(app, admin):
    bad = "sku,name,description,price,stock,category\nA,Good,,1.00,1,Tea\nB,,,x,1,Tea\nC,Also bad,,1.00,-1,Tea\n"
    response = admin.submit(
        "/admin/products/import",
        "/admin/products/import",
        {"file": (io.BytesIO(bad.encode()), "p.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "line 3: name must be 1 to 200 characters; price" in html
    assert "line 4: stock must be a whole number" in html
    assert count(app, Product) == 0


def test_csv_export_then_import_round_trips(app, products, admin):
    exported = admin.get("/admin/products/export.csv")
    assert exported.headers["Content-Type"].startswith("text/csv")
    text = exported.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["sku"]: r["price"] for r in rows}["TEA"] == "12.50"
    changed = text.replace("12.50", "13.75")
    response = admin.submit(
        "/admin/products/import",
        "/admin/products/import",
        {"file": (io.BytesIO(changed.encode()), "p.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert product(app, products["TEA"]).price_cents == 1375


def test_csv_export_defuses_spreadsheet_formulas(app, admin):
    with app.app_context():
        db.session.add(Product(sku="F1", name='=HYPERLINK("http://evil")', price_cents=1, stock=1))
        db.session.commit()
    text = admin.get("/admin/products/export.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text


# ---------------------------------------------------------------- orders
def test_orders_list_filters_and_exports(app, products, admin, shopper, smtp):
    first = place_order(app, shopper, products["TEA"])
    other = signed_in_browser(app, "zed@example.com")
    place_order(app, other, products["MUG"])
    html = admin.get("/admin/orders").get_data(as_text=True)
    assert html.count("/admin/orders/") >= 2
    only_zed = admin.get("/admin/orders?customer=zed").get_data(as_text=True)
    assert "zed@example.com" in only_zed
    assert "ada@example.com" not in only_zed
    admin.submit(f"/admin/orders/{first}", f"/admin/orders/{first}/status", {"to_status": "paid"})
    paid = admin.get("/admin/orders?status=paid").get_data(as_text=True)
    assert "ada@example.com" in paid
    assert "zed@example.com" not in paid
    assert "No orders match" in admin.get("/admin/orders?date_from=2999-01-01").get_data(as_text=True)
    exported = admin.get("/admin/orders/export.csv?status=paid").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["customer"], r["status"], r["total"]) for r in rows] == [
        ("ada@example.com", "paid", "17.40")
    ]  # €4.90 shipping


def test_status_moves_along_allowed_transitions_and_is_recorded(app, products, admin, shopper, smtp):
    order_id = place_order(app, shopper, products["TEA"])
    url = f"/admin/orders/{order_id}"
    for to_status in ("paid", "shipped", "delivered"):
        response = admin.submit(url, f"{url}/status", {"to_status": to_status, "note": f"now {to_status}"})
        assert response.status_code == 303
    html = admin.get(url).get_data(as_text=True)
    assert "Awaiting payment → Paid by owner@example.com" in html
    assert "Shipped → Delivered by owner@example.com — “now delivered”" in html
    assert "is final" in html
    with app.app_context():
        assert db.session.get(Order, order_id).status == "delivered"
        assert count(app, OrderStatusChange) == 3


@pytest.mark.parametrize(("path", "refused"), [(["paid"], "placed"), (["paid", "shipped"], "cancelled")])
def test_disallowed_transitions_are_refused(app, products, admin, shopper, smtp, path, refused):
    order_id = place_order(app, shopper, products["TEA"])
    url = f"/admin/orders/{order_id}"
    for to_status in path:
        admin.submit(url, f"{url}/status", {"to_status": to_status})
    token = admin.csrf_token(url)
    response = admin.client.post(f"{url}/status", data={"to_status": refused, "csrf_token": token})
    assert response.status_code == 303
    assert "cannot become" in admin.get(url).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Order, order_id).status == path[-1]


def test_cancel_puts_the_stock_back_exactly_once_even_when_submitted_twice(app, products, admin, shopper, smtp):
    order_id = place_order(app, shopper, products["TEA"], 3)
    assert product(app, products["TEA"]).stock == 97
    url = f"/admin/orders/{order_id}"
    token = admin.csrf_token(url)
    data = {"to_status": "cancelled", "csrf_token": token}
    cookie = admin.client.get_cookie("session").value
    gate, statuses = threading.Barrier(2), []

    def cancel() -> None:
        client = app.test_client()
        client.set_cookie("session", cookie)
        gate.wait()
        statuses.append(client.post(f"{url}/status", data=data).status_code)

    threads = [threading.Thread(target=cancel) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [303, 303]
    admin.client.post(f"{url}/status", data=data)  # and a third time, later
    assert product(app, products["TEA"]).stock == 100
    assert count(app, OrderStatusChange) == 1


def test_marking_shipped_emails_the_customer_with_the_note(app, products, admin, shopper, smtp):
    order_id = place_order(app, shopper, products["TEA"])
    url = f"/admin/orders/{order_id}"
    admin.submit(url, f"{url}/status", {"to_status": "paid"})
    admin.submit(url, f"{url}/status", {"to_status": "shipped", "note": "Tracking: DHL 123456"})
    [mail] = smtp.wait_for(1, subject_contains="has shipped")
    assert mail.rcpt_tos == ["ada@example.com"]
    with app.app_context():
        number = db.session.get(Order, order_id).number
    assert number in mail.subject
    assert "Tracking: DHL 123456" in mail.text
    assert f"http://shop.test/orders/{order_id}" in mail.text


def test_the_owner_is_told_of_each_new_order(make_app, smtp):
    from tests.conftest import add_product

    app = make_app(SHOP_OWNER_EMAIL="owner@example.com")
    buyer = signed_in_browser(app, "buyer@example.com")
    buyer.add(add_product(app, "Gift Tea", 900), 2)
    order_id = order_id_from(buyer.checkout())
    [mail] = smtp.wait_for(1, to="owner@example.com")
    with app.app_context():
        number = db.session.get(Order, order_id).number
    assert f"New order {number}: €22.90" == mail.subject  # 2 × €9.00 and €4.90 shipping
    assert "buyer@example.com" in mail.text
    assert f"http://shop.test/admin/orders/{order_id}" in mail.text
    smtp.wait_for(1, to="buyer@example.com")


def test_no_owner_email_when_it_is_not_set(app, products, shopper, smtp):
    place_order(app, shopper, products["TEA"])
    smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert count(app, OutboxEmail, OutboxEmail.kind != "confirm_email") == 1


# ---------------------------------------------------------------- emails
def test_emails_table_preview_and_resend(app, products, admin, shopper, smtp):
    smtp.wait_for(2, subject_contains="Confirm your address")  # the registrations' emails, sent first
    smtp.behave("permfail")
    order_id = place_order(app, shopper, products["TEA"])
    from tests.conftest import wait_until

    wait_until(lambda: count(app, OutboxEmail, OutboxEmail.status == EmailStatus.FAILED) == 1, what="failed")
    with app.app_context():
        email = db.session.execute(sa.select(OutboxEmail).where(OutboxEmail.status == EmailStatus.FAILED)).scalar_one()
    table = admin.get("/admin/emails?status=failed").get_data(as_text=True)
    assert email.subject in table
    assert "550" in table
    assert "No emails match" in admin.get("/admin/emails?status=sent&kind=order_confirmation").get_data(as_text=True)
    detail = admin.get(f"/admin/emails/{email.id}").get_data(as_text=True)
    assert "Send it again" in detail
    assert f'src="/admin/emails/{email.id}/html"' in detail
    assert "Order number:" in detail  # the text part
    preview = admin.get(f"/admin/emails/{email.id}/html")
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    assert "Thank you for your order" in preview.get_data(as_text=True)

    smtp.behave("accept")
    response = admin.submit(f"/admin/emails/{email.id}", f"/admin/emails/{email.id}/resend")
    assert response.status_code == 303
    smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    wait_until(lambda: count(app, OutboxEmail, OutboxEmail.status == EmailStatus.SENT) == 3, what="sent")
    token = admin.csrf_token(f"/admin/emails/{email.id}")
    again = admin.client.post(f"/admin/emails/{email.id}/resend", data={"csrf_token": token})
    assert again.status_code == 303
    assert "Only a failed email can be resent; this one is sent." in admin.get(again.headers["Location"]).get_data(
        as_text=True
    )
    assert str(order_id) in admin.get(f"/admin/orders/{order_id}").get_data(as_text=True)
