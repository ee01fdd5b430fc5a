"""A product's variants: finding one, and the admin's changes to them (add, edit, move,
switch on and off), each in one transaction. How variants are modelled: shop/models/variants.py.

A variant's SKU follows the product SKU rule (rules.py) and is unique among products' and
variants' SKUs together: one SKU names one thing a warehouse picks.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from shop.audit import Actor, changes, record_change, snapshot
from shop.catalog.rules import sku_problem
from shop.database import transaction
from shop.extensions import db
from shop.models import Product, ProductVariant


class VariantNotFound(Exception):
    """No such variant of this product."""


class VariantRefused(ValueError):
    """The values cannot be saved; `field` names the form field, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class VariantChanged(Exception):
    """The variant changed (a sale, another admin) since the form showed it; nothing written."""


@dataclass(frozen=True)
class VariantValues:
    """A variant's fields as the admin form gives them (text stripped)."""

    sku: str
    option: str
    price_cents: int | None  # None: the product's price
    stock: int
    active: bool = True


# What the audit trail records of a variant (prices in minor units).
AUDITED = ("sku", "option", "price_cents", "stock", "active")


def variant_of(product: Product, variant_id: int | None) -> ProductVariant | None:
    """`product`'s variant with this id (on sale or not); None if it has none such."""
    return next((v for v in product.variants if v.id == variant_id), None)


def sku_in_use(sku: str, except_variant: int | None = None, except_product: int | None = None) -> bool:
    """Whether a product or a variant (other than the ones named) has this SKU."""
    product = sa.select(Product.id).where(Product.sku == sku, Product.id != (except_product or 0))
    variant = sa.select(ProductVariant.id).where(ProductVariant.sku == sku, ProductVariant.id != (except_variant or 0))
    return db.session.execute(product.union_all(variant).limit(1)).first() is not None


def _check(product: Product, values: VariantValues, variant: ProductVariant | None) -> None:
    problem = sku_problem(values.sku, variant.sku if variant is not None else None)
    if problem:
        raise VariantRefused("sku", problem)
    if sku_in_use(values.sku, variant.id if variant else None):
        raise VariantRefused("sku", _("Another product or variant has this SKU."))
    if any(v.option == values.option and v is not variant for v in product.variants):
        raise VariantRefused("option", _("This product has an option with this label already."))


def add_variant(product_id: int, values: VariantValues, *, by: Actor | None) -> ProductVariant:
    """Add a variant as the product's last. The product's first variant takes over the
    product's own stock when its form gives none (the product then sells only through its
    variants, and its own stock is 0). Recorded in the audit trail as made `by` this user.
    Raises VariantNotFound (no such product), VariantRefused."""
    try:
        with transaction():
            product = db.session.get(Product, product_id, populate_existing=True)
            if product is None:
                raise VariantNotFound(product_id)
            _check(product, values, None)
            stock = values.stock
            if not product.variants:
                stock, product.stock = stock or product.stock, 0
            variant = ProductVariant(
                sku=values.sku,
                option=values.option,
                price_cents=values.price_cents,
                stock=stock,
                active=values.active,
                position=max((v.position for v in product.variants), default=-1) + 1,
            )
            product.variants.append(variant)
            db.session.flush()
            record_change(by, "variant.created", "product", product_id, None, snapshot(variant, AUDITED))
    except IntegrityError:  # the same SKU or label saved at the same moment by another admin
        raise VariantRefused("sku", _("Another product or variant has this SKU.")) from None
    return variant


def update_variant(
    product_id: int, variant_id: int, values: VariantValues, seen_version: int | None, *, by: Actor | None
) -> ProductVariant:
    """Save a variant's fields. `seen_version` is the version the form showed: a variant
    sold or changed since raises VariantChanged and nothing is written. What changed is
    recorded in the audit trail (on the product) as made `by` this user. Raises
    VariantNotFound, VariantRefused, VariantChanged."""
    try:
        with transaction():
            variant = _get(product_id, variant_id)
            if variant.version_id != seen_version:
                raise VariantChanged()
            _check(variant.product, values, variant)
            was = snapshot(variant, AUDITED)
            variant.sku, variant.option, variant.price_cents = values.sku, values.option, values.price_cents
            variant.stock, variant.active = values.stock, values.active
            before, after = changes(was, snapshot(variant, AUDITED))
            if after:
                record_change(by, "variant.changed", "product", product_id, {"variant": variant.id, **before}, after)
    except StaleDataError:
        raise VariantChanged() from None
    except IntegrityError:
        raise VariantRefused("sku", _("Another product or variant has this SKU.")) from None
    return variant


def move_variant(product_id: int, variant_id: int, step: int) -> None:
    """Move a variant one place up (step -1) or down (+1) in the order the product page
    offers them; at either end nothing moves. Raises VariantNotFound."""
    with transaction():
        variant = _get(product_id, variant_id)
        ordered = sorted(variant.product.variants, key=lambda v: (v.position, v.id))  # as stored now
        at = ordered.index(variant)
        other = at + step
        if 0 <= other < len(ordered):
            ordered[at], ordered[other] = ordered[other], ordered[at]
            for position, each in enumerate(ordered):
                if each.position != position:
                    each.position = position


def _get(product_id: int, variant_id: int) -> ProductVariant:
    variant = db.session.get(ProductVariant, variant_id, populate_existing=True)
    if variant is None or variant.product_id != product_id:
        raise VariantNotFound(variant_id)
    return variant
