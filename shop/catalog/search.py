"""Product search: one function for the catalogue and the admin, on SQLite and PostgreSQL.

Neither database folds case beyond ASCII on its own (SQLite's LIKE knows only A-Z;
PostgreSQL's ILIKE depends on the database's locale), and neither treats a composed "Ö"
and an "O" followed by a combining diaeresis as the same letter. So each product keeps
`search_text`: its SKU, name, description and category name, normalised here in Python
(Unicode NFKC, then full case folding, `str.casefold`, Unicode's default caseless
matching), written with every insert and update of the product; the query is normalised
the same way and looked up as a literal substring.

Migration 0004 fills `search_text` for the products that exist before it, with a frozen
copy of `normalise`: change the one here and the rows must be rewritten to match.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import sqlalchemy as sa

from shop.models import Category, Product

# Between the fields: a query never matches across two of them (newlines are not typed in
# the search box).
SEPARATOR = "\n"


def normalise(text: str) -> str:
    """Text as it is compared in search: NFKC (composed and decomposed letters, and
    compatibility forms like "ﬁ", become one), then case-folded ("Ö" -> "ö", "ß" -> "ss")."""
    return unicodedata.normalize("NFKC", text).casefold()


def search_text(sku: str, name: str, description: str, category: str) -> str:
    """What `search_products` matches a product by (Product.search_text)."""
    return normalise(SEPARATOR.join((sku, name, description or "", category)))


def search_products(statement: sa.Select, query: str) -> sa.Select:
    """`statement` (selecting Product) narrowed to products whose SKU, name, description or
    category contains `query`, ignoring case and Unicode normal form; `%`, `_` and the
    escape character in the query are matched literally (LIKE with autoescape).
    An empty query narrows nothing."""
    folded = normalise(query.strip())
    if not folded:
        return statement
    if "\x00" in folded:  # no stored text holds NUL (PostgreSQL cannot), and it cannot be bound there
        return statement.where(sa.false())
    return statement.where(Product.search_text.contains(folded, autoescape=True))


def _category_name(target: Product, connection: sa.Connection) -> str:
    """The product's category name: from the object if it was set or loaded, else from the
    database (over the flush's own connection, as mapper events must)."""
    if "category" in sa.inspect(target).dict:
        return target.category.name if target.category is not None else ""
    if target.category_id is None:
        return ""
    name = connection.execute(sa.select(Category.name).where(Category.id == target.category_id)).scalar()
    return name or ""


@sa.event.listens_for(Product, "before_insert")
@sa.event.listens_for(Product, "before_update")
def _fill_search_text(_mapper: Any, connection: sa.Connection, target: Product) -> None:
    target.search_text = search_text(target.sku, target.name, target.description, _category_name(target, connection))
