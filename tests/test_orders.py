import re

from tests.conftest import Browser, order_id_from, signed_in_browser


def test_my_orders_lists_my_orders_newest_first(app, products, shopper, smtp):
    first = order_id_from((shopper.add(products["TEA"], 1), shopper.checkout())[1])
    second = order_id_from((shopper.add(products["MUG"], 2), shopper.checkout())[1])
    html = shopper.get("/orders").get_data(as_text=True)
    assert [int(i) for i in re.findall(r'href="/orders/(\d+)"', html)] == [second, first]
    assert "€21.40" in html  # 2 × €8.25 and €4.90 shipping
    assert "€17.40" in html


def test_another_shoppers_order_is_404_and_not_listed(app, products, shopper, smtp):
    order_id = order_id_from((shopper.add(products["TEA"], 1), shopper.checkout())[1])
    other = signed_in_browser(app, "eve@example.com")
    assert other.get(f"/orders/{order_id}").status_code == 404
    assert f"/orders/{order_id}" not in other.get("/orders").get_data(as_text=True)
    assert "no orders yet" in other.get("/orders").get_data(as_text=True)


def test_unknown_order_is_404(shopper):
    assert shopper.get("/orders/424242").status_code == 404


def test_order_page_escapes_what_the_shopper_typed(app, products, shopper, smtp):
    shopper.add(products["TEA"], 1)
    order_id = order_id_from(shopper.checkout(full_name="<img src=x onerror=alert(1)>", city="<b>Town</b>"))
    html = shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert "<img src=x" not in mail.html
    assert "&lt;b&gt;Town&lt;/b&gt;" in mail.html


def test_guest_is_sent_to_sign_in(browser: Browser):
    assert browser.get("/orders").status_code == 302
