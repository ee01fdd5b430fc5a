"""Text cells of the CSV files the shop writes, made safe to open in a spreadsheet, and
the exact inverse for the files it reads back.

A cell starting with = + - @ TAB or CR is run as a formula by Excel, LibreOffice and
Google Sheets ("CSV injection": https://owasp.org/www-community/attacks/CSV_Injection),
also after leading spaces, and also on the second line of a multi-line cell when a
program splits rows at line breaks inside quotes. OWASP's defence is a single quote in
front, which spreadsheets show as "this is text". Here it goes in front of every such
line; and in front of every line that starts with a quote already, so that reading a
cell back can tell the quote the export added from one the text had: `unescape_cell`
removes exactly the quotes `escape_cell` added, so export -> import changes nothing.
"""

from __future__ import annotations

import re

FORMULA_STARTS = frozenset("=+-@\t\r")
ESCAPE = "'"
_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")


def _needs_escape(line: str) -> bool:
    """A line a spreadsheet might run, or one that starts with the escape quote itself.

    A line that starts with the quote counts too, whatever follows: then a line that starts
    with a quote after escaping is always one that `escape_cell` wrote that way.
    """
    return line[:1] in FORMULA_STARTS or line[:1] == ESCAPE or line.lstrip()[:1] in FORMULA_STARTS


def escape_cell(value: str) -> str:
    """`value` with a quote in front of each line that could start a formula (or starts
    with a quote): '=1+1' -> "'=1+1", 'a\\n -1' -> "a\\n' -1"; other text unchanged."""
    parts = _LINE_BREAK.split(value)  # lines at even indexes, the breaks between them at odd
    return "".join(ESCAPE + part if i % 2 == 0 and _needs_escape(part) else part for i, part in enumerate(parts))


def unescape_cell(cell: str) -> str:
    """The inverse of `escape_cell`: one quote removed from each line where the export put
    one, and nowhere else (`unescape_cell(escape_cell(v)) == v` for every text v)."""
    parts = _LINE_BREAK.split(cell)
    return "".join(
        part[1:] if i % 2 == 0 and part[:1] == ESCAPE and _needs_escape(part[1:]) else part
        for i, part in enumerate(parts)
    )
