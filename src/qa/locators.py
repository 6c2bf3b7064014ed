"""Where a stretch of a document's text is, in the terms a person looks it up by.

A `Locus` marks where one page, slide, spreadsheet row or Word section begins in `Document.text`. The
reader makes them; the chunker keeps those a chunk overlaps; a citation's locator is the label of the loci
its quote spans:

    page 3 · pages 3–4 · slide 7 · Sales 2024, rows 12–14 · rows 2–5 (a CSV) · Results › Trade in goods

`ocr` is the recognition confidence (0–1) of text read from an image, so an answer can say that its quote
came from OCR and how sure the recogniser was.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class LocusKind(StrEnum):
    PAGE = "page"
    SLIDE = "slide"
    SHEET = "sheet"  # a sheet's heading (scope: the sheet name)
    ROW = "row"  # a spreadsheet row (scope: the sheet name, empty for a CSV)
    SECTION = "section"  # a Word section (scope: its heading path)
    IMAGE = "image"  # a picture file read by OCR


SEPARATOR = " › "  # between the headings of a path


@dataclass(frozen=True)
class Locus:
    """Where a stretch of text begins and how a person finds it."""

    start: int  # offset in Document.text
    kind: LocusKind
    number: int = 0  # page, slide or row number (1-based); 0 where there is none
    scope: str = ""  # sheet name, or heading path
    ocr: float | None = None  # mean OCR word confidence, when the text was recognised from an image

    def label(self) -> str:
        if self.kind in (LocusKind.PAGE, LocusKind.SLIDE):
            return f"{self.kind.value} {self.number}"
        if self.kind is LocusKind.ROW:
            return f"{self.scope}, row {self.number}" if self.scope else f"row {self.number}"
        return self.scope  # a sheet's name, a heading path ("" before the first heading), an image

    def to_json(self) -> list[object]:
        return [self.start, self.kind.value, self.number, self.scope, self.ocr]

    @classmethod
    def from_json(cls, rec: Sequence[object]) -> Locus:
        start, kind, number, scope, ocr = rec
        return cls(
            int(str(start)),
            LocusKind(str(kind)),
            int(str(number)),
            str(scope),
            None if ocr is None else float(str(ocr)),
        )


def covering(loci: Sequence[Locus], start: int, end: int) -> tuple[Locus, ...]:
    """The loci that text[start:end] overlaps: the one it starts in, and every one that begins inside it."""
    if not loci:
        return ()
    starts = [locus.start for locus in loci]
    first = max(bisect.bisect_right(starts, start) - 1, 0)
    last = max(bisect.bisect_left(starts, end) - 1, first)
    return tuple(loci[first : last + 1])


def describe(loci: Sequence[Locus]) -> str:
    """One label for a run of loci: "page 3", "pages 3–4", "Sheet1, rows 4–9", or first – last."""
    labelled = [locus for locus in loci if locus.label()]
    if len(labelled) > 1 and labelled[0].kind is LocusKind.SHEET and labelled[1].scope == labelled[0].scope:
        labelled = labelled[1:]  # a sheet's heading and its first rows: the rows say it all
    if not labelled:
        return ""
    first, last = labelled[0], labelled[-1]
    if first == last or first.label() == last.label():
        return first.label()
    if first.kind is last.kind and first.scope == last.scope and first.number and last.number:
        plural = f"{first.kind.value}s {first.number}–{last.number}"
        return f"{first.scope}, {plural}" if first.scope else plural
    return f"{first.label()} – {last.label()}"


def ocr_confidence(loci: Sequence[Locus]) -> float | None:
    """The lowest OCR confidence of the loci (None when none of their text came from OCR)."""
    scores = [locus.ocr for locus in loci if locus.ocr is not None]
    return min(scores) if scores else None
