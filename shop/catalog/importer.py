"""Products from CSV (columns sku,name,description,price,stock,category), upserted by sku.

All or nothing: every row is checked first; one bad row and no row of the file is written.
Used by `flask shop import-products` and `flask shop seed-demo`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from shop.database import transaction
from shop.extensions import db
from shop.inputs import unstorable_character
from shop.models import Category, Product
from shop.money import MoneyError, parse_money

COLUMNS = ("sku", "name", "description", "price", "stock", "category")
MAX_STOCK = 1_000_000
T = TypeVar("T")


@dataclass(frozen=True)
class ProductRow:
    line: int
    sku: str
    name: str
    description: str
    price_cents: int
    stock: int
    category: str


class ImportFailed(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def slugify(name: str) -> str:
    # At most 72 characters: with a "-2" ... suffix it still fits the 80 of Category.slug.
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:72].strip("-") or "category"


def parse_rows(lines: Iterable[str]) -> list[ProductRow]:
    """Check every row; raise ImportFailed listing each problem with its line number."""
    reader = csv.DictReader(lines)
    missing = [c for c in COLUMNS if c not in (_csv_read(lambda: reader.fieldnames, reader) or [])]
    if missing:
        raise ImportFailed([f"line 1: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"])
    rows, errors, seen = [], [], {}
    for record in _csv_records(reader):
        line = reader.line_num
        problems = []
        values = {k: (record.get(k) or "").strip() for k in COLUMNS}
        if None in record:
            problems.append("more fields than columns")
        unstorable = next(filter(None, map(unstorable_character, values.values())), None)
        if unstorable:
            problems.append(f"a control character ({unstorable}) that cannot be stored")
        if not values["sku"] or len(values["sku"]) > 64:
            problems.append("sku must be 1 to 64 characters")
        elif values["sku"] in seen:
            problems.append(f"sku {values['sku']} already on line {seen[values['sku']]}")
        if not values["name"] or len(values["name"]) > 200:
            problems.append("name must be 1 to 200 characters")
        if len(values["description"]) > 5000:
            problems.append("description longer than 5000 characters")
        if len(values["category"]) > 80:
            problems.append("category longer than 80 characters")
        try:
            price = parse_money(values["price"])
        except MoneyError as error:
            problems.append(f"price: {error}")
            price = 0
        stock = int(values["stock"]) if re.fullmatch(r"\d{1,7}", values["stock"]) else -1
        if not 0 <= stock <= MAX_STOCK:
            problems.append(f"stock must be a whole number from 0 to {MAX_STOCK}, got {values['stock']!r}")
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems))
            continue
        seen[values["sku"]] = line
        rows.append(
            ProductRow(line, values["sku"], values["name"], values["description"], price, stock, values["category"])
        )
    if errors:
        raise ImportFailed(errors)
    return rows


def _csv_read(read: Callable[[], T], reader: csv.DictReader) -> T:
    """read(), with the csv module's own error (a field over csv.field_size_limit(), ...) as
    the message of the line it is on: the file cannot be read past it. (line_num counts the
    lines read before the one that failed.)"""
    try:
        return read()
    except csv.Error as error:
        raise ImportFailed([f"line {reader.line_num + 1}: this is not readable as CSV ({error})"]) from None


def _csv_records(reader: csv.DictReader) -> Iterator[dict[str | Any, Any]]:
    while (record := _csv_read(lambda: next(reader, None), reader)) is not None:
        yield record


def import_products(lines: Iterable[str]) -> ImportResult:
    """Upsert the file's products in one transaction; ImportFailed writes nothing."""
    rows = parse_rows(lines)
    created = updated = 0
    with transaction():
        categories = {c.name: c for c in db.session.execute(sa.select(Category)).scalars()}
        products = {
            p.sku: p
            for p in db.session.execute(sa.select(Product).where(Product.sku.in_([r.sku for r in rows]))).scalars()
        }
        for row in rows:
            category = None
            if row.category:
                category = categories.get(row.category)
                if category is None:
                    category = categories[row.category] = Category(
                        name=row.category, slug=_free_slug(row.category, categories)
                    )
                    db.session.add(category)
            product = products.get(row.sku)
            if product is None:
                product = Product(sku=row.sku)
                db.session.add(product)
                created += 1
            else:
                updated += 1
            product.name, product.description = row.name, row.description
            product.price_cents, product.stock, product.category = row.price_cents, row.stock, category
    return ImportResult(created, updated)


def _free_slug(name: str, categories: dict[str, Category]) -> str:
    taken = {c.slug for c in categories.values()}
    slug, n = slugify(name), 2
    base = slug
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug
