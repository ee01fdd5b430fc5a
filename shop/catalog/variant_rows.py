"""The CSV import's rules for variants (importer.py reads the file and writes products).

A row with a `parent_sku` is a variant of the product with that SKU: a product row of the
same file, or a product the shop has. Its `option` (the label shoppers choose) is required
and used once per product; its `name`, `description` and `category` may be empty (they are
its product's); a blank `price` is its product's price. The row of a product that has
variants (in the file or already) gives its `stock` empty or 0: its stock is its variants'.
SKUs are one namespace: a variant's SKU may not be a product's, nor the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from flask_babel import gettext as _

from shop.catalog.rules import MAX_STOCK, sku_problem
from shop.models import Product, ProductVariant
from shop.models.variants import OPTION_MAX_LENGTH


class Row(Protocol):  # importer.ProductRow
    line: int
    sku: str
    price_cents: int | None
    stock: int | None
    version: int | None
    parent_sku: str
    option: str


def variant_problems(option: str) -> list[str]:
    """What the file alone says against a variant row."""
    if not option or len(option) > OPTION_MAX_LENGTH:
        return [
            _("option must be 1 to %(max)s characters for a variant (a row with a parent_sku)", max=OPTION_MAX_LENGTH)
        ]
    return []


def cross_problems(
    rows: Sequence[Row], products: dict[str, Product], variants: dict[str, ProductVariant]
) -> dict[int, list[str]]:
    """{line: problems} of the rules between rows and the database: `products` and
    `variants` are the shop's, by SKU, for every SKU the file names."""
    problems: dict[int, list[str]] = {}
    product_rows = {r.sku: r for r in rows if not r.parent_sku}
    variant_rows = [r for r in rows if r.parent_sku]
    # The options each product will have: its variants now, then the file's over them.
    options: dict[str, dict[str, str]] = {}  # parent sku -> {variant sku: option}
    for parent in {r.parent_sku for r in variant_rows} | set(product_rows):
        if parent in products:
            options[parent] = {v.sku: v.option for v in products[parent].variants}
    for row in variant_rows:
        said = problems.setdefault(row.line, [])
        existing = variants.get(row.sku)
        if row.parent_sku not in product_rows and row.parent_sku not in products:
            said.append(_("parent_sku %(sku)s: no product has this sku (in this file or the shop)", sku=row.parent_sku))
            continue
        if row.sku in product_rows or row.sku in products:
            said.append(_("sku %(sku)s is a product's; a variant needs its own", sku=row.sku))
        problem = sku_problem(row.sku, existing.sku if existing is not None else None)
        if problem:
            said.append(f"sku: {problem}")
        if existing is not None and existing.product.sku != row.parent_sku:
            said.append(
                _(
                    "sku %(sku)s is a variant of %(other)s, not of %(parent)s",
                    sku=row.sku,
                    other=existing.product.sku,
                    parent=row.parent_sku,
                )
            )
        if row.version is not None and existing is None:
            said.append(
                _(
                    "no variant has sku %(sku)s any more (changed since this file was exported): export again",
                    sku=row.sku,
                )
            )
        elif row.version is not None and existing is not None and existing.version_id != row.version:
            said.append(_("variant %(sku)s changed since this file was exported: export again", sku=row.sku))
        options.setdefault(row.parent_sku, {})[row.sku] = row.option
    seen: dict[tuple[str, str], int] = {}
    for row in variant_rows:
        chosen = options.get(row.parent_sku, {})
        twice = [sku for sku, option in chosen.items() if option == row.option and sku != row.sku]
        if (row.parent_sku, row.option) in seen:
            problems[row.line].append(
                _(
                    "option '%(option)s' is used twice under %(parent)s (line %(line)s)",
                    option=row.option,
                    parent=row.parent_sku,
                    line=seen[row.parent_sku, row.option],
                )
            )
        elif twice:
            problems[row.line].append(
                _(
                    "option '%(option)s' is used by %(other)s under %(parent)s already",
                    option=row.option,
                    other=twice[0],
                    parent=row.parent_sku,
                )
            )
        seen.setdefault((row.parent_sku, row.option), row.line)
    for sku, row in product_rows.items():
        said = problems.setdefault(row.line, [])
        if sku in variants:
            said.append(_("sku %(sku)s is a variant's; a product needs its own", sku=sku))
        if options.get(sku):
            if row.stock:
                said.append(
                    _("a product with variants has no stock of its own (its variants' is): leave stock empty or 0")
                )
        elif row.stock is None:
            said.append(_("stock must be a whole number from 0 to %(max)s, got ''", max=MAX_STOCK))
    return {line: said for line, said in problems.items() if said}


def write_variants(rows: Sequence[Row], products: dict[str, Product], variants: dict[str, ProductVariant]) -> None:
    """Upsert the file's variant rows (checked by cross_problems) under their products, a
    new one after its product's last; in the caller's transaction."""
    for row in rows:
        if not row.parent_sku:
            continue
        variant = variants.get(row.sku)
        if variant is None:
            product = products[row.parent_sku]
            variant = ProductVariant(sku=row.sku, active=True)
            variant.position = max((v.position for v in product.variants), default=-1) + 1
            product.variants.append(variant)
            variants[row.sku] = variant
        variant.option, variant.price_cents, variant.stock = row.option, row.price_cents, row.stock
