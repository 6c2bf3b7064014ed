"""What every reader shares: the error it raises, the parts it returns, the zip-bomb check, and the bound on
the work of one document (`bounded`, with `qa.limits.Extraction`).

A reader turns a file's bytes into `Part`s (a paragraph, a table row, a slide's notes ...), each tagged with
where it is (page, slide, sheet and row, heading path). `compose` joins them with blank lines, so the chunker
never runs one part into the next, and records where each place begins in the text (`Locus`).
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from qa.config import ReadLimits
from qa.errors import QAError
from qa.limits import Extraction
from qa.locators import Locus, LocusKind
from qa.readers.properties import NO_PROPERTIES, Properties

# Control characters other than the newline would corrupt the UI and JSON output; tabs become spaces too.
_CONTROLS = {code: " " for code in range(32) if code != ord("\n")}
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "\u00ad": ""})
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted Office files and the old .doc/.xls/.ppt


class DocumentError(QAError):
    """A file cannot be turned into text; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Part:
    """One block of a document's text and where it is."""

    text: str
    kind: LocusKind
    number: int = 0
    scope: str = ""
    ocr: float | None = None
    # Continues the part before mid-sentence (a paragraph running over a page break): joined by a line
    # break, not a blank line, so the chunker keeps the sentence whole; its locus still begins here.
    continues: bool = False


@dataclass(frozen=True)
class Extract:
    """A reader's result: the text, where each place begins in it, a title, notes on what was left out, and
    who wrote the file and when, as far as it says."""

    text: str
    loci: tuple[Locus, ...]
    title: str = ""
    notes: tuple[str, ...] = field(default=())
    properties: Properties = NO_PROPERTIES


def clean(text: str) -> str:
    """Newlines normalised, control characters and ligatures replaced (offsets are taken after this)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\v", "\n")
    return text.translate(_CONTROLS).translate(_LIGATURES)


def compose(
    parts: Iterable[Part], title: str = "", notes: Iterable[str] = (), properties: Properties = NO_PROPERTIES
) -> Extract:
    """Join parts with blank lines; a new locus wherever the place changes."""
    pieces: list[str] = []
    loci: list[Locus] = []
    offset = 0
    for part in parts:
        text = re.sub(r"\n{3,}", "\n\n", clean(part.text)).strip()
        if not text:
            continue
        if part.continues and pieces:
            pieces[-1] = pieces[-1][:-1]  # "\n\n" -> "\n"
            offset -= 1
        key = (part.kind, part.number, part.scope, part.ocr)
        if not loci or (loci[-1].kind, loci[-1].number, loci[-1].scope, loci[-1].ocr) != key:
            loci.append(Locus(offset, part.kind, part.number, part.scope, part.ocr))
        pieces.append(text + "\n\n")
        offset += len(text) + 2
    return Extract("".join(pieces), tuple(loci), title.strip(), tuple(notes), properties)


def bounded(parts: Iterable[Part], budget: Extraction, timed: bool = True) -> list[Part]:
    """The parts a document's budget admits, pulled one by one so that a lazy reader stops working as soon
    as the document's characters are all taken or (if `timed`) its time is up. Parts already extracted
    are passed with `timed=False`: the time they cost is spent, and what it bought is kept."""
    out: list[Part] = []
    for index, part in enumerate(parts, start=1):
        where = f"{part.kind.value} {part.number}" if part.number else f"part {index}"
        if budget.full if not timed else budget.stop(where):
            break
        text = budget.take(part.text)
        out.append(part if text is part.text else dataclasses.replace(part, text=text))
    return out


def open_zip(raw: bytes, kind: str, limits: ReadLimits) -> zipfile.ZipFile:
    """The package of a .docx/.pptx/.xlsx, refused before parsing if it would inflate past the limits.

    Python's zipfile stops every member at its declared size (a lying header fails its CRC check instead
    of inflating further), so checking the declared sizes bounds what any parser can be made to read.
    """
    if raw.startswith(_OLE_MAGIC):
        raise DocumentError(
            f"password-protected, or an old binary Office file rather than {kind}; "
            f"remove the password, or save it as {kind}"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(f"not a valid {kind} file ({exc}); re-save it from its application") from exc
    if len(members) > limits.max_zip_members:
        raise DocumentError(
            f"refused: {len(members)} parts inside the {kind} (limit {limits.max_zip_members}); "
            "it looks like a zip bomb"
        )
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise DocumentError(
            f"refused: it would unpack to {total / 2**20:.0f} MB (limit "
            f"{limits.max_unzipped_bytes / 2**20:.0f} MB); it looks like a zip bomb"
        )
    for m in members:
        if m.file_size > 2**20 and m.file_size > limits.max_zip_ratio * max(m.compress_size, 1):
            raise DocumentError(
                f"refused: {m.filename} inflates {m.file_size // max(m.compress_size, 1)}-fold "
                f"(limit {limits.max_zip_ratio:.0f}); it looks like a zip bomb"
            )
    return archive


def title_from_name(name: str) -> str:
    stem = PurePath(name).stem
    return re.sub(r"[-_]+", " ", stem).strip().capitalize() or name


def usable_title(title: str | None) -> str:
    """A metadata title worth showing: not empty, not a file name, not a template's placeholder."""
    title = re.sub(r"\s+", " ", title or "").strip()
    if not title or re.search(r"\.(docx?|pptx?|xlsx?|pdf|txt|rtf|odt)$", title, re.I):
        return ""
    if title.lower() in {"untitled", "title", "presentation", "powerpoint presentation", "document"}:
        return ""
    return title


_LIST_MARKER = re.compile(r"^\s*(?:[-*•·–▪◦]|\d{1,3}[.)]|\(?[ivx]{1,5}\))\s+")


def hyphenated_words(text: str) -> frozenset[str]:
    """The hyphenated words a text writes within a line ("co-operation"), lowercased."""
    return frozenset(re.findall(r"\b\w+-\w+\b", text.lower()))


def unwrap(lines: Sequence[str], breaks: Sequence[bool], known: frozenset[str] = frozenset()) -> str:
    """The lines of one paragraph as a person reads them: wrapped lines joined by a space, a word
    hyphenated at a line end joined ("infor-" + "mation" -> "information").

    `breaks[i]` keeps the break after line i (a short line: a heading, a list item's end); a line that
    starts with a list marker starts a line of its own. A hyphen that belongs to the word stays: when the
    text also writes "co-operation" within a line (`known`), "co-" + "operation" keeps it, so no
    dictionary is needed. The chunker then sees one line per paragraph, whatever the column width.
    """
    out = ""
    for i, line in enumerate(lines):
        line = line.strip()
        if not line:
            continue
        if not out:
            out = line
        elif breaks[i - 1] or _LIST_MARKER.match(line):
            out += "\n" + line
        elif (head := re.search(r"(\w+)-$", out)) and line[:1].islower():
            tail = re.match(r"\w+", line)
            word = f"{head.group(1)}-{tail.group() if tail else ''}".lower()
            out = (out if word in known else out[:-1]) + line
        else:
            out += " " + line
    return out
