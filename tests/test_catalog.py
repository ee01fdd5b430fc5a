import re
import unicodedata

import pytest

from shop.extensions import db
from shop.models import Product


def product_links(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/products/(\d+)(?:-[^"/]*)?"', html)]


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
    html = browser.get(f"/products/{products['TEA']}", follow_redirects=True).get_data(as_text=True)
    assert "<h1>Assam Tea</h1>" in html
    assert "Malty black tea." in html
    assert "In stock" in html
    assert f'action="/cart/add/{products["TEA"]}"' in html
    assert 'name="quantity"' in html
    low = browser.get(f"/products/{products['POT']}", follow_redirects=True).get_data(as_text=True)
    assert "Only 1 left" in low


def test_out_of_stock_product_has_no_add_form(app, browser, products):
    with app.app_context():
        db.session.get(Product, products["MUG"]).stock = 0
        db.session.commit()
    html = browser.get(f"/products/{products['MUG']}", follow_redirects=True).get_data(as_text=True)
    assert "Out of stock" in html
    assert "/cart/add/" not in html


def test_unknown_and_retired_products_are_404(browser, products):
    assert browser.get("/products/999999").status_code == 404
    assert browser.get(f"/products/{products['OLD']}").status_code == 404
    assert browser.get("/products/abc").status_code == 404


# ---------------------------------------------------------------- search beyond ASCII
HERB_TEA = "Österreichischer Kräutertee"


@pytest.fixture
def herbal(app, products) -> dict[str, int]:
    """Two products whose names need Unicode case folding: one stored composed (NFC), one
    decomposed (NFD: "O" + U+0308), as a Mac's keyboard or a pasted text may give."""
    with app.app_context():
        nfc = Product(sku="HERB-1", name=HERB_TEA, description="Alpine herbs.", price_cents=900, stock=5)
        nfd = Product(
            sku="HERB-2", name=unicodedata.normalize("NFD", "Ölmühle Straße"), description="", price_cents=1, stock=1
        )
        db.session.add_all([nfc, nfd])
        db.session.commit()
        return {**products, "HERB-1": nfc.id, "HERB-2": nfd.id}


def admin_product_links(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/admin/products/(\d+)"', html)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("österreich", {"HERB-1"}),
        ("KRÄUTER", {"HERB-1"}),
        ("ÖSTERREICHISCHER KRÄUTERTEE", {"HERB-1"}),
        (unicodedata.normalize("NFD", "österreich"), {"HERB-1"}),  # decomposed query, composed name
        ("ölmühle", {"HERB-2"}),  # composed query, decomposed name
        ("STRASSE", {"HERB-2"}),  # ß folds to ss
        ("herb-1", {"HERB-1"}),  # the SKU
        ("tea", {"TEA", "POT"}),  # the category (Assam Tea's name too)
        ("malty", {"TEA"}),  # the description
        ("Ölm%", {"HERB-2"}),  # "%" is no wildcard: it separates words
    ],
)
def test_search_folds_case_beyond_ascii_in_the_catalogue_and_the_admin(app, browser, herbal, query, expected):
    from tests.conftest import signed_in_admin

    shop_page = browser.get("/", query_string={"q": query}).get_data(as_text=True)
    assert set(product_links(shop_page)) == {herbal[sku] for sku in expected}
    admin_page = signed_in_admin(app).get("/admin/products", query_string={"q": query}).get_data(as_text=True)
    assert set(admin_product_links(admin_page)) == {herbal[sku] for sku in expected}


def test_a_renamed_product_is_found_by_its_new_name_only(app, herbal):
    from tests.conftest import Browser, signed_in_admin

    admin = signed_in_admin(app)
    url = f"/admin/products/{herbal['HERB-1']}"
    fields = {"sku": "HERB-1", "name": "Tisane des Alpes", "price": "9", "stock": "5", "category": "Kräuter"}
    assert admin.submit(url, url, fields).status_code == 303
    shopper = Browser(app.test_client())
    assert product_links(shopper.get("/?q=österreich").get_data(as_text=True)) == []
    assert product_links(shopper.get("/?q=TISANE").get_data(as_text=True)) == [herbal["HERB-1"]]
    assert product_links(shopper.get("/?q=KRÄUTER").get_data(as_text=True)) == [herbal["HERB-1"]]  # the category


def test_imported_products_are_found_by_folded_search(app, browser, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(f"sku,name,description,price,stock,category\nH-1,{HERB_TEA},,9.00,5,Tee\n", encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["shop", "import-products", str(path)]).exit_code == 0
    assert len(product_links(browser.get("/?q=ÖSTERREICH").get_data(as_text=True))) == 1


def test_a_nul_in_the_query_is_refused_with_a_message_not_a_500(browser, herbal):
    """PostgreSQL cannot hold NUL in text: shop.inputs refuses it before any query runs."""
    response = browser.get("/", query_string={"q": "a\x00b"})
    assert response.status_code == 400
    assert "contains a control character (U+0000)" in response.get_data(as_text=True)
    assert browser.get("/", query_string={"q": "ab"}).status_code == 200


def test_upgrading_fills_the_search_text_of_existing_products(databases, tmp_path):
    """Migration 0004 makes the products already in a shop searchable."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from shop import create_app

    url = databases.empty(tmp_path)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "t" * 32,
            "SHOP_INSTANCE_PATH": str(tmp_path / "instance"),
        }
    )
    try:
        with app.app_context():
            upgrade(revision="0003")
            with db.engine.begin() as c:
                c.execute(sa.text("INSERT INTO category (id, name, slug) VALUES (1, 'Kräuter', 'krauter')"))
                for product_id, name, category in ((1, HERB_TEA, 1), (2, unicodedata.normalize("NFD", "Öl"), None)):
                    c.execute(
                        sa.text(
                            "INSERT INTO product (id, sku, name, description, price_cents, stock, active, category_id,"
                            " created_at, updated_at) VALUES (:id, :sku, :name, 'Bio', 100, 5, true, :category,"
                            " '2026-01-01', '2026-01-01')"
                        ),
                        {"id": product_id, "sku": f"P-{product_id}", "name": name, "category": category},
                    )
            upgrade(revision="0004")
            with db.engine.connect() as c:
                rows = c.execute(sa.text("SELECT search_text, version_id FROM product ORDER BY id")).all()
            assert rows == [("p-1\nösterreichischer kräutertee\nbio\nkräuter", 1), ("p-2\nöl\nbio\n", 1)]
            upgrade()  # 0006 moves search into its index, with these products in it
        client = app.test_client()
        assert product_links(client.get("/?q=KRÄUTER").get_data(as_text=True)) == [1]
        assert product_links(client.get("/?q=öl").get_data(as_text=True)) == [2]
    finally:
        with app.app_context():
            db.engine.dispose()
        databases.drop(url)
