"""GET / (catalogue: search, category, pages), GET /products/<id>-<slug>, the photos'
files, /sitemap.xml and /robots.txt."""

import re
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, redirect, render_template, request, send_from_directory
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from shop.catalog import bp
from shop.catalog.images import image_folder, widths
from shop.catalog.pages import render_product
from shop.catalog.search import search_products
from shop.catalog.seo import (
    canonical_url,
    category_description,
    photo_url,
    product_slug,
    product_url,
    sitemap_entries,
)
from shop.extensions import db, get_settings
from shop.forms import add_to_cart_form
from shop.inputs import paginate
from shop.models import Category, Product
from shop.urls import absolute_url_for

MAX_QUERY_LENGTH = 100
FILE_NAME = re.compile(r"[0-9a-f]{32}-[0-9]{1,4}\.(webp|jpg|png)")
ONE_YEAR = 365 * 24 * 3600
# Paths a search engine has no business in (robots.txt); the pages say so themselves too.
PRIVATE_PATHS = ("/cart", "/checkout", "/orders", "/account", "/auth/", "/admin")


@bp.app_template_global()
def photo_srcset(image: Any, extension: str) -> str:
    """`srcset` of a photo's files of one format: "<url> 400w, <url> 800w, ..."."""
    return ", ".join(f"{photo_url(image, w, extension)} {w}w" for w in widths(image.width))


bp.add_app_template_global(photo_url)
bp.add_app_template_global(product_url)
bp.add_app_template_global(canonical_url)


@bp.get("/")
def index() -> str:
    q = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    slug = request.args.get("category", "").strip()
    statement = (
        sa.select(Product)
        .where(Product.active.is_(True))
        .options(selectinload(Product.images), selectinload(Product.variants))
        .order_by(Product.name, Product.id)
    )
    category = None
    if slug:
        category = db.session.execute(sa.select(Category).where(Category.slug == slug)).scalar_one_or_none()
        if category is None:
            abort(404, _("There is no such category."))
        statement = statement.where(Product.category_id == category.id)
    statement = search_products(statement, q)
    page = paginate(statement, min(get_settings().page_size, 100))
    categories = db.session.execute(
        sa.select(Category)
        .where(sa.exists().where(Product.category_id == Category.id, Product.active.is_(True)))
        .order_by(Category.name)
    ).scalars()
    description = category_description(category, [p.name for p in page.items]) if category else None
    return render_template(
        "catalog/index.html", page=page, q=q, category=category, categories=list(categories), description=description
    )


@bp.get("/products/<id:product_id>", defaults={"slug": None})
@bp.get("/products/<id:product_id>-<slug>")
def product(product_id: int, slug: str | None) -> Response | tuple[str, int, dict[str, str]]:
    """The product page at /products/<id>-<slug>; its id alone, or with an old or wrong
    slug (a renamed product), is moved permanently (301) there."""
    # The page names the category and offers the variants (none, mostly): both loaded in
    # the product's query (joins), not lazily by the template in more of them.
    item = db.session.get(
        Product,
        product_id,
        options=[joinedload(Product.category), joinedload(Product.variants), selectinload(Product.images)],
    )
    if item is None:
        abort(404)
    if not item.active:
        abort(404, _("This product is not sold any more."))
    if slug != (product_slug(item.name) or None):
        query = request.query_string.decode("ascii", "replace")
        keep = query if query.isascii() and query.isprintable() and "\ufffd" not in query else ""
        return redirect(product_url(item) + (f"?{keep}" if keep else ""), 301)
    return render_product(item, add_to_cart_form(item, formdata=None))


@bp.get("/media/products/<name>")
def product_image(name: str) -> Response:
    """A photo's file (generated names only; nothing else is served from here). A name
    never changes its content (shop/catalog/images.py), so it may be kept for a year."""
    if not FILE_NAME.fullmatch(name):
        abort(404)
    response = send_from_directory(image_folder(), name, max_age=ONE_YEAR)
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """The sitemaps.org protocol: the catalogue, its categories and products on sale."""
    xml = render_template("catalog/sitemap.xml", entries=sitemap_entries())
    return Response(xml, mimetype="application/xml")


@bp.get("/robots.txt")
def robots() -> Response:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in PRIVATE_PATHS), ""]
    lines.append(f"Sitemap: {absolute_url_for('catalog.sitemap')}")
    return Response("\n".join(lines) + "\n", mimetype="text/plain")
