"""The owner's tax rates: listing, saving and deleting them, and which rate a product has.

A product without a rate (and every product of a shop that never made one) is taxed at
SHOP_TAX_RATE_BP, so a new install keeps the single rate it always had. Orders store the
rate's number, never a reference to it: changing a rate changes only orders to come.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from shop.audit import Actor, record_change
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.models import Product, TaxRate

MAX_RATE_BP = 10_000  # 100 %


class TaxRateRefused(Exception):
    """A rate that cannot be saved (an empty or taken name, a rate out of range); the
    message says why, for the owner."""


class TaxRateNotFound(Exception):
    """No such tax rate."""


def all_rates() -> list[TaxRate]:
    """Every rate, highest first, then by name."""
    return list(db.session.execute(sa.select(TaxRate).order_by(TaxRate.rate_bp.desc(), TaxRate.name)).scalars())


def get_rate(rate_id: int) -> TaxRate:
    """The rate with this id. Raises TaxRateNotFound."""
    rate = db.session.get(TaxRate, rate_id)
    if rate is None:
        raise TaxRateNotFound(rate_id)
    return rate


def save_rate(rate_id: int | None, name: str, rate_bp: int, *, by: Actor | None) -> TaxRate:
    """Create (rate_id None) or change a rate: `name` unique, `rate_bp` 0..10 000 (hundredths
    of a percent), recorded in the audit trail as made `by` this user. Orders placed before
    keep their rate. Raises TaxRateRefused, TaxRateNotFound."""
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise TaxRateRefused(_("A tax rate needs a name of at most 80 characters."))
    if not 0 <= rate_bp <= MAX_RATE_BP:
        raise TaxRateRefused(_("A tax rate is between 0 and 100 %."))
    try:
        with transaction():
            rate = get_rate(rate_id) if rate_id is not None else TaxRate()
            before = None if rate_id is None else {"name": rate.name, "rate_bp": rate.rate_bp}
            rate.name, rate.rate_bp = name, rate_bp
            db.session.add(rate)
            db.session.flush()
            action = "tax_rate.created" if before is None else "tax_rate.changed"
            record_change(by, action, "tax_rate", rate.id, before, {"name": name, "rate_bp": rate_bp})
    except IntegrityError:
        db.session.rollback()
        raise TaxRateRefused(_("Another tax rate is called %(name)s.", name=name)) from None
    return rate


def delete_rate(rate_id: int, *, by: Actor | None) -> int:
    """Delete a rate; its products go back to SHOP_TAX_RATE_BP (the foreign key's ON DELETE
    SET NULL, done here too so SQLite and PostgreSQL agree), recorded in the audit trail as
    done `by` this user. How many products it had. Raises TaxRateNotFound."""
    with transaction():
        rate = get_rate(rate_id)
        record_change(by, "tax_rate.deleted", "tax_rate", rate_id, {"name": rate.name, "rate_bp": rate.rate_bp}, None)
        moved = db.session.execute(
            sa.update(Product)
            .where(Product.tax_rate_id == rate_id)
            .values(tax_rate_id=None, version_id=Product.version_id + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.execute(sa.delete(TaxRate).where(TaxRate.id == rate_id))
    return moved


def rates_by_id() -> dict[int, int]:
    """{rate id: rate bp} of every rate (one query: a shop has a handful)."""
    return {row.id: row.rate_bp for row in db.session.execute(sa.select(TaxRate.id, TaxRate.rate_bp))}


def rate_of(tax_rate_id: int | None, rates: dict[int, int]) -> int:
    """The rate (bp) of a product with this `tax_rate_id`, from `rates` (rates_by_id);
    None or a rate deleted meanwhile: SHOP_TAX_RATE_BP."""
    if tax_rate_id is None:
        return get_settings().tax_rate_bp
    return rates.get(tax_rate_id, get_settings().tax_rate_bp)


def rate_bp_of(tax_rate_id: sa.ColumnElement[int | None]) -> sa.ScalarSelect[int | None]:
    """The rate (bp) of a product's `tax_rate_id` column, as a scalar subquery (NULL for no
    rate: the caller uses SHOP_TAX_RATE_BP), labelled "rate_bp"; for a statement that reads
    products' rates without a query of its own."""
    return sa.select(TaxRate.rate_bp).where(TaxRate.id == tax_rate_id).scalar_subquery().label("rate_bp")


def product_rates(products: Iterable[tuple[int, int | None]]) -> dict[int, int]:
    """{product id: rate bp} of products given as (id, tax_rate_id) pairs (one query)."""
    rates = rates_by_id()
    return {product_id: rate_of(tax_rate_id, rates) for product_id, tax_rate_id in products}


def goods_by_rate(goods: Iterable[tuple[int, int]]) -> dict[int, int]:
    """{rate bp: cents} of goods given as (rate bp, cents) pairs."""
    by_rate: dict[int, int] = {}
    for rate, cents in goods:
        by_rate[rate] = by_rate.get(rate, 0) + cents
    return by_rate


def set_product_rate(product_id: int, rate_id: int | None, *, by: Actor | None) -> None:
    """Give a product the rate `rate_id` (None: SHOP_TAX_RATE_BP) for its sales to come
    (counting up its version, so an open edit form sees the change), recorded in the audit
    trail as made `by` this user. Raises TaxRateNotFound, LookupError for no such product."""
    with transaction():
        if rate_id is not None:
            get_rate(rate_id)
        was = db.session.execute(sa.select(Product.tax_rate_id).where(Product.id == product_id)).scalar()
        changed = db.session.execute(
            sa.update(Product)
            .where(Product.id == product_id)
            .values(tax_rate_id=rate_id, version_id=Product.version_id + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            raise LookupError(product_id)
        if was != rate_id:
            record_change(by, "product.tax_rate", "product", product_id, {"tax_rate_id": was}, {"tax_rate_id": rate_id})
