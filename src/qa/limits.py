"""Bounds on the work one document may cost, whatever its format: characters per page and in all, seconds.

Every reader makes one `Extraction` per document and passes what it extracts through it: `stop` before each
page, slide, row or part (so it can end early), `take` for each piece as it goes, `finish` for the whole
text (so a reader that never calls `take` is bounded too). What was cut is kept in `notes`, said in words,
and `qa index` reports it beside the file's name. The limits themselves are data: `qa.config.ReadLimits`,
each set by the environment variable its note names.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from qa.config import ReadLimits


class Extraction:
    """The budget of reading one document, and what was cut from it."""

    def __init__(self, limits: ReadLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.started = clock()
        self.chars = 0
        self.notes: list[str] = []
        self._cut = False
        self._timed_out = False

    @property
    def full(self) -> bool:
        """The document's character bound is reached: a reader should stop extracting."""
        return self.chars >= self.limits.document_chars

    def out_of_time(self) -> bool:
        return self._timed_out or self.clock() - self.started > self.limits.seconds

    def stop(self, where: str) -> bool:
        """Whether to stop before `where` ("page 12", "slide 3"): every character is taken or the time is
        up (said in a note, once)."""
        if self.full:
            return True
        if self.out_of_time():
            self.timed_out(where)
            return True
        return False

    def note(self, text: str) -> None:
        self.notes.append(text)

    def take(self, text: str, page: int | None = None) -> str:
        """`text` (page `page`, if it is one) cut to the page bound and to what the document has left."""
        limit = self.limits.page_chars
        if page is not None and len(text) > limit:
            self.page_cut(page)
            text = text[:limit]
        left = self.limits.document_chars - self.chars
        if len(text) > left:
            text = text[: max(left, 0)]
            self._note_cut()
        self.chars += len(text)
        return text

    def page_cut(self, page: int) -> None:
        """Record that page `page` was cut at the page bound."""
        # (Not "of N": a reader may have stopped extracting the page as soon as it passed the bound.)
        self.note(f"page {page} cut to its first {self.limits.page_chars:,} characters (QA_MAX_PAGE_CHARS)")

    def finish(self, text: str) -> str:
        """The whole text of the document, cut to the document bound (the last step of every reader)."""
        if len(text) > self.limits.document_chars:
            text = text[: self.limits.document_chars]
            self._note_cut()
        return text

    def timed_out(self, where: str) -> None:
        """Record that the reader stopped at `where` ("page 12 of 400") because its time ran out."""
        if not self._timed_out:
            self._timed_out = True
            self.note(f"reading stopped at {where} after {self.limits.seconds:g} s (QA_MAX_READ_SECONDS)")

    def _note_cut(self) -> None:
        if not self._cut:
            self._cut = True
            self.note(f"cut to its first {self.limits.document_chars:,} characters (QA_MAX_DOCUMENT_CHARS)")
