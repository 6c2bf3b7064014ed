""".pptx -> one unit per slide: its title, body text, tables and speaker notes; the locator is "slide N".

python-pptx (MIT) reads the package with lxml, entities unresolved; macros (.pptm), embedded objects,
pictures and charts are never opened. Shapes are read top to bottom, left to right (their order in the file
is the order they were drawn, not read), group shapes included.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from qa.config import ReadLimits
from qa.limits import Extraction
from qa.locators import LocusKind
from qa.readers.base import DocumentError, Extract, Part, bounded, compose, open_zip, usable_title
from qa.readers.properties import stamped
from qa.readers.tables import table_rows


def read_pptx(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    """Read a PowerPoint deck (see the module docstring)."""
    open_zip(raw, ".pptx", limits).close()
    from pptx import Presentation

    budget = Extraction(limits)
    notes = budget.notes
    parts: list[Part] = []
    first_title = ""
    try:
        deck = Presentation(io.BytesIO(raw))
        slides = list(deck.slides)
        if len(slides) > limits.max_slides:
            notes.append(
                f"only the first {limits.max_slides} of {len(slides)} slides were indexed (max_slides)"
            )
        previous = ""
        for number, slide in enumerate(slides[: limits.max_slides], start=1):
            if budget.stop(f"slide {number} of {len(slides)}"):
                break
            title = _title(slide)
            first_title = first_title or title
            # A slide titled as the one before continues it ("Results", "Results"): its title again would
            # only repeat the heading between the two halves of one section.
            if title and title != previous:
                parts += bounded([Part("## " + title, LocusKind.SLIDE, number)], budget)
            previous = title
            parts += bounded((Part(t, LocusKind.SLIDE, number) for t in _body(slide)), budget)
            parts += bounded((Part(t, LocusKind.SLIDE, number) for t in _notes(slide)), budget)
        title = usable_title(deck.core_properties.title) or first_title
        properties = stamped(deck.core_properties.author, deck.core_properties.created)
    except Exception as exc:  # a damaged package can make python-pptx or lxml raise almost anything
        raise DocumentError(
            f"not a readable .pptx ({type(exc).__name__}: {exc}); re-save it from PowerPoint"
        ) from exc
    return compose(parts, title, notes, properties)


def _title(slide: Any) -> str:
    shape = slide.shapes.title
    return " ".join(shape.text_frame.text.split()) if shape is not None and shape.has_text_frame else ""


def _body(slide: Any) -> Iterator[str]:
    title = slide.shapes.title
    skip = title.shape_id if title is not None else None
    yield from _shapes(slide.shapes, skip)


def _shapes(shapes: Any, skip: int | None) -> Iterator[str]:
    from pptx.shapes.group import GroupShape

    def position(shape: Any) -> tuple[int, int]:
        return (shape.top or 0, shape.left or 0)

    for shape in sorted(shapes, key=position):
        if shape.shape_id == skip:
            continue
        if isinstance(shape, GroupShape):
            yield from _shapes(shape.shapes, skip)
        elif getattr(shape, "has_table", False) and shape.has_table:
            grid = [[" ".join(c.text.split()) for c in row.cells] for row in shape.table.rows]
            yield from table_rows(grid)
        elif shape.has_text_frame:
            for paragraph in shape.text_frame.paragraphs:
                text = " ".join(paragraph.text.split())
                if text:
                    yield text


def _notes(slide: Any) -> list[str]:
    if not slide.has_notes_slide:
        return []
    frame = slide.notes_slide.notes_text_frame
    if frame is None:
        return []
    lines = [" ".join(p.text.split()) for p in frame.paragraphs]
    lines = [line for line in lines if line]
    return ["### Speaker notes", *lines] if lines else []
