"""Find and read documents (.txt .md .html .htm here; .pdf .docx .pptx .xlsx .csv and images through
`qa.readers`) -> Document.

Files are found recursively; hidden files and folders are skipped, symlinks are followed once (a loop or a
dangling link is skipped quietly), and a file that cannot be read is reported as `Skipped` with its reason so
one bad file never stops an index build.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qa.config import ReadLimits
from qa.locators import Locus, LocusKind, covering
from qa.readers import SUFFIXES as READER_SUFFIXES
from qa.readers import read as read_rich
from qa.readers.base import DocumentError as DocumentError  # re-exported: the readers raise it too

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
    notes: tuple[str, ...] = ()  # what a reader left out (rows past the bound, pages it could not OCR)

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
    """A file that was found but not indexed, and why."""

    path: str
    reason: str


def find_files(corpus_dir: Path) -> Iterator[Path]:
    """Yield supported files under `corpus_dir`, sorted, skipping hidden entries and symlink loops."""
    seen_dirs: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(corpus_dir, followlinks=True):
        try:
            st = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        # A symlink back to an ancestor would make os.walk loop forever; (device, inode) identifies a folder.
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            dirs[:] = []
            continue
        seen_dirs.add(key)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            path = Path(root) / name
            if path.is_file():  # False for dangling symlinks
                yield path


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
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: cannot parse ({exc}); fix the TOML or delete the file.") from exc
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
        extract = read_rich(suffix, raw, path.name, limits or ReadLimits())
        text, loci, notes = extract.text, extract.loci, extract.notes
        # Not the first heading: that of a workbook is its first sheet's name.
        found_title = extract.title or _title_from_name(path)
    elif suffix in (".html", ".htm"):
        text = _html_text(_decode(raw))
    else:
        text = _decode(raw)
    # Readers give normalised text already (their offsets are taken after it), so this changes no offset.
    text = _normalise(text)
    if not text.strip():
        reason = "; ".join(notes) or "empty file"
        raise DocumentError(f"no text found ({reason})")
    origin = dict(sources.get(rel, {}))
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


def _html_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    # Mark headings the Markdown way so the chunker sees one heading convention for every format.
    for level in range(1, 7):
        for tag in soup.find_all(f"h{level}"):
            tag.insert_before("\n\n" + "#" * level + " ")
            tag.insert_after("\n\n")
    for tag in soup.find_all(["p", "div", "li", "br", "tr", "section", "article", "blockquote", "pre"]):
        tag.insert_after("\n")
    text = soup.get_text()
    return re.sub(r"\n{3,}", "\n\n", text)


def _first_heading(text: str) -> str:
    for line in text.splitlines()[:40]:
        match = re.match(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", line)
        if match:
            return re.sub(r"[*_`]+", "", match.group(1)).strip()
    return ""


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name
