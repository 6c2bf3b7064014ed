"""Word-level helpers shared by retrieval, answering and verification: terms, numbers, names, answer types.

All pure functions. Stemming is the Snowball English stemmer (PyStemmer), the same one BM25 uses, so
"signed", "signing" and "signs" meet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

# Words that shape a question but say nothing about its subject; they never count as evidence.
_QUESTION_WORDS = frozenset(
    (
        "what when where who whom whose which why how did does do is are was were many much tell give list "
        "name describe explain according document documents say said mention mentioned state stated article "
        "poster text page source sources report date number year figure one two kind type meaning mean stand "
        "stands definition "
        # How people ask for an event, a summary or a comparison: the frame, not the subject. Without these,
        # "What happened on 19 September 2025?" abstained because no passage says "happened".
        "happen happened happens happening occur occurred occurs took place summarise summarize summary "
        "summarised summarized briefly brief short section compare compared comparison differ difference "
        "versus vs"
    ).split()
)
STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | _QUESTION_WORDS
# What BM25 leaves out of chunks and queries (both stores). The 179-word list, not bm25s's 33-word "en": on
# NFCorpus (BEIR) chunk-level BM25 went from nDCG@10 0.314 to 0.320 with it (published BM25: 0.325), and it is
# the list the rest of this module already treats as carrying no meaning. See eval/README.md, "Public sets".
BM25_STOPWORDS = tuple(sorted(STOPWORDS_EN_PLUS))
# Hyphenated compounds count as their parts, so "AEM-Hongkong" meets "AEM", and "ASEAN-HKC" meets "HKC".
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.&]*[A-Za-z0-9]|[A-Za-z0-9]")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE = re.compile(rf"\b(?:1[89]\d\d|20\d\d)\b|\b(?:{_MONTHS})\b", re.IGNORECASE)
# "When" is also answered by a day of the week, a time of day or a recurrence ("every Friday at four
# o'clock", "on Mondays at 8 a.m."). Weaker evidence than a year or month: in news text "on Tuesday" mostly
# dates the report, not the event asked about, so these count half (`type_strength`).
_WHEN_WEAK = re.compile(
    rf"\b(?:{_WEEKDAYS})s?\b"
    r"|\bo['’]clock\b|\b\d{1,2}(?:[:.]\d\d)?\s*(?:a\.?m\b\.?|p\.?m\b\.?)|\b(?:noon|midnight|midday)\b"
    r"|\b(?:daily|weekly|monthly|quarterly|annually|yearly)\b"
    r"|\b(?:every|each)\s+(?:day|week|month|quarter|year|spring|summer|autumn|fall|winter)\b",
    re.IGNORECASE,
)
_CURRENCY = r"(?:USD|HKD|HK\$|US\$|\$|RMB|€|£)"
_AMOUNT = re.compile(
    rf"\d[\d,.]*\s*(?:%|percent|per cent|billion|million|trillion|thousand|bn|m\b)|{_CURRENCY}\s*\d",
    re.IGNORECASE,
)
# A sum of money: a currency before the number, or a currency word after it ("25 million Hong Kong dollars",
# "6 million Lira"). A currency missing here makes a money question abstain, so the list is long.
_CURRENCY_CODE = r"(?:EUR|GBP|JPY|CNY|SGD|MYR|THB|IDR|PHP|VND|INR|KRW|AUD|CAD|CHF|NZD|TWD|¥|₹|₩|₱)"
_CURRENCY_WORD = (
    r"(?:dollars?|cents?|yuan|renminbi|euros?|pounds?|pence|shillings?|yen|won|baht|ringgit|rupiah|pesos?|"
    r"rupees?|francs?|lira|lire|marks?|rubles?|roubles?|kron[aeo]r?|rand|shekels?|dinars?|riyals?|dirhams?|"
    r"dong|naira|reais|guilders?|crowns?|florins?|escudos?|pesetas?|drachmas?|zloty|forint|lei|ducats?|"
    r"guineas?|sovereigns?|talents?|denarii|sesterces)"
)
_MONEY = re.compile(
    rf"(?:{_CURRENCY}|{_CURRENCY_CODE})\s*\d"
    rf"|\d[\d,.]*\s*(?:billion|million|trillion|thousand|bn|m)?\s*(?-i:[A-Z][a-z]+\s+){{0,2}}"
    rf"(?:{_CURRENCY_WORD}|{_CURRENCY_CODE})\b",
    re.IGNORECASE,
)
# "How much" asks for money when it asks what was paid, spent, invested or given; otherwise any amount will
# do: "How much of its trade ...?" is answered by a share, and so is "(By) how much did the price rise?".
_MONEY_Q = re.compile(
    r"\bhow much\b(?:(?!\bof\b)[^?])*\b(?:invest|cost|spend|spent|pay|paid|fund|contribut|earn|budget|"
    r"charge|sell|sold|buy|bought|lend|lent|loan|owe|donat|money)\w*",
    re.IGNORECASE,
)
_CHANGE_Q = re.compile(
    r"\bby how much\b|\b(?:increas|rais|rise|rose|risen|fall|fell|drop|grow|grew|reduc|declin|cut)\w*", re.I
)
_COUNT_WORD = re.compile(r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b", re.I)
# A number beside a month is part of a date ("19 September", "October 28"); a share or a sum of money is an
# amount, not a count ("30 percent", "USD 14.3").
_MONTH_AFTER = re.compile(rf"\s*(?:{_MONTHS})\b", re.IGNORECASE)
_MONTH_BEFORE = re.compile(rf"\b(?:{_MONTHS})\.?\s*$", re.IGNORECASE)
_SHARE_AFTER = re.compile(r"\s*(?:%|percent\b|per cent\b)", re.IGNORECASE)
_CURRENCY_BEFORE = re.compile(rf"{_CURRENCY}\s*$", re.IGNORECASE)
_NAME = re.compile(r"\b(?:[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?\s+){1,3}[A-Z][a-z]+(?:-[a-z]+)?\b")
_PLACE_CUE = re.compile(r"\b(?:in|at|from|to|near|held in)\s+(?:the\s+)?[A-Z][a-z]+", re.UNICODE)
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9&]+s?\b")
_NUMERIC_TOKEN = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?(?![\w])", re.I)


class AnswerType(StrEnum):
    """What a question asks for, from its wording."""

    DATE = "date"
    AMOUNT = "amount"
    MONEY = "sum of money"  # an amount that only a currency answers ("How much did they invest?")
    COUNT = "count"
    PERSON = "person"
    PLACE = "place"
    DEFINITION = "definition"
    OTHER = "other"


# Dates, amounts, sums of money and counts are recognised reliably in a sentence, so a sentence that answers
# one must have one (`qa.abstention`).
STRICT_TYPES = frozenset({AnswerType.DATE, AnswerType.AMOUNT, AnswerType.MONEY, AnswerType.COUNT})


@lru_cache(maxsize=1)
def stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def bm25_tokens(texts: Sequence[str]) -> list[list[str]]:
    """Each text as BM25 sees it, in chunks and queries alike (both stores): bm25s's word split, lowercased,
    BM25_STOPWORDS left out, Snowball-stemmed. The same function on both sides, or a query term never meets
    the chunk term it was meant to."""
    import bm25s  # on first use, as the stores import it

    tokens: list[list[str]] = bm25s.tokenize(
        [_BOUND_PREFIX.sub(r"\1", t) for t in texts],
        stopwords=BM25_STOPWORDS,
        stemmer=stemmer(),
        return_ids=False,
        show_progress=False,
    )
    return tokens


def stem_words(words: list[str]) -> list[str]:
    return list(stemmer().stemWords(words))


# "co-operation" is "cooperation", "e-commerce" "ecommerce": written both ways, so a prefix that is not a word
# of its own is joined to the word after it before anything is matched.
_BOUND_PREFIX = re.compile(r"\b(co|e|re|pre)-(?=[a-z])", re.IGNORECASE)


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(_BOUND_PREFIX.sub(r"\1", text))]


def content_terms(text: str) -> list[str]:
    """Stemmed words that carry meaning (stopwords and question words removed), in order, deduplicated."""
    return list(_content_terms(text))


# Every question re-reads the same chunks' sentences (answering scores each retrieved sentence's terms): kept
# per text, the terms cost 1.8 ms of an 11 ms extractive answer less (eval set, cProfile). The bound keeps a
# process's memory flat on a large corpus (about 25 MB at the bound: 1.2 kB a sentence, measured on SQuAD
# sentences); a miss costs what every call cost.
_TERM_CACHE_TEXTS = 20_000


@lru_cache(maxsize=_TERM_CACHE_TEXTS)
def _content_terms(text: str) -> tuple[str, ...]:
    kept = [w for w in words(text) if (w not in STOPWORDS and len(w) > 1) or w.isdigit()]
    return tuple(dict.fromkeys(stem_words(kept)))


def numbers(text: str) -> set[str]:
    """Numbers as written, commas dropped: '1,033.9' -> '1033.9'."""
    return {m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)}


def years(text: str) -> set[str]:
    return set(_YEAR.findall(text))


def acronyms(text: str) -> set[str]:
    """Upper-case codes such as AHKFTA, RCEP, SDG, HKSAR (a trailing plural 's' dropped)."""
    found = {m.group()[:-1] if m.group().endswith("s") else m.group() for m in _ACRONYM.finditer(text)}
    return {a for a in found if len(a) >= 2}


def numeric_tokens(text: str) -> set[str]:
    """Numbers and ordinals as written, commas dropped: '1,033.9' -> '1033.9', '8th' -> '8th'."""
    return {m.group().replace(",", "").lower() for m in _NUMERIC_TOKEN.finditer(text)}


_CAPITALISED = re.compile(r"\b[A-Z][a-z][\w'’-]*")
_POSSESSIVE = re.compile(r"['’]s$")
_NEGATION = re.compile(
    r"\b(?:not|never|cannot|neither|nor|none|nobody|nothing|no longer)\b|\w+n['’]t\b", re.IGNORECASE
)


def capitalised_words(text: str) -> set[str]:
    """Capitalised words after a text's first word, possessive dropped: the one-word names ("Mumbai",
    "British") that `names` leaves out. Also common words after a colon or a quote; those occur anywhere.

    >>> sorted(capitalised_words("The firm is based in Mumbai, says Goertz's Magazine"))
    ['Goertz', 'Magazine', 'Mumbai']
    """
    return {_POSSESSIVE.sub("", m.group()) for m in _CAPITALISED.finditer(text) if m.start() > 0}


def negates(text: str) -> bool:
    """Whether a text says "not" in some form (not, never, cannot, isn't, no longer...).

    >>> negates("It wasn't signed."), negates("Notably, it was signed.")
    (True, False)
    """
    return bool(_NEGATION.search(text))


def names(text: str) -> set[str]:
    """Capitalised multi-word names that are not the start of the sentence."""
    found = set()
    for m in _NAME.finditer(text):
        if m.start() == 0 and len(m.group().split()) < 3:
            continue
        found.add(m.group())
    return found


# A name of several capitalised words, commas allowed: "Hong Kong, China", "South Korea".
NAME_RUN = re.compile(r"\b[A-Z][\w'’-]*(?:,?\s+[A-Z][\w'’-]*)+")


def initialisms(text: str) -> dict[str, frozenset[str]]:
    """The initials of each name of two capitalised words or more in `text`, and of its first two words,
    three and so on, with the stems they stand for: {"HK": {"hong", "kong"}, "HKC": {"hong", "kong",
    "china"}} for "Hong Kong, China". Documents write a name both ways ("HK was only ASEAN's 7th trading
    partner"), and a question that spells it out must still find the sentence that abbreviates it."""
    out: dict[str, frozenset[str]] = {}
    for run in NAME_RUN.findall(text):
        words = [_POSSESSIVE.sub("", w) for w in re.findall(r"[\w'’-]+", run)]
        while words and words[0].lower() in STOPWORDS:  # "Is Port Royal ...?": the question's first word
            words.pop(0)
        for end in range(2, len(words) + 1):  # the name's first words are a name too: "Hong Kong", "HKSAR"
            out["".join(w[0] for w in words[:end]).upper()] = frozenset(
                stem_words([w.lower() for w in words[:end]])
            )
    return out


def spelled_out(text: str, initials: dict[str, frozenset[str]]) -> frozenset[str]:
    """The stems of the names whose initials `text` writes in capitals (`initialisms`)."""
    return frozenset(stem for code in acronyms(text) & initials.keys() for stem in initials[code])


def answer_type(question: str) -> AnswerType:
    q = question.lower().strip()
    if re.search(r"\b(when|what year|which year|what date|which date|since when|how long ago)\b", q):
        return AnswerType.DATE
    if re.search(r"\bhow many\b", q):
        return AnswerType.COUNT
    if _MONEY_Q.search(q) and not _CHANGE_Q.search(q):
        return AnswerType.MONEY
    if re.search(
        r"\b(how much|what (?:(?:is|was|are|were) (?:the )?)?(?:share|percentage|proportion|value|amount|portion)"
        r"|what per ?cent|how large|how big|worth)\b",
        q,
    ):
        return AnswerType.AMOUNT
    if re.search(r"\b(who|whom|whose)\b", q):
        return AnswerType.PERSON
    if re.search(r"\b(where|which (?:city|country|place|province))\b", q):
        return AnswerType.PLACE
    return AnswerType.OTHER


# Questions about a document itself (its author, publisher, kind or date), which a document card's catalogue
# sentence answers; any other question must not be answered with it ("... is a news article, published by").
_ABOUT_DOCUMENT_Q = re.compile(
    r"\b(?:who (?:wrote|published|authored|made|created|produced|issued|released)|written by|authors?|"
    r"publishers?|published|publication|what (?:kind|type|sort) of (?:document|text|file|source|publication)|"
    r"(?:document|article|poster|report|paper|page|file|source)s? (?:is|was) (?:it|this|that)|"
    r"where (?:is|was) (?:it|this|the \w+) from|outlet|venue|newspaper|"
    r"when (?:was|were) (?:the|this|that|it)\b[^?]{0,60}\b(?:made|written|published|created|produced|released|issued)|"
    r"what is (?:its|their|the) title|titled)\b",
    re.IGNORECASE,
)


def asks_about_document(question: str) -> bool:
    """Whether a question asks who made a document, what kind it is or when it was published."""
    return bool(_ABOUT_DOCUMENT_Q.search(question))


_DEFINITION_Q = re.compile(
    r"^\s*(?:what\s+(?:is|are|was|does)\s+(?:the\s+|an?\s+)?\S+(?:\s+\S+)?\s*(?:stand for|mean)?\s*\??\s*$"
    r"|.*\b(?:meaning|stands? for|definition|short for|acronym)\b)",
    re.IGNORECASE,
)


def defined_terms(question: str) -> set[str]:
    """Acronyms a question asks the meaning of ("What is RCEP?", "STRACAP meaning"), else empty."""
    if not _DEFINITION_Q.match(question):
        return set()
    return acronyms(question)


def has_type(text: str, kind: AnswerType) -> bool:
    """Whether a sentence contains the kind of thing the question asks for."""
    return type_strength(text, kind) > 0


def type_strength(text: str, kind: AnswerType) -> float:
    """1 when a sentence contains the kind of thing the question asks for, 0.5 for weak evidence of it (a
    weekday or a time for "when"), else 0."""
    if kind is AnswerType.DATE:
        return 1.0 if _DATE.search(text) else 0.5 if _WHEN_WEAK.search(text) else 0.0
    return float(_has_type(text, kind))


def _has_type(text: str, kind: AnswerType) -> bool:
    if kind is AnswerType.DEFINITION:
        return False  # decided by the caller, who knows which term is being defined
    if kind is AnswerType.AMOUNT:
        return bool(_AMOUNT.search(text))
    if kind is AnswerType.MONEY:
        return bool(_MONEY.search(text))
    if kind is AnswerType.COUNT:
        return has_count(text)
    if kind is AnswerType.PERSON:
        return bool(_NAME.search(text)) or bool(
            re.search(r"\b(Mr|Ms|Mrs|Dr|President|Minister|Premier)\b", text)
        )
    if kind is AnswerType.PLACE:
        return bool(_PLACE_CUE.search(text))
    return True


def has_count(text: str) -> bool:
    """Whether a sentence gives a count of things ("28 project proposals", "ten member states"): a number
    that is not a share, a sum of money, a year or the day of a date. "How many countries are members?"
    is not answered by "about 30 percent of global GDP", nor "How many people attended?" by "in 2025"."""
    return bool(_COUNT_WORD.search(text)) or any(
        not _YEAR.fullmatch(m.group())
        and not _MONTH_AFTER.match(text, m.end())
        and not _SHARE_AFTER.match(text, m.end())
        and not _MONTH_BEFORE.search(text, 0, m.start())
        and not _CURRENCY_BEFORE.search(text, 0, m.start())
        for m in _NUMBER.finditer(text)
    )
