"""What the shop takes from a request: ids and page numbers the database can hold, and text
it can store.

A number or a character the database cannot take is refused here, with a 4xx, before any
query: the database would answer with an error (an integer out of range on PostgreSQL, a
Python int too large for SQLite, "text fields cannot contain NUL"), which is a 500. Every
route uses these: ids in paths through the `id` converter, pages through `paginate`, and
every query argument, form field and path part through `refuse_unstorable_text`.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, request
from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from werkzeug.routing import IntegerConverter, Map

from shop.extensions import db

# The largest id: the ids are PostgreSQL `integer` (serial) columns. SQLite holds more, but
# one rule for both databases, so the answer does not depend on which one runs.
MAX_ID = 2_147_483_647

# Characters no text column may hold: PostgreSQL refuses NUL, and UTF-8 cannot encode a lone
# surrogate; the other C0 control characters are refused too (nothing types them, and they
# break CSV exports, email headers and terminals). Tab, line feed and carriage return are
# what a textarea sends, so they pass (single-line fields check their own format).
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_PAGE = re.compile(r"[0-9]{1,10}")


class IdConverter(IntegerConverter):
    """`<id:product_id>`: a row id from 1 to MAX_ID, in the digits 0-9 (`\\d` would also take
    '٣'). Anything else does not match the route, so the answer is 404."""

    regex = r"[0-9]+"

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def page_number() -> int:
    """The `page` query argument: 1 when absent or empty; 404 unless it is a whole number
    from 1 to MAX_ID (an OFFSET from a larger one overflows SQLite's 64-bit integers)."""
    text = request.args.get("page", "")
    if text == "":
        return 1
    if not _PAGE.fullmatch(text) or not 1 <= int(text) <= MAX_ID:
        abort(404, _("There is no such page."))
    return int(text)


def paginate(statement: Any, per_page: int) -> Pagination:
    """One page of `statement`'s rows: the page the query asks for (`page_number`), `per_page`
    rows. A page past the last one is 404 (Flask-SQLAlchemy's error_out)."""
    return db.paginate(statement, page=page_number(), per_page=per_page, max_per_page=per_page)


def unstorable_character(text: str) -> str | None:
    """The first character of `text` no column may hold, as 'U+0000'; None if there is none."""
    match = _UNSTORABLE.search(text)
    return f"U+{ord(match.group()):04X}" if match else None


def refuse_unstorable_text() -> None:
    """Before every request: a query argument (400), form field (422) or part of the path
    (404) with a character the database cannot store is refused, naming the field."""
    for values, status, in_form in ((request.args, 400, False), (request.form, 422, True)):
        for name, value in values.items(multi=True):
            bad = unstorable_character(name) or unstorable_character(value)
            if bad:
                shown = name.encode("unicode_escape").decode() if unstorable_character(name) else name
                if in_form:
                    why = _(
                        "The field “%(name)s” contains a control character (%(bad)s) that cannot be stored.",
                        name=shown[:40],
                        bad=bad,
                    )
                else:
                    why = _(
                        "“%(name)s” in the address contains a control character (%(bad)s) that cannot be stored.",
                        name=shown[:40],
                        bad=bad,
                    )
                abort(status, why + " " + _("Remove it and try again."))
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and unstorable_character(value):
            abort(404)
