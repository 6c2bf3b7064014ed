"""The FAISS store's folder on disk: generations, the CURRENT pointer, fsync, and clearing what killed
writers left.

    index/CURRENT            name of the live generation (replaced atomically with os.replace)
    index/gen-<stamp>/       manifest.json, chunks.json, chunks.faiss, sentences.npy, bm25/
    index/.lock              held by the one writer

A save writes a whole new generation folder, fsyncs it, then flips CURRENT. A reader that loaded the old
generation keeps answering from memory; a killed writer leaves only an orphan folder that the next writer
removes. The previous generation is kept so a reader that read CURRENT just before the flip can still open it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from qa.stores.errors import IndexCorrupt
from qa.walk import display_dir

CURRENT = "CURRENT"


def new_generation_name() -> str:
    """A folder name that sorts by time and cannot collide with another writer's."""
    return f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}-{os.getpid()}"


def current_generation(index_dir: Path) -> str | None:
    """The live generation's folder name, or None when there is no complete index."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None  # no index, or a damaged pointer (Store.load tells them apart; a save replaces it)
    except OSError as exc:
        raise IndexCorrupt(
            f"Cannot read {display_dir(index_dir)}{CURRENT} ({exc.strerror}): run `qa index --rebuild`."
        ) from exc
    if not name or "/" in name or not (index_dir / name / "manifest.json").is_file():
        return None
    return name


def switch_current(index_dir: Path, generation: str) -> str | None:
    """Point CURRENT at the complete folder `generation` in one atomic step; returns the one it replaced."""
    pointer = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
    pointer.write_text(generation + "\n", encoding="utf-8")
    fsync_file(pointer)
    previous = current_generation(index_dir)
    os.replace(pointer, index_dir / CURRENT)
    fsync_file(index_dir)
    return previous


def write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)


def fsync_file(path: Path) -> None:
    """Flush a file, or a folder's entries, to the disk (a folder opens read-only as well)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fsync_file(Path(root) / name)
        fsync_file(Path(root))


def prune(index_dir: Path) -> None:
    """Remove what killed writers left (partial folders, stale pointers), keeping the live generation and
    the one before it. For a writer (under the lock) that has nothing to save: a save prunes by itself."""
    live = current_generation(index_dir)
    if live is None:
        return
    older = sorted(
        p.name for p in index_dir.glob("gen-*") if p.name < live and (p / "manifest.json").is_file()
    )  # generation names sort by time
    remove_stale(index_dir, keep={live, *older[-1:]})


def remove_stale(index_dir: Path, keep: set[str]) -> None:
    """Drop generations other than the live and previous one (orphans of killed builds included)."""
    for entry in index_dir.iterdir():
        if entry.name.startswith("gen-") and entry.name not in keep and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{CURRENT}.") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)  # the pointer of a writer killed just before its switch
