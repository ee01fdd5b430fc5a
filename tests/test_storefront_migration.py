"""Migration 0006 up and down with data, on SQLite and (TEST_DATABASE_URL) PostgreSQL: each
product's one image becomes its first photo, re-encoded; the search index is filled with
the products already there; and a downgrade gives 0004's columns back, filled."""

from __future__ import annotations

import importlib.util
import io
import re
import unicodedata
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from PIL import Image

from shop.catalog.search import terms
from shop.extensions import db
from tests import pictures
from tests.conftest import rows

LEGACY = "0123456789abcdef0123456789abcdef.jpg"  # a name 0004's code gave an upload
ROOT = Path(__file__).resolve().parent.parent


def test_0006_moves_images_fills_the_search_index_and_goes_back_down(fresh):
    app = fresh
    folder = Path(app.instance_path) / "uploads" / "products"
    folder.mkdir(parents=True)
    (folder / LEGACY).write_bytes(pictures.phone_photo(orientation=6, gps=True))
    with app.app_context():
        upgrade(revision="0004")
        with db.engine.begin() as c:
            c.execute(sa.text("INSERT INTO category (id, name, slug) VALUES (1, 'Kräuter', 'krauter')"))
            for product_id, name, image in (
                (1, "Österreichischer Kräutertee", LEGACY),
                (2, "Clay Teapot", "ffffffffffffffffffffffffffffffff.png"),  # its file is missing
                (3, unicodedata.normalize("NFD", "Ölmühle"), None),
            ):
                c.execute(
                    sa.text(
                        "INSERT INTO product (id, sku, name, description, price_cents, stock, active, category_id,"
                        " image, created_at, updated_at, version_id, search_text) VALUES (:id, :sku, :name, 'Bio',"
                        " 100, 5, true, 1, :image, '2026-01-01', '2026-01-01', 1, '')"
                    ),
                    {"id": product_id, "sku": f"P-{product_id}", "name": name, "image": image},
                )
            c.execute(
                sa.text(
                    "INSERT INTO user_account (id, email, password_hash, is_admin, created_at, session_token)"
                    " VALUES (1, 'ada@example.com', 'x', false, '2026-01-01', 'tok')"
                )
            )
        upgrade()

        [(product_id, position, alt, key, width, height, fallback)] = rows(
            "SELECT product_id, position, alt_text, key, width, height, fallback FROM product_image"
        )
        assert (product_id, position, alt, width, height, fallback) == (
            1,
            0,
            "Österreichischer Kräutertee",
            40,
            60,
            "jpg",
        )
        for name in (f"{key}-40.webp", f"{key}-40.jpg"):
            data = (folder / name).read_bytes()
            assert dict(Image.open(io.BytesIO(data)).getexif()) == {}, name  # re-encoded: no GPS
            assert Image.open(io.BytesIO(data)).size == (40, 60)  # and turned upright
        with db.engine.begin() as c:
            c.execute(
                sa.text(
                    "INSERT INTO address (user_id, full_name, address, city, postal_code, country, is_default,"
                    " created_at) VALUES (1, 'Ada', '1 St', 'London', 'N1', 'UK', true, '2026-01-02')"
                )
            )
            c.execute(
                sa.text(
                    "INSERT INTO product_image (product_id, position, alt_text, key, width, height, fallback,"
                    " created_at) VALUES (1, 1, 'second', 'abababababababababababababababab', 40, 60, 'jpg',"
                    " '2026-01-02')"
                )
            )
    client = app.test_client()
    for query, expected in (("KRÄUTER", {1, 2, 3}), ("osterreich", {1}), ("teapot", {2}), ("ölmühle", {3})):
        html = client.get("/", query_string={"q": query}).get_data(as_text=True)
        found = {int(i) for i in re.findall(r'href="/products/(\d+)-', html)}
        assert found == expected, query
    with app.app_context():
        downgrade(revision="0004")
        assert rows("SELECT id, image FROM product ORDER BY id") == [(1, f"{key}.jpg"), (2, None), (3, None)]
        assert (folder / f"{key}.jpg").exists()  # the first photo, under 0004's naming
        texts = rows("SELECT search_text FROM product ORDER BY id")
        assert texts[0] == ("p-1\nösterreichischer kräutertee\nbio\nkräuter",)
        tables = set(sa.inspect(db.engine).get_table_names())
        assert not {"product_image", "address", "product_fts", "product_search"} & tables
        upgrade()  # and up again: the first photo, from 0004's file
        [(product_id, again)] = rows("SELECT product_id, key FROM product_image")
        assert product_id == 1
        assert (folder / f"{again}-40.webp").exists()
        db.engine.dispose()


def test_the_migrations_frozen_word_splitting_is_the_shops_as_it_was_written():
    """0006 keeps its own copy of shop.catalog.search.terms (a migration must not change
    when the shop's code does); when this fails, the shop's changed: keep the copy, and
    reindex with a new migration."""
    spec = importlib.util.spec_from_file_location("m0006", ROOT / "migrations" / "versions" / "0006_storefront.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for text in ("Österreichischer Kräutertee", "Иван-чай «Лесной»", "ΤΣΆΪ", "煎茶 Sencha", "Straße", "ǅ", "a_b-c.d"):
        assert migration._terms(text) == " ".join(terms(text)), text
