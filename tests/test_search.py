"""Search that finds (issue 20, item 3): name, description, SKU and category, case- and
accent-insensitive in any script, words begun count ("kräuter" finds "Kräutertee"), whole
words and the name ranked first; the query's text never reaches FTS5's or to_tsquery's
syntax. Through the catalogue (and the admin list, which calls the same function), on
SQLite (FTS5) and on PostgreSQL (tsvector) with TEST_DATABASE_URL."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from shop.catalog.search import terms
from shop.extensions import db
from shop.models import Category, Product
from tests.conftest import Browser, signed_in_admin

CATALOGUE = [
    # sku, name, description, category
    ("HERB-AT", "Österreichischer Kräutertee", "Alpine herbs from the Tyrol.", "Tee"),
    ("POT-CLAY", "Clay Teapot", "Unglazed red clay; holds a litre.", "Teapots"),
    ("POT-SAMPLER", "Teapots Sampler", "Three small pots to try.", ""),
    ("COSY-1", "Tea Cosy", "Keeps a teapot warm for an hour.", "Accessories"),
    ("KETTLE-9", "Gooseneck Kettle", "Boils water for teapots and pour-over coffee.", "Accessories"),
    ("CAFE-1", "Café de Olla", "Mexican coffee with cinnamon.", "Coffee"),
    ("IVAN-CHAI", "Иван-чай", "Fireweed tea from Russia.", "Tee"),
    ("SENCHA-JP", "煎茶 Sencha", "緑茶 from Shizuoka.", "Tee"),
    ("GR-1", "ΤΣΆΪ ΤΟΥ ΒΟΥΝΟΎ", "Greek mountain tea.", "Tee"),
]


@pytest.fixture
def catalogue(app) -> dict[str, int]:
    with app.app_context():
        categories: dict[str, Category] = {}
        products = []
        for sku, name, description, category in CATALOGUE:
            if category and category not in categories:
                categories[category] = Category(name=category, slug=category.lower())
            products.append(
                Product(
                    sku=sku,
                    name=name,
                    description=description,
                    price_cents=500,
                    stock=5,
                    category=categories.get(category),
                )
            )
        db.session.add_all(products)
        db.session.commit()
        return {p.sku: p.id for p in products}


def found(browser: Browser, query: str) -> list[int]:
    """The product ids the catalogue lists for `query`, in the order shown."""
    response = browser.get("/", query_string={"q": query})
    assert response.status_code == 200, (query, response.status_code)
    return [int(i) for i in re.findall(r'href="/products/(\d+)-[^"]*"', response.get_data(as_text=True))]


def skus(catalogue: dict[str, int], ids: list[int]) -> list[str]:
    by_id = {v: k for k, v in catalogue.items()}
    return [by_id[i] for i in ids]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("österreich", {"HERB-AT"}),  # the start of a word of the name
        ("KRÄUTER", {"HERB-AT"}),  # upper case, umlaut, and only the start of "Kräutertee"
        ("krauter", {"HERB-AT"}),  # typed without the umlaut
        ("OSTERREICHISCHER KRAUTERTEE", {"HERB-AT"}),
        ("tyrol", {"HERB-AT"}),  # the description
        ("herb-at", {"HERB-AT"}),  # the SKU, as typed
        ("HERB AT", {"HERB-AT"}),
        ("cafe", {"CAFE-1"}),  # "Café" without its accent
        ("CAFÉ", {"CAFE-1"}),
        ("accessories", {"COSY-1", "KETTLE-9"}),  # the category
        ("чай", {"IVAN-CHAI"}),  # Cyrillic, after a hyphen
        ("ИВАН", {"IVAN-CHAI"}),
        ("煎茶", {"SENCHA-JP"}),  # CJK: a run of text from its start
        ("τσαι", {"GR-1"}),  # Greek: case-folded, accent and diaeresis removed
        ("ΒΟΥΝΟΥ", {"GR-1"}),
        ("mexican coffee", {"CAFE-1"}),  # every word must match
        ("coffee kettle", {"KETTLE-9"}),
        ("zebra", set()),
    ],
)
def test_search_finds_by_every_field_in_any_case_accent_and_script(browser, catalogue, query, expected):
    assert set(skus(catalogue, found(browser, query))) == expected


def test_teapot_ranks_whole_words_and_the_name_first(browser, catalogue):
    """The name's whole word, then a word of the name begun, then a whole word elsewhere,
    then a word begun elsewhere."""
    assert skus(catalogue, found(browser, "teapot")) == ["POT-CLAY", "POT-SAMPLER", "COSY-1", "KETTLE-9"]
    tea = skus(catalogue, found(browser, "tea"))
    assert tea[0] == "COSY-1"  # "Tea Cosy": the whole word, in the name
    assert set(tea[1:3]) == {"POT-CLAY", "POT-SAMPLER"}  # "Teapot", "Teapots": in the name, begun
    assert set(tea[3:5]) == {"IVAN-CHAI", "GR-1"}  # "... tea." in the description
    assert tea[5:] == ["KETTLE-9"]  # "teapots" in the description


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        '"tea',
        "tea*",
        "*",
        "AND",
        "tea AND",
        "OR tea",
        "NOT",
        "NEAR(",
        "NEAR(tea pot, 2)",
        "name: tea",
        "{name sku}: tea",
        "^tea",
        "-tea",
        "tea + pot",
        "(tea",
        "tea)",
        "'; DROP TABLE product; --",
        "a:* & b",
        "!tea | pot",
        "\\",
        "%_",
        "tea " * 40,
    ],
)
def test_query_syntax_characters_are_text_and_never_a_server_error(browser, catalogue, query):
    """FTS5's and to_tsquery's own syntax (quotes, *, AND/OR/NOT, NEAR(, column filters, &, |,
    !, :*) means nothing in the search box: the words are looked up, the rest separates them."""
    ids = found(browser, query)
    words = terms(query)
    if not words:
        assert ids == []
    if query == "tea*":
        assert set(ids) == set(found(browser, "tea"))


def test_a_query_of_many_words_is_cut_not_refused(browser, catalogue):
    assert skus(catalogue, found(browser, "clay " * 30)) == ["POT-CLAY"]


def test_the_admin_list_searches_the_same_way(app, catalogue):
    admin = signed_in_admin(app)
    html = admin.get("/admin/products", query_string={"q": "KRÄUTER"}).get_data(as_text=True)
    assert re.findall(r'href="/admin/products/(\d+)"', html) == [str(catalogue["HERB-AT"])]


def test_a_renamed_category_is_searched_by_its_new_name(app, browser, catalogue):
    with app.app_context():
        category = db.session.execute(sa.select(Category).where(Category.name == "Teapots")).scalar_one()
        category.name = "Kannen"
        db.session.commit()
    assert skus(catalogue, found(browser, "kannen")) == ["POT-CLAY"]
    assert "POT-CLAY" not in skus(catalogue, found(browser, "teapots"))  # still a word of its own name


def test_a_product_edited_through_the_orm_is_reindexed_and_a_stock_change_is_not(app, browser, catalogue, databases):
    statements: list[str] = []
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        product = db.session.get(Product, catalogue["CAFE-1"])
        product.stock = 3
        db.session.commit()
        assert not [s for s in statements if "product_fts" in s or "product_search" in s]
        product.description = "Spiced with piloncillo."
        db.session.commit()
        assert [s for s in statements if "product_fts" in s or "product_search" in s]
    assert skus(catalogue, found(browser, "piloncillo")) == ["CAFE-1"]
    assert found(browser, "cinnamon") == []
