"""Products to and from CSV: columns sku,name,description,price,stock,category (and
version, written by the export), upserted by sku.

All or nothing: every row is checked first; one bad row and no row of the file is written.
The export escapes text cells that a spreadsheet would run as formulas (shop/csv_cells.py)
and the import undoes exactly that, so a file exported and imported unchanged changes
nothing. The export's `version` column is each product's version_id: a row whose product
changed since (a sale, another admin) is refused, instead of putting its old stock back.
A file without the column (written by hand) is imported as it says.
Used by the admin's Import CSV, `flask shop import-products` and `flask shop seed-demo`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from shop.catalog.rules import CATEGORY_MAX_LENGTH, DESCRIPTION_MAX_LENGTH, MAX_STOCK, NAME_MAX_LENGTH, sku_problem
from shop.catalog.service import category_named
from shop.csv_cells import escape_cell, unescape_cell
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.inputs import unstorable_character
from shop.models import Category, Product
from shop.money import MoneyError, format_amount, parse_money

COLUMNS = ("sku", "name", "description", "price", "stock", "category")
VERSION_COLUMN = "version"  # optional on import
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
    version: int | None  # the product's version_id when the file was exported; None: not checked
    problems: list[str] = field(default_factory=list)  # empty: the row can be imported


class ImportFailed(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def products_csv() -> str:
    """Every product, by SKU, in the import format, with each product's version: export,
    edit, import."""
    products = db.session.execute(
        sa.select(Product).options(selectinload(Product.category)).order_by(Product.sku)
    ).scalars()
    settings = get_settings()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*COLUMNS, VERSION_COLUMN])
    for p in products:
        writer.writerow(
            [
                escape_cell(p.sku),
                escape_cell(p.name),
                escape_cell(p.description),
                format_amount(p.price_cents, settings.currency, settings.locale),
                p.stock,
                escape_cell(p.category.name if p.category else ""),
                p.version_id,
            ]
        )
    return out.getvalue()


def _text(record: dict, column: str) -> str:
    """A text cell as the export wrote it, back to the stored text (stripped, as the admin
    form stores it)."""
    return unescape_cell((record.get(column) or "").strip()).strip()


def read_rows(lines: Iterable[str]) -> list[ProductRow]:
    """Every row of the file, each with its own problems (empty if it is fine as far as the
    file alone tells); ImportFailed if the columns are missing. `lines` must keep line
    breaks inside cells as they are (a file opened with newline="")."""
    reader = csv.DictReader(lines)
    missing = [c for c in COLUMNS if c not in (_csv_read(lambda: reader.fieldnames, reader) or [])]
    if missing:
        raise ImportFailed([f"line 1: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"])
    rows, seen, settings = [], {}, get_settings()
    for record in _csv_records(reader):
        line = reader.line_num
        problems = []
        sku, name, description, category = (_text(record, c) for c in ("sku", "name", "description", "category"))
        price_text, stock_text = (record.get("price") or "").strip(), (record.get("stock") or "").strip()
        version_text = (record.get(VERSION_COLUMN) or "").strip()
        if None in record:
            problems.append("more fields than columns")
        unstorable = next(filter(None, map(unstorable_character, (sku, name, description, category))), None)
        if unstorable:
            problems.append(f"a control character ({unstorable}) that cannot be stored")
        if sku in seen:
            problems.append(f"sku {sku} already on line {seen[sku]}")
        if not name or len(name) > NAME_MAX_LENGTH:
            problems.append(f"name must be 1 to {NAME_MAX_LENGTH} characters")
        if len(description) > DESCRIPTION_MAX_LENGTH:
            problems.append(f"description longer than {DESCRIPTION_MAX_LENGTH} characters")
        if len(category) > CATEGORY_MAX_LENGTH:
            problems.append(f"category longer than {CATEGORY_MAX_LENGTH} characters")
        try:
            price = parse_money(price_text, settings.currency, settings.locale)
        except MoneyError as error:
            problems.append(f"price: {error}")
            price = 0
        stock = int(stock_text) if re.fullmatch(r"[0-9]{1,7}", stock_text) else -1
        if not 0 <= stock <= MAX_STOCK:
            problems.append(f"stock must be a whole number from 0 to {MAX_STOCK}, got {stock_text!r}")
        version = int(version_text) if re.fullmatch(r"[0-9]{1,18}", version_text) else None
        if version_text and version is None:
            problems.append(f"version must be the number the export wrote (or empty), got {version_text!r}")
        seen.setdefault(sku, line)
        rows.append(ProductRow(line, sku, name, description, price, stock, category, version, problems))
    return rows


def _problems_with(row: ProductRow, product: Product | None) -> list[str]:
    """What the database says against the row: a new SKU must follow the rule (a product's
    own SKU is kept as it is), and a product must not have changed since the export."""
    problems = []
    problem = sku_problem(row.sku, product.sku if product is not None else None)
    if problem:
        problems.append(f"sku: {problem}")
    if row.version is not None and product is None:
        problems.append(f"no product has sku {row.sku} any more (changed since this file was exported): export again")
    elif row.version is not None and product.version_id != row.version:
        problems.append(f"product {row.sku} changed since this file was exported: export again")
    return problems


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
    """Upsert the file's products in one transaction; ImportFailed (one line per bad row,
    with its number) writes nothing."""
    rows = read_rows(lines)
    created = updated = 0
    try:
        with transaction():
            skus = sorted({r.sku for r in rows})
            products = {p.sku: p for p in db.session.execute(sa.select(Product).where(Product.sku.in_(skus))).scalars()}
            errors = []
            for row in rows:
                problems = row.problems + _problems_with(row, products.get(row.sku))
                if problems:
                    errors.append(f"line {row.line}: " + "; ".join(problems))
            if errors:
                raise ImportFailed(errors)
            categories: dict[str, Category | None] = {}
            for row in rows:
                if row.category not in categories:
                    categories[row.category] = category_named(row.category)
                product = products.get(row.sku)
                if product is None:
                    product = products[row.sku] = Product(sku=row.sku)
                    db.session.add(product)
                    created += 1
                else:
                    updated += 1
                product.name, product.description = row.name, row.description
                product.price_cents, product.stock = row.price_cents, row.stock
                product.category = categories[row.category]
    except StaleDataError:  # a sale or an admin changed a product between the check and the write
        raise ImportFailed(
            ["a product in the file changed while it was being imported; nothing was imported: import it again"]
        ) from None
    return ImportResult(created, updated)
