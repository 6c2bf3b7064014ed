""".pdf -> text page by page in reading order; pages without a text layer read by OCR.

pdfminer.six (MIT) gives each text line with its position; on top of it, per page:

1. Running headers and footers go: a line in the top or bottom tenth of the page whose text (digits
   ignored) comes back on at least half of the pages, and at least two; a bare page number ("7", "Page 7",
   "7 of 12", "- 7 -") in those margins goes whatever the page count.
2. Columns are found by a vertical gutter: a line of the page's middle that at least a fifth of the lines
   end left of and a fifth start right of, and few cross. Then the left column is read before the right
   one, between full-width lines (a title, a wide figure caption) that cross the gutter.
3. Lines a little further apart than their height start a new paragraph; within one, wrapped lines are
   joined and a word hyphenated at a line end is made whole (`unwrap`), so a paragraph is one line of
   text however narrow its column. A line that stops well short of its column's edge keeps its break.

A page with fewer than `min_text_chars` letters has no usable text layer (a scan): it is rendered with
pypdfium2 (Apache-2.0/BSD-3, PDFium) and read by OCR, its confidence kept on its locus. The page number is
the PDF's own (1-based), never renumbered when a page is empty.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import qa.readers.ocr as ocr
from qa.config import ReadLimits
from qa.limits import Extraction
from qa.locators import LocusKind
from qa.readers.base import (
    DocumentError,
    Extract,
    Part,
    bounded,
    compose,
    hyphenated_words,
    unwrap,
    usable_title,
)
from qa.readers.pdfpages import layouts
from qa.readers.properties import NO_PROPERTIES, Properties, pdf_date, stamped

MARGIN = 0.1  # top and bottom share of the page where running headers, footers and page numbers live
_PAGE_NUMBER = re.compile(
    r"^[\s\-–—|]*(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?[\s\-–—|]*$|^[\s\-–—]*[ivxlc]{1,6}[\s\-–—]*$",
    re.I,
)
_CID = re.compile(r"\(cid:\d+\)")


@dataclass(frozen=True)
class Line:
    text: str
    x0: float
    x1: float
    top: float  # from the top of the page
    bottom: float


@dataclass(frozen=True)
class Page:
    number: int
    width: float
    height: float
    lines: tuple[Line, ...]
    left_out: bool = False  # over a bound before it was parsed (qa.readers.pdfpages): not read by OCR either


def read_pdf(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    """Read a PDF (see the module docstring); bounded by the document's budget (qa.readers.pdfpages)."""
    budget = Extraction(limits)
    notes = budget.notes
    pages, title, properties = _layout(raw, budget)
    running = running_lines(pages)
    parts: list[Part] = []
    scanned: list[int] = []
    for page in pages:
        text = page_text(page, running)
        if len(re.findall(r"\w", _CID.sub("", text))) < limits.min_text_chars:
            if not page.left_out:
                scanned.append(page.number)
            continue
        parts.append(Part(text, LocusKind.PAGE, page.number))
    if scanned:
        parts += _ocr_pages(raw, scanned, budget)
        parts.sort(key=lambda p: p.number)
    # Pages were cut at the page bound as they were drawn, and the clock was checked; here the document's
    # bound on characters.
    return compose(_join_across_pages(bounded(parts, budget, timed=False)), title, notes, properties)


def _join_across_pages(parts: list[Part]) -> list[Part]:
    """Mark a page that goes on with the sentence the page before it left open (no stop at the end of the
    one, a lowercase word at the start of the next)."""
    out = parts[:1]
    for before, part in pairwise(parts):
        open_ended = not re.search(r"[.!?:;…\"”’)\]]\s*$", before.text)
        if part.number == before.number + 1 and open_ended and part.text.lstrip()[:1].islower():
            part = dataclasses.replace(part, continues=True)
        out.append(part)
    return out


def _layout(raw: bytes, budget: Extraction) -> tuple[list[Page], str, Properties]:
    from pdfminer.layout import LTTextBox, LTTextLine
    from pdfminer.pdfdocument import PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFParser

    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # it warns about harmless oddities
    pages: list[Page] = []
    try:
        for laid in layouts(raw, budget):
            number, layout = laid.number, laid.layout
            if layout is None:
                pages.append(Page(number, 0.0, 0.0, (), left_out=True))
                continue
            lines = [
                Line(
                    " ".join(line.get_text().split()),
                    line.x0,
                    line.x1,
                    layout.height - line.y1,
                    layout.height - line.y0,
                )
                for box in layout
                if isinstance(box, LTTextBox)
                for line in box
                if isinstance(line, LTTextLine) and line.get_text().strip()
            ]
            pages.append(Page(number, layout.width, layout.height, tuple(lines)))
        title, properties = _metadata(PDFParser(io.BytesIO(raw)))
    except PDFPasswordIncorrect as exc:
        raise DocumentError("password-protected; save a copy without the password to index it") from exc
    except Exception as exc:  # a malformed PDF can make pdfminer raise almost anything
        if "password" in str(exc).lower() or "encrypt" in type(exc).__name__.lower():
            raise DocumentError(f"encrypted ({exc}); save a copy without the password to index it") from exc
        raise DocumentError(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    if not pages:
        raise DocumentError("corrupt or unreadable PDF (no pages)")
    return pages, title, properties


def _metadata(parser: Any) -> tuple[str, Properties]:
    """The info dictionary's title, author and creation stamp."""
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdftypes import resolve1

    try:
        infos = PDFDocument(parser).info
        info = infos[0] if infos else {}
        title, author, created = (
            _info_text(resolve1(info.get(k))) for k in ("Title", "Author", "CreationDate")
        )
    except Exception:  # the metadata is a nicety: a broken info dictionary must not lose the text
        return "", NO_PROPERTIES
    return usable_title(title), stamped(author, pdf_date(created))


def _info_text(raw: object) -> str:
    if isinstance(raw, bytes):
        if raw.startswith(b"\xfe\xff"):
            return raw[2:].decode("utf-16-be", errors="replace")
        return raw.decode("latin-1")
    return raw if isinstance(raw, str) else ""


def running_lines(pages: Sequence[Page]) -> frozenset[str]:
    """Margin texts (digits ignored) that repeat on at least half the pages, and on two at least."""
    seen: Counter[str] = Counter()
    for page in pages:
        seen.update({_key(line.text) for line in _margin_lines(page)})
    needed = max(2, (len(pages) + 1) // 2)
    return frozenset(text for text, count in seen.items() if count >= needed)


def _margin_lines(page: Page) -> Iterator[Line]:
    for line in page.lines:
        if line.bottom <= page.height * MARGIN or line.top >= page.height * (1 - MARGIN):
            yield line


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def page_text(page: Page, running: frozenset[str]) -> str:
    """A page's text in reading order, running headers, footers and page numbers left out."""
    margin = set(map(id, _margin_lines(page)))
    body = [
        line
        for line in page.lines
        if not (id(line) in margin and (_key(line.text) in running or _PAGE_NUMBER.match(line.text)))
    ]
    ordered, gutter = reading_order(body, page.width)
    known = hyphenated_words(" ".join(line.text for line in body))
    paragraphs: list[list[Line]] = []
    for line in ordered:
        previous = paragraphs[-1][-1] if paragraphs else None
        # A line further below the last than about its height starts a paragraph; one higher up is the
        # top of the next column, where the paragraph may well go on.
        if previous is None or line.top - previous.bottom > 0.7 * (previous.bottom - previous.top):
            paragraphs.append([line])
        else:
            paragraphs[-1].append(line)
    right = _right_edges(body, gutter)
    texts = []
    for lines in paragraphs:
        breaks = [_ends_early(line, nxt, right(line)) for line, nxt in pairwise(lines)]
        texts.append(unwrap([line.text for line in lines], [*breaks, True], known))
    return "\n\n".join(texts)


def _ends_early(line: Line, nxt: Line, right: float) -> bool:
    """Whether the next line's first word would have fitted on this one: then the break is the writer's
    (a heading, a list item, a paragraph's end), not the wrapping's."""
    per_char = (nxt.x1 - nxt.x0) / max(len(nxt.text), 1)
    word = len(nxt.text.split(" ", 1)[0]) + 1  # and a space
    return line.x1 + per_char * word < right - per_char


def _right_edges(lines: Sequence[Line], gutter: float | None) -> Callable[[Line], float]:
    """Each line's column right edge: the furthest any line of the same column reaches."""
    if gutter is None:
        edge = max((line.x1 for line in lines), default=0.0)
        return lambda line: edge
    left = max((line.x1 for line in lines if line.x1 <= gutter), default=gutter)
    full = max((line.x1 for line in lines), default=gutter)
    return lambda line: left if line.x1 <= gutter else full


def reading_order(lines: Sequence[Line], width: float) -> tuple[list[Line], float | None]:
    """Lines top to bottom; in a two-column stretch, the left column before the right one. Also returns
    the gutter's x (None for one column)."""
    ordered = sorted(lines, key=lambda line: (round(line.top), line.x0))
    gutter = find_gutter(ordered, width)
    if gutter is None:
        return ordered, None
    out: list[Line] = []
    left: list[Line] = []
    right: list[Line] = []
    for line in ordered:
        if line.x0 < gutter < line.x1:  # full width: ends the columns above it
            out += left + right + [line]
            left, right = [], []
        elif line.x1 <= gutter:
            left.append(line)
        else:
            right.append(line)
    return out + left + right, gutter


def find_gutter(lines: Sequence[Line], width: float) -> float | None:
    """The x of a gutter between two columns, or None for a page of one column."""
    n = len(lines)
    if n < 6:
        return None
    best: tuple[int, float, float] | None = None  # (lines crossing, distance from the middle, x)
    for step in range(30, 71):
        x = width * step / 100
        left = sum(1 for line in lines if line.x1 <= x)
        right = sum(1 for line in lines if line.x0 >= x)
        crossing = n - left - right
        if min(left, right) < max(3, n // 5) or crossing > n * 0.3:
            continue
        candidate = (crossing, abs(step - 50), x)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best is not None else None


def _ocr_pages(raw: bytes, numbers: Sequence[int], budget: Extraction) -> list[Part]:
    """OCR the listed pages (no text layer); what cannot be read becomes a note, not an error."""
    limits, notes = budget.limits, budget.notes
    shown = ", ".join(map(str, numbers[:10])) + (" …" if len(numbers) > 10 else "")
    pages = "page" if len(numbers) == 1 else "pages"
    have, were = ("has", "was") if len(numbers) == 1 else ("have", "were")
    reason = ocr.unavailable(limits)
    if reason:
        notes.append(f"{pages} {shown} {have} no text layer and {were} not read: {reason}")
        return []
    import pypdfium2 as pdfium

    parts: list[Part] = []
    todo = list(numbers[: limits.ocr_max_pages])
    if len(numbers) > len(todo):
        notes.append(f"only {len(todo)} of {len(numbers)} scanned pages were read by OCR (ocr_max_pages)")
    failed: list[str] = []
    try:
        pdf = pdfium.PdfDocument(raw)
    except pdfium.PdfiumError as exc:
        notes.append(f"{pages} {shown} {have} no text layer and could not be rendered for OCR ({exc})")
        return []
    try:
        for number in todo:
            if budget.stop(f"page {number} (OCR)"):
                break
            started = time.perf_counter()
            try:
                image = _render(pdf[number - 1], limits)
                result = ocr.recognise(image, limits)
            except (DocumentError, pdfium.PdfiumError) as exc:
                failed.append(f"page {number}: {exc}")
                continue
            logging.getLogger(__name__).debug(  # timing detail: not shown by the CLI's log (INFO and up)
                "OCR page %d: %.1f s, confidence %.2f",
                number,
                time.perf_counter() - started,
                result.confidence,
            )
            text = result.text
            if len(text) > limits.page_chars:  # (counted against the document's bound by the caller)
                budget.page_cut(number)
                text = text[: limits.page_chars]
            if text.strip():
                parts.append(Part(text, LocusKind.PAGE, number, ocr=result.confidence))
    finally:
        pdf.close()
    if failed:
        notes.append("OCR could not read " + "; ".join(failed[:5]) + (" …" if len(failed) > 5 else ""))
    return parts


def _render(page: Any, limits: ReadLimits) -> Any:
    width, height = page.get_size()
    scale = limits.ocr_dpi / 72
    pixels = width * height * scale * scale
    if pixels > limits.max_image_pixels:  # a poster-sized page: lower the resolution, not the bound
        scale *= (limits.max_image_pixels / pixels) ** 0.5
    return page.render(scale=scale, grayscale=True).to_pil()
