"""Readers for the richer formats, one module each, chosen by the file's extension.

    .docx -> word    .pptx -> slides    .xlsx .csv -> sheets    .pdf -> pdf    .png .jpg .jpeg -> images

Each takes the file's bytes, its name and the `ReadLimits`, and returns an `Extract` (text plus where each
page, slide, row or section begins) or raises `DocumentError` with the reason. Plain text and HTML are read
by `qa.corpus` itself. A reader's library is imported only when a file of its kind is read.
"""

from __future__ import annotations

from collections.abc import Callable

from qa.config import ReadLimits
from qa.readers.base import DocumentError, Extract

Reader = Callable[[bytes, str, ReadLimits], Extract]


def _word(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    from qa.readers.word import read_docx

    return read_docx(raw, name, limits)


def _slides(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    from qa.readers.slides import read_pptx

    return read_pptx(raw, name, limits)


def _xlsx(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    from qa.readers.sheets import read_xlsx

    return read_xlsx(raw, name, limits)


def _csv(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    from qa.readers.sheets import read_csv

    return read_csv(raw, name, limits)


def _pdf(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    from qa.readers.pdf import read_pdf

    return read_pdf(raw, name, limits)


def _image(raw: bytes, name: str, limits: ReadLimits) -> Extract:
    from qa.readers.images import read_image

    return read_image(raw, name, limits)


READERS: dict[str, Reader] = {
    ".docx": _word,
    ".pptx": _slides,
    ".xlsx": _xlsx,
    ".csv": _csv,
    ".pdf": _pdf,
    ".png": _image,
    ".jpg": _image,
    ".jpeg": _image,
}
SUFFIXES = frozenset(READERS)


def read(suffix: str, raw: bytes, name: str, limits: ReadLimits) -> Extract:
    """The text of a file of one of `SUFFIXES`; DocumentError when it cannot be read."""
    reader = READERS.get(suffix.lower())
    if reader is None:
        raise DocumentError(f"no reader for {suffix!r} files")
    return reader(raw, name, limits)


__all__ = ["READERS", "SUFFIXES", "DocumentError", "Extract", "read"]
