"""Dates as text writes them -> (year, month, day): what an event question asks about and a sentence says.

"19 September 2025", "September 19, 2025", "Sept. 19", "7-10 March 2013", "11 and 17 June 2019", "in 2010":
each is a set of (year, month, day) with None for what it leaves out, so "What happened in September 2025?"
agrees with "on 19 September 2025" and not with "28 August 2020" (`agree`, `mentions`).
"""

from __future__ import annotations

import re
from itertools import pairwise

# (year, month, day), any of them None: "in 2010" is (2010, None, None), "on January 20" (None, 1, 20).
Date = tuple[int | None, int | None, int | None]
_MONTH_NUMBERS = {
    name: n
    for n, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_M = "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
_DATES = re.compile(
    rf"\b(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:\s*[-–]\s*\d{{1,2}})?\s+(?P<m1>{_M})\.?,?(?:\s+(?P<y1>(?:1[89]|20)\d\d))?\b"
    rf"|\b(?P<m2>{_M})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\b,?(?:\s+(?P<y2>(?:1[89]|20)\d\d))?"
    rf"|\b(?P<m3>{_M})\.?,?\s+(?P<y3>(?:1[89]|20)\d\d)\b"
    r"|\b(?P<y4>(?:1[89]|20)\d\d)\b",
    re.IGNORECASE,
)

# "11 and 17 June 2019", "7-10 March 2013", "3, 4 and 5 May": every day of the list or range has the month.
_DAY_LIST = re.compile(
    rf"\b(?P<days>\d{{1,2}}(?:st|nd|rd|th)?(?:\s*(?:,|and|&|to|[-–])\s*\d{{1,2}}(?:st|nd|rd|th)?)+)"
    rf"\s+(?P<month>{_M})\.?,?(?:\s+(?P<year>(?:1[89]|20)\d\d))?\b",
    re.IGNORECASE,
)


def _listed_days(days: str) -> set[int]:
    out: set[int] = set()
    numbers = [int(n) for n in re.findall(r"\d+", days)]
    separators = re.findall(r"\d(?:st|nd|rd|th)?\s*(,|and|&|to|[-–])", days)
    out.update(numbers)
    for (a, b), sep in zip(pairwise(numbers), separators, strict=False):
        if sep in ("to", "-", "–") and a < b <= 31:
            out.update(range(a, b + 1))
    return {d for d in out if 1 <= d <= 31}


def dates_in(text: str) -> set[Date]:
    """Every date a text writes, as (year, month, day): "19 September 2025", "October 28, 2025", "7-10
    March 2013" (each day), "11 and 17 June 2019" (both), "May 2025", "2010"."""
    found: set[Date] = set()
    for m in _DATES.finditer(text):
        g = m.groupdict()
        month = g["m1"] or g["m2"] or g["m3"]
        day = g["d1"] or g["d2"]
        year = g["y1"] or g["y2"] or g["y3"] or g["y4"]
        found.add(
            (
                int(year) if year else None,
                _MONTH_NUMBERS[month.lower()] if month else None,
                int(day) if day else None,
            )
        )
    for m in _DAY_LIST.finditer(text):
        year, month = m.group("year"), _MONTH_NUMBERS[m.group("month").lower()]
        found.update((int(year) if year else None, month, d) for d in _listed_days(m.group("days")))
    return found


def mentions(text: str, date: Date) -> bool:
    """Whether a text writes `date`, or a fuller date within it ("2010" is in "1 January 2010")."""
    return any(
        all(want is None or want == got for want, got in zip(date, have, strict=True))
        for have in dates_in(text)
    )


def agree(a: Date, b: Date) -> bool:
    """Whether two dates can be the same day: no part that both write differs ("October 28" and "28 October
    2025" can; "28 August 2020" and "October 28, 2025" cannot)."""
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def is_month(word: str) -> bool:
    """Whether a word names a month ("May", "Sept")."""
    return word.lower().rstrip(".") in _MONTH_NUMBERS
