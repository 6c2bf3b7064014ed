"""How texts write quantities beyond digits: ranks, counts in words, and which way a change goes.

`lexical.numbers` reads numbers written in digits. These are the other ways a claim states a value, and each
is one word that similarity cannot tell from its neighbour ("7th" / "9th", "five" / "six", "rose" / "fell"):
the verifier (`qa.generation.verify`) holds them to the passage as it holds numbers.
"""

from __future__ import annotations

import re

from qa.lexical import numeric_tokens, words

_ORDINAL_WORDS = {  # up to 20, only 1, 2 and 3 take a suffix other than "th"
    word: f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n, 'th') }"
    for n, word in enumerate(
        (
            "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
            "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
        ).split(),
        start=1,
    )
}


# Counts written as words, as `numbers` writes them. Not "one" ("one of the largest", "the one that" are
# rarely a count).
_COUNT_WORDS = {
    word: str(n)
    for n, word in enumerate(
        (
            "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
            "seventeen eighteen nineteen twenty"
        ).split(),
        start=2,
    )
}


# A number of two words, "twenty-two": its parts are no counts of their own.
_TENS_AND_UNITS = re.compile(r"\b(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)-[a-z]+\b", re.I)


def spelled_counts(text: str) -> set[str]:
    """Counts from two to twenty written as words, in digits: "five areas" -> {"5"}, "a six-character
    play" -> {"6"}; "twenty-two" is neither 20 nor 2 (it is left out).

    >>> sorted(spelled_counts("Five areas, twelve projects and one of them"))
    ['12', '5']
    >>> sorted(spelled_counts("twenty-two members"))
    []
    """
    return {_COUNT_WORDS[w] for w in words(_TENS_AND_UNITS.sub(" ", text)) if w in _COUNT_WORDS}


def is_count_word(word: str) -> bool:
    return word.lower() in _COUNT_WORDS


# Words that say which way something went or compares: a claim that turns one round reads as close to its
# passage as the claim itself.
_UP = frozenset(
    "increase increased increases increasing rise rises rose risen rising grow grows grew grown growing growth "
    "higher highest larger largest bigger biggest greater greatest gain gains gained expand expands expanded "
    "surplus up more most".split()
)
_DOWN = frozenset(
    "decrease decreased decreases decreasing decline declines declined declining fall falls fell fallen "
    "falling drop drops dropped lower lowest smaller smallest shrink shrinks shrank shrunk fewer fewest "
    "deficit down less least".split()
)


def directions(text: str) -> set[int]:
    """+1 when a text says something went up or is larger, -1 down or smaller (both, either or neither).

    >>> sorted(directions("Trade volume declined while its share rose"))
    [-1, 1]
    """
    found = set(words(text))
    return {sign for sign, vocabulary in ((1, _UP), (-1, _DOWN)) if found & vocabulary}


def ordinals(text: str, spelled: bool = False) -> set[str]:
    """Ordinals written in digits, lower-cased, commas dropped ('7th', '2nd'); with `spelled`, also those
    written as words up to the twentieth, in the same form ('second' -> '2nd'). `numbers` leaves them out.

    >>> sorted(ordinals("HK was ASEAN's 7th partner and its second largest", spelled=True))
    ['2nd', '7th']
    """
    found = {t for t in numeric_tokens(text) if t[-1].isalpha()}  # "7th", not "7"
    if spelled:
        found |= {_ORDINAL_WORDS[w] for w in words(text) if w in _ORDINAL_WORDS}
    return found


def turned(sentence: str, closest: str, question: str = "") -> bool:
    """Whether `sentence` says a change went one way (beyond what `question` asks about) and `closest`, the
    passage sentence it reads closest to, says only the other way."""
    said = directions(sentence) - directions(question)
    given = directions(closest)
    return bool(said and given and not said & given)
