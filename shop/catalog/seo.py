"""What search engines and link previews read: product slugs, canonical addresses, page
descriptions, Product structured data (JSON-LD), and the sitemap's entries.

Absolute addresses come from SHOP_BASE_URL (shop/urls.py), so a page reached through
another host name or with tracking parameters names the one address it should be known by.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from flask import request, url_for
from flask_babel import gettext as _

from shop.catalog.images import file_name
from shop.catalog.search import terms
from shop.extensions import db, get_settings
from shop.models import Category, Product
from shop.money import to_decimal
from shop.urls import absolute_url_for

SLUG_MAX_LENGTH = 80
DESCRIPTION_MAX_LENGTH = 160  # what search results show of a description, about
SITEMAP_MAX_URLS = 50_000  # the sitemaps.org protocol's limit for one file
# Query arguments that change what a catalogue page shows; any other (utm_source, fbclid,
# gclid, ...) is left out of its canonical address.
CATALOGUE_ARGUMENTS = ("category", "page")
SCHEMA_AVAILABILITY = {True: "https://schema.org/InStock", False: "https://schema.org/OutOfStock"}


def product_slug(name: str) -> str:
    """The words of a product's name for its address: folded like search ("Kräutertee" ->
    "krautertee"), joined by dashes, at most SLUG_MAX_LENGTH characters, cut at a word.
    Letters of any script stay (a browser shows them; the address carries them encoded)."""
    words, slug = terms(name), ""
    for word in words:
        if len(slug) + len(word) + 1 > SLUG_MAX_LENGTH:
            break
        slug = f"{slug}-{word}" if slug else word
    if not slug and words:  # one word longer than the limit
        slug = words[0][:SLUG_MAX_LENGTH]
    return slug


def product_url(product: Product, external: bool = False) -> str:
    """The product page's canonical address, /products/<id>-<slug> (or /products/<id> for
    a name without a letter or digit)."""
    slug = product_slug(product.name)
    values: dict[str, Any] = {"product_id": product.id, **({"slug": slug} if slug else {})}
    if external:
        return absolute_url_for("catalog.product", **values)
    return url_for("catalog.product", **values)


def canonical_url() -> str:
    """This page's canonical address: the path under SHOP_BASE_URL (or this host), without
    a query, except the catalogue's own arguments (category, page: page 1 is the plain
    address) and a search's `q`."""
    base = get_settings().base_url or request.host_url.rstrip("/")
    kept = []
    if request.endpoint == "catalog.index":
        for name in (*CATALOGUE_ARGUMENTS, "q"):
            value = request.args.get(name, "").strip()
            if value and not (name == "page" and value == "1"):
                kept.append((name, value))
    url = base + quote(request.path, safe="/-._~!$&'()*+,;=:@%")
    return url + ("?" + urlencode(kept) if kept else "")


def shorten(text: str, limit: int = DESCRIPTION_MAX_LENGTH) -> str:
    """`text` on one line, cut at a word before `limit` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def product_description(product: Product) -> str:
    shop = get_settings().shop_name
    return shorten(product.description or _("%(product)s at %(shop)s.", product=product.name, shop=shop))


def category_description(category: Category, names: list[str]) -> str:
    shop = get_settings().shop_name
    some = ", ".join(names[:4])
    if some:
        return shorten(_("%(category)s at %(shop)s: %(some)s and more.", category=category.name, shop=shop, some=some))
    return shorten(_("%(category)s at %(shop)s.", category=category.name, shop=shop))


def photo_url(image: Any, width: int, extension: str, external: bool = False) -> str:
    name = file_name(image.key, width, extension)
    if external:
        return absolute_url_for("catalog.product_image", name=name)
    return url_for("catalog.product_image", name=name)


# ---------------------------------------------------------------- structured data
def product_structured_data(product: Product) -> dict[str, Any]:
    """schema.org Product with an Offer, as JSON-LD: what Google's product snippet and
    merchant listing read (https://schema.org/Product, https://schema.org/Offer;
    developers.google.com/search/docs/appearance/structured-data/product-snippet): name,
    image, description, sku, and an offer with price (a decimal number as text, no
    currency sign), priceCurrency (ISO 4217), availability (an ItemAvailability URL)."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "sku": product.sku,
        "url": product_url(product, external=True),
        "offers": {
            "@type": "Offer",
            "price": str(to_decimal(product.price_cents, get_settings().currency)),
            "priceCurrency": get_settings().currency,
            "availability": SCHEMA_AVAILABILITY[product.stock_on_hand > 0],
            "url": product_url(product, external=True),
        },
    }
    if product.prices_differ:  # variants at several prices: the range (schema.org AggregateOffer)
        prices = [v.unit_price_cents for v in product.variants_on_sale]
        offer = data["offers"]
        del offer["price"]
        offer.update(
            {
                "@type": "AggregateOffer",
                "lowPrice": str(to_decimal(min(prices), get_settings().currency)),
                "highPrice": str(to_decimal(max(prices), get_settings().currency)),
                "offerCount": len(prices),
            }
        )
    elif product.has_variants:
        data["offers"]["price"] = str(to_decimal(product.lowest_price_cents, get_settings().currency))
    if product.description:
        data["description"] = product.description
    if product.images:
        data["image"] = [photo_url(i, i.width, i.fallback, external=True) for i in product.images]
    if product.category is not None:
        data["category"] = product.category.name
    return data


@dataclass(frozen=True)
class JsonLd:
    """A JSON-LD block: the exact text of its <script type="application/ld+json"> and the
    CSP source that allows that text and nothing else ('sha256-...', CSP Level 2 hashes)."""

    text: str
    csp_hash: str


def json_ld(data: dict[str, Any]) -> JsonLd:
    # "<", ">" and "&" escaped as JSON \\u escapes: no "</script>" can end the block early.
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return JsonLd(text, f"'sha256-{digest}'")


# ---------------------------------------------------------------- sitemap
@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    lastmod: datetime


def sitemap_entries() -> list[SitemapEntry]:
    """The catalogue, each category with a product on sale, and each product on sale, with
    the time the page's content last changed (the newest of its products' updated_at)."""
    products = db.session.execute(
        sa.select(Product.id, Product.name, Product.updated_at)
        .where(Product.active.is_(True))
        .order_by(Product.id)
        .limit(SITEMAP_MAX_URLS - 1000)
    ).all()
    categories = db.session.execute(
        sa.select(Category.slug, sa.func.max(Product.updated_at))
        .join(Product, Product.category_id == Category.id)
        .where(Product.active.is_(True))
        .group_by(Category.slug)
        .order_by(Category.slug)
    ).all()
    if not products:
        return []
    newest = max(p.updated_at for p in products)
    entries = [SitemapEntry(absolute_url_for("catalog.index"), newest)]
    entries += [SitemapEntry(absolute_url_for("catalog.index", category=slug), changed) for slug, changed in categories]
    for product_id, name, changed in products:
        slug = product_slug(name)
        values = {"product_id": product_id, **({"slug": slug} if slug else {})}
        entries.append(SitemapEntry(absolute_url_for("catalog.product", **values), changed))
    return entries
