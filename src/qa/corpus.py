"""Find and read documents (.txt .md .html .htm here; .pdf .docx .pptx .xlsx .csv and images through
`qa.readers`) -> Document.

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

from qa.config import ReadLimits
from qa.limits import Extraction
from qa.locators import Locus, LocusKind, covering
from qa.readers import SUFFIXES as READER_SUFFIXES
from qa.readers import read as read_rich
from qa.readers.base import DocumentError as DocumentError  # re-exported: the readers raise it too
from qa.readers.properties import Properties, front_matter, html_properties

SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"}) | READER_SUFFIXES
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
    # Where each page, slide, sheet row or Word section begins (qa.locators); empty for plain text.
    loci: tuple[Locus, ...] = ()
    notes: tuple[str, ...] = ()  # what reading left out or cut, in words (qa.limits, qa.readers)

    def loci_between(self, start: int, end: int) -> tuple[Locus, ...]:
        """The loci that text[start:end] overlaps."""
        return covering(self.loci, start, end)

    def page_at(self, offset: int) -> int | None:
        """The 1-based PDF page holding `offset`, or None for documents without pages."""
        if self.loci:  # the reader's own page numbers (a page without text has no locus)
            here = covering(self.loci, offset, offset + 1)
            return here[0].number if here and here[0].kind is LocusKind.PAGE else None
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


# How the reason of a document indexed only in part begins (`Skipped.cut`).
PART = "part not indexed:"
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
    limits: ReadLimits | None = None,
) -> Document:
    """Read one file into a Document, or raise DocumentError with the reason."""
    rel = relative_name(path, corpus_dir)
    try:  # qa.walk checks links too; again here, because a link may be swapped after the walk
        inside = path.resolve(strict=True).is_relative_to(corpus_dir.resolve())
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        raise DocumentError(OUTSIDE_LINK)
    limits = limits or ReadLimits()
    budget = Extraction(limits)  # text and HTML; each reader of qa.readers keeps its own
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
    loci: tuple[Locus, ...] = ()
    notes: tuple[str, ...] = ()
    found_title = ""
    if suffix in READER_SUFFIXES:
        extract = read_rich(suffix, raw, path.name, limits)
        text, loci, notes, properties = extract.text, extract.loci, extract.notes, extract.properties
        # Not the first heading: that of a workbook is its first sheet's name.
        found_title = extract.title or _title_from_name(path)
    elif suffix in (".html", ".htm"):
        text, properties = _html_text(_decode(raw), budget)
        text = budget.finish(_normalise(text))
        notes = tuple(budget.notes)
    else:
        text = budget.finish(_normalise(_decode(raw)))
        notes = tuple(budget.notes)
        properties = front_matter(text)
    # Readers give normalised text already (their offsets are taken after it, and their own budget bounded
    # it as it was read), so this changes no offset.
    text = _normalise(text)
    if not text.strip():
        reason = "; ".join(notes) or "empty file"
        raise DocumentError(f"no text found ({reason})")
    origin = dict(sources.get(rel, {}))
    # What the file says of itself fills what sources.toml leaves out (qa.readers.properties).
    for key, value in (("author", properties.author), ("date", properties.date)):
        if value and not origin.get(key):
            origin[key] = value
    title = origin.pop("title", "") or found_title or _first_heading(text) or _title_from_name(path)
    return Document(
        path=rel,
        title=title,
        text=text,
        sha256=sha256 or hashlib.sha256(raw).hexdigest(),
        page_starts=tuple(locus.start for locus in loci if locus.kind is LocusKind.PAGE),
        origin=origin,
        loci=loci,
        notes=notes,
    )


_WESTERN = "cp1252"


def _decode(raw: bytes) -> str:
    if b"\x00" in raw[:8192]:
        raise DocumentError("looks binary (NUL bytes), not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Legacy files (Latin-1, Windows-1252, ...) are common in real folders: charset-normalizer ranks the
    # encodings under which the bytes read most like text, and finds none for most random binary data;
    # control characters catch the rest. Imported here: most folders are all UTF-8.
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw))
    if not matches:
        raise DocumentError("not UTF-8 or another known text encoding; re-save it as UTF-8")
    # A short Western text reads equally well in several code pages ("São" in cp1252 is "Săo" in cp1250):
    # among the equally good, Windows-1252, the commonest legacy encoding of such folders.
    best = matches[0]
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    text = str(next((m for m in tied if _WESTERN in m.could_be_from_charset), best))
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
_HTML_MAX_META = 64  # <meta> tags kept per page: the few that name an author or a date come early


class _HTMLText(HTMLParser):
    """HTML -> text as a stream of tags: memory is the text, not a tree, and nesting depth costs nothing
    (a tree-building parser took 9 s for 8,000 nested <div>s, and grew with the square of the depth)."""

    def __init__(self, budget: Extraction) -> None:
        super().__init__(convert_charrefs=True)
        self.budget = budget
        self.parts: list[str] = []
        self.hidden = 0  # depth inside elements whose text is not shown
        self.meta: dict[str, str] = {}  # <meta name|property=... content=...>: the page's author and date

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_HIDDEN:
            self.hidden += 1
        elif tag in _HTML_HEADINGS:  # headings the Markdown way: one convention for the chunker
            self._add("\n\n" + "#" * _HTML_HEADINGS[tag] + " ")
        elif tag == "br":
            self._add("\n")
        elif tag == "meta":
            values = dict(attrs)
            key = (values.get("name") or values.get("property") or "").lower()
            if key and values.get("content") and len(self.meta) < _HTML_MAX_META:
                self.meta.setdefault(key, values["content"] or "")

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


def _html_text(html: str, budget: Extraction) -> tuple[str, Properties]:
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
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)), html_properties(parser.meta)


def _first_heading(text: str) -> str:
    for line in text.splitlines()[:40]:
        match = re.match(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", line)
        if match:
            return re.sub(r"[*_`]+", "", match.group(1)).strip()
    return ""


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name
