""".xlsx and .csv -> each sheet a unit, each row a `header: value` sentence; the locator is sheet and rows.

openpyxl (MIT) reads the workbook in read-only mode (streamed, so a large sheet is never held whole) and
with cached values (`data_only`): formulas are not evaluated, macros (.xlsm) are never loaded, external
links are not followed. The first non-empty row of a sheet is its header. Row numbers are the sheet's own,
as Excel shows them, so "Sales, rows 12–14" can be found by eye.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from itertools import islice

from qa.config import ReadLimits
from qa.limits import Extraction
from qa.locators import LocusKind
from qa.readers.base import DocumentError, Extract, Part, bounded, compose, open_zip, usable_title
from qa.readers.properties import stamped
from qa.readers.tables import cell_text, headers_of, row_sentence


def read_xlsx(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    """Read an Excel workbook (see the module docstring)."""
    open_zip(raw, ".xlsx", limits).close()
    from openpyxl import load_workbook

    parts: list[Part] = []
    budget = Extraction(limits)
    notes = budget.notes
    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many types (KeyError, InvalidFileException, ...)
        raise DocumentError(
            f"not a readable .xlsx ({type(exc).__name__}: {exc}); re-save it from Excel"
        ) from exc
    try:
        sheets = book.worksheets
        if len(sheets) > limits.max_sheets:
            notes.append(
                f"only the first {limits.max_sheets} of {len(sheets)} sheets were indexed (max_sheets)"
            )
        for sheet in sheets[: limits.max_sheets]:
            if budget.stop(f"sheet {sheet.title!r}"):
                break
            rows = sheet.iter_rows(values_only=True)
            numbered = ((n, [cell_text(v) for v in row]) for n, row in enumerate(rows, start=1))
            parts += _sheet_parts(numbered, sheet.title, limits, budget)
        title = usable_title(book.properties.title)
        properties = stamped(book.properties.creator, book.properties.created)
    except Exception as exc:
        raise DocumentError(
            f"not a readable .xlsx ({type(exc).__name__}: {exc}); re-save it from Excel"
        ) from exc
    finally:
        book.close()
    return compose(parts, title, notes, properties)


def read_csv(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    """Read a CSV (or semicolon- or tab-separated) file as one sheet; the locator is its rows."""
    text = _decode(raw)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    budget = Extraction(limits)
    try:
        reader = csv.reader(io.StringIO(text), dialect)
        numbered = ((n, [cell_text(c) for c in row]) for n, row in enumerate(reader, start=1))
        parts = _sheet_parts(numbered, "", limits, budget)
    except csv.Error as exc:
        raise DocumentError(f"not a readable CSV file ({exc})") from exc
    return compose(parts, "", budget.notes)


def _sheet_parts(
    rows: Iterable[tuple[int, list[str]]], sheet: str, limits: ReadLimits, budget: Extraction
) -> list[Part]:
    """A sheet's heading and one sentence per data row, cut at max_sheet_rows with a note (and where the
    document's budget ends: the rows are read only while it lasts)."""
    notes = budget.notes
    # (row number, cells within the column bound, whether cells beyond it hold something)
    filled = (
        (n, cells[: limits.max_columns], any(cells[limits.max_columns :])) for n, cells in rows if any(cells)
    )
    header = next(filled, None)
    if header is None:
        return []
    parts = bounded([Part("## " + sheet, LocusKind.SHEET, scope=sheet)] if sheet else [], budget)
    headers = headers_of(_trim(header[1]))
    wide = header[2]
    last = header[0]
    stopped = False
    for n, cells, cut in islice(filled, limits.max_sheet_rows):
        wide = wide or cut
        sentence = row_sentence(headers, _trim(cells))
        if sentence:
            kept = bounded([Part(sentence, LocusKind.ROW, n, sheet)], budget)
            if not kept:
                stopped = True
                break
            parts += kept
            last = n
    where = f"sheet {sheet!r}" if sheet else "the file"
    if not stopped and next(filled, None) is not None:
        notes.append(
            f"{where}: only the first {limits.max_sheet_rows} rows (to row {last}) were indexed; "
            "raise QA_MAX_SHEET_ROWS to read more"
        )
    if wide:
        notes.append(f"{where}: only the first {limits.max_columns} columns were indexed")
    return parts


def _trim(cells: Sequence[str]) -> list[str]:
    cells = list(cells)
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _decode(raw: bytes) -> str:
    if b"\x00" in raw[:8192]:
        raise DocumentError("looks binary (NUL bytes), not a CSV file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")
