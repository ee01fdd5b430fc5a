import re

import pytest

from shop.extensions import db
from shop.models import Product


def product_links(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/products/(\d+)"', html)]


def test_catalogue_lists_active_products_with_links(browser, products):
    page = browser.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert set(product_links(html)) == {products["TEA"], products["MUG"], products["POT"]}
    assert "Retired Kettle" not in html
    assert "€12.50" in html
    assert html.count("<h1") == 1


def test_catalogue_shows_categories_and_filters_by_them(browser, products):
    html = browser.get("/").get_data(as_text=True)
    assert 'href="/?category=tea"' in html
    assert 'href="/?category=mugs"' in html
    tea_page = browser.get("/?category=tea").get_data(as_text=True)
    assert set(product_links(tea_page)) == {products["TEA"], products["POT"]}
    assert browser.get("/?category=nonsense").status_code == 404


@pytest.mark.parametrize(
    ("query", "expected"),
    [("assam", {"TEA"}), ("MUG", {"MUG"}), ("litre", {"POT"}), ("kettle", set()), ("zzz", set())],
)
def test_search_matches_names_and_descriptions(browser, products, query, expected):
    html = browser.get(f"/?q={query}").get_data(as_text=True)
    assert set(product_links(html)) == {products[sku] for sku in expected}


@pytest.mark.parametrize("query", ["%", "_", "' OR 1=1 --", '"; DROP TABLE product; --', "\\", "a%b_c"])
def test_search_treats_sql_metacharacters_as_text(browser, products, query):
    response = browser.get("/", query_string={"q": query})
    assert response.status_code == 200
    assert product_links(response.get_data(as_text=True)) == []
    assert browser.get("/").status_code == 200  # the table is still there


def test_search_text_is_escaped_in_the_page(browser, products):
    html = browser.get("/", query_string={"q": "<script>alert(1)</script>"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_catalogue_is_paginated(make_app, browser):
    app = make_app(SHOP_PAGE_SIZE=2)
    with app.app_context():
        db.session.add_all(
            Product(sku=f"P{i}", name=f"Product {i:02d}", price_cents=100 + i, stock=1) for i in range(5)
        )
        db.session.commit()
    client = app.test_client()
    first = client.get("/").get_data(as_text=True)
    assert len(product_links(first)) == 2
    assert 'href="/?page=2"' in first
    third = client.get("/?page=3").get_data(as_text=True)
    assert len(product_links(third)) == 1
    assert "Page 3 of 3" in third
    assert client.get("/?page=4").status_code == 404
    assert client.get("/?page=abc").status_code == 404
    assert client.get("/?page=0").status_code == 404


def test_product_page_shows_details_stock_and_add_form(browser, products):
    html = browser.get(f"/products/{products['TEA']}").get_data(as_text=True)
    assert "<h1>Assam Tea</h1>" in html
    assert "Malty black tea." in html
    assert "In stock" in html
    assert f'action="/cart/add/{products["TEA"]}"' in html
    assert 'name="quantity"' in html
    low = browser.get(f"/products/{products['POT']}").get_data(as_text=True)
    assert "Only 1 left" in low


def test_out_of_stock_product_has_no_add_form(app, browser, products):
    with app.app_context():
        db.session.get(Product, products["MUG"]).stock = 0
        db.session.commit()
    html = browser.get(f"/products/{products['MUG']}").get_data(as_text=True)
    assert "Out of stock" in html
    assert "/cart/add/" not in html


def test_unknown_and_retired_products_are_404(browser, products):
    assert browser.get("/products/999999").status_code == 404
    assert browser.get(f"/products/{products['OLD']}").status_code == 404
    assert browser.get("/products/abc").status_code == 404
