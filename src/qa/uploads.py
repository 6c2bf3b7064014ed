"""Uploads: checking an uploaded file's name, and saving it in the corpus folder without overwriting."""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections.abc import Collection, Sequence
from pathlib import Path

from qa.corpus import SUPPORTED_SUFFIXES
from qa.errors import QAError

# File systems limit a name to 255 bytes, not characters: 200 bytes of stem leave room for "-NN" and the
# extension, whatever the script.
MAX_STEM_BYTES = 200
MB = 1 << 20  # the limit is set in MiB (Settings.max_file_bytes), so messages count in MiB too


class UploadRejected(QAError, ValueError):
    """An uploaded file cannot go into the corpus; the message says why and what to do."""


def upload_name(name: str, size: int, existing: Collection[str], max_bytes: int) -> str:
    """The file name under which an upload is saved in the corpus folder, or UploadRejected.

    Only the last path component is kept ("../../x.txt" and "/etc/x.txt" become "x.txt"); characters other
    than letters, digits, space, ".", "-" and "_" become "_". Hidden names, unsupported types, empty and
    oversized files are refused. A name already in the folder (compared case-insensitively) is never
    overwritten: the new file gets "-2", "-3", ... before its extension.
    """
    base = unicodedata.normalize("NFC", re.split(r"[\\/]", name)[-1])
    base = "".join(ch if ch.isalnum() or ch in " .-_" else "_" for ch in base).strip()
    if not base or base.strip(".") == "":
        raise UploadRejected(f"{name!r} has no file name.")
    if base.startswith("."):
        raise UploadRejected(f"{base!r} is a hidden file (its name starts with '.'); rename it.")
    stem, suffix = os.path.splitext(base)
    suffix = suffix.lower()
    allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadRejected(f"{base!r} is not a supported type: upload one of {allowed}.")
    # Cut on a character boundary: errors="ignore" drops a multi-byte character the cut splits.
    stem = stem.strip(" .").encode()[:MAX_STEM_BYTES].decode(errors="ignore").strip(" .")
    if not stem:
        raise UploadRejected(f"{name!r} has no file name before its extension.")
    if size <= 0:
        raise UploadRejected(f"{base!r} is empty.")
    if size > max_bytes:
        raise UploadRejected(
            f"{base!r} is {size / MB:.1f} MB; the limit is {max_bytes / MB:g} MB. Split or shrink it."
        )
    taken = {n.casefold() for n in existing}
    candidate, n = stem + suffix, 2
    while candidate.casefold() in taken:
        candidate, n = f"{stem}-{n}{suffix}", n + 1
    return candidate


def save_upload(src: Path, name: str, corpus_dir: Path, max_bytes: int) -> str:
    """Copy an uploaded file into the top of the corpus folder under a safe new name; return that name."""
    root = corpus_dir.resolve()
    with src.open("rb") as fin:
        size = os.fstat(fin.fileno()).st_size
        for _attempt in range(3):
            target_name = upload_name(name, size, os.listdir(root), max_bytes)
            target = root / target_name
            if target.parent != root:  # upload_name keeps one component; checked again, writing is for good
                raise UploadRejected(f"{name!r} would be written outside the corpus folder.")
            try:
                fout = target.open("xb")  # "x": fails rather than replace a file
            except FileExistsError:
                continue  # another upload took the name since we listed the folder: pick the next free one
            try:
                with fout:
                    shutil.copyfileobj(fin, fout)
            except BaseException:
                target.unlink(missing_ok=True)  # ours: created by the open above
                raise
            return target_name
    raise UploadRejected(f"Could not find a free name for {name!r}; try again.")


def check_batch(sizes: Sequence[int], corpus_dir: Path, max_files: int, quota_bytes: int) -> None:
    """Refuse a whole upload that brings more than `max_files` files, or that would bring the corpus folder
    past `quota_bytes` (what is already there counts), so repeated uploads cannot fill the disk."""
    if len(sizes) > max_files:
        raise UploadRejected(
            f"{len(sizes)} files at once is more than the {max_files} an upload may hold; add them in "
            "smaller groups."
        )
    used = folder_bytes(corpus_dir)
    if used + sum(sizes) > quota_bytes:
        raise UploadRejected(
            f"These files ({sum(sizes) / MB:.1f} MB) would bring the corpus folder to "
            f"{(used + sum(sizes)) / MB:.1f} MB, over its upload quota of {quota_bytes / MB:g} MB "
            "(QA_UPLOAD_QUOTA_MB). Remove documents from the folder, or raise the quota."
        )


def folder_bytes(folder: Path) -> int:
    """Total size of the regular files under `folder` (links not followed, unreadable entries skipped)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_size
    return total
