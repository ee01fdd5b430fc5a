import re
import threading
import time

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import EmailStatus, Order, OrderLine, OutboxEmail, Product
from tests.conftest import ADDRESS, Browser, add_product, count, order_id_from, signed_in_browser


def stock(app, product_id: int) -> int:
    with app.app_context():
        return db.session.get(Product, product_id).stock


def test_checkout_places_the_order_and_the_email_follows(app, products, shopper, smtp):
    shopper.add(products["TEA"], 2)
    shopper.add(products["MUG"], 1)
    response = shopper.checkout()
    order_id = order_id_from(response)

    page = shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    number = re.search(r"<h1>Order ([A-Z0-9-]+)</h1>", page).group(1)
    assert "Thank you! Your order" in page
    assert "€33.25" in page  # the goods
    assert "€38.15" in page  # and €4.90 shipping
    assert stock(app, products["TEA"]) == 98
    assert stock(app, products["MUG"]) == 99
    assert 'aria-label="0 items in cart"' in page  # the cart is emptied

    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order.number == number
        assert (order.subtotal_cents, order.shipping_cents, order.total_cents) == (3325, 490, 3815)
        assert order.tax_cents == 636  # 20 % VAT included: 3815 × 20/120 = 635.83
        assert [(line.name, line.unit_price_cents, line.quantity) for line in order.lines] == [
            ("Assam Tea", 1250, 2),
            ("Enamel Mug", 825, 1),
        ]
        assert (order.full_name, order.city, order.postal_code) == ("Ada Lovelace", "London", "N1 9GU")

    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert number in mail.subject
    for text in (mail.text, mail.html):
        assert number in text
        assert "€38.15" in text
        assert "Assam Tea" in text
        assert "Enamel Mug" in text
        assert "12 Analytical Street" in text
        assert f"http://shop.test/orders/{order_id}" in text
    assert "2 x Assam Tea at €12.50 = €25.00" in mail.text


def test_prices_come_from_the_database_not_the_cart_or_form(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    with app.app_context():
        db.session.get(Product, products["TEA"]).price_cents = 1399
        db.session.commit()
    order_id = order_id_from(shopper.checkout(price="0.01", total_cents="1", unit_price_cents="1"))
    with app.app_context():
        assert db.session.get(Order, order_id).subtotal_cents == 1399


def test_checkout_with_a_3_second_smtp_server_does_not_wait_for_it(make_app, smtp):
    app = make_app(MAIL_TIMEOUT=10)
    smtp.behave("accept", delay=3.0)
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(add_product(app, "Slow Mail Tea", 1250), 1)
    started = time.monotonic()
    response = shopper.checkout()
    answered = time.monotonic()
    order_id = order_id_from(response)
    # The shopper has the answer, the SMTP server is still busy.
    assert smtp.received(subject_contains="Your Swiftcart order") == []
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order", timeout=15)
    with app.app_context():
        order = db.session.get(Order, order_id)
    assert order.number in mail.text
    assert "€12.50" in mail.text
    assert mail.received >= time.time() - (time.monotonic() - answered)  # it came after the answer
    print(f"checkout answered in {answered - started:.3f} s; email after {time.monotonic() - started:.1f} s")


def test_checkout_needs_an_address(app, products, shopper):
    shopper.add(products["TEA"], 1)
    response = shopper.checkout(full_name="", postal_code="<script>", country="x" * 81)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter your full name." in html
    assert "Use letters, digits, spaces and dashes." in html
    assert "We cannot deliver to" in html  # a country is one of the list's codes
    assert "<script>" not in html
    assert count(app, Order) == 0


def test_empty_cart_cannot_be_checked_out(app, products, shopper):
    response = shopper.get("/checkout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/cart"
    shopper.add(products["TEA"], 1)
    page = shopper.get("/checkout")
    form = Browser.form(page, "/checkout")
    shopper.submit("/cart", f"/cart/remove/{products['TEA']}")
    response = shopper.client.post("/checkout", data={**form["fields"], **ADDRESS})
    assert response.status_code == 409
    assert "Your cart is empty" in response.get_data(as_text=True)
    assert count(app, Order) == 0


def test_short_stock_writes_nothing_and_names_the_line(app, products, shopper, smtp):
    shopper.add(products["TEA"], 3)
    shopper.add(products["POT"], 1)
    with app.app_context():
        db.session.get(Product, products["POT"]).stock = 0
        db.session.commit()
    response = shopper.checkout()
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Some products cannot be ordered: Clay Teapot is out of stock. Nothing was ordered" in html
    assert stock(app, products["TEA"]) == 100  # the line that was fine was not taken either
    assert count(app, Order) == 0
    assert count(app, OrderLine) == 0
    assert count(app, OutboxEmail, OutboxEmail.kind != "confirm_email") == 0  # that one is from registering


def test_a_product_retired_after_it_was_added_is_named_as_no_longer_sold(app, products, shopper):
    shopper.add(products["MUG"], 1)
    shopper.add(products["TEA"], 1)
    form = Browser.form(shopper.get("/checkout"), "/checkout")["fields"]
    with app.app_context():
        db.session.get(Product, products["MUG"]).active = False
        db.session.commit()
    page = shopper.get("/checkout").get_data(as_text=True)  # the page says so before the shopper tries
    assert "Some products cannot be ordered: Enamel Mug is no longer sold." in page
    assert re.search(r"Enamel Mug<p class=\"error\">No longer sold</p>", page)
    assert "left" not in page
    response = shopper.client.post("/checkout", data={**form, **ADDRESS})  # the page opened before
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Some products cannot be ordered: Enamel Mug is no longer sold. Nothing was ordered" in html
    assert "left" not in html
    assert count(app, Order) == 0


def test_every_line_that_cannot_be_bought_says_why(app, products, shopper):
    shopper.add(products["TEA"], 3)
    shopper.add(products["MUG"], 2)
    shopper.add(products["POT"], 1)
    with app.app_context():
        db.session.execute(
            sa.update(Product)
            .where(Product.id.in_([products["TEA"], products["MUG"], products["POT"]]))
            .values(stock=sa.case({products["TEA"]: 2, products["MUG"]: 0, products["POT"]: 1}, value=Product.id))
        )
        db.session.get(Product, products["POT"]).active = False
        db.session.commit()
    expected = (
        "Some products cannot be ordered: Assam Tea: only 2 left, you asked for 3; Clay Teapot is no longer sold; "
        "Enamel Mug is out of stock."
    )
    assert expected in shopper.get("/checkout").get_data(as_text=True)
    response = shopper.checkout()
    assert response.status_code == 409
    assert f"{expected} Nothing was ordered; please change your cart." in response.get_data(as_text=True)
    cart = shopper.get("/cart").get_data(as_text=True)
    notes = re.findall(r'>([^<>]+)</a>\s*<p class="error">([^<]+)</p>', cart)
    assert notes == [("Assam Tea", "Only 2 left"), ("Clay Teapot", "No longer sold"), ("Enamel Mug", "Out of stock")]


def test_a_product_deleted_from_the_catalogue_leaves_the_cart_and_is_told(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    shopper.add(products["MUG"], 2)
    form = Browser.form(shopper.get("/checkout"), "/checkout")["fields"]
    with app.app_context():
        db.session.execute(sa.delete(Product).where(Product.id == products["MUG"]))
        db.session.commit()
    response = shopper.client.post("/checkout", data={**form, **ADDRESS})  # the page opened before
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Some products cannot be ordered: a product in your cart is no longer sold. Nothing was ordered" in html
    assert "A product in your cart is no longer sold; it was taken out of your cart." in html
    assert f"product {products['MUG']}" not in html
    assert 'aria-label="1 item in cart"' in html
    # Taken out, it no longer stands in the way (before, it stayed in the cart for good).
    order_id_from(shopper.client.post("/checkout", data={**Browser.form(response, "/checkout")["fields"], **ADDRESS}))


def test_the_same_form_submitted_twice_makes_one_order(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    form = Browser.form(shopper.get("/checkout"), "/checkout")
    data = {**form["fields"], **ADDRESS}
    first = shopper.client.post("/checkout", data=data)
    second = shopper.client.post("/checkout", data=data)  # back button, submit again
    assert order_id_from(first) == order_id_from(second)
    assert count(app, Order) == 1
    assert stock(app, products["TEA"]) == 99
    assert "was already placed" in shopper.get(second.headers["Location"]).get_data(as_text=True)
    smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert count(app, OutboxEmail, OutboxEmail.kind == "order_confirmation") == 1


def test_a_double_click_racing_itself_makes_one_order(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    form = Browser.form(shopper.get("/checkout"), "/checkout")
    data = {**form["fields"], **ADDRESS}
    cookie = shopper.client.get_cookie("session")
    results, gate = [], threading.Barrier(2)

    def click() -> None:
        client = app.test_client()
        client.set_cookie("session", cookie.value)
        gate.wait()
        results.append(client.post("/checkout", data=data))

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({order_id_from(r) for r in results}) == 1
    assert count(app, Order) == 1
    assert stock(app, products["TEA"]) == 99


def test_two_buyers_race_for_the_last_unit_and_one_gets_it(app, products, smtp):
    buyers = []
    for name in ("ann", "ben"):
        browser = Browser(app.test_client())
        browser.register(f"{name}@example.com")
        browser.add(products["POT"], 1)
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
    assert sorted(results) == [303, 409]
    assert count(app, Order) == 1
    assert stock(app, products["POT"]) == 0


def test_checkout_runs_the_same_number_of_sql_statements_for_any_cart_size(app, smtp):
    with app.app_context():
        db.session.add_all(Product(sku=f"S{i}", name=f"Thing {i}", price_cents=100 + i, stock=50) for i in range(12))
        db.session.commit()
        ids = db.session.execute(sa.select(Product.id).order_by(Product.id)).scalars().all()

    def statements_for_checkout(email: str, lines: int) -> int:
        browser = Browser(app.test_client())
        browser.register(email)
        for product_id in ids[:lines]:
            browser.add(product_id, 2)
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

    one, ten = statements_for_checkout("one@example.com", 1), statements_for_checkout("ten@example.com", 10)
    assert one == ten, (one, ten)
    # 8, and since shipping zones: the checkout form's country list, the address's zone.
    assert one <= 10


def test_sync_dispatch_sends_inside_the_request(make_app, smtp):
    app = make_app(SHOP_MAIL_DISPATCH="sync")
    browser = signed_in_browser(app, "sync@example.com")
    browser.add(add_product(app, "Sync Thing", 500), 1)
    order_id_from(browser.checkout())
    # Already there when the answer came (with the address confirmation, sent when registering).
    assert len(smtp.received(to="sync@example.com", subject_contains="Your Swiftcart order")) == 1
    with app.app_context():
        assert set(db.session.execute(sa.select(OutboxEmail.status)).scalars()) == {EmailStatus.SENT}


def test_an_smtp_failure_never_affects_the_order(app, products, shopper, smtp):
    smtp.wait_for(1, subject_contains="Confirm your address")  # registering's email, sent first
    smtp.behave("permfail")
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout())
    assert shopper.get(f"/orders/{order_id}").status_code == 200
    with app.app_context():
        from tests.conftest import wait_until

        def failed():
            statement = sa.select(OutboxEmail.status).where(OutboxEmail.kind == "order_confirmation")
            return db.session.execute(statement).scalar_one() == EmailStatus.FAILED

        wait_until(lambda: db.session.rollback() or failed(), what="the email to be marked failed")
        assert db.session.get(Order, order_id) is not None


@pytest.mark.parametrize("token", ["", "short", "../../etc/passwd", "x" * 65])
def test_a_mangled_checkout_token_is_refused_without_an_order(app, products, shopper, token):
    shopper.add(products["TEA"], 1)
    response = shopper.submit("/checkout", "/checkout", {**ADDRESS, "checkout_token": token})
    assert response.status_code == 400
    assert count(app, Order) == 0


def test_the_owner_hears_once_per_crossing_when_a_sale_takes_stock_down_to_its_threshold(make_app, smtp):
    from shop.models import OutboxEmail

    app = make_app(SHOP_OWNER_EMAIL="owner@example.com", SHOP_LOW_STOCK_THRESHOLD=5)
    tea = add_product(app, "Assam Tea", 1000, stock=7)
    pot = add_product(app, "Teapot", 3000, stock=30)
    with app.app_context():
        db.session.get(Product, pot).low_stock_threshold = 20  # its own threshold
        db.session.commit()
    shopper = signed_in_browser(app, "ada@example.com")

    def buy(product_id: int, quantity: int) -> None:
        shopper.add(product_id, quantity)
        order_id_from(shopper.checkout())

    buy(tea, 1)  # 7 -> 6: above the threshold
    buy(tea, 1)  # 6 -> 5: crossed
    buy(tea, 1)  # 5 -> 4: still low, no second email
    buy(pot, 10)  # 30 -> 20: crossed its own threshold
    [tea_mail] = smtp.wait_for(1, to="owner@example.com", subject_contains="Low stock: Assam Tea")
    assert tea_mail.subject == "Low stock: Assam Tea (5 left)"
    assert f"http://shop.test/admin/products/{tea}" in tea_mail.text
    smtp.wait_for(1, to="owner@example.com", subject_contains="Low stock: Teapot (20 left)")
    assert count(app, OutboxEmail, OutboxEmail.kind == "low_stock") == 2

    with app.app_context():  # restocked: the next crossing is told again
        db.session.get(Product, tea).stock = 10
        db.session.commit()
    buy(tea, 6)  # 10 -> 4
    smtp.wait_for(1, to="owner@example.com", subject_contains="Low stock: Assam Tea (4 left)")
    assert count(app, OutboxEmail, OutboxEmail.kind == "low_stock") == 3


def test_no_low_stock_email_without_an_owner_address(app, smtp):
    from shop.models import OutboxEmail

    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(add_product(app, "Last Tea", 1000, stock=1), 1)
    order_id_from(shopper.checkout())
    assert count(app, OutboxEmail, OutboxEmail.kind == "low_stock") == 0


def test_an_order_too_large_for_the_books_is_refused_with_nothing_written(app, smtp):
    shopper = signed_in_browser(app, "ada@example.com")
    diamond = add_product(app, "Diamond", 10_000_000_00)  # the highest price the shop takes
    shopper.add(diamond, 3)
    response = shopper.checkout()
    assert response.status_code == 409
    assert "larger than the shop can take" in response.get_data(as_text=True)
    assert count(app, Order) == 0
    assert stock(app, diamond) == 100
