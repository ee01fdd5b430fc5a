"""The attack suite: what a hostile visitor tries, and what the shop answers."""

from __future__ import annotations

import io
import os
import re
import sqlite3
import stat
import threading
import time

import pytest
import sqlalchemy as sa
from flask import Flask

from shop import create_app
from shop.extensions import db
from shop.models import Order, OrderLine, OutboxEmail, Product, User
from shop.orders.service import change_order_status
from tests import pictures
from tests.conftest import ADDRESS, PASSWORD, Browser, count, order_id_from, signed_in_admin, signed_in_browser

XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "javascript:alert(1)//<a>",
]


# ---------------------------------------------------------------- CSRF
def post_routes(app: Flask, products) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods:
            urls.append(
                rule.build(
                    {"product_id": products["TEA"], "token": "x", "order_id": 1, "email_id": 1, "voucher_id": 1}
                    | {
                        "address_id": 1,
                        "image_id": 1,
                        "slug": "x",
                        "variant_id": 1,
                        "rate_id": 1,
                        "document_id": 1,
                        "zone_id": 1,
                    }
                )[1]
            )
    return urls


@pytest.mark.parametrize(
    "token", [None, "", "forged", "IjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAi.aaaa.bbbb"]
)
def test_every_post_without_a_valid_csrf_token_is_400_and_changes_nothing(app, products, shopper, token):
    data = {"quantity": "1", "email": "new@example.com", "password": PASSWORD, "confirm": PASSWORD, **ADDRESS}
    if token is not None:
        data["csrf_token"] = token
    for url in post_routes(app, products):
        response = shopper.client.post(url, data=data)
        assert response.status_code == 400, url
    assert "Your cart is empty" in shopper.get("/cart").get_data(as_text=True)
    assert shopper.get("/orders").status_code == 200  # still signed in: logout was refused too
    assert count(app, Order) == 0
    assert count(app, User) == 1


def test_a_csrf_token_from_another_session_is_refused(app, products, shopper):
    stranger_token = Browser(app.test_client()).csrf_token()
    response = shopper.client.post(f"/cart/add/{products['TEA']}", data={"quantity": 1, "csrf_token": stranger_token})
    assert response.status_code == 400


# ---------------------------------------------------------------- who sees what
def test_idor_another_customers_order_is_404_whatever_the_id(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout())
    mallory = signed_in_browser(app, "mallory@example.com")
    for url in (f"/orders/{order_id}", f"/orders/{order_id}/", "/orders/0", "/orders/-1", f"/orders/{order_id}9"):
        assert mallory.get(url).status_code == 404, url


# ---------------------------------------------------------------- XSS
@pytest.mark.parametrize("payload", XSS)
def test_script_in_a_product_name_is_shown_as_text_everywhere(app, smtp, payload):
    with app.app_context():
        product = Product(sku="XSS", name=payload, description=payload, price_cents=100, stock=5)
        db.session.add(product)
        db.session.commit()
        product_id = product.id
    browser = signed_in_browser(app, "victim@example.com")
    browser.add(product_id, 1)
    pages = ["/", f"/products/{product_id}", "/cart", "/checkout", f"/?q={payload}"]
    order_id = order_id_from(browser.checkout())
    pages += [f"/orders/{order_id}", "/orders"]
    for url in pages:
        html = browser.get(url).get_data(as_text=True)
        assert payload not in html, url
    [mail] = smtp.wait_for(1, to="victim@example.com", subject_contains="Your Swiftcart order")
    assert payload not in mail.html
    assert payload in mail.text  # plain text shows the name as it is: no markup there


@pytest.mark.parametrize("payload", XSS)
def test_script_in_an_address_is_shown_as_text(app, products, shopper, smtp, payload):
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout(full_name=payload[:120], address=payload, city=payload[:100]))
    assert payload not in shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert payload not in mail.html


def test_a_name_with_crlf_cannot_add_an_email_header(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    order_id_from(shopper.checkout(full_name="Ada\r\nBcc: all@example.com\r\nSubject: free money"))
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert mail.message.get("Bcc") is None
    assert mail.rcpt_tos == ["ada@example.com"]
    assert "free money" not in mail.subject


def test_an_email_address_with_crlf_is_refused_at_registration(app):
    response = Browser(app.test_client()).register("ada@example.com\r\nBcc: all@example.com")
    assert response.status_code == 422
    assert count(app, User) == 0


# ---------------------------------------------------------------- bodies
def test_oversized_and_malformed_bodies_get_4xx_not_500(app, products, shopper):
    token = shopper.csrf_token(f"/products/{products['TEA']}")
    url = f"/cart/add/{products['TEA']}"
    huge = shopper.client.post(url, data={"quantity": "1", "csrf_token": token, "pad": "x" * 12_000_000})
    assert huge.status_code == 413
    broken = shopper.client.post(
        url, data=b"--xx\r\nContent-Disposition: form-data; name=quantity\r\n\r\n1", content_type="multipart/form-data"
    )
    assert broken.status_code == 400
    as_json = shopper.client.post(url, json={"quantity": 1, "csrf_token": token})
    assert as_json.status_code == 400
    many = shopper.client.post(url, data={"quantity": ["1", "2", "3"], "csrf_token": token})
    assert many.status_code in (303, 422)
    nul = shopper.client.post(url, data={"quantity": "1\x00", "csrf_token": token})
    assert nul.status_code == 422


@pytest.mark.parametrize(
    "quantity", ["-5", "0", "1e9", "99999999999999999999", "NaN", "½", "٣", "1; DROP TABLE product"]
)
def test_hostile_quantities_get_a_message(app, products, shopper, quantity):
    response = shopper.add(products["TEA"], quantity)
    assert response.status_code in (409, 422)
    assert 'class="error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Product, products["TEA"]).stock == 100


# ---------------------------------------------------------------- headers and cookies
def test_every_page_sends_the_security_headers(browser, products):
    for url in ("/", f"/products/{products['TEA']}", "/cart", "/auth/login", "/nope", "/healthz"):
        headers = browser.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script_or_style(browser, products, shopper):
    """The one <script> a page may have is the product page's JSON-LD, a data block no
    browser runs (and its policy allows that text alone, by its hash: tests/test_seo.py)."""
    for url in ("/", f"/products/{products['TEA']}", "/cart", "/auth/login", "/auth/register", "/orders"):
        html = shopper.get(url, follow_redirects=True).get_data(as_text=True)
        scripts = re.findall(r"<script[^>]*>", html)
        assert set(scripts) <= {'<script type="application/ld+json">'}, (url, scripts)
        assert " style=" not in html
        assert "<style" not in html


def test_session_cookie_is_httponly_and_samesite_lax(browser, products):
    response = browser.add(products["TEA"], 1)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development over http; production sets Secure


def test_production_cookies_are_secure(make_app, products):
    app = make_app(
        SHOP_ENV="production",
        SECRET_KEY="7de3057a7b142e624e6d43c419b5db63406a3a7a1d945885f5c9b07a37ced81a",
        SHOP_BASE_URL="https://shop.example.com",
        SESSION_COOKIE_SECURE=True,
    )
    response = app.test_client().get("/auth/login")
    assert "Secure" in response.headers["Set-Cookie"]
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]


def test_signing_in_starts_a_fresh_session_keeping_only_the_cart(app, products):
    Browser(app.test_client()).register("ada@example.com")
    browser = Browser(app.test_client())
    browser.add(products["TEA"], 1)
    with browser.client.session_transaction() as session:
        session["planted"] = "by an attacker"
    browser.login("ada@example.com")
    with browser.client.session_transaction() as session:
        assert "planted" not in session
        assert session["cart"] == {str(products["TEA"]): 1}
        assert session["_user_id"]


# ---------------------------------------------------------------- limits (login: tests/test_login_limits.py)
def guest_order(app, products, address: str):
    guest = Browser(app.test_client())
    guest.client.environ_base["REMOTE_ADDR"] = address
    guest.add(products["TEA"], 1)
    return guest.checkout(email="guest@example.com")


def test_guest_checkouts_are_limited_per_client_address(make_app, products, smtp):
    app = make_app(SHOP_GUEST_ORDER_LIMIT="3 per hour")  # on the database `products` filled
    statuses = [guest_order(app, products, "203.0.113.5").status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]
    refused = guest_order(app, products, "203.0.113.5")
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    assert count(app, Order) == 3  # the refused attempts wrote nothing
    assert guest_order(app, products, "198.51.100.7").status_code == 303  # another address
    shopper = signed_in_browser(app, "ada@example.com")  # signed-in shoppers are not counted
    shopper.client.environ_base["REMOTE_ADDR"] = "203.0.113.5"
    shopper.add(products["TEA"], 1)
    assert order_id_from(shopper.checkout())


def test_the_admins_email_preview_hides_live_account_links(app, products, smtp):
    admin = signed_in_admin(app)
    guest = Browser(app.test_client())
    guest.add(products["TEA"], 1)
    guest.checkout(email="ada@example.com")
    signed_in_browser(app, "ada@example.com")  # a confirmation link, and a claim link for the guest order
    Browser(app.test_client()).submit("/auth/reset", "/auth/reset", {"email": "ada@example.com"})
    mails = {
        kind: smtp.wait_for(1, to="ada@example.com", subject_contains=subject)[0]
        for kind, subject in (("confirm", "Confirm your"), ("claim", "guest orders"), ("reset", "Reset your"))
    }
    with app.app_context():
        emails = {e.kind: e.id for e in db.session.execute(sa.select(OutboxEmail)).scalars()}
    for kind, path in (
        ("confirm_email", "/auth/confirm/"),
        ("claim_orders", "/auth/claim-orders/"),
        ("password_reset", "/auth/reset/"),
    ):
        sent = mails[{"confirm_email": "confirm", "claim_orders": "claim", "password_reset": "reset"}[kind]]
        token = re.search(re.escape(path) + r"([\w.-]+)", sent.text).group(1)  # the email itself is unchanged
        assert re.search(re.escape(path) + re.escape(token), sent.html)
        detail = admin.get(f"/admin/emails/{emails[kind]}").get_data(as_text=True)
        preview = admin.get(f"/admin/emails/{emails[kind]}/html").get_data(as_text=True)
        for page in (detail, preview):
            assert token not in page, kind
            assert path + "[link hidden]" in page, kind
    reset_page = path + token  # the live reset link still works for whoever got the email
    assert Browser(app.test_client()).get(reset_page).status_code == 200


# ---------------------------------------------------------------- password reset
def reset_link(smtp, email: str) -> str:
    [mail] = smtp.wait_for(1, to=email, subject_contains="Reset your")
    return next(word for word in mail.text.split() if "/auth/reset/" in word).replace("http://shop.test", "")


def test_password_reset_by_email_works_once(app, smtp):
    Browser(app.test_client()).register("ada@example.com")
    browser = Browser(app.test_client())
    known = browser.submit("/auth/reset", "/auth/reset", {"email": "ada@example.com"})
    unknown = browser.submit("/auth/reset", "/auth/reset", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    link = reset_link(smtp, "ada@example.com")
    assert smtp.received(to="nobody@example.com") == []
    new = "a-brand-new-password"
    response = browser.submit(link, link, {"password": new, "confirm": new})
    assert response.status_code == 303
    assert browser.get("/orders").status_code == 200  # signed in
    assert browser.get(link).status_code == 400  # used: the link is dead
    assert Browser(app.test_client()).login("ada@example.com", new).status_code == 303
    assert Browser(app.test_client()).login("ada@example.com", PASSWORD).status_code == 422


def test_a_tampered_or_expired_reset_link_is_refused(app, smtp, monkeypatch):
    Browser(app.test_client()).register("ada@example.com")
    browser = Browser(app.test_client())
    browser.submit("/auth/reset", "/auth/reset", {"email": "ada@example.com"})
    link = reset_link(smtp, "ada@example.com")
    assert browser.get(link[:-3] + "abc").status_code == 400
    assert browser.get("/auth/reset/not-a-token").status_code == 400
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 2 * 3600)  # two hours later
    response = browser.get(link)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


# ---------------------------------------------------------------- concurrency
def test_20_buyers_racing_for_the_last_5_units_make_exactly_5_orders(app, smtp):
    with app.app_context():
        product = Product(sku="LAST", name="Last Teapots", price_cents=3100, stock=5)
        db.session.add(product)
        db.session.commit()
        product_id = product.id
    buyers = []
    for i in range(20):
        browser = signed_in_browser(app, f"buyer{i}@example.com")
        assert browser.add(product_id, 1).status_code == 303
        form = Browser.form(browser.get("/checkout"), "/checkout")
        buyers.append((browser, {**form["fields"], **ADDRESS}))
    gate, statuses = threading.Barrier(len(buyers)), []

    def buy(browser: Browser, data: dict) -> None:
        gate.wait()
        statuses.append(browser.client.post("/checkout", data=data).status_code)

    threads = [threading.Thread(target=buy, args=b) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [303] * 5 + [409] * 15
    with app.app_context():
        assert db.session.get(Product, product_id).stock == 0
        assert db.session.execute(sa.select(sa.func.sum(OrderLine.quantity))).scalar_one() == 5
    assert count(app, Order) == 5
    # The losers wrote nothing, not even an email (each buyer's other email confirms the address).
    assert count(app, OutboxEmail, OutboxEmail.kind == "order_confirmation") == 5
    smtp.wait_for(5, subject_contains="Your Swiftcart order")

    # the losers wrote nothing, not even an email (each buyer's account has its own address confirmation)
    assert count(app, OutboxEmail, OutboxEmail.kind == "order_confirmation") == 5
    smtp.wait_for(5)


# ---------------------------------------------------------------- caches
def test_pages_with_personal_data_are_never_kept_by_a_cache(app, products, smtp):
    """Cache-Control: no-store on every page of a signed-in visitor (the route table,
    iterated), and for anyone on the cart, checkout, a guest's order link, account pages
    and errors; only the catalogue and files may be kept."""
    customer = signed_in_browser(app, "customer@example.com")
    customer.add(products["TEA"], 1)
    order_id = order_id_from(customer.checkout())
    guest = Browser(app.test_client())
    guest.add(products["MUG"], 1)
    guest_link = guest.checkout(email="guest@example.com").headers["Location"]
    admin = signed_in_admin(app)
    values = {
        "product_id": products["TEA"],
        "order_id": order_id,
        "email_id": 1,
        "token": guest_link.rsplit("/", 1)[1],
        "filename": "shop.css",
        "name": "0" * 32 + ".png",
        "address_id": 1,
        "slug": "assam-tea",
        "document_id": 1,  # the customer's invoice (a PDF with their address: never cached)
        "zone_id": 1,
        "rate_id": 1,
        "variant_id": 1,
    }
    with app.app_context():
        change_order_status(order_id, "paid", None)
    files = {"static", "catalog.product_image"}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        url = rule.build({k: v for k, v in values.items() if k in rule.arguments})[1]
        for browser in (customer, admin):
            cache_control = browser.get(url).headers.get("Cache-Control", "")
            assert ("no-store" in cache_control) is (rule.endpoint not in files), (url, cache_control)
    for url in ("/admin/products/export.csv", "/admin/orders/export.csv"):
        assert admin.get(url).headers["Cache-Control"] == "no-store"
    anonymous = Browser(app.test_client())
    for url in ("/", "/?q=tea", f"/products/{products['TEA']}", "/static/shop.css"):
        assert "no-store" not in anonymous.get(url).headers.get("Cache-Control", ""), url
    guest.add(products["MUG"], 1)
    for url in ("/cart", "/checkout", guest_link, "/auth/login", "/auth/reset", "/orders", "/no/such/page"):
        assert guest.get(url).headers["Cache-Control"] == "no-store", url


# ---------------------------------------------------------------- behind a proxy
@pytest.mark.parametrize(("trusted", "host"), [(False, "localhost"), (True, "evil.example")])
def test_x_forwarded_host_names_the_site_only_when_configured(make_app, smtp, trusted, host):
    """Without SHOP_BASE_URL links take the request's host: a client's X-Forwarded-Host must
    not put its own host in a password-reset link (SHOP_PROXY_TRUST_HOST, default off)."""
    app = make_app(SHOP_PROXY_COUNT=1, SHOP_PROXY_TRUST_HOST=trusted, SHOP_BASE_URL="")
    Browser(app.test_client()).register("ada@example.com")
    browser = Browser(app.test_client())
    headers = {"X-Forwarded-Host": "evil.example"}
    browser.submit("/auth/reset", "/auth/reset", {"email": "ada@example.com"}, headers=headers)
    [mail] = smtp.wait_for(1, to="ada@example.com", text_contains="/auth/reset/")
    assert f"http://{host}/auth/reset/" in mail.text


# ---------------------------------------------------------------- files
@pytest.fixture
def umask_022():
    """The usual umask, under which files are made readable by every user."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_folder_are_readable_by_the_shop_only(tmp_path, umask_022):
    instance = tmp_path / "new" / "instance"
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x" * 32, "SHOP_INSTANCE_PATH": str(instance), "SQLALCHEMY_DATABASE_URI": None}
    )
    try:
        with app.app_context():
            db.session.execute(sa.text("CREATE TABLE note (text VARCHAR)"))
            db.session.execute(sa.text("INSERT INTO note VALUES ('customers live here')"))
            db.session.commit()
            database = instance / "shop.db"
            assert (mode(tmp_path / "new"), mode(instance), mode(database)) == (0o700, 0o700, 0o600)
            for name in ("shop.db-wal", "shop.db-shm"):
                assert mode(instance / name) & 0o077 == 0, name
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_database_others_could_read_is_made_private(tmp_path, umask_022):
    database = tmp_path / "old.db"
    sqlite3.connect(database).close()
    database.chmod(0o644)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x" * 32,
            "SHOP_INSTANCE_PATH": str(tmp_path / "i"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        }
    )
    assert mode(database) == 0o640  # the owner's and group's permissions stay
    with app.app_context():
        db.engine.dispose()


def test_uploads_backups_and_exports_are_readable_by_the_shop_only(
    app, products, admin, tmp_path, databases, umask_022
):
    url = f"/admin/products/{products['TEA']}"
    photo = (io.BytesIO(pictures.png()), "a.png")
    form = {"sku": "TEA", "name": "Assam Tea", "price": "12.50", "stock": "100", "image": photo}
    assert admin.submit(url, url, form, content_type="multipart/form-data").status_code == 303
    uploads = tmp_path / "instance" / "uploads"
    files = list((uploads / "products").iterdir())
    assert len(files) == 2  # WebP and JPEG
    assert (mode(uploads), mode(uploads / "products"), *map(mode, files)) == (0o700, 0o700, 0o600, 0o600)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["shop", "export", str(tmp_path / "shop.json")]).exit_code == 0
    assert mode(tmp_path / "shop.json") == 0o600
    if databases.kind == "sqlite":
        assert runner.invoke(args=["shop", "backup", str(tmp_path / "backups" / "copy.db")]).exit_code == 0
        assert (mode(tmp_path / "backups"), mode(tmp_path / "backups" / "copy.db")) == (0o700, 0o600)
