"""Products to and from CSV: columns sku,name,description,price,stock,category (and
version, written by the export), upserted by sku; and, optionally, parent_sku and option:
a row with a parent_sku is a variant of that product (variant_rows.py has its rules).

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
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from shop.audit import Actor, snapshot
from shop.catalog.rules import CATEGORY_MAX_LENGTH, DESCRIPTION_MAX_LENGTH, MAX_STOCK, NAME_MAX_LENGTH, sku_problem
from shop.catalog.service import AUDITED_FIELDS, category_named, record_product_saved
from shop.catalog.variant_rows import cross_problems, variant_problems, write_variants
from shop.csv_cells import escape_cell, unescape_cell
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.inputs import unstorable_character
from shop.models import Category, Product, ProductVariant
from shop.money import MoneyError, format_amount, parse_money

COLUMNS = ("sku", "name", "description", "price", "stock", "category")
VARIANT_COLUMNS = ("parent_sku", "option")  # optional on import, always exported
VERSION_COLUMN = "version"  # optional on import
T = TypeVar("T")


@dataclass(frozen=True)
class ProductRow:
    line: int
    sku: str
    name: str
    description: str
    price_cents: int | None  # None: a variant at its product's price
    stock: int | None  # None: empty, for a product whose stock is its variants'
    category: str
    version: int | None  # the product's version_id when the file was exported; None: not checked
    problems: list[str] = field(default_factory=list)  # empty: the row can be imported
    parent_sku: str = ""  # a variant's product; "" a product
    option: str = ""  # a variant's label


class ImportFailed(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def products_csv() -> str:
    """Every product, by SKU, each followed by its variants in their order, in the import
    format, with each row's version: export, edit, import."""
    products = db.session.execute(
        sa.select(Product).options(selectinload(Product.category), selectinload(Product.variants)).order_by(Product.sku)
    ).scalars()
    settings = get_settings()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*COLUMNS, *VARIANT_COLUMNS, VERSION_COLUMN])
    for p in products:
        writer.writerow(
            [
                escape_cell(p.sku),
                escape_cell(p.name),
                escape_cell(p.description),
                format_amount(p.price_cents, settings.currency, settings.locale),
                p.stock,
                escape_cell(p.category.name if p.category else ""),
                "",
                "",
                p.version_id,
            ]
        )
        for v in p.variants:
            price = "" if v.price_cents is None else format_amount(v.price_cents, settings.currency, settings.locale)
            writer.writerow(
                [
                    escape_cell(v.sku),
                    "",
                    "",
                    price,
                    v.stock,
                    "",
                    escape_cell(p.sku),
                    escape_cell(v.option),
                    v.version_id,
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
        raise ImportFailed(
            [
                _(
                    "line 1: missing column(s) %(missing)s; expected %(columns)s",
                    missing=", ".join(missing),
                    columns=",".join(COLUMNS),
                )
            ]
        )
    rows, seen, settings = [], {}, get_settings()
    for record in _csv_records(reader):
        line = reader.line_num
        problems = []
        sku, name, description, category = (_text(record, c) for c in ("sku", "name", "description", "category"))
        parent_sku, option = _text(record, "parent_sku"), _text(record, "option")
        price_text, stock_text = (record.get("price") or "").strip(), (record.get("stock") or "").strip()
        version_text = (record.get(VERSION_COLUMN) or "").strip()
        if None in record:
            problems.append(_("more fields than columns"))
        texts = (sku, name, description, category, parent_sku, option)
        unstorable = next(filter(None, map(unstorable_character, texts)), None)
        if unstorable:
            problems.append(_("a control character (%(bad)s) that cannot be stored", bad=unstorable))
        if sku in seen:
            problems.append(_("sku %(sku)s already on line %(line)d", sku=sku, line=seen[sku]))
        if parent_sku:  # a variant: its own rules (variant_rows.py); name etc. are its product's
            problems += variant_problems(option)
        elif not name or len(name) > NAME_MAX_LENGTH:
            problems.append(_("name must be 1 to %(most)d characters", most=NAME_MAX_LENGTH))
        if len(description) > DESCRIPTION_MAX_LENGTH:
            problems.append(_("description longer than %(most)d characters", most=DESCRIPTION_MAX_LENGTH))
        if len(category) > CATEGORY_MAX_LENGTH:
            problems.append(_("category longer than %(most)d characters", most=CATEGORY_MAX_LENGTH))
        price = None
        if price_text or not parent_sku:  # a variant's blank price: its product's
            try:
                price = parse_money(price_text, settings.currency, settings.locale)
            except MoneyError as error:
                problems.append(_("price: %(problem)s", problem=error))
        stock = int(stock_text) if re.fullmatch(r"[0-9]{1,7}", stock_text) else -1
        if not stock_text and not parent_sku:
            stock = None  # allowed for a product with variants only: checked with them
        elif not 0 <= stock <= MAX_STOCK:
            problems.append(
                _("stock must be a whole number from 0 to %(most)d, got %(got)r", most=MAX_STOCK, got=stock_text)
            )
        version = int(version_text) if re.fullmatch(r"[0-9]{1,18}", version_text) else None
        if version_text and version is None:
            problems.append(_("version must be the number the export wrote (or empty), got %(got)r", got=version_text))
        seen.setdefault(sku, line)
        row = ProductRow(line, sku, name, description, price, stock, category, version, problems, parent_sku, option)
        rows.append(row)
    return rows


def _problems_with(row: ProductRow, product: Product | None) -> list[str]:
    """What the database says against the row: a new SKU must follow the rule (a product's
    own SKU is kept as it is), and a product must not have changed since the export."""
    problems = []
    problem = sku_problem(row.sku, product.sku if product is not None else None)
    if problem:
        problems.append(_("sku: %(problem)s", problem=problem))
    if row.version is not None and product is None:
        problems.append(
            _("no product has sku %(sku)s any more (changed since this file was exported): export again", sku=row.sku)
        )
    elif row.version is not None and product.version_id != row.version:
        problems.append(_("product %(sku)s changed since this file was exported: export again", sku=row.sku))
    return problems


def _csv_read(read: Callable[[], T], reader: csv.DictReader) -> T:
    """read(), with the csv module's own error (a field over csv.field_size_limit(), ...) as
    the message of the line it is on: the file cannot be read past it. (line_num counts the
    lines read before the one that failed.)"""
    try:
        return read()
    except csv.Error as error:
        raise ImportFailed(
            [_("line %(line)d: this is not readable as CSV (%(problem)s)", line=reader.line_num + 1, problem=error)]
        ) from None


def _csv_records(reader: csv.DictReader) -> Iterator[dict[str | Any, Any]]:
    while (record := _csv_read(lambda: next(reader, None), reader)) is not None:
        yield record


def import_products(lines: Iterable[str], *, by: Actor | None) -> ImportResult:
    """Upsert the file's products and variants in one transaction; ImportFailed (one line
    per bad row, with its number) writes nothing. The counts are of products (not
    variants). Each product created or changed is recorded in the audit trail, made `by`
    this user (None: a command)."""
    rows = read_rows(lines)
    created = updated = 0
    try:
        with transaction():
            skus = sorted({r.sku for r in rows} | {r.parent_sku for r in rows if r.parent_sku})
            products = {
                p.sku: p
                for p in db.session.execute(
                    sa.select(Product).where(Product.sku.in_(skus)).options(selectinload(Product.variants))
                ).scalars()
            }
            variants = {
                v.sku: v
                for v in db.session.execute(sa.select(ProductVariant).where(ProductVariant.sku.in_(skus))).scalars()
            }
            cross = cross_problems(rows, products, variants)
            errors = []
            for row in rows:
                own = [] if row.parent_sku else _problems_with(row, products.get(row.sku))
                problems = row.problems + own + cross.get(row.line, [])
                if problems:
                    errors.append(_("line %(line)d: %(problems)s", line=row.line, problems="; ".join(problems)))
            if errors:
                raise ImportFailed(errors)
            categories: dict[str, Category | None] = {}
            before: dict[str, dict | None] = {}
            for row in rows:
                if row.parent_sku:
                    continue  # a variant: written below, once every product is there
                if row.category not in categories:
                    categories[row.category] = category_named(row.category)
                product = products.get(row.sku)
                if row.sku not in before:
                    before[row.sku] = snapshot(product, AUDITED_FIELDS) if product is not None else None
                if product is None:
                    product = products[row.sku] = Product(sku=row.sku)
                    db.session.add(product)
                    created += 1
                else:
                    updated += 1
                product.name, product.description = row.name, row.description
                product.price_cents, product.stock = row.price_cents, row.stock or 0
                product.category = categories[row.category]
            db.session.flush()  # the new products' ids; a stale version fails here
            for sku, was in before.items():
                record_product_saved(by, products[sku], was)
            write_variants(rows, products, variants)
    except StaleDataError:  # a sale or an admin changed a product between the check and the write
        raise ImportFailed(
            ["a product in the file changed while it was being imported; nothing was imported: import it again"]
        ) from None
    return ImportResult(created, updated)
