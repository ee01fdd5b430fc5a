"""Product search: one function for the catalogue and the admin, on SQLite and PostgreSQL.

Each product's SKU, name, description and category name are kept, as words, in a search
index beside the product table: on SQLite an FTS5 table (`product_fts`, tokenizer
`unicode61 remove_diacritics 2`), on PostgreSQL a table of `tsvector`s (`product_search`)
with a GIN index. Both are written here, by the product and category events, in the
transaction that changes the product; migration 0006 creates them and indexes the products
already there. A query is looked up in that index, never by scanning the products, so it
takes about as long with 10,000 products as with 24 (bench/search.py; docs/performance.md).

The words are made in Python, the same way for both databases and for the query (`terms`):
Unicode NFKC, full case folding (`str.casefold`: "Ö" -> "ö", "ß" -> "ss"), the generic
combining accents of Latin and Greek letters removed ("ö" -> "o", "é" -> "e"; Cyrillic "й"
and the marks of scripts such as Devanagari stay), then split into runs of letters, marks
and digits. So search is case- and
accent-insensitive in any script, needs no PostgreSQL extension (unaccent is not installed
by default), and no query text ever reaches FTS5's or to_tsquery's syntax: every word is
quoted by us (`"`, `*`, `AND`, `NEAR(` are just characters, or words).

Every word of the query must match the start of a word of the product ("kräuter" finds
"Kräutertee"), in any field. Results come in tiers: all words whole words of the name,
then the name's words begun, then whole words anywhere, then the rest; within a tier by
the database's relevance (FTS5 bm25, PostgreSQL ts_rank, with the name weighing most).
Languages that do not separate words by spaces (Chinese, Japanese) match from the start of
a run of text only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from shop.extensions import db
from shop.models import Category, Product

MAX_TERMS = 8  # a query of more words is cut: every word is a condition
FIELDS = ("name", "sku", "category", "description")  # by weight, heaviest first
FTS_TABLE = "product_fts"
TSVECTOR_TABLE = "product_search"
_ACCENTS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _latin_or_greek(character: str) -> bool:
    return character < "\u0400" or "\u1e00" <= character < "\u2000"


def fold(text: str) -> str:
    """Text as search compares it: NFKC, case-folded, the generic combining accents of
    Latin and Greek letters removed ("é" -> "e", "ά" -> "α"; Cyrillic "й" stays a letter of
    its own), recomposed (NFC)."""
    kept, strip = [], False
    for character in unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold()):
        if _ACCENTS.match(character):
            if strip:
                continue
        else:
            strip = _latin_or_greek(character)
        kept.append(character)
    return unicodedata.normalize("NFC", "".join(kept))


def terms(text: str) -> list[str]:
    """The words of `text`, folded: runs of letters, marks and digits (Unicode categories
    L, M, N); everything else separates them."""
    return "".join(c if unicodedata.category(c)[0] in "LMN" else " " for c in fold(text)).split()


def _document(sku: str, name: str, description: str | None, category: str | None) -> dict[str, str]:
    return {
        "name": " ".join(terms(name)),
        "sku": " ".join(terms(sku)),
        "category": " ".join(terms(category or "")),
        "description": " ".join(terms(description or "")),
    }


# ---------------------------------------------------------------- the query
def search_products(statement: sa.Select, query: str) -> sa.Select:
    """`statement` (selecting Product) narrowed to the products whose SKU, name,
    description or category has a word beginning with each word of `query`, ordered best
    match first, then by the statement's own order. An empty query narrows nothing; a
    query without a letter or digit ("%", "--") matches nothing."""
    if not query.strip():
        return statement
    words = terms(query)[:MAX_TERMS]
    if not words:
        return statement.where(sa.false())
    own_order = list(statement._order_by_clauses)  # kept after the relevance (no public getter)
    if db.engine.dialect.name == "postgresql":
        ranked, tier, rank = _postgresql(statement, words)
    else:
        ranked, tier, rank = _sqlite(statement, words)
    return ranked.order_by(None).order_by(tier, rank, *own_order)


def _tiers(name_words: Any, name_started: Any, words_anywhere: Any) -> sa.Case:
    return sa.case((name_words, 0), (name_started, 1), (words_anywhere, 2), else_=3)


def _fts_query(words: Sequence[str], prefix: bool, column: str | None = None) -> str:
    """An FTS5 query: every word quoted (words hold letters, marks and digits only, never `"`)."""
    query = " AND ".join(f'"{w}"' + ("*" if prefix else "") for w in words)
    return f"{column} : ({query})" if column else query


def _sqlite(statement: sa.Select, words: Sequence[str]) -> tuple[sa.Select, Any, Any]:
    fts = sa.table(FTS_TABLE, sa.column("rowid"))
    table = sa.literal_column(FTS_TABLE)

    def matching(expression: str) -> sa.Select:
        return sa.select(fts.c.rowid).where(table.op("MATCH")(sa.literal(expression)))

    weights = (10.0, 6.0, 3.0, 1.0)  # FIELDS' order
    found = (
        sa.select(fts.c.rowid.label("product_id"), sa.func.bm25(table, *weights).label("rank"))
        .where(table.op("MATCH")(sa.literal(_fts_query(words, prefix=True))))
        .subquery("found")
    )
    tier = _tiers(
        Product.id.in_(matching(_fts_query(words, prefix=False, column="name"))),
        Product.id.in_(matching(_fts_query(words, prefix=True, column="name"))),
        Product.id.in_(matching(_fts_query(words, prefix=False))),
    )
    return statement.join(found, found.c.product_id == Product.id), tier, found.c.rank  # bm25: lower is better


def _tsquery(words: Sequence[str], prefix: bool, name_only: bool = False) -> Any:
    suffix = (":*" if prefix else "") + ("A" if name_only else "")
    if name_only and not prefix:
        suffix = ":A"
    return sa.func.to_tsquery("simple", " & ".join(f"'{w}'{suffix}" for w in words))


def _postgresql(statement: sa.Select, words: Sequence[str]) -> tuple[sa.Select, Any, Any]:
    index = sa.table(TSVECTOR_TABLE, sa.column("product_id"), sa.column("document"))
    document = index.c.document
    every_start = _tsquery(words, prefix=True)
    tier = _tiers(
        document.op("@@")(_tsquery(words, prefix=False, name_only=True)),
        document.op("@@")(_tsquery(words, prefix=True, name_only=True)),
        document.op("@@")(_tsquery(words, prefix=False)),
    )
    narrowed = statement.join(index, index.c.product_id == Product.id).where(document.op("@@")(every_start))
    return narrowed, tier, sa.func.ts_rank(document, every_start).desc()


# ---------------------------------------------------------------- keeping the index in step
def reindex_products(connection: sa.Connection, product_ids: Iterable[int]) -> None:
    """Write the index entries of these products from their rows as they are now (over
    `connection`, inside its transaction). Call it after any change of a product's SKU,
    name, description or category that does not go through the ORM (the events below
    cover the ORM)."""
    ids = sorted(set(product_ids))
    if not ids:
        return
    rows = connection.execute(
        sa.select(Product.id, Product.sku, Product.name, Product.description, Category.name)
        .select_from(Product)
        .outerjoin(Category, Product.category_id == Category.id)
        .where(Product.id.in_(ids))
    ).all()
    entries = [{"product_id": row[0], **_document(*row[1:])} for row in rows]
    if connection.dialect.name == "postgresql":
        write_tsvector_entries(connection, entries)
    else:
        write_fts_entries(connection, entries)


def write_fts_entries(connection: sa.Connection, entries: list[dict[str, Any]]) -> None:
    """SQLite: replace the FTS5 rows (rowid = product id) of these entries."""
    for entry in entries:
        connection.execute(sa.text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :product_id"), entry)
    if entries:
        connection.execute(
            sa.text(
                f"INSERT INTO {FTS_TABLE} (rowid, name, sku, category, description)"
                " VALUES (:product_id, :name, :sku, :category, :description)"
            ),
            entries,
        )


def write_tsvector_entries(connection: sa.Connection, entries: list[dict[str, Any]]) -> None:
    """PostgreSQL: insert or replace the tsvector of these entries (weights A-D: FIELDS)."""
    if entries:
        connection.execute(
            sa.text(
                f"INSERT INTO {TSVECTOR_TABLE} (product_id, document) VALUES (:product_id,"
                " setweight(to_tsvector('simple', :name), 'A') || setweight(to_tsvector('simple', :sku), 'B')"
                " || setweight(to_tsvector('simple', :category), 'C')"
                " || setweight(to_tsvector('simple', :description), 'D'))"
                " ON CONFLICT (product_id) DO UPDATE SET document = excluded.document"
            ),
            entries,
        )


_INDEXED = ("sku", "name", "description", "category_id", "category")


@sa.event.listens_for(Product, "after_insert")
def _index_new_product(_mapper: Any, connection: sa.Connection, target: Product) -> None:
    reindex_products(connection, [target.id])


@sa.event.listens_for(Product, "after_update")
def _index_changed_product(_mapper: Any, connection: sa.Connection, target: Product) -> None:
    state = sa.inspect(target)
    if any(state.attrs[name].history.has_changes() for name in _INDEXED):  # not for a stock change
        reindex_products(connection, [target.id])


@sa.event.listens_for(Product, "after_delete")
def _unindex_product(_mapper: Any, connection: sa.Connection, target: Product) -> None:
    if connection.dialect.name != "postgresql":  # there, the row goes with the product (ON DELETE CASCADE)
        connection.execute(sa.text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": target.id})


@sa.event.listens_for(Category, "after_update")
def _index_renamed_category(_mapper: Any, connection: sa.Connection, target: Category) -> None:
    if sa.inspect(target).attrs.name.history.has_changes():
        ids = connection.execute(sa.select(Product.id).where(Product.category_id == target.id)).scalars()
        reindex_products(connection, list(ids))
