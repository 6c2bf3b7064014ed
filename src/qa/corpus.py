"""Find and read documents (.txt .md .html .htm .pdf) -> Document.

Files are found by `qa.walk`. A file that cannot be read is reported as `Skipped` with its reason, so one
bad file never stops an index build. Reading is bounded per document (`qa.limits`): text past a bound is
cut, and the cut noted in `Document.notes`.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from qa.config import ExtractionLimits
from qa.limits import Extraction

SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf"})
SOURCES_FILE = "sources.toml"
_HASH_BLOCK = 1 << 20
# Control characters other than the newline would corrupt the UI and JSON output; tabs become spaces too.
_CONTROLS = {code: " " for code in range(32) if code != ord("\n")}


@dataclass(frozen=True)
class Document:
    """One readable file: its text (newlines normalised to \\n) and what we know of its origin."""

    path: str  # relative to the corpus folder, with forward slashes
    title: str
    text: str
    sha256: str
    # Start offset in `text` of each PDF page (page n starts at page_starts[n-1]); empty for other kinds.
    page_starts: tuple[int, ...] = ()
    origin: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what reading it cut or left out, in words (see qa.limits)

    def page_at(self, offset: int) -> int | None:
        """The 1-based PDF page holding `offset`, or None for documents without pages."""
        if not self.page_starts:
            return None
        page = 1
        for number, start in enumerate(self.page_starts, start=1):
            if start <= offset:
                page = number
            else:
                break
        return page


@dataclass(frozen=True)
class Skipped:
    """A file or folder that was found but not indexed (or, with `cut`, indexed only in part), and why."""

    path: str
    reason: str
    cut: bool = False


class DocumentError(Exception):
    """A file cannot be turned into text; the message is the reason shown to the user."""


OUTSIDE_LINK = "a link to a place outside the corpus folder; not followed (copy the file in instead)"


def relative_name(path: Path, corpus_dir: Path) -> str:
    """The path shown to users and stored in the index: relative to the corpus, forward slashes."""
    return path.relative_to(corpus_dir).as_posix()


def file_sha256(path: Path) -> str:
    """Hash in blocks so a large file is never held in memory just to be compared."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def check_size(size: int, max_bytes: int) -> None:
    """Refuse a file over the limit before a byte of it is read or hashed (MB here is 2**20 bytes)."""
    if size > max_bytes:
        raise DocumentError(
            f"too large ({size / 2**20:.1f} MB > {max_bytes / 2**20:.0f} MB limit); "
            "split it or raise max_file_bytes"
        )


def load_sources(corpus_dir: Path) -> dict[str, dict[str, str]]:
    """Read corpus/sources.toml (title and origin per file); a broken file is reported, not fatal."""
    path = corpus_dir / SOURCES_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DocumentError(
            f"cannot read ({exc.strerror}); fix its permissions. Documents keep the titles they were "
            "indexed with."
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DocumentError(f"cannot parse ({exc}); fix the TOML or delete the file.") from exc
    return {
        name: {k: str(v) for k, v in entry.items()} for name, entry in data.items() if isinstance(entry, dict)
    }


def read_document(
    path: Path,
    corpus_dir: Path,
    sources: dict[str, dict[str, str]],
    max_bytes: int,
    sha256: str = "",
    limits: ExtractionLimits | None = None,
) -> Document:
    """Read one file into a Document, or raise DocumentError with the reason."""
    rel = relative_name(path, corpus_dir)
    try:  # qa.walk checks links too; again here, because a link may be swapped after the walk
        inside = path.resolve(strict=True).is_relative_to(corpus_dir.resolve())
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        raise DocumentError(OUTSIDE_LINK)
    budget = Extraction(limits or ExtractionLimits())
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"cannot read ({exc.strerror})") from exc
    check_size(size, max_bytes)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read ({exc.strerror})") from exc
    suffix = path.suffix.lower()
    page_starts: tuple[int, ...] = ()
    if suffix == ".pdf":
        text, page_starts = _pdf_text(raw, budget)
    elif suffix in (".html", ".htm"):
        text = _html_text(_decode(raw), budget)
    else:
        text = _decode(raw)
    text = budget.finish(_normalise(text))
    if not text.strip():
        if budget.notes:
            raise DocumentError(f"no text left to index: {'; '.join(budget.notes)}")
        raise DocumentError("no text found (empty file, or a PDF of scanned images)")
    origin = dict(sources.get(rel, {}))
    title = origin.pop("title", "") or _first_heading(text) or _title_from_name(path)
    return Document(
        path=rel,
        title=title,
        text=text,
        sha256=sha256 or hashlib.sha256(raw).hexdigest(),
        page_starts=page_starts,
        origin=origin,
        notes=tuple(budget.notes),
    )


def _decode(raw: bytes) -> str:
    if b"\x00" in raw[:8192]:
        raise DocumentError("looks binary (NUL bytes), not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Legacy single-byte files (Latin-1, Windows-1252) are common in real folders. cp1252 leaves five bytes
    # undefined, so it rejects most random binary data; control characters catch the rest.
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        raise DocumentError("not UTF-8 or Windows-1252 text; re-save it as UTF-8") from None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > max(2, len(text) // 200):
        raise DocumentError("looks binary (control characters), not text")
    return text


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    # str.translate, not a join over characters: a per-character list of a 20 MB text took 0.5 GB.
    return text.translate(_CONTROLS)


# What the HTML reader drops entirely, and after which elements it ends a line.
_HTML_HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "title"})
_HTML_BLOCKS = frozenset({"p", "div", "li", "br", "tr", "section", "article", "blockquote", "pre"})
_HTML_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_HTML_FEED = 1 << 16  # characters fed to the parser at a time, between checks of the budget


class _HTMLText(HTMLParser):
    """HTML -> text as a stream of tags: memory is the text, not a tree, and nesting depth costs nothing
    (a tree-building parser took 9 s for 8,000 nested <div>s, and grew with the square of the depth)."""

    def __init__(self, budget: Extraction) -> None:
        super().__init__(convert_charrefs=True)
        self.budget = budget
        self.parts: list[str] = []
        self.hidden = 0  # depth inside elements whose text is not shown

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_HIDDEN:
            self.hidden += 1
        elif tag in _HTML_HEADINGS:  # headings the Markdown way: one convention for the chunker
            self._add("\n\n" + "#" * _HTML_HEADINGS[tag] + " ")
        elif tag == "br":
            self._add("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _HTML_HEADINGS:
            self._add("\n\n")
        elif tag in _HTML_BLOCKS:
            self._add("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self._add(data)

    def _add(self, text: str) -> None:
        self.parts.append(self.budget.take(text))


def _html_text(html: str, budget: Extraction) -> str:
    parser = _HTMLText(budget)
    for start in range(0, len(html), _HTML_FEED):
        if budget.full:
            break
        if budget.out_of_time():
            budget.timed_out(f"character {start:,} of {len(html):,}")
            break
        parser.feed(html[start : start + _HTML_FEED])
    else:
        parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts))


class _PageDone(Exception):
    """Raised from pypdf's visitor callbacks to stop extracting a page."""


def _pdf_text(raw: bytes, budget: Extraction) -> tuple[str, tuple[int, ...]]:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns loudly about harmless oddities
    limits = budget.limits
    starts: list[int] = []
    parts: list[str] = []
    offset = 0
    try:
        reader = PdfReader(io.BytesIO(raw))
        count = len(reader.pages)
        for number, page in enumerate(reader.pages, start=1):
            if budget.full:
                budget.note(f"pages {number}-{count} not read")
                break
            if budget.out_of_time():
                budget.timed_out(f"page {number} of {count}")
                break
            size = _content_bytes(page)
            if size > limits.page_content_bytes:
                budget.note(
                    f"page {number} left out: its content is {size / 2**20:.1f} MB uncompressed, over "
                    f"{limits.page_content_bytes / 2**20:g} MB (page_content_bytes, ExtractionLimits in "
                    "qa/config.py)"
                )
                text = ""
            else:
                text = budget.take(_page_text(page, budget), page=number)
            starts.append(offset)
            # A blank line between pages keeps a page's last paragraph from merging with the next page's first.
            chunk = _normalise(text).rstrip() + "\n\n"
            parts.append(chunk)
            offset += len(chunk)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise DocumentError(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    return "".join(parts), tuple(starts)


def _content_bytes(page: Any) -> int:
    """Uncompressed size of a page's content stream and of the forms it draws (inflating is fast; parsing
    what it inflates to is what costs)."""
    from pypdf.generic import StreamObject

    contents = page.get_contents()
    size = len(contents.get_data()) if contents is not None else 0
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    for ref in (xobjects.get_object() if xobjects is not None else {}).values():
        obj = ref.get_object()
        if isinstance(obj, StreamObject) and obj.get("/Subtype") == "/Form":
            size += len(obj.get_data())
    return int(size)


def _page_text(page: Any, budget: Extraction) -> str:
    """One page's text, stopped once it passes the page bound or the document's time runs out."""
    pieces: list[str] = []
    held = 0
    ops = 0

    def on_text(text: str, *_: object) -> None:
        nonlocal held
        pieces.append(text)
        held += len(text)
        if held > budget.limits.page_chars:
            raise _PageDone

    def on_operator(*_: object) -> None:
        nonlocal ops
        ops += 1
        if ops % 512 == 0 and budget.out_of_time():
            raise _PageDone

    try:
        # The pieces the visitor sees join to exactly what extract_text returns.
        return str(page.extract_text(visitor_text=on_text, visitor_operand_before=on_operator) or "")
    except _PageDone:
        return "".join(pieces)


def _first_heading(text: str) -> str:
    for line in text.splitlines()[:40]:
        match = re.match(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", line)
        if match:
            return re.sub(r"[*_`]+", "", match.group(1)).strip()
    return ""


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name
