""".docx -> paragraphs in order with their heading path, lists, tables as `header: value` rows, footnotes.

python-docx (MIT) parses the package with lxml, entities unresolved; macros (.docm) and embedded objects are
never opened, only the main text and the footnotes part are read. Headings come out in Markdown form
("## Scope") so the chunker treats them as it does a Markdown heading; the locator is the heading path
("Results › Trade in goods").
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from itertools import chain
from typing import Any

from qa.config import ReadLimits
from qa.limits import Extraction
from qa.locators import SEPARATOR, LocusKind
from qa.readers.base import DocumentError, Extract, Part, bounded, compose, open_zip, usable_title
from qa.readers.properties import stamped
from qa.readers.tables import table_rows

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)
_FOOTNOTES_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read_docx(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    """Read a Word document (see the module docstring)."""
    open_zip(raw, ".docx", limits).close()
    from docx import Document

    budget = Extraction(limits)
    try:
        doc = Document(io.BytesIO(raw))
        # Lazily: the paragraphs are read only while the budget lasts (footnotes only after the body).
        parts = bounded(chain(_body(doc), _lazy_footnotes(doc)), budget)
        title = usable_title(doc.core_properties.title)
        properties = stamped(doc.core_properties.author, doc.core_properties.created)
    except Exception as exc:  # a damaged package can make python-docx or lxml raise almost anything
        raise DocumentError(
            f"not a readable .docx ({type(exc).__name__}: {exc}); re-save it from Word"
        ) from exc
    if not title:
        title = next((p.text.lstrip("# ") for p in parts if p.text.startswith("# ")), "")
    return compose(parts, title, budget.notes, properties)


def _lazy_footnotes(doc: Any) -> Iterator[Part]:
    yield from _footnotes(doc)


def _body(doc: Any) -> Iterator[Part]:
    from docx.table import Table

    path: list[tuple[int, str]] = []  # (level, heading) from the outermost in
    for block in doc.iter_inner_content():
        scope = SEPARATOR.join(h for _, h in path)
        if isinstance(block, Table):
            for row in table_rows(_cell_grid(block)):
                yield Part(row, LocusKind.SECTION, scope=scope)
            continue
        text = block.text.strip()
        if not text:
            continue
        level = _heading_level(block)
        if level < 0:  # the document's title: shown as a heading, not part of any section's path
            yield Part("# " + text, LocusKind.SECTION)
        elif level:
            path = [*(p for p in path if p[0] < level), (level, " ".join(text.split()))]
            yield Part("#" * level + " " + text, LocusKind.SECTION, scope=SEPARATOR.join(h for _, h in path))
        elif _is_list_item(block):
            yield Part("- " + text, LocusKind.SECTION, scope=scope)
        else:
            yield Part(text, LocusKind.SECTION, scope=scope)


def _heading_level(paragraph: Any) -> int:
    """1-6 for a heading, -1 for the title, 0 for body text."""
    style = paragraph.style.name if paragraph.style is not None else ""
    if style == "Title":
        return -1
    match = _HEADING_STYLE.match(style or "")
    if match:
        return min(int(match.group(1)), 6)
    # A custom style can still declare an outline level (0 = level 1); 9 means body text.
    level = paragraph._p.find(f"{_W}pPr/{_W}outlineLvl")
    if level is not None and (value := level.get(f"{_W}val", "9")).isdigit() and int(value) < 6:
        return int(value) + 1
    return 0


def _is_list_item(paragraph: Any) -> bool:
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    return style.lower().startswith("list") or paragraph._p.find(f"{_W}pPr/{_W}numPr") is not None


def _cell_grid(table: Any) -> list[list[str]]:
    """A table's cell texts, a merged cell counted once per row."""
    grid: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a horizontally merged cell is returned once per grid column
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        grid.append(cells)
    return grid


def _footnotes(doc: Any) -> list[Part]:
    """Footnotes (python-docx has no API for them): the part's text, read with its safe XML parser."""
    from docx.oxml.parser import parse_xml

    part = next((rel.target_part for rel in doc.part.rels.values() if rel.reltype == _FOOTNOTES_REL), None)
    if part is None:
        return []
    root = parse_xml(part.blob)
    notes: list[Part] = []
    for note in root.iter(f"{_W}footnote"):
        if note.get(f"{_W}type") in ("separator", "continuationSeparator", "continuationNotice"):
            continue
        number = note.get(f"{_W}id", "")
        text = " ".join("".join(t.text or "" for t in note.iter(f"{_W}t")).split())
        if text:
            notes.append(Part(f"[{number}] {text}", LocusKind.SECTION, scope=f"Footnote {number}"))
    if notes:
        notes.insert(0, Part("## Footnotes", LocusKind.SECTION, scope="Footnotes"))
    return notes
