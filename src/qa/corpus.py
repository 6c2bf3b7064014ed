"""Find and read documents (.txt .md .html .htm .pdf) -> Document.

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
    """A file that was found but not indexed, and why."""

    path: str
    reason: str


class DocumentError(Exception):
    """A file cannot be turned into text; the message is the reason shown to the user."""


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
    path: Path, corpus_dir: Path, sources: dict[str, dict[str, str]], max_bytes: int, sha256: str = ""
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
    page_starts: tuple[int, ...] = ()
    if suffix == ".pdf":
        text, page_starts = _pdf_text(raw)
    elif suffix in (".html", ".htm"):
        text = _html_text(_decode(raw))
    else:
        text = _decode(raw)
    text = _normalise(text)
    if not text.strip():
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


def _pdf_text(raw: bytes) -> tuple[str, tuple[int, ...]]:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns loudly about harmless oddities
    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise DocumentError(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    starts: list[int] = []
    parts: list[str] = []
    offset = 0
    for page in pages:
        starts.append(offset)
        # A blank line between pages keeps a page's last paragraph from merging with the next page's first.
        chunk = _normalise(page).rstrip() + "\n\n"
        parts.append(chunk)
        offset += len(chunk)
    return "".join(parts), tuple(starts)


def _first_heading(text: str) -> str:
    for line in text.splitlines()[:40]:
        match = re.match(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", line)
        if match:
            return re.sub(r"[*_`]+", "", match.group(1)).strip()
    return ""


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name
