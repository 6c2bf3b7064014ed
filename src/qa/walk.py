"""Find the documents of a corpus folder: what `qa index` reads, and what it refuses and why.

Depth first, in name order; hidden files and folders are skipped, and so are a loop and a dangling link,
quietly. Reported as `Skipped`, so one entry never stops a build: a link (file or folder, at any depth)
whose target lies outside the corpus folder, since indexing it would publish that file to every visitor;
a name that is not valid UTF-8 (the tokenizer and the index files need text); a folder that cannot be read,
whose documents the caller keeps as they were indexed rather than taking them for removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qa.corpus import OUTSIDE_LINK, SUPPORTED_SUFFIXES, DocumentError, Skipped


@dataclass(frozen=True)
class Scan:
    """What `scan_corpus` found: supported files in order, what it refused, and folders it could not read."""

    files: tuple[Path, ...]
    skipped: tuple[Skipped, ...]
    unreadable: tuple[str, ...]  # relative folder names ending in "/": their documents are kept as indexed


def scan_corpus(corpus_dir: Path) -> Scan:
    """Walk `corpus_dir` depth first in name order. Raises DocumentError when the folder itself cannot be
    listed (so nothing is mistaken for removed)."""
    root = corpus_dir.resolve()
    files: list[Path] = []
    skipped: list[Skipped] = []
    unreadable: list[str] = []
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Path, str]] = [(corpus_dir, "")]
    while stack:
        folder, rel = stack.pop()
        try:
            st = os.stat(folder)
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if not rel:
                raise DocumentError(f"cannot read the corpus folder ({exc.strerror})") from None
            unreadable.append(rel)
            continue
        # A link back to an ancestor would loop forever; (device, inode) identifies a folder.
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        folders: list[tuple[Path, str]] = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()  # follows links: False for a dangling one or a loop
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if not is_dir and not (is_file and Path(name).suffix.lower() in SUPPORTED_SUFFIXES):
                continue
            shown = rel + printable_name(name) + ("/" if is_dir else "")
            if not _is_utf8(name):
                skipped.append(Skipped(shown, "its name is not valid UTF-8; rename it"))
                continue
            if entry.is_symlink() and not _inside(Path(entry.path), root):
                skipped.append(Skipped(shown, OUTSIDE_LINK))
                continue
            if is_dir:
                folders.append((Path(entry.path), shown))
            else:
                files.append(Path(entry.path))
        stack.extend(reversed(folders))
    return Scan(tuple(files), tuple(skipped), tuple(unreadable))


def find_files(corpus_dir: Path) -> Iterator[Path]:
    """Supported files under `corpus_dir`, in order (`scan_corpus` without its report)."""
    yield from scan_corpus(corpus_dir).files


def printable_name(name: str) -> str:
    """A file name as it can be shown and stored: undecodable bytes written as \\xNN."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def display_dir(path: Path) -> str:
    """A folder as shown in messages: relative to the working folder when inside it, else just its name,
    so no message shows where a server keeps its files."""
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        rel = path.name
    return f"{rel}/" if rel not in ("", ".") else "./"


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.scandir gives undecodable bytes as lone surrogates
        return False
    return True


def _inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every link resolved, lies inside `root` (a loop counts as outside)."""
    try:
        return path.resolve(strict=True).is_relative_to(root)
    except (OSError, RuntimeError):
        return False
