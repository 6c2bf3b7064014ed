"""Table rows as `header: value` sentences, the form retrieval can match and a citation can quote.

    | Country | Trade 2024 |        "Country: Malaysia; Trade 2024: 12.5 billion."
    | Malaysia | 12.5 billion |  ->

The full stop makes each row a sentence of its own (the chunker would otherwise read a short row as a
caption and never quote it).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence


def cell_text(value: object) -> str:
    """A spreadsheet value as a person reads it: 12.5 not 12.500000001, 2024-03-26 not a datetime."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.10g}"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def headers_of(cells: Sequence[str]) -> list[str]:
    """Header names, a blank one named by its column letter so every value keeps a label."""
    return [cell or f"Column {column_letter(i)}" for i, cell in enumerate(cells)]


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def row_sentence(headers: Sequence[str], cells: Sequence[str]) -> str:
    """One row as "header: value; header: value." (empty cells left out); "" for an empty row."""
    pairs = [
        f"{headers[i] if i < len(headers) else 'Column ' + column_letter(i)}: {value}"
        for i, value in enumerate(cells)
        if value
    ]
    if not pairs:
        return ""
    text = "; ".join(pairs)
    return text if re.search(r"[.!?]$", text) else text + "."


def table_rows(grid: Sequence[Sequence[str]]) -> list[str]:
    """A table (first row the header, as in most documents) as one sentence per data row.

    A table of one row, or whose first row is not a header (a blank cell among values, or a number where a
    label should be), is given as its rows' cells joined by semicolons.
    """
    rows = [list(r) for r in grid if any(c.strip() for c in r)]
    if not rows:
        return []
    head = rows[0]
    looks_like_header = len(rows) > 1 and all(c and not re.fullmatch(r"[\d.,%$€£ -]+", c) for c in head)
    if not looks_like_header:
        return [_join(r) for r in rows]
    headers = headers_of(head)
    return [s for r in rows[1:] if (s := row_sentence(headers, r))]


def _join(cells: Sequence[str]) -> str:
    text = "; ".join(c for c in cells if c)
    return text if re.search(r"[.!?]$", text) else text + "."
