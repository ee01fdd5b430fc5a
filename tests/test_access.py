"""Who may call each route, for each kind of visitor: a guest, a customer, a staff member
and the owner. Every route of the app must have a rule here: a new route without one
fails this suite, so nobody adds a page and forgets who may see it."""

from __future__ import annotations

import pytest
from flask import Flask

from shop.admin.access import staff_may_open
from shop.extensions import db
from shop.models import Address, Role, User
from shop.orders.service import change_order_status
from tests.conftest import Browser, order_id_from, signed_in_browser

# public: anyone; customer: signed in; owner: signed in, and only your own (others: 404);
# admin: the shop's owner only (guests are sent to sign in, customers and staff get 403);
# staff: the owner and staff members (the view is marked @staff_allowed; customers get 403);
# signed: anyone holding a link the shop signed (a forged one: 404); signed-customer:
# signed in, with such a link. An admin page nobody marked is the owner's: "admin".
RULES = {
    "static": "public",
    "catalog.index": "public",
    "catalog.product": "public",
    "cart.show": "public",
    "cart.add": "public",
    "cart.update": "public",
    "cart.remove": "public",
    "auth.register": "public",
    "auth.login": "public",
    "auth.logout": "public",
    "auth.reset_request": "public",
    "auth.reset_password": "public",
    "auth.confirm_email": "public",  # a forged link gets 400 with a message, as a reset link does
    "health.healthz": "public",
    # Stripe calls it: no session, no CSRF token; only a body signed with STRIPE_WEBHOOK_SECRET
    # changes anything (test_card_payments: a forged one gets 400).
    "webhooks.stripe_webhook": "public",
    # Guest checkout is on by default (SHOP_GUEST_CHECKOUT); test_checkout covers it off.
    "checkout.show": "public",
    "checkout.submit": "public",
    "checkout.apply_voucher": "public",
    "checkout.remove_voucher": "public",
    "orders.guest_detail": "signed",
    "auth.claim_orders": "signed-customer",
    "orders.index": "customer",
    "orders.detail": "owner",
    "orders.document": "owner",
    "orders.document_download": "owner",
    "orders.guest_document": "signed",
    "orders.guest_document_download": "signed",
    "catalog.product_image": "public",
    "catalog.sitemap": "public",
    "catalog.robots": "public",
    "account.index": "customer",
    "account.change_email": "customer",
    "account.change_password": "customer",
    "account.delete": "customer",
    "account.address_new": "customer",
    "account.address_edit": "owner",
    "account.address_default": "owner",
    "account.address_delete": "owner",
    # The links emailed to a new address (it may be opened in a browser signed in to no
    # account) and to the account's address (opened signed in): a forged one gets 400.
    "account.confirm_email_change": "public",
    "account.confirm_deletion": "signed-customer",
    "admin.dashboard": "admin",
    "admin.products": "admin",
    "admin.product_new": "admin",
    "admin.product_edit": "admin",
    "admin.product_active": "admin",
    "admin.product_photos": "admin",
    "admin.product_photo": "admin",
    "admin.product_photo_delete": "admin",
    "admin.variant_new": "admin",
    "admin.variant_edit": "admin",
    "admin.variant_move": "admin",
    "admin.products_import": "admin",
    "admin.products_export": "admin",
    "admin.orders": "staff",
    "admin.orders_export": "staff",
    "admin.order_detail": "staff",
    "admin.order_status": "staff",
    "admin.order_document": "staff",
    "admin.order_return": "staff",
    "admin.vouchers": "admin",
    "admin.voucher_active": "admin",
    "admin.shipping_zones": "admin",
    "admin.shipping_zone_edit": "admin",
    "admin.shipping_zone_delete": "admin",
    "admin.emails": "staff",
    "admin.email_detail": "staff",
    "admin.email_html": "staff",
    "admin.email_resend": "staff",
    "admin.customers": "admin",
    "admin.customer_export": "admin",
    "admin.customer_erase": "admin",
    "admin.staff": "admin",
    "admin.staff_remove": "admin",
    "admin.audit": "admin",
    "admin.tax_rates": "admin",
    "admin.tax_rate_edit": "admin",
    "admin.tax_rate_delete": "admin",
    "admin.product_tax_rate": "admin",
    "admin.tax_report_page": "admin",
    "admin.tax_report_export": "admin",
}


def test_every_route_has_an_access_rule(app: Flask):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - RULES.keys() == set(), "new routes need a rule in RULES"
    assert RULES.keys() - endpoints == set(), "RULES names routes that no longer exist"


def test_the_table_and_the_views_marked_for_staff_agree(app: Flask):
    """ "staff" in RULES exactly where the view is marked @staff_allowed (shop/admin/access.py)."""
    with app.test_request_context():
        marked = {endpoint for endpoint in RULES if staff_may_open(endpoint)}
    assert marked == {endpoint for endpoint, rule in RULES.items() if rule == "staff"}


@pytest.fixture
def people(app: Flask, products):
    """A guest, a customer with an order, another customer, a staff member and the owner."""
    customer = signed_in_browser(app, "customer@example.com")
    customer.add(products["TEA"], 1)
    order_id = order_id_from(customer.checkout())
    fields = {"full_name": "C", "address": "1 St", "city": "X", "postal_code": "1", "country": "GB"}
    customer.submit("/account/addresses/new", "/account/addresses/new", fields)
    admin = signed_in_browser(app, "admin@example.com")
    staff = signed_in_browser(app, "staff@example.com")
    with app.app_context():
        change_order_status(order_id, "paid", None)  # its invoice: document 1
        address_id = db.session.execute(db.select(Address.id)).scalar_one()
        db.session.execute(db.update(User).where(User.email == "admin@example.com").values(role=Role.OWNER))
        db.session.execute(db.update(User).where(User.email == "staff@example.com").values(role=Role.STAFF))
        db.session.commit()
    return {
        "guest": Browser(app.test_client()),
        "customer": customer,
        "other": signed_in_browser(app, "other@example.com"),
        "staff": staff,
        "admin": admin,
        "order_id": order_id,
        "address_id": address_id,
    }


def get_urls(app: Flask, people, products) -> dict[str, str]:
    """A URL to GET for each rule that answers GET."""
    values = {
        "product_id": products["TEA"],
        "slug": "assam-tea",
        "order_id": people["order_id"],
        "address_id": people["address_id"],
        "document_id": 1,
        "filename": "shop.css",
        "token": "x",
        "email_id": 1,
        "zone_id": 1,  # "Everywhere", which migration 0010 makes
        "name": "0" * 32 + ".png",
    }
    urls = {}
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods:
            urls[rule.endpoint] = rule.build({k: v for k, v in values.items() if k in rule.arguments})[1]
    return urls


def test_each_page_answers_each_kind_of_visitor_as_its_rule_says(app, people, products):
    for endpoint, url in get_urls(app, people, products).items():
        rule = RULES[endpoint]
        guest = people["guest"].get(url)
        customer = people["customer"].get(url)
        other = people["other"].get(url)
        staff = people["staff"].get(url)
        admin = people["admin"].get(url)
        if rule == "public" and endpoint != "catalog.product_image":  # no image by that name: 404 for all
            assert guest.status_code not in (403, 404), (url, guest.status_code)
            assert "/auth/login" not in guest.headers.get("Location", ""), url  # /checkout, empty cart: to /cart
        elif rule in ("customer", "owner", "admin", "staff", "signed-customer"):
            assert guest.status_code == 302, url
            assert guest.headers["Location"].startswith("/auth/login?next="), url
        if rule == "customer":
            assert customer.status_code in (200, 302), url  # /checkout with an empty cart goes to /cart
            assert "/auth/login" not in customer.headers.get("Location", ""), url
        if rule == "signed":  # the token "x" is no signed link
            assert {guest.status_code, customer.status_code, admin.status_code} == {404}, url
        if rule == "signed-customer":
            assert customer.status_code == 400, url
        if rule == "owner":
            assert customer.status_code == 200, url
            assert other.status_code == 404, url
        if rule == "admin":
            assert customer.status_code == 403, url
            assert staff.status_code == 403, url
            assert admin.status_code == 200, url
        if rule == "staff":
            assert customer.status_code == 403, url
            assert staff.status_code == 200, url
            assert admin.status_code == 200, url


def test_posts_to_protected_routes_are_refused_to_guests_customers_and_staff_as_their_rule_says(app, people, products):
    token = people["guest"].csrf_token()
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or RULES[rule.endpoint] == "public":
            continue
        ids = {"product_id": products["TEA"], "order_id": people["order_id"], "email_id": 1, "voucher_id": 1}
        ids |= {
            "address_id": people["address_id"],
            "image_id": 1,
            "slug": "x",
            "variant_id": 1,
            "zone_id": 1,
            "rate_id": 1,
        }
        url = rule.build({**ids, "token": "x"})[1]
        response = people["guest"].client.post(url, data={"csrf_token": token})
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/auth/login"), url
        if RULES[rule.endpoint] in ("admin", "staff"):
            customer_token = people["customer"].csrf_token("/orders")
            assert people["customer"].client.post(url, data={"csrf_token": customer_token}).status_code == 403, url
            staff_token = people["staff"].csrf_token("/admin/orders")
            answer = people["staff"].client.post(url, data={"csrf_token": staff_token}).status_code
            if RULES[rule.endpoint] == "admin":
                assert answer == 403, url  # staff refused on every owner-only POST
            else:
                assert answer != 403, url
