"""pdfminer, page by page, within the document's budget (`qa.limits.Extraction`).

pdfminer builds one object per glyph and per path of a page and then analyses the page's layout, which
grows faster than the page: a page drawing 0.125 MiB of text took 15 s and 0.5 GB here, one of 0.5 MiB
492 s and 6.7 GB (pdfminer alone; README, "Security"). So, per page, before its layout is analysed:

- a page whose content streams (and the forms they draw) inflate past `page_content_bytes` is left out
  unparsed, with a note; inflating is counted in pieces, so a stream that would inflate to gigabytes is
  never held;
- drawing stops at `page_chars` glyphs (the page is cut, said so) or when the document's time is up (the
  page keeps what was drawn, and reading stops there);
- pages stop once the document's glyphs reach `document_chars`.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qa.limits import Extraction

_INFLATE_PIECE = 1 << 16
_CHECK_EVERY = 256  # glyphs or paths between looks at the clock


@dataclass(frozen=True)
class PageLayout:
    """One page as pdfminer laid it out (`layout` None: left out unparsed, see `notes` of the budget)."""

    number: int
    layout: Any  # pdfminer.layout.LTPage


class _Stop(Exception):
    """Raised from the device to stop drawing a page."""


def layouts(raw: bytes, budget: Extraction) -> Iterator[PageLayout]:
    """The pages of a PDF, laid out within `budget` (and `max_pages`); pdfminer's exceptions pass through."""
    from pdfminer.layout import LAParams
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage

    limits = budget.limits
    manager = PDFResourceManager(caching=True)
    device = _bounded_device(manager, LAParams(), budget)
    interpreter = PDFPageInterpreter(manager, device)
    glyphs = 0
    for number, page in enumerate(PDFPage.get_pages(io.BytesIO(raw)), start=1):
        if number > limits.max_pages:  # (a page past the bound exists: found, not laid out)
            budget.note(f"only the first {limits.max_pages} pages were indexed (max_pages)")
            return
        if glyphs >= limits.document_chars:
            budget.note(f"pages from {number} on not read (QA_MAX_DOCUMENT_CHARS)")
            return
        if budget.stop(f"page {number}"):
            return
        size = content_bytes(page, limits.page_content_bytes)
        if size > limits.page_content_bytes:
            budget.note(
                f"page {number} left out: its content is over {limits.page_content_bytes / 2**20:g} MB "
                "uncompressed (page_content_bytes, ReadLimits)"
            )
            yield PageLayout(number, None)
            continue
        device.start(number)
        try:
            interpreter.process_page(page)
        except _Stop:
            device.close_page(page)
        glyphs += device.glyphs
        yield PageLayout(number, device.get_result())
        if device.timed_out:
            return


def content_bytes(page: Any, cap: int) -> int:
    """Uncompressed size of a page's content streams and of the forms its resources hold, counted up to
    just past `cap` (inflating is fast; what pdfminer builds from what it inflates to is what costs)."""
    from pdfminer.pdftypes import PDFStream, resolve1

    streams = [resolve1(s) for s in page.contents]
    resources = resolve1(page.resources) or {}
    xobjects = resolve1(resources.get("XObject")) if isinstance(resources, dict) else None
    for ref in (xobjects or {}).values() if isinstance(xobjects, dict) else ():
        obj = resolve1(ref)
        if isinstance(obj, PDFStream) and getattr(obj.get("Subtype"), "name", "") == "Form":
            streams.append(obj)
    total = 0
    for stream in streams:
        if not isinstance(stream, PDFStream):
            continue
        total += _stream_size(stream, cap - total + 1)
        if total > cap:
            break
    return total


def _stream_size(stream: Any, cap: int) -> int:
    """A stream's decoded size, up to `cap`: Flate counted in pieces, other filters decoded whole."""
    filters = [getattr(f, "name", f) for f, _ in stream.get_filters()]
    raw = stream.rawdata
    if stream.data is not None or raw is None or stream.decipher is not None or filters != ["FlateDecode"]:
        return len(stream.get_data())  # rare for content: their ratios are small, or already decoded
    inflater = zlib.decompressobj()
    size = 0
    data: bytes = raw
    try:
        while data and size <= cap:
            piece = inflater.decompress(data, _INFLATE_PIECE)
            size += len(piece)
            data = inflater.unconsumed_tail
            if not piece:
                break
    except zlib.error:
        return size  # damaged: pdfminer decides what it can read of it
    return size


def _bounded_device(manager: Any, laparams: Any, budget: Extraction) -> Any:
    from pdfminer.converter import PDFPageAggregator

    class BoundedAggregator(PDFPageAggregator):
        """pdfminer's aggregator, counting the glyphs and paths of a page as they are drawn."""

        def start(self, number: int) -> None:
            self.number, self.glyphs, self.paths, self.timed_out = number, 0, 0, False

        def render_char(self, *args: Any, **kwargs: Any) -> float:
            self.glyphs += 1
            if self.glyphs > budget.limits.page_chars:
                budget.page_cut(self.number)
                raise _Stop
            if self.glyphs % _CHECK_EVERY == 0:
                self._check_time()
            advance: float = super().render_char(*args, **kwargs)
            return advance

        def paint_path(self, *args: Any, **kwargs: Any) -> None:
            self.paths += 1
            if self.paths % _CHECK_EVERY == 0:
                self._check_time()
            super().paint_path(*args, **kwargs)

        def begin_figure(self, *args: Any, **kwargs: Any) -> None:
            self._check_time()  # a form drawn many times is parsed each time
            super().begin_figure(*args, **kwargs)

        def _check_time(self) -> None:
            if budget.out_of_time():
                budget.timed_out(f"page {self.number}")
                self.timed_out = True
                raise _Stop

        def close_page(self, page: Any) -> None:
            """End a page stopped mid-way: close the forms it was inside, then lay out what was drawn."""
            while self._stack:
                self.end_figure("")
            self.end_page(page)

    return BoundedAggregator(manager, laparams=laparams)
