"""Property tests: arbitrary form data posted to the cart and to checkout never breaks the shop.

Whatever is sent: the answer is never a 500, stock never goes negative, every order's goods
are the sum of its lines and its total is goods - discount + shipping (+ tax when prices
exclude it), and a checkout that fails leaves the database as it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop.extensions import db
from shop.models import Order, OrderLine, OutboxEmail, Product
from tests.conftest import ADDRESS, Browser, signed_in_browser

EXAMPLES = 150
_shoppers: dict[int, Browser] = {}


def shopper_for(app: Flask) -> Browser:
    """One signed-in shopper per app (the examples share the test's app), with an empty cart
    and the catalogue's stock as at the start."""
    if id(app) not in _shoppers:
        _shoppers.clear()
        _shoppers[id(app)] = signed_in_browser(app, "prop@example.com")
    browser = _shoppers[id(app)]
    with app.app_context():  # each example starts with the same shelves: one teapot, plenty of the rest
        stock = sa.case((Product.sku == "POT", 1), else_=100_000)
        db.session.execute(sa.update(Product).where(Product.sku.in_(["TEA", "MUG", "POT"])).values(stock=stock))
        db.session.commit()
    with browser.client.session_transaction() as session:
        session.pop("cart", None)
    return browser


settings.register_profile(
    "shop",
    max_examples=EXAMPLES,
    deadline=None,  # a request to SQLite takes what it takes on a shared machine
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

quantities = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.integers(0, 120).map(str),
    st.text(max_size=12),
    st.floats(allow_nan=True).map(str),
    st.just(""),
)
field_text = st.one_of(st.text(max_size=300), st.sampled_from(list(ADDRESS.values())), st.just(""))


def snapshot(app: Flask) -> tuple:
    """Everything a checkout may change."""
    with app.app_context():
        stock = tuple(db.session.execute(sa.select(Product.id, Product.stock).order_by(Product.id)).all())
        counts = tuple(
            db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
            for model in (Order, OrderLine, OutboxEmail)
        )
        return stock, counts


def check_invariants(app: Flask) -> None:
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.min(Product.stock))).scalar_one() >= 0
        line_sums = dict(
            db.session.execute(
                sa.select(OrderLine.order_id, sa.func.sum(OrderLine.unit_price_cents * OrderLine.quantity)).group_by(
                    OrderLine.order_id
                )
            ).all()
        )
        for order in db.session.execute(sa.select(Order)).scalars():
            assert line_sums.get(order.id) == order.subtotal_cents, (order.id, order.subtotal_cents)
            tax_on_top = 0 if order.prices_include_tax else order.tax_cents
            expected = order.subtotal_cents - order.discount_cents + order.shipping_cents + tax_on_top
            assert order.total_cents == expected >= 0
            assert 0 <= order.discount_cents <= order.subtotal_cents


@settings(settings.get_profile("shop"))
@given(data=st.data())
def test_arbitrary_cart_posts_never_break_the_shop(app, products, smtp, data):
    browser = Browser(app.test_client())
    token = browser.csrf_token(f"/products/{products['TEA']}")
    product_id = data.draw(st.one_of(st.sampled_from(list(products.values())), st.integers(0, 10**6)), "product")
    action = data.draw(st.sampled_from(["add", "update", "remove"]), "action")
    form = {"csrf_token": token}
    if data.draw(st.booleans(), "has quantity"):
        form["quantity"] = data.draw(quantities, "quantity")
    extra = data.draw(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=3), "extra")
    response = browser.client.post(f"/cart/{action}/{product_id}", data={**extra, **form})
    assert response.status_code < 500
    assert response.status_code in (303, 400, 404, 409, 422)
    assert browser.get("/cart").status_code == 200
    check_invariants(app)


@settings(settings.get_profile("shop"))
@given(data=st.data())
def test_arbitrary_checkouts_never_break_the_shop_and_failures_write_nothing(app, products, smtp, data):
    browser = shopper_for(app)
    for sku in data.draw(st.lists(st.sampled_from(["TEA", "MUG", "POT"]), max_size=3, unique=True), "cart"):
        browser.add(products[sku], data.draw(st.integers(1, 3), f"qty {sku}"))
    page = browser.get("/checkout")
    fields = (
        Browser.form(page, "/checkout")["fields"]
        if page.status_code == 200
        else {"csrf_token": browser.csrf_token("/orders")}
    )
    form = {**fields}
    for name in ADDRESS:
        if data.draw(st.booleans(), f"has {name}"):
            form[name] = data.draw(field_text, name)
    for name, values in (
        ("shipping_method", ["standard", "pickup", "", "teleport"]),
        ("payment_method", ["bank_transfer", "cash_on_delivery", "pay_at_pickup", "", "iou"]),
    ):
        if data.draw(st.booleans(), f"has {name}"):
            form[name] = data.draw(st.sampled_from(values), name)
    if data.draw(st.booleans(), "mangle token"):
        form["checkout_token"] = data.draw(st.text(max_size=70), "token")
    before = snapshot(app)
    response = browser.client.post("/checkout", data=form)
    assert response.status_code in (303, 400, 409, 422), response.status_code
    if response.status_code != 303:
        assert snapshot(app) == before  # a failed checkout wrote nothing at all
    check_invariants(app)
