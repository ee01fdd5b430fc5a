"""Property tests: arbitrary form data posted to the cart and to checkout never breaks the shop.

Whatever is sent: the answer is never a 500, stock never goes negative, every order's goods
are the sum of its lines and its total is goods - discount + shipping (+ tax when prices
exclude it), and a checkout that fails leaves the database as it was. Whatever changes
between the checkout page and Place order, the order costs what the page said or is not placed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop.extensions import db
from shop.models import Order, OrderLine, OutboxEmail, Product
from shop.shipping import SHIPPING_OPTIONS
from tests.conftest import ADDRESS, Browser, change_settings, restore_settings, signed_in_browser

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


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The app, sending its emails inside the request (SHOP_MAIL_DISPATCH=sync), not in mail
    threads: a thread making a Message-ID (email.utils.make_msgid uses the random module)
    while hypothesis draws the next example is taken for a strategy that uses `random`
    (HypothesisDeprecationWarning, an error here) and the test fails as flaky."""
    return make_app(SHOP_MAIL_DISPATCH="sync")


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


PRICES = {"TEA": 1250, "MUG": 825, "POT": 3100}  # as the products fixture makes them
SHOWN_TOTALS = re.compile(r"(?:Total |; )€(\d+)\.(\d\d) with ([^;.<]+)")  # the hint under the form


@settings(settings.get_profile("shop"))
@given(data=st.data())
def test_a_price_changed_between_page_and_order_is_told_never_charged(app, products, smtp, data):
    """Whatever changes between the checkout page and Place order (prices of any product,
    the shipping rate, the free-shipping threshold), the order is placed at exactly the
    total the page showed for the shipping chosen, or the answer is 409 and nothing is
    written. A changed price of a line always stops it; nothing changed never does."""
    browser = shopper_for(app)
    with app.app_context():
        price = sa.case({sku: cents for sku, cents in PRICES.items()}, value=Product.sku)
        db.session.execute(sa.update(Product).where(Product.sku.in_(PRICES)).values(price_cents=price))
        db.session.commit()
    cart = data.draw(st.lists(st.sampled_from(list(PRICES)), min_size=1, max_size=3, unique=True), "cart")
    for sku in cart:
        browser.add(products[sku], 1 if sku == "POT" else data.draw(st.integers(1, 3), f"qty {sku}"))
    page = browser.get("/checkout")
    html = page.get_data(as_text=True)
    shown = {label: int(euros) * 100 + int(cents) for euros, cents, label in SHOWN_TOTALS.findall(html)}
    shipping = data.draw(st.sampled_from(["standard", "pickup"]), "shipping")
    new_prices = data.draw(st.dictionaries(st.sampled_from(list(PRICES)), st.integers(0, 10**6)), "new prices")
    new_settings = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "SHOP_SHIPPING_FLAT_RATE": st.integers(0, 2000),
                "SHOP_FREE_SHIPPING_OVER": st.one_of(st.none(), st.integers(0, 20_000)),
            },
        ),
        "new settings",
    )
    with app.app_context():
        for sku, cents in new_prices.items():
            db.session.execute(sa.update(Product).where(Product.sku == sku).values(price_cents=cents))
        db.session.commit()
    shipping_settings = change_settings(app, **new_settings)
    try:
        before = snapshot(app)
        form = {**Browser.form(page, "/checkout")["fields"], **ADDRESS, "shipping_method": shipping}
        response = browser.client.post("/checkout", data={**form, "payment_method": "bank_transfer"})
    finally:
        restore_settings(app, shipping_settings)
    a_price_changed = any(new_prices.get(sku, PRICES[sku]) != PRICES[sku] for sku in cart)
    if response.status_code == 303:
        assert not a_price_changed
        with app.app_context():
            order = db.session.get(Order, int(response.headers["Location"].rsplit("/", 1)[1]))
            assert order.total_cents == shown[SHIPPING_OPTIONS[shipping].label.lower()]
            assert all(line.unit_price_cents == PRICES[line.sku] for line in order.lines)
    else:
        assert response.status_code == 409, response.status_code
        assert "since you opened this page" in response.get_data(as_text=True)
        assert snapshot(app) == before  # nothing written
        assert a_price_changed or new_settings
    check_invariants(app)
