"""Saving products, their images and their categories: the admin's product form and on-sale
switch, and the categories the CSV import creates (importer.py); finding products for the
admin's list.

Every change to a product row counts up its `version_id` (SQLAlchemy's optimistic
versioning, `version_id_col` on the model; the Core UPDATEs of checkout, restock and the
on-sale switch add one themselves). A form carries the version it showed; saving over a
version that changed meanwhile raises ProductChanged instead of writing the old stock
(or price, or name) back over the new one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import FileStorage

from shop.audit import Actor, changes, record_change, snapshot
from shop.catalog.images import ProcessedImage, read_upload, store_product_image
from shop.catalog.photos import forget_upload
from shop.catalog.rules import sku_problem
from shop.catalog.search import search_products
from shop.catalog.variants import sku_in_use
from shop.database import transaction
from shop.extensions import db
from shop.models import Category, Product, ProductImage, ProductVariant


class ProductNotFound(Exception):
    pass


class SkuTaken(Exception):
    """Another product has this SKU."""


class SkuRefused(ValueError):
    """Not a SKU the shop takes (rules.py); the message says why."""


class ProductChanged(Exception):
    """The product changed (a sale, a restock, another admin) since the version the form
    showed; nothing was written. `current` is the product as it is now."""

    def __init__(self, current: Product) -> None:
        super().__init__(f"product {current.id} changed meanwhile (now version {current.version_id})")
        self.current = current


@dataclass(frozen=True)
class ProductValues:
    """A product's fields as the admin form gives them (text already stripped)."""

    sku: str
    name: str
    description: str
    price_cents: int
    stock: int
    low_stock_threshold: int | None  # None: the shop's SHOP_LOW_STOCK_THRESHOLD
    category: str  # a name; "" for none, a new name makes a new category


# What the audit trail records of a product's changes (the description is left out: long,
# and no figure depends on it).
AUDITED_FIELDS = ("sku", "name", "price_cents", "stock", "low_stock_threshold", "active")


def count_products() -> int:
    """How many products the catalogue has, on sale or not."""
    return db.session.execute(sa.select(sa.func.count(Product.id))).scalar_one()


def get_product(product_id: int) -> Product:
    """The product with this id, on sale or not. Raises ProductNotFound."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise ProductNotFound(product_id)
    return product


def products_for_admin(query: str = "", show: str = "all", low_stock_threshold: int = 0) -> sa.Select:
    """The admin's product list, by name, with their categories: matching `query` (search.py),
    and `show` "active" (on sale), "inactive", "low" (at or below their threshold, or
    `low_stock_threshold` for those without one; for a product with variants: any variant
    on sale is) or anything else for all."""
    statement = (
        sa.select(Product)
        .options(selectinload(Product.category), selectinload(Product.variants))
        .order_by(Product.name, Product.id)
    )
    statement = search_products(statement, query)
    if show == "active":
        statement = statement.where(Product.active.is_(True))
    elif show == "inactive":
        statement = statement.where(Product.active.is_(False))
    elif show == "low":
        threshold = sa.func.coalesce(Product.low_stock_threshold, low_stock_threshold)
        variants = sa.select(ProductVariant.id).where(ProductVariant.product_id == Product.id)
        low_variant = variants.where(ProductVariant.active.is_(True), ProductVariant.stock <= threshold)
        statement = statement.where(
            sa.or_(sa.and_(~variants.exists(), Product.stock <= threshold), low_variant.exists())
        )
    return statement


@dataclass(frozen=True)
class SavedProduct:
    product: Product
    notes: tuple[str, ...]  # what the photo pipeline did that the admin should know (a GIF's first frame)


def save_product(
    product_id: int | None,
    values: ProductValues,
    seen_version: int | None,
    image: FileStorage | None = None,
    *,
    by: Actor | None,
) -> SavedProduct:
    """Create a product (`product_id` None) or update one, in one transaction; an `image`
    (an upload) is added as its last photo, its alt text the name. The change of any of
    AUDITED_FIELDS is recorded in the audit trail as made `by` this user.

    The image is decoded, re-encoded and stored first (images.py), and its files deleted
    again if the product is not saved. A new or changed SKU must follow the rule (rules.py).
    `seen_version` is the `version_id` the form was filled from; if the product has another
    one now, ProductChanged is raised and nothing is written (also when the change lands
    between this check and the UPDATE: the ORM's `WHERE version_id = ...` matches no row and
    SQLAlchemy raises StaleDataError, mapped here). Raises ImageRefused, ProductNotFound,
    SkuRefused, SkuTaken, ProductChanged.
    """
    stored = store_product_image(read_upload(image.stream)) if image else None
    try:
        product = _save(product_id, values, seen_version, stored, by)
    except BaseException:
        if stored is not None:
            forget_upload(stored)
        raise
    return SavedProduct(product, stored.notes if stored is not None else ())


def _save(
    product_id: int | None,
    values: ProductValues,
    seen_version: int | None,
    image: ProcessedImage | None,
    by: Actor | None,
) -> Product:
    """save_product's transaction."""
    try:
        with transaction():
            if product_id is None:
                product = None
            else:
                product = db.session.get(Product, product_id, populate_existing=True)
                if product is None:
                    raise ProductNotFound(product_id)
                if product.version_id != seen_version:
                    raise ProductChanged(product)
            problem = sku_problem(values.sku, product.sku if product is not None else None)
            if problem:
                raise SkuRefused(problem)
            if sku_in_use(values.sku, except_product=product_id):  # by a product or a variant
                raise SkuTaken(values.sku)
            category = category_named(values.category)  # before a new product joins the session
            before = snapshot(product, AUDITED_FIELDS) if product is not None else None
            if product is None:
                product = Product(active=True)
                db.session.add(product)
            product.sku, product.name, product.description = values.sku, values.name, values.description
            # A product with variants sells only through them: its own stock stays 0.
            product.price_cents, product.stock = values.price_cents, 0 if product.variants else values.stock
            product.low_stock_threshold, product.category = values.low_stock_threshold, category
            if image:
                position = max((i.position for i in product.images), default=-1) + 1
                product.images.append(
                    ProductImage(
                        position=position,
                        alt_text=values.name[:250],
                        key=image.key,
                        width=image.width,
                        height=image.height,
                        fallback=image.fallback,
                    )
                )
            db.session.flush()  # the new product's id; a stale version fails here
            record_product_saved(by, product, before)
    except StaleDataError:
        raise ProductChanged(_reloaded(product_id)) from None
    except IntegrityError as error:
        if "sku" not in str(error.orig).lower():  # uq_product_sku / product.sku, on either database
            raise
        raise SkuTaken(values.sku) from None  # taken by a product created at the same moment
    return product


def record_product_saved(by: Actor | None, product: Product, before: dict | None) -> None:
    """Record in the audit trail that `by` created `product` (`before` None) or changed
    it from `before` (a snapshot of AUDITED_FIELDS); nothing if none of them changed. In
    the caller's transaction, after a flush (the new product's id)."""
    after = snapshot(product, AUDITED_FIELDS)
    if before is None:
        record_change(by, "product.created", "product", product.id, None, after)
        return
    old, new = changes(before, after)
    if new:
        record_change(by, "product.changed", "product", product.id, old, new)


def _reloaded(product_id: int | None) -> Product:
    current = db.session.get(Product, product_id, populate_existing=True) if product_id else None
    if current is None:
        raise ProductNotFound(product_id)
    return current


def set_product_active(product_id: int, active: bool, *, by: Actor | None) -> str:
    """Put a product on sale or take it off; its name. One UPDATE, which counts up the
    version (and records the change in the audit trail, made `by` this user) only when the
    switch changes something. Raises ProductNotFound."""
    with transaction():
        name = db.session.execute(
            sa.update(Product)
            .where(Product.id == product_id, Product.active.is_not(active))
            .values(active=active, version_id=Product.version_id + 1)
            .returning(Product.name)
            .execution_options(synchronize_session=False)
        ).scalar()
        if name is None:
            name = db.session.execute(sa.select(Product.name).where(Product.id == product_id)).scalar()
        else:
            record_change(by, "product.changed", "product", product_id, {"active": not active}, {"active": active})
    if name is None:
        raise ProductNotFound(product_id)
    return name


def slugify(name: str) -> str:
    """'Green & Black Tea' -> 'green-black-tea': a category's name in its URL."""
    # At most 72 characters: with a "-2" ... suffix it still fits the 80 of Category.slug.
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:72].strip("-") or "category"


def category_named(name: str) -> Category | None:
    """The category called `name` (stripped), created with a free slug if there is none
    yet; None for an empty name. Inside the caller's transaction."""
    name = name.strip()
    if not name:
        return None
    category = db.session.execute(sa.select(Category).where(Category.name == name)).scalar_one_or_none()
    if category is None:
        slug, n = slugify(name), 2
        while db.session.execute(sa.select(Category.id).where(Category.slug == slug)).first():
            slug, n = f"{slugify(name)}-{n}", n + 1
        category = Category(name=name, slug=slug)
        db.session.add(category)
    return category
