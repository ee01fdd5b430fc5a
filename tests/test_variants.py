"""Variants in the storefront, the cart and the checkout: a product shown once with its
options, each option bought, stocked and named on its own, the simple product unchanged."""

from __future__ import annotations

import re
import threading

import sqlalchemy as sa

from shop.extensions import db
from shop.models import Order, OrderLine, OutboxEmail, Product, ProductVariant
from tests.conftest import ADDRESS, Browser, count, order_id_from, signed_in_browser
from tests.variant_catalog import add_variant, make_variant_catalog, variant_stock


def test_the_catalogue_shows_each_product_once_with_from_price_and_summed_stock(app, products, browser):
    catalog = make_variant_catalog(app)
    page = browser.get("/").get_data(as_text=True)
    assert page.count(">Darjeeling</span>") == 1
    assert "from €9.00" in page  # 100 g at the product's €9.00, 250 g at €19.50
    card = page[page.index(">Colour Mug<") :]
    assert "€12.00" in card[:300]  # one price for every colour
    assert "from" not in card[:300]
    assert "In stock" in card[:300]  # 10 + 10 + 0
    with app.app_context():
        db.session.execute(sa.update(ProductVariant).where(ProductVariant.product_id == catalog.mug).values(stock=1))
        db.session.commit()
    card = browser.get("/").get_data(as_text=True)
    card = card[card.index(">Colour Mug<") :]
    assert "Only 3 left" in card[:300]


def test_the_product_page_offers_the_variants_and_a_sold_out_one_cannot_be_chosen(app, browser):
    catalog = make_variant_catalog(app)
    page = browser.get(f"/products/{catalog.tea}", follow_redirects=True).get_data(as_text=True)
    assert "from €9.00" in page
    assert f'name="variant" value="{catalog.tea_100}" checked' in page
    # Search engines get the range (schema.org AggregateOffer), not one price.
    assert '"@type":"AggregateOffer","priceCurrency":"EUR"' in page
    assert '"lowPrice":"9.00","highPrice":"19.50","offerCount":2' in page
    assert re.search(r"100 g — €9\.00", page)
    assert re.search(r"250 g — €19\.50", page)
    page = browser.get(f"/products/{catalog.mug}", follow_redirects=True).get_data(as_text=True)
    assert re.search(r"<span>Blue\s*</span>", page)  # the same price for all: no price in the label
    assert f'value="{catalog.mug_green}" disabled' in page
    assert "sold out" in page
    response = add_variant(browser, catalog.mug, catalog.mug_green)
    assert response.status_code == 409
    assert "Colour Mug — Green is out of stock" in response.get_data(as_text=True)
    assert browser.get("/cart").get_data(as_text=True).count("Your cart is empty") == 1


def test_adding_without_choosing_or_with_another_products_variant_is_refused(app, browser):
    catalog = make_variant_catalog(app)
    no_choice = browser.submit(f"/products/{catalog.tea}", f"/cart/add/{catalog.tea}", {"quantity": 1, "variant": ""})
    assert no_choice.status_code == 422
    assert "Choose an option." in no_choice.get_data(as_text=True)
    foreign = add_variant(browser, catalog.tea, catalog.mug_blue)
    assert foreign.status_code == 422


def test_two_variants_of_one_product_are_two_lines_of_one_order(app, shopper, smtp):
    catalog = make_variant_catalog(app)
    assert add_variant(shopper, catalog.tea, catalog.tea_100, 2).status_code == 303
    assert add_variant(shopper, catalog.tea, catalog.tea_250, 1).status_code == 303
    cart = shopper.get("/cart").get_data(as_text=True)
    assert "Darjeeling — 100 g" in cart
    assert "Darjeeling — 250 g" in cart
    assert "€37.50" in cart  # 2 × 9.00 + 19.50
    checkout = shopper.get("/checkout").get_data(as_text=True)
    assert "Darjeeling — 250 g" in checkout
    order_id = order_id_from(shopper.checkout())

    assert (variant_stock(app, catalog.tea_100), variant_stock(app, catalog.tea_250)) == (38, 49)
    with app.app_context():
        lines = db.session.get(Order, order_id).lines
        assert [(line.name, line.option, line.sku, line.unit_price_cents, line.quantity) for line in lines] == [
            ("Darjeeling", "100 g", "DARJ-100", 900, 2),
            ("Darjeeling", "250 g", "DARJ-250", 1950, 1),
        ]
        assert {line.variant_id for line in lines} == {catalog.tea_100, catalog.tea_250}
        # The label is kept as bought, whatever the variant is called later.
        db.session.get(ProductVariant, catalog.tea_250).option = "250 g tin"
        db.session.commit()
    page = shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Darjeeling — 250 g<" in page
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert "1 x Darjeeling — 250 g at €19.50 = €19.50" in mail.text
    assert "Darjeeling — 100 g" in mail.html


def test_cancelling_puts_the_stock_back_on_the_variants(app, products, admin, shopper, smtp):
    catalog = make_variant_catalog(app)
    add_variant(shopper, catalog.mug, catalog.mug_red, 3)
    shopper.add(products["TEA"], 2)  # and a product without variants, in the same order
    order_id = order_id_from(shopper.checkout())
    assert variant_stock(app, catalog.mug_red) == 7
    response = admin.submit(f"/admin/orders/{order_id}", f"/admin/orders/{order_id}/status", {"to_status": "cancelled"})
    assert response.status_code == 303
    assert variant_stock(app, catalog.mug_red) == 10
    with app.app_context():
        assert db.session.get(Product, products["TEA"]).stock == 100


def test_twenty_shoppers_race_for_the_last_three_of_one_variant(app, smtp):
    catalog = make_variant_catalog(app, tea_250_stock=3)
    buyers = []
    for n in range(20):
        browser = Browser(app.test_client())
        browser.register(f"racer{n}@example.com")
        assert add_variant(browser, catalog.tea, catalog.tea_250, 1).status_code == 303
        form = Browser.form(browser.get("/checkout"), "/checkout")
        buyers.append((browser, {**form["fields"], **ADDRESS}))
    gate, results = threading.Barrier(len(buyers)), []

    def buy(browser: Browser, data: dict) -> None:
        gate.wait()
        results.append(browser.client.post("/checkout", data=data).status_code)

    threads = [threading.Thread(target=buy, args=b) for b in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [303] * 3 + [409] * 17
    assert count(app, Order) == 3
    assert variant_stock(app, catalog.tea_250) == 0
    assert variant_stock(app, catalog.tea_100) == 40  # the other variant is untouched
    with app.app_context():
        assert db.session.get(Product, catalog.tea).stock == 0


def test_a_variant_deactivated_while_in_the_cart_is_not_sold(app, shopper, smtp):
    catalog = make_variant_catalog(app)
    add_variant(shopper, catalog.mug, catalog.mug_blue, 1)
    form = Browser.form(shopper.get("/checkout"), "/checkout")
    with app.app_context():
        db.session.get(ProductVariant, catalog.mug_blue).active = False
        db.session.commit()
    cart = shopper.get("/cart").get_data(as_text=True)
    assert "Colour Mug — Blue" in cart
    assert "No longer sold" in cart
    response = shopper.client.post("/checkout", data={**form["fields"], **ADDRESS})
    assert response.status_code == 409
    assert "Colour Mug — Blue is no longer sold" in response.get_data(as_text=True)
    assert count(app, Order) == 0
    assert variant_stock(app, catalog.mug_blue) == 10
    # Removing the line works as for any other.
    removed = shopper.submit("/cart", f"/cart/remove/{catalog.mug}")
    assert removed.status_code == 303
    assert "Your cart is empty" in shopper.get("/cart").get_data(as_text=True)


def test_a_cart_from_before_the_product_had_variants_cannot_buy_the_product_itself(app, products, shopper, smtp):
    shopper.add(products["MUG"], 2)  # an old cart: {"<product id>": 2}
    with app.app_context():
        mug = db.session.get(Product, products["MUG"])
        mug.stock = 0  # as adding its first variant does
        mug.variants = [ProductVariant(sku="MUG-S", option="Small", stock=5)]
        db.session.commit()
    cart = shopper.get("/cart").get_data(as_text=True)
    assert "Now sold in several options" in cart
    assert shopper.checkout().status_code == 409
    assert count(app, Order) == 0


def test_quantities_in_the_cart_change_per_variant(app, shopper):
    catalog = make_variant_catalog(app)
    add_variant(shopper, catalog.tea, catalog.tea_100, 1)
    add_variant(shopper, catalog.tea, catalog.tea_250, 1)
    page = shopper.get("/cart")
    form = Browser.form(page, f"/cart/update/{catalog.tea}")  # the first line's form
    assert form["fields"]["variant"] == str(catalog.tea_100)
    response = shopper.client.post(f"/cart/update/{catalog.tea}", data={**form["fields"], "quantity": 41})
    assert response.status_code == 409
    assert "Darjeeling — 100 g: only 40 left, you asked for 41" in response.get_data(as_text=True)
    data = {**form["fields"], "variant": catalog.tea_250, "quantity": 3}
    assert shopper.client.post(f"/cart/update/{catalog.tea}", data=data).status_code == 303
    cart = shopper.get("/cart").get_data(as_text=True)
    assert re.search(r'name="quantity"[^>]*value="3"', cart)
    assert re.search(r'name="quantity"[^>]*value="1"', cart)
    gone = {**form["fields"], "variant": catalog.mug_blue, "quantity": 1}  # not in this cart
    assert shopper.client.post(f"/cart/update/{catalog.tea}", data=gone).status_code == 404


def test_low_stock_is_told_per_variant(make_app, smtp):
    app = make_app(SHOP_OWNER_EMAIL="owner@example.com", SHOP_LOW_STOCK_THRESHOLD=5)
    catalog = make_variant_catalog(app)
    shopper = signed_in_browser(app, "ada@example.com")
    add_variant(shopper, catalog.mug, catalog.mug_blue, 6)  # 10 -> 4: crosses 5
    add_variant(shopper, catalog.mug, catalog.mug_red, 1)  # 10 -> 9: does not
    order_id_from(shopper.checkout())
    with app.app_context():
        [email] = db.session.execute(sa.select(OutboxEmail).where(OutboxEmail.kind == "low_stock")).scalars().all()
        assert email.subject == "Low stock: Colour Mug — Blue (4 left)"
        assert email.key.startswith(f"low_stock:{catalog.mug}.{catalog.mug_blue}:")
    assert count(app, OrderLine) == 2


def test_a_simple_product_looks_as_before(app, products, browser):
    page = browser.get(f"/products/{products['TEA']}", follow_redirects=True).get_data(as_text=True)
    assert 'name="variant"' not in page
    assert "from €" not in page
    assert "€12.50" in page


def test_a_checkout_of_variants_runs_the_same_number_of_statements_for_any_cart_size(app, smtp):
    with app.app_context():
        for i in range(12):
            product = Product(sku=f"P{i}", name=f"Thing {i}", price_cents=100 + i, stock=50)
            if i % 2:
                product.stock = 0
                product.variants = [ProductVariant(sku=f"P{i}-{o}", option=o, stock=50) for o in ("S", "M")]
            db.session.add(product)
        db.session.commit()
        simple = db.session.execute(sa.select(Product.id).where(Product.stock > 0).order_by(Product.id)).scalars()
        sized = db.session.execute(
            sa.select(ProductVariant.product_id, ProductVariant.id).order_by(ProductVariant.id)
        ).all()
        simple = list(simple)

    def statements_for_checkout(email: str, simple_lines: int, variant_lines: int) -> int:
        browser = signed_in_browser(app, email)
        for product_id in simple[:simple_lines]:
            browser.add(product_id, 2)
        for product_id, variant_id in sized[:variant_lines]:
            add_variant(browser, product_id, variant_id, 2)
        form = Browser.form(browser.get("/checkout"), "/checkout")
        seen: list[str] = []
        with app.app_context():
            engine = db.engine
        me = threading.get_ident()  # the request runs in this thread; the mail pool's queries do not count

        def listener(conn, cursor, statement, *args):
            if threading.get_ident() == me:
                seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            order_id_from(browser.client.post("/checkout", data={**form["fields"], **ADDRESS}))
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    only_simple = statements_for_checkout("s1@example.com", 1, 0)
    one, ten = statements_for_checkout("v1@example.com", 0, 1), statements_for_checkout("v10@example.com", 0, 10)
    assert one == ten == only_simple, (one, ten, only_simple)  # one UPDATE of variants instead of products
    mixed_small, mixed_large = (
        statements_for_checkout("m1@example.com", 1, 1),
        statements_for_checkout("m2@example.com", 5, 5),
    )
    assert mixed_small == mixed_large == only_simple + 1  # both UPDATEs, whatever the size


def test_a_variant_is_taxed_at_its_products_rate_beside_a_product_at_the_shops(app, products, shopper):
    from shop.models import TaxRate

    catalog = make_variant_catalog(app)
    with app.app_context():
        reduced = TaxRate(name="Reduced", rate_bp=700)
        db.session.add(reduced)
        db.session.flush()
        db.session.get(Product, catalog.tea).tax_rate_id = reduced.id
        db.session.commit()
    add_variant(shopper, catalog.tea, catalog.tea_250, 1)  # €19.50 at 7 %
    shopper.add(products["MUG"], 1)  # €8.25 at the shop's 20 %
    order_id = order_id_from(shopper.checkout())
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert {(line.sku, line.tax_rate_bp) for line in order.lines} == {("DARJ-250", 700), ("MUG", 2000)}
        assert sorted(t.rate_bp for t in order.tax_lines) == [700, 2000]
