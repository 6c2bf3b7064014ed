"""A file's own properties: who wrote it and when, for its document card (`qa.cards`) where
corpus/sources.toml does not say.

Office files and PDFs carry an author and a creation stamp; web pages and Markdown notes may name an author
and a date in their head (`<meta name="author">`, YAML front matter). A user's folder rarely has a
sources.toml, so without these "Who wrote the report?" could only be answered where the text names its
author.

What is taken, and why not more:
- an author only when it names someone: not empty, not a placeholder ("user", "admin") and not the library
  that wrote the file ("python-docx", "openpyxl");
- an Office or PDF creation stamp only beside such an author, and said to be the file's creation date: a
  file made from a template keeps the template's stamp (python-docx's is 23 December 2013), and a
  converter stamps the day it ran. A date a page or note states (`article:published_time`, `date:`) is
  taken as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

MAX_FIELD_CHARS = 200  # a longer "author" is a paragraph pasted into the field, not a name

# Values that name no one: placeholders, and the libraries and tools that fill the field themselves.
_NO_ONE = frozenset(
    {
        "",
        "admin",
        "administrator",
        "anonymous",
        "author",
        "default",
        "n/a",
        "none",
        "owner",
        "unknown",
        "user",
        "microsoft office user",
        "windows user",
        "openpyxl",
        "python-docx",
        "python-pptx",
        "fpdf",
        "fpdf2",
        "reportlab",
    }
)

CREATED = "the file's creation date"  # how a card says where a stamped date comes from


@dataclass(frozen=True)
class Properties:
    """What a file says of itself, as a document card shows it ("" where it says nothing usable)."""

    author: str = ""
    date: str = ""  # "12 March 2019", or "12 March 2019 (the file's creation date)" for a stamp


NO_PROPERTIES = Properties()


def usable_author(raw: object) -> str:
    """An author field worth showing: one line, a name rather than a placeholder or a tool."""
    text = re.sub(r"\s+", " ", raw if isinstance(raw, str) else "").strip().strip(";,")
    if text.lower() in _NO_ONE or len(text) > MAX_FIELD_CHARS or not re.search(r"[^\W\d_]", text):
        return ""
    if re.match(r"https?://", text, re.I):  # a profile link (article:author), not a name
        return ""
    return text


def day(value: date) -> str:
    """A date as the cards write it: '12 March 2019'."""
    return f"{value.day} {value:%B %Y}"


def stamped(author: object, created: object) -> Properties:
    """An Office or PDF file's author and creation stamp (a datetime), the stamp kept only with an author."""
    name = usable_author(author)
    when = f"{day(created)} ({CREATED})" if name and isinstance(created, date) else ""
    return Properties(name, when)


def pdf_date(raw: str) -> datetime | None:
    """A PDF date string ("D:20190312093000+01'00'") as a datetime; None if it is not one."""
    match = re.match(r"\s*(?:D:)?(\d{4})(\d{2})(\d{2})", raw)
    if not match:
        return None
    try:
        return datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def stated_date(raw: object) -> str:
    """A date a page or note states: ISO ('2025-03-26', '2025-03-26T10:00:00Z') as '26 March 2025', any
    other short one-line text as written."""
    text = re.sub(r"\s+", " ", raw if isinstance(raw, str) else "").strip()
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})(?:$|[T ])", text)
    if match:
        try:
            return day(date(int(match.group(1)), int(match.group(2)), int(match.group(3))))
        except ValueError:
            return ""
    return text if 0 < len(text) <= 40 and re.search(r"\d", text) else ""


# <meta> names that give a web page's author or the date it was published, best first.
HTML_AUTHOR = ("author", "citation_author", "dc.creator", "article:author")
HTML_DATE = ("article:published_time", "citation_publication_date", "dc.date", "date", "pubdate")


def html_properties(meta: dict[str, str]) -> Properties:
    """From a page's <meta name|property=... content=...> pairs (names lower-cased)."""
    author = next((a for a in (usable_author(meta.get(k)) for k in HTML_AUTHOR) if a), "")
    when = next((d for d in (stated_date(meta.get(k)) for k in HTML_DATE) if d), "")
    return Properties(author, when)


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.{0,4000}?)\n---[ \t]*(?:\n|\Z)", re.S)
_FIELD = re.compile(r"^(author|authors|date)[ \t]*:[ \t]*(.*)$", re.I)
_ITEM = re.compile(r"^[ \t]+-[ \t]+(.+)$")


def _unquoted(value: str) -> str:
    return value.strip().strip("'\"")


def front_matter(text: str) -> Properties:
    """A Markdown note's YAML front matter: `author:` (or `authors:`, inline `[A, B]` or as `- ` items) and
    `date:`. Read line by line, not by a YAML parser: three fields need no aliases to expand."""
    block = _FRONT_MATTER.match(text)
    if not block:
        return NO_PROPERTIES
    names: list[str] = []
    when = ""
    listing = False  # on the `- ` items under an author key with no value of its own
    for line in block.group(1).splitlines():
        item = _ITEM.match(line)
        if listing and item:
            names.append(_unquoted(item.group(1)))
            continue
        listing = False
        field = _FIELD.match(line)
        if not field:
            continue
        key, value = field.group(1).lower(), _unquoted(field.group(2))
        if key == "date":
            when = stated_date(value)
        elif value:
            names = [_unquoted(v) for v in value.strip("[]").split(",")]
        else:
            names, listing = [], True
    names = [n for n in names if n]
    return Properties(usable_author(" and ".join(names) if len(names) < 3 else ", ".join(names)), when)
