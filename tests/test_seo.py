"""What search engines and link previews read (issue 20, item 2): slugs and 301s, the
canonical address of every page, descriptions, the sitemap (validated against the
sitemaps.org schema with lxml), robots.txt, Product/Offer JSON-LD (checked against the
schema.org types and Google's product rules), Open Graph, and the CSP hash of the JSON-LD
block."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from datetime import datetime
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from lxml import etree

from shop.extensions import db
from shop.models import Category, Product
from tests import pictures
from tests.conftest import Browser

BASE = "http://shop.test"  # SHOP_BASE_URL in the tests' settings


class Head(HTMLParser):
    """A page's <link rel=canonical>, <meta> values and JSON-LD blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.canonical: list[str] = []
        self.meta: dict[str, list[str]] = {}
        self.json_ld: list[str] = []
        self._in_json = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "link" and a.get("rel") == "canonical":
            self.canonical.append(a["href"])
        elif tag == "meta" and ("name" in a or "property" in a):
            self.meta.setdefault(a.get("name") or a["property"], []).append(a.get("content", ""))
        elif tag == "script":
            self._in_json = a.get("type") == "application/ld+json"
            if self._in_json:
                self.json_ld.append("")

    def handle_data(self, data: str) -> None:
        if self._in_json:
            self.json_ld[-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_json = False

    @classmethod
    def of(cls, html: str) -> Head:
        head = cls()
        head.feed(html)
        return head


@pytest.fixture
def shelf(app) -> dict[str, int]:
    """Products on sale (one with photos, one with a name in German), one retired."""
    with app.app_context():
        tea = Category(name="Tea", slug="tea")
        items = [
            Product(
                sku="TEA-1", name="Assam Tea", description="Malty black tea.", price_cents=1250, stock=40, category=tea
            ),
            Product(
                sku="HERB-1", name="Österreichischer Kräutertee", description="", price_cents=900, stock=0, category=tea
            ),
            Product(sku="OLD-1", name="Retired Kettle", description="Gone.", price_cents=999, stock=5, active=False),
        ]
        db.session.add_all(items)
        db.session.commit()
        return {p.sku: p.id for p in items}


# ---------------------------------------------------------------- slugs
def test_product_addresses_carry_a_slug_and_every_other_form_moves_there_for_good(browser, shelf):
    tea, herb = shelf["TEA-1"], shelf["HERB-1"]
    canonical = f"/products/{tea}-assam-tea"
    assert browser.get(canonical).status_code == 200
    for old in (f"/products/{tea}", f"/products/{tea}-assam", f"/products/{tea}-Assam-Tea", f"/products/{tea}-x"):
        response = browser.get(old)
        assert response.status_code == 301, old
        assert response.headers["Location"] == canonical, old
    kept = browser.get(f"/products/{tea}?utm_source=news&ref=1")
    assert kept.headers["Location"] == f"{canonical}?utm_source=news&ref=1"  # analytics keep their arguments
    assert browser.get(f"/products/{herb}").headers["Location"] == f"/products/{herb}-osterreichischer-krautertee"
    assert f"/products/{tea}-assam-tea" in browser.get("/").get_data(as_text=True)
    for gone in (f"/products/{shelf['OLD-1']}", f"/products/{shelf['OLD-1']}-retired-kettle", "/products/999-x"):
        assert browser.get(gone).status_code == 404, gone


def test_a_renamed_product_moves_its_old_address_to_the_new_one(app, browser, shelf):
    tea = shelf["TEA-1"]
    with app.app_context():
        db.session.get(Product, tea).name = "Assam Breakfast Tea"
        db.session.commit()
    response = browser.get(f"/products/{tea}-assam-tea")
    assert (response.status_code, response.headers["Location"]) == (301, f"/products/{tea}-assam-breakfast-tea")


def test_the_cart_still_takes_the_product_id_and_goes_back_to_the_canonical_page(browser, shelf):
    response = browser.add(shelf["TEA-1"], 1)  # the form on /products/<id>-<slug> posts to /cart/add/<id>
    assert response.status_code == 303
    assert response.headers["Location"] == f"/products/{shelf['TEA-1']}-assam-tea"


def test_names_in_other_scripts_keep_their_letters_in_the_slug(app, browser):
    with app.app_context():
        product = Product(sku="CHAI", name="Иван-чай «Лесной»", price_cents=100, stock=1)
        db.session.add(product)
        db.session.commit()
        product_id = product.id
    response = browser.get(f"/products/{product_id}")
    assert (
        response.headers["Location"]
        == f"/products/{product_id}-%D0%B8%D0%B2%D0%B0%D0%BD-%D1%87%D0%B0%D0%B9-%D0%BB%D0%B5%D1%81%D0%BD%D0%BE%D0%B9"
    )
    assert browser.get(response.headers["Location"]).status_code == 200


# ---------------------------------------------------------------- canonical, description, Open Graph
def test_every_page_names_its_canonical_address_without_tracking_arguments(app, browser, shelf):
    tea = shelf["TEA-1"]
    cases = {
        "/?utm_source=mail&fbclid=x": f"{BASE}/",
        "/?category=tea&page=1&gclid=1": f"{BASE}/?category=tea",
        "/?page=1": f"{BASE}/",
        f"/products/{tea}-assam-tea?utm_campaign=spring": f"{BASE}/products/{tea}-assam-tea",
        "/cart?x=1": f"{BASE}/cart",
        "/auth/login?next=/orders": f"{BASE}/auth/login",
        "/no-such-page?utm_source=x": f"{BASE}/no-such-page",
    }
    for url, expected in cases.items():
        head = Head.of(browser.get(url).get_data(as_text=True))
        assert head.canonical == [expected], url
        assert head.meta["og:url"] == [expected], url


def test_catalogue_pages_keep_their_page_and_category(make_app):
    app = make_app(SHOP_PAGE_SIZE=1)
    with app.app_context():
        tea = Category(name="Tea", slug="tea")
        db.session.add_all(
            Product(sku=f"T{i}", name=f"Tea {i}", price_cents=1, stock=1, category=tea) for i in range(3)
        )
        db.session.commit()
    head = Head.of(Browser(app.test_client()).get("/?page=2&category=tea&utm_medium=x").get_data(as_text=True))
    assert head.canonical == [f"{BASE}/?category=tea&page=2"]
    search = Head.of(Browser(app.test_client()).get("/?q=tea&utm_medium=x").get_data(as_text=True))
    assert search.canonical == [f"{BASE}/?q=tea"]
    assert search.meta["robots"] == ["noindex, follow"]  # result lists are for people, not the index


def test_descriptions_come_from_the_product_or_the_category(app, browser, shelf):
    with app.app_context():
        db.session.get(Product, shelf["TEA-1"]).description = "Malty, brisk black tea. " * 20
        db.session.commit()
    product = Head.of(browser.get(f"/products/{shelf['TEA-1']}-assam-tea").get_data(as_text=True))
    [description] = product.meta["description"]
    assert description.startswith("Malty, brisk black tea. Malty")
    assert len(description) <= 160
    assert description.endswith("…")
    assert product.meta["og:description"] == [description]
    category = Head.of(browser.get("/?category=tea").get_data(as_text=True)).meta["description"]
    assert category == ["Tea at Swiftcart: Assam Tea, Österreichischer Kräutertee and more."]
    assert Head.of(browser.get("/").get_data(as_text=True)).meta["description"] == [
        "Swiftcart: browse the catalogue and order online."
    ]


def test_open_graph_tags_describe_the_product_and_its_photo(app, browser, shelf, admin):
    url = f"/admin/products/{shelf['TEA-1']}/photos"
    fields = {"photo": (io.BytesIO(pictures.png(1600, 900)), "tin.png"), "alt_text": "A tin of Assam"}
    assert admin.submit(url, url, fields, content_type="multipart/form-data").status_code == 303
    head = Head.of(browser.get(f"/products/{shelf['TEA-1']}-assam-tea").get_data(as_text=True))
    assert head.meta["og:type"] == ["product"]
    assert head.meta["og:title"] == ["Assam Tea"]
    assert head.meta["og:site_name"] == ["Swiftcart"]
    [image] = head.meta["og:image"]
    assert re.fullmatch(rf"{BASE}/media/products/[0-9a-f]{{32}}-1200\.jpg", image)
    assert (head.meta["og:image:width"], head.meta["og:image:height"]) == (["1200"], ["675"])
    assert head.meta["og:image:alt"] == ["A tin of Assam"]
    assert head.meta["twitter:card"] == ["summary_large_image"]
    assert Browser(app.test_client()).get(image.removeprefix(BASE)).status_code == 200


# ---------------------------------------------------------------- sitemap and robots.txt
# The sitemaps.org protocol 0.9's schema (https://www.sitemaps.org/schemas/sitemap/0.9/sitemap.xsd),
# its essentials written out: a urlset of url elements, each a loc (an absolute URI, 12 to
# 2048 characters) and optionally lastmod (W3C date or dateTime), changefreq, priority.
SITEMAP_XSD = b"""<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"
            targetNamespace="http://www.sitemaps.org/schemas/sitemap/0.9"
            xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" elementFormDefault="qualified">
  <xsd:element name="urlset">
    <xsd:complexType>
      <xsd:sequence>
        <xsd:element ref="url" minOccurs="0" maxOccurs="unbounded"/>
      </xsd:sequence>
    </xsd:complexType>
  </xsd:element>
  <xsd:element name="url">
    <xsd:complexType>
      <xsd:sequence>
        <xsd:element name="loc" type="tLoc"/>
        <xsd:element name="lastmod" type="tLastmod" minOccurs="0"/>
        <xsd:element name="changefreq" type="tChangeFreq" minOccurs="0"/>
        <xsd:element name="priority" type="tPriority" minOccurs="0"/>
        <xsd:any namespace="##other" processContents="strict" minOccurs="0" maxOccurs="unbounded"/>
      </xsd:sequence>
    </xsd:complexType>
  </xsd:element>
  <xsd:simpleType name="tLoc">
    <xsd:restriction base="xsd:anyURI">
      <xsd:minLength value="12"/>
      <xsd:maxLength value="2048"/>
    </xsd:restriction>
  </xsd:simpleType>
  <xsd:simpleType name="tLastmod">
    <xsd:union memberTypes="xsd:date xsd:dateTime"/>
  </xsd:simpleType>
  <xsd:simpleType name="tChangeFreq">
    <xsd:restriction base="xsd:string">
      <xsd:enumeration value="always"/><xsd:enumeration value="hourly"/><xsd:enumeration value="daily"/>
      <xsd:enumeration value="weekly"/><xsd:enumeration value="monthly"/><xsd:enumeration value="yearly"/>
      <xsd:enumeration value="never"/>
    </xsd:restriction>
  </xsd:simpleType>
  <xsd:simpleType name="tPriority">
    <xsd:restriction base="xsd:decimal">
      <xsd:minInclusive value="0.0"/>
      <xsd:maxInclusive value="1.0"/>
    </xsd:restriction>
  </xsd:simpleType>
</xsd:schema>"""
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def test_the_sitemap_lists_what_is_on_sale_and_is_valid(app, browser, shelf):
    response = browser.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    document = etree.fromstring(response.get_data())
    schema = etree.XMLSchema(etree.fromstring(SITEMAP_XSD))
    assert schema.validate(document), schema.error_log
    locations = document.xpath("//s:url/s:loc/text()", namespaces=NS)
    assert locations == [
        f"{BASE}/",
        f"{BASE}/?category=tea",
        f"{BASE}/products/{shelf['TEA-1']}-assam-tea",
        f"{BASE}/products/{shelf['HERB-1']}-osterreichischer-krautertee",
    ]  # not the retired kettle
    with app.app_context():
        changed = db.session.get(Product, shelf["TEA-1"]).updated_at
    lastmod = document.xpath(f"//s:url[s:loc='{locations[2]}']/s:lastmod/text()", namespaces=NS)
    assert lastmod == [changed.strftime("%Y-%m-%dT%H:%M:%S+00:00")]
    assert datetime.fromisoformat(lastmod[0])  # W3C datetime, with its zone


def test_the_sitemap_escapes_and_a_broken_one_fails_the_schema(browser, shelf):
    """The check itself: a sitemap with a relative loc or a made-up lastmod is refused."""
    schema = etree.XMLSchema(etree.fromstring(SITEMAP_XSD))
    bad = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>/p/1</loc><lastmod>yesterday</lastmod></url></urlset>'
    assert not schema.validate(etree.fromstring(bad))


def test_robots_txt_names_the_sitemap_under_the_base_url(make_app):
    app = make_app(SHOP_BASE_URL="https://shop.example.com")
    response = Browser(app.test_client()).get("/robots.txt")
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "Sitemap: https://shop.example.com/sitemap.xml\n" in text
    assert "User-agent: *\n" in text
    for private in ("/cart", "/checkout", "/orders", "/account", "/admin"):
        assert f"Disallow: {private}\n" in text
    sitemap = Browser(app.test_client()).get("/sitemap.xml")
    assert "http://localhost" not in sitemap.get_data(as_text=True)
    assert "no-store" not in sitemap.headers.get("Cache-Control", "")  # nothing personal: caches may keep it
    assert "no-store" not in response.headers.get("Cache-Control", "")


# ---------------------------------------------------------------- structured data
ISO_4217 = re.compile(r"[A-Z]{3}")
ITEM_AVAILABILITY = {  # schema.org's ItemAvailability enumeration
    f"https://schema.org/{name}"
    for name in (
        "BackOrder",
        "Discontinued",
        "InStock",
        "InStoreOnly",
        "LimitedAvailability",
        "MadeToOrder",
        "OnlineOnly",
        "OutOfStock",
        "PreOrder",
        "PreSale",
        "Reserved",
        "SoldOut",
    )
}


def check_product_json_ld(data: dict[str, Any]) -> list[str]:
    """What schema.org (Product, Offer) and Google's product snippet and merchant listing
    rules say against `data`: required properties and their types. [] when it passes."""
    problems = []
    if data.get("@context") not in ("https://schema.org", "http://schema.org", "https://schema.org/"):
        problems.append("@context is not schema.org")
    if data.get("@type") != "Product":
        problems.append("@type is not Product")
    if not isinstance(data.get("name"), str) or not data["name"]:
        problems.append("Product.name: required Text")
    for key in ("sku", "description", "category"):
        if key in data and not isinstance(data[key], str):
            problems.append(f"Product.{key}: Text")
    images = data.get("image")
    images = [images] if isinstance(images, str) else images
    if images is not None and not (
        isinstance(images, list) and images and all(isinstance(i, str) and re.match(r"https?://", i) for i in images)
    ):
        problems.append("Product.image: URL or a list of URLs (absolute)")
    offers = data.get("offers")
    if not isinstance(offers, dict) or offers.get("@type") != "Offer":
        return [*problems, "Product.offers: an Offer (Google: offers, review or aggregateRating is required)"]
    price = offers.get("price")
    if isinstance(price, bool) or not isinstance(price, (int, float, str)):
        problems.append("Offer.price: Number or Text")
    elif isinstance(price, str) and not re.fullmatch(r"[0-9]+(\.[0-9]+)?", price):
        problems.append("Offer.price: digits and a '.' only (no currency sign, no thousands separator)")
    elif Decimal(str(price)) <= 0:
        problems.append("Offer.price: more than 0 (Google)")
    if not isinstance(offers.get("priceCurrency"), str) or not ISO_4217.fullmatch(offers["priceCurrency"]):
        problems.append("Offer.priceCurrency: ISO 4217 code")
    if offers.get("availability") not in ITEM_AVAILABILITY:
        problems.append("Offer.availability: an ItemAvailability URL")
    return problems


def test_the_product_page_has_valid_product_and_offer_structured_data(app, browser, shelf, admin):
    url = f"/admin/products/{shelf['TEA-1']}/photos"
    for colour in ((200, 0, 0), (0, 0, 200)):
        fields = {"photo": (io.BytesIO(pictures.png(1000, 800, colour)), "tin.png")}
        admin.submit(url, url, fields, content_type="multipart/form-data")
    response = browser.get(f"/products/{shelf['TEA-1']}-assam-tea")
    head = Head.of(response.get_data(as_text=True))
    [block] = head.json_ld
    data = json.loads(block)
    assert check_product_json_ld(data) == []
    assert data["name"] == "Assam Tea"
    assert data["sku"] == "TEA-1"
    assert data["offers"]["price"] == "12.50"
    assert data["offers"]["priceCurrency"] == "EUR"
    assert data["offers"]["availability"] == "https://schema.org/InStock"
    assert len(data["image"]) == 2
    assert all(re.fullmatch(rf"{BASE}/media/products/[0-9a-f]{{32}}-1000\.jpg", i) for i in data["image"])
    assert data["url"] == f"{BASE}/products/{shelf['TEA-1']}-assam-tea"
    herb = Head.of(browser.get(f"/products/{shelf['HERB-1']}-osterreichischer-krautertee").get_data(as_text=True))
    herb_data = json.loads(herb.json_ld[0])
    assert check_product_json_ld(herb_data) == []
    assert herb_data["offers"]["availability"] == "https://schema.org/OutOfStock"
    assert "image" not in herb_data  # no photo: none named


def test_the_checker_finds_what_google_would_refuse():
    good = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Tea",
        "offers": {
            "@type": "Offer",
            "price": "1.00",
            "priceCurrency": "EUR",
            "availability": "https://schema.org/InStock",
        },
    }
    assert check_product_json_ld(good) == []
    assert check_product_json_ld({**good, "offers": {**good["offers"], "price": "€1,00"}})
    assert check_product_json_ld({**good, "offers": {**good["offers"], "priceCurrency": "euro"}})
    assert check_product_json_ld({**good, "offers": {**good["offers"], "availability": "in stock"}})
    assert check_product_json_ld({k: v for k, v in good.items() if k != "offers"})
    assert check_product_json_ld({**good, "name": ""})


def test_the_json_ld_block_is_allowed_by_its_hash_and_cannot_end_early(app, browser):
    with app.app_context():
        product = Product(
            sku="X-1",
            name="Tea </script><script>alert(1)</script>",
            description="A & B <!-- c -->",
            price_cents=100,
            stock=1,
        )
        db.session.add(product)
        db.session.commit()
        product_id = product.id
    response = browser.get(f"/products/{product_id}", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "<script>alert(1)" not in html
    [block] = Head.of(html).json_ld
    assert json.loads(block)["name"] == "Tea </script><script>alert(1)</script>"
    digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
    policy = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert "unsafe-inline" not in policy
    other = browser.get("/").headers["Content-Security-Policy"]
    assert "sha256" not in other  # only the page with that block allows it
