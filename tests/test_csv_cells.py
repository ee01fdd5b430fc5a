"""The spreadsheet-formula guard of the CSV exports (shop/csv_cells.py): every line a
spreadsheet could run gets a quote, and reading back removes exactly those quotes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.csv_cells import escape_cell, unescape_cell

# Text made mostly of what matters here: formula starts, quotes, spaces and line breaks.
cells = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(["=", "+", "-", "@", "\t", "\r", "\n", "'", " ", "\u00a0", "a", "1"])),
)


def lines(cell: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", cell)


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-50% Sale Mug", "'-50% Sale Mug"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("  =1+1", "'  =1+1"),  # leading spaces
        ("\u00a0=1", "'\u00a0=1"),  # and other white space
        ("ok\n=1+1", "ok\n'=1+1"),  # a later line of a multi-line cell
        ("ok\r\n  -1\r@x", "ok\r\n'  -1\r'@x"),
        ("'quoted", "''quoted"),  # a quote the text has: escaped too, so it comes back
        ("Assam Tea", "Assam Tea"),
        ("a-b = c", "a-b = c"),
        ("", ""),
    ],
)
def test_cells_that_could_start_a_formula_get_a_quote(value, escaped):
    assert escape_cell(value) == escaped
    assert unescape_cell(escaped) == value


@given(cells)
def test_reading_back_gives_exactly_what_was_escaped(value):
    assert unescape_cell(escape_cell(value)) == value


@given(cells)
def test_no_escaped_line_starts_a_formula(value):
    for line in lines(escape_cell(value)):
        assert line[:1] not in ("=", "+", "-", "@", "\t", "\r")
        assert line.lstrip()[:1] not in ("=", "+", "-", "@")


@given(cells)
def test_a_cell_whose_leading_quote_a_spreadsheet_dropped_still_reads_back_as_the_text(value):
    """A spreadsheet may take the leading ' as "this is text" and save the cell without it;
    unless the text itself started with a quote, that cell reads back as the text too."""
    escaped = escape_cell(value)
    if escaped.startswith("'") and not value.startswith("'"):
        assert unescape_cell(escaped[1:]) == value
