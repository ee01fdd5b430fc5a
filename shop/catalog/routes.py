"""GET / (catalogue: search, category, pages) and GET /products/<id>."""

import re

import sqlalchemy as sa
from flask import Response, abort, render_template, request, send_from_directory
from sqlalchemy.orm import joinedload

from shop.cart.forms import AddToCartForm
from shop.catalog import bp
from shop.catalog.images import image_folder
from shop.catalog.search import search_products
from shop.extensions import db, get_settings
from shop.inputs import paginate
from shop.models import Category, Product

MAX_QUERY_LENGTH = 100


@bp.get("/")
def index() -> str:
    q = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    slug = request.args.get("category", "").strip()
    statement = sa.select(Product).where(Product.active.is_(True)).order_by(Product.name, Product.id)
    category = None
    if slug:
        category = db.session.execute(sa.select(Category).where(Category.slug == slug)).scalar_one_or_none()
        if category is None:
            abort(404, "There is no such category.")
        statement = statement.where(Product.category_id == category.id)
    statement = search_products(statement, q)
    page = paginate(statement, min(get_settings().page_size, 100))
    categories = db.session.execute(
        sa.select(Category)
        .where(sa.exists().where(Product.category_id == Category.id, Product.active.is_(True)))
        .order_by(Category.name)
    ).scalars()
    return render_template("catalog/index.html", page=page, q=q, category=category, categories=list(categories))


@bp.get("/products/<id:product_id>")
def product(product_id: int) -> str:
    # The page names the category: loaded in the product's query (a join), not lazily by
    # the template in a second one.
    item = db.session.get(Product, product_id, options=[joinedload(Product.category)])
    if item is None:
        abort(404)
    if not item.active:
        abort(404, "This product is not sold any more.")
    return render_template("catalog/product.html", product=item, form=AddToCartForm(formdata=None))


@bp.get("/media/products/<name>")
def product_image(name: str) -> Response:
    """An uploaded product image (generated names only; nothing else is served from here)."""
    if not re.fullmatch(r"[0-9a-f]{32}\.(png|jpg|gif|webp)", name):
        abort(404)
    response = send_from_directory(image_folder(), name, max_age=7 * 24 * 3600)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
