"""Question -> the shape its answer must have, and the document it is about.

Most questions ask for one fact, and the best one to three sentences answer them. Five kinds do not:

    "What is the poster about?", "Summarise the article on X"      SUMMARY: the document's central sentences
    "Who wrote the poster?", "Which paper published the article?"   DOCUMENT: its catalogue sentence first
    "How does X compare with Y?", "the difference between X and Y"  COMPARISON: a sentence for each side
    "What happened on 19 September 2025?", "What took place in 2010?" EVENT: the sentences with that date
    "How many X ..., and how much is Y ...?"                         TWO_PART: a sentence for each question
    "How many Japanese and Korean firms ...?", "... in X and in Y?"  TWO_PART too: one question per group/place
    "What will happen during the visit?", "What happened at X?"      NARRATIVE: the sentences that tell it

The best-scoring sentences fail them all: a summary question shares no words with any one sentence, a
question about the document itself matches its text better than its catalogue entry, the best sentences of a
comparison (or of two questions asked as one) are often all about one side, and a date matches no sentence's
meaning, only its words. Everything here reads only the question's wording and the retrieved chunks' titles
and cards, so it works for any folder, and a question that fits no shape is a FACT, answered as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from qa import lexical
from qa.dates import Date, dates_in, is_month
from qa.stores import DocumentRecord


class Shape(StrEnum):
    FACT = "fact"
    SUMMARY = "summary"
    DOCUMENT = "document"
    COMPARISON = "comparison"
    EVENT = "event"
    TWO_PART = "two-part"
    NARRATIVE = "narrative"


# Shapes answered with a sentence for each side: the two things compared, or the two questions asked.
SIDED = frozenset({Shape.COMPARISON, Shape.TWO_PART})


@dataclass(frozen=True)
class Intent:
    """What a question asks for, from its wording alone."""

    shape: Shape
    # COMPARISON, TWO_PART: the two things compared or asked, as the user wrote them
    sides: tuple[str, ...] = ()
    kind_words: tuple[str, ...] = ()  # words naming a kind of document ("poster", "article")
    dates: tuple[Date, ...] = ()  # EVENT: the dates asked about
    frame: frozenset[str] = (
        frozenset()
    )  # stemmed words that ask for the shape ("main points"), not its subject
    asks_maker: bool = False  # DOCUMENT: who wrote or published it
    whole: bool = False  # SUMMARY: of a whole named document, not of a part of it or of one topic in it
    measured: bool = False  # COMPARISON: by amount ("larger than"), so each side's sentence must give one
    section: frozenset[str] = frozenset()  # SUMMARY: stems a heading of the section asked about has
    times: tuple[str, ...] = ()  # NARRATIVE: the day it asks about, as news writes it ("weekend", "monday")
    items: str = ""  # FACT: the stem of the plural noun it asks for ("What themes did ...?"), a list's answer


# A day named without a date ("What happened over the weekend?", "on Monday"): news writes it that way too,
# so the chunks that write it are read beyond the top k, as an event's date is.
_DAY_WORD = re.compile(
    r"\b(weekend|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday)\b", re.IGNORECASE
)
_NAMED_YEAR = re.compile(r"\b(?P<name>[A-Z][\w'’-]*) (?:1[89]|20)\d\d\b")
_EVENT_Q = re.compile(
    r"\b(?:happen\w*|took place|take[sn]? place|taking place|occur\w*|went on|was going on)\b", re.IGNORECASE
)


FACT = Intent(Shape.FACT)

# "What recurring themes did the poster find?", "Which areas does it cover?", "What are the key findings of
# X?": the plural noun asked for. A list introduced by a sentence that names it is the answer
# (`qa.lists`). The noun is the last word before the verb or preposition that ends the question's phrase.
_ITEMS_Q = re.compile(
    r"^\s*(?:what|which)\s+(?:(?:are|were)\s+(?:the\s+)?)?(?:[\w'’-]+\s+){0,3}?(?P<noun>[a-z]{3,}s)"
    r"\s+(?:do|does|did|are|were|is|was|have|has|had|can|could|will|would|of|in|on|for|that|from)\b",
    re.IGNORECASE,
)
_NOT_PLURAL = ("ss", "us", "is")

_SUMMARY_Q = re.compile(
    r"\b(?:summar(?:y|ies|ise|ize|ised|ized)|sum up|gist|tl;?dr|in (?:a )?(?:nutshell|brief)"
    r"|(?:main|key|principal|central) (?:points?|ideas?|arguments?|messages?|takeaways?|findings?|"
    r"conclusions?|results?|themes?)|overview of)\b",
    re.IGNORECASE,
)
# "What is the poster about?", "What does the article report?": a summary only when the question names a
# document ("What was Warner correct about?" and "What does article 288 not say?" ask for facts).
_ABOUT_Q = re.compile(
    r"^\s*what(?:'s| is| are| was)\s+(?:the |this |that |these )?[^?]{0,80}\babout\s*\??\s*$"
    r"|^\s*what does (?:the |this |that )?[\w\s'’-]{0,60}?\b(?:say|report|describe|discuss|cover|argue|"
    r"conclude|find|show)\b",
    re.IGNORECASE,
)
# A summary of a whole document ("Summarise the article on X", "What is the poster about?", "What does this
# report say?"): written once per document and cached (qa.summaries). Not one of a part ("the discussion
# section", "the main findings") or of what a document says on a topic ("What does the overview say about
# Y?"): those are read like other questions, from the sentences that match them.
_WHOLE_CUE = re.compile(
    r"\b(?:summar(?:y|ise|ize)|sum up|gist|tl;?dr|in (?:a )?(?:nutshell|brief)"
    r"|(?:main|key|principal|central) (?:points?|ideas?|messages?|takeaways?)|overview of)\b"
    r"|^\s*what(?:'s| is| are| was)\s+(?:the |this |that )?[^?]{0,80}\babout\s*\??\s*$"
    r"|^\s*what does (?:the |this |that )?[\w\s'’-]{0,60}?\b(?:say|report|describe|discuss|cover)\s*\??\s*$",
    re.IGNORECASE,
)
_PART_WORDS = frozenset(
    (
        "section sections part parts chapter chapters paragraph paragraphs page pages slide slides figure "
        "figures table tables introduction conclusion conclusions discussion findings results method methods "
        "methodology abstract appendix"
    ).split()
)
_ON_TOPIC = re.compile(
    r"\b(?:does|did|do)\b[^?]*?\b(?:say|report|write|state|tell)\s+(?:us\s+)?(?:about|on|regarding)\b",
    re.IGNORECASE,
)
# A question about a part that research documents have by convention: how the study was done (its methods),
# why it was done (its aim). Each is answered from the section under such a heading, as a summary of it:
# "How did the poster's authors carry out their research?" shares no word with "A qualitative content
# analysis approach is adopted, using 19 official documents". (pattern, stems of the headings it names)
_RESEARCH = r"\b(?:research|stud(?:y|ies)|analys[ie]s|survey|investigation|experiment|project|poster|paper)\b"
_DOING = r"(?:carr(?:y|ied|ies)|conduct\w*|do|done|perform\w*|design\w*|undert(?:ake|ook|aken)|write|written)"
_BY = r"\b(?:authors?|researchers?|students?|they|their)\b"
SECTION_ASKS: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (  # "How did they carry out the research?", "What methods did the authors use?"
        re.compile(
            rf"^(?=.*\bhow (?:did|do|does|was|were|is|are|has|have|had)\s.*\b{_DOING}\b)(?=.*{_RESEARCH})"
            rf"|^(?=.*\b(?:what|which) (?:research )?(?:methods?|methodology|approach|research design)\b)"
            rf"(?=.*(?:{_RESEARCH}|{_BY}))",
            re.IGNORECASE,
        ),
        frozenset(lexical.stem_words("method methodology approach design procedure materials".split())),
    ),
    (  # "Why did the students do this research?", "What is the aim of the study?"
        re.compile(
            rf"^(?=.*\bwhy (?:did|do|does|was|were)\s.*\b{_DOING}\b)(?=.*{_RESEARCH})"
            rf"|\b(?:aims?|purposes?|objectives?|goals?|motivation|rationale) of (?:the |this |their |that )?"
            rf"[\w\s'’-]{{0,30}}{_RESEARCH}",
            re.IGNORECASE,
        ),
        frozenset(
            lexical.stem_words("introduction motivation background aim objective purpose rationale".split())
        ),
    ),
)
# The words of such a question that ask for the section, not for a subject in it.
_SECTION_FRAME = frozenset(
    lexical.stem_words(
        (
            "how why what which carry carried carries out conduct conducted do did done perform performed design "
            "designed undertake undertook undertaken write written make made research study studies analysis "
            "analyses survey investigation experiment project poster paper author authors they their researcher "
            "researchers student students "
            "method methods methodology approach aim aims purpose purposes objective objectives goal goals "
            "motivation rationale"
        ).split()
    )
)
# Words that point at a document without naming its kind.
_DOCUMENT_REFERENCE = frozenset({"document", "documents", "file", "files", "source", "sources", "it", "this"})
_MAKER_Q = re.compile(
    r"\b(?:who|whom|whose|authors?|publishers?|"
    r"which (?:[\w-]+ )?(?:newspaper|paper|outlet|magazine|journal|site|agency|broadcaster))\b",
    re.IGNORECASE,
)
# A comparative asked yes or no ("Was X larger than Y?", "Is X more important than Y?") or as a choice ("Which
# is larger, X or Y?") compares too. Only these forms: "What marine engines were less efficient than steam
# turbines?" asks for a thing, not a comparison of two (SQuAD has 18 wh-questions with "than", no yes-or-no).
_AUXILIARY = r"(?:is|are|was|were|did|does|do|has|have|had)"
_COMPARATIVE = r"(?:\w+er|more|less|fewer)(?:\s+\w+)?\s+than"
# A comparative of amount: "Was X larger than Y?" is answered by two figures, "more important than" is not.
_MEASURED = re.compile(
    r"\b(?:larger|bigger|higher|greater|smaller|lower|more|less|fewer)(?:\s+than\b|,)", re.IGNORECASE
)
# The two sides, in the ways people ask: the first pattern that matches wins. Each names what makes the
# question a comparison ("compare", "differ", "versus", a comparative), so no separate test comes first.
_SIDES = (
    re.compile(r"\bdifferences? between (?P<a>.+?) and (?P<b>.+?)\??$", re.IGNORECASE),
    # "Compare X with Y", not "How does X compare with Y" (the next pattern's: here X would be "with ...").
    re.compile(r"\bcompare (?!with\b|to\b)(?P<a>.+?) (?:with|to|and|against) (?P<b>.+?)\??$", re.IGNORECASE),
    re.compile(
        r"^(?:how )?(?:does|did|do|is|are|was|were) (?P<a>.+?) compare(?:d)? (?:with|to) (?P<b>.+?)\??$", re.I
    ),
    re.compile(
        r"^(?:how )?(?:does|did|do|is|are|was|were) (?P<a>.+?) differ(?:ent)? from (?P<b>.+?)\??$", re.I
    ),
    re.compile(r"(?P<a>.+?)\b(?:versus|vs\.?)\s+(?P<b>.+?)\??$", re.IGNORECASE),
    re.compile(r"^(?:how (?:has|have|did|does) )?(?P<a>.+?) compared? (?:with|to) (?P<b>.+?)\??$", re.I),
    # "In 2024, was X larger than Y?": a leading phrase dates or places both sides.
    re.compile(rf"^(?:[^,]{{0,40}},\s*)?{_AUXILIARY}\s+(?P<a>.+?)\s+{_COMPARATIVE}\s+(?P<b>.+?)\??$", re.I),
    re.compile(rf"^which (?:one )?{_AUXILIARY}\b[^,]*,\s*(?P<a>.+?),?\s+or\s+(?P<b>.+?)\??$", re.I),
)
_WH = r"(?:what|how|who|whom|whose|when|where|which|why)\b"
_QUESTION_WORD = re.compile(rf"\b{_WH}", re.IGNORECASE)
# Two questions asked as one: ", and" (or "and") then a second question word ("How many X ..., and how much
# is Y ...?", "What is the RCEP, and what is Hong Kong's position on joining it?").
_TWO_PART = re.compile(rf"^(?P<a>.+?),?\s+and\s+(?P<b>{_WH}.+?)\??$", re.IGNORECASE)
# Two groups asked about as one: "How many Japanese and South Korean companies ...?" (two names before one
# plural noun); two places asked about as one: "... reported in the overview and in the poster?" (the
# preposition said twice). Each is one question per group or place.
_CAP = r"[A-Z][\w'’-]*"
_TWO_GROUPS = re.compile(
    rf"(?<=\s)(?P<x>(?:{_CAP}\s+)*{_CAP})\s+and\s+(?P<y>(?:{_CAP}\s+)*{_CAP})\s+(?P<noun>[a-z][\w-]*s)\b"
)
# The greedy head makes the preposition the one nearest "and": "... in 2024 reported in X and in Y".
_TWO_PLACES = re.compile(
    r"^(?P<head>.*)\b(?P<prep>in|from|by|for|on|at|with)\s+(?P<x>[^,?]+?),?\s+and\s+(?P=prep)\s+(?P<y>[^,?]+)$",
    re.IGNORECASE,
)
# Kinds of document people name in questions. Matched against each document's card and title, so a folder
# of "reports" or "slides" works as well as this one's posters and articles.
KIND_WORDS = frozenset(
    (
        "poster article story report paper overview page webpage website slides presentation deck "
        "spreadsheet sheet email memo letter minutes transcript interview press release brochure leaflet "
        "manual guide handbook thesis dissertation study essay chapter book notes piece"
    ).split()
)
# A kind word that names no document of its own in a collection: "the piece on X" is any document.
ANY_KIND = frozenset({"piece", "notes"})


def intent_of(question: str) -> Intent:
    """The shape of the answer a question asks for."""
    kind_words = tuple(w for w in lexical.words(question) if w in KIND_WORDS)
    names_document = bool(kind_words) or bool(_DOCUMENT_REFERENCE & set(lexical.words(question)))
    # Before a question about the document itself: "What methods did the authors use?" names its authors.
    for pattern, headings in SECTION_ASKS:
        if pattern.search(question) and two_parts(question.strip()) is None:
            frame = _SECTION_FRAME | set(lexical.stem_words(list(kind_words)))
            return Intent(Shape.SUMMARY, kind_words=kind_words, frame=frozenset(frame), section=headings)
    # "Who made Ralph earl?" is not about a document: the document must be named or pointed at.
    if names_document and lexical.asks_about_document(question):
        return Intent(Shape.DOCUMENT, kind_words=kind_words, asks_maker=bool(_MAKER_Q.search(question)))
    summary = _SUMMARY_Q.search(question) or (_ABOUT_Q.search(question) if kind_words else None)
    if summary:
        frame = frozenset(lexical.stem_words([*lexical.words(summary.group()), *kind_words]))
        whole = (
            names_document
            and bool(_WHOLE_CUE.search(question))
            and not _PART_WORDS & set(lexical.words(question))
            and not _ON_TOPIC.search(question)
        )
        return Intent(Shape.SUMMARY, kind_words=kind_words, frame=frame, whole=whole)
    if _EVENT_Q.search(question):
        # A year that ends a name ("the Boao Forum for Asia Annual Conference 2025") names the event; it
        # does not ask what happened that year.
        unnamed = _NAMED_YEAR.sub(lambda m: m.group() if is_month(m["name"]) else m["name"], question)
        dates = tuple(sorted(dates_in(unnamed), key=str))
        if dates:
            return Intent(Shape.EVENT, kind_words=kind_words, dates=dates)
    text = question.strip()
    for pattern in _SIDES:
        m = pattern.search(text)
        if m:
            sides = (m.group("a").strip(" ,"), m.group("b").strip(" ,?.!"))
            if all(sides):
                measured = bool(_MEASURED.search(text[: m.start("b")]))
                return Intent(Shape.COMPARISON, sides=sides, kind_words=kind_words, measured=measured)
    parts = two_parts(text)
    # "Where and when was it held?" is one question about one thing: each part must name its own.
    if parts and all(lexical.content_terms(part) for part in parts):
        return Intent(Shape.TWO_PART, sides=parts, kind_words=kind_words)
    if _EVENT_Q.search(question):
        times = tuple(dict.fromkeys(m.lower() for m in _DAY_WORD.findall(question)))
        return Intent(Shape.NARRATIVE, kind_words=kind_words, times=times)
    return Intent(Shape.FACT, kind_words=kind_words, items=asked_items(text))


def asked_items(question: str) -> str:
    """The stem of the plural noun a "what/which <noun> ...?" question asks for, or ""."""
    m = _ITEMS_Q.match(question)
    if m is None or m["noun"].lower().endswith(_NOT_PLURAL):
        return ""
    stems = lexical.content_terms(m["noun"])
    return stems[0] if stems else ""


def two_parts(question: str) -> tuple[str, str] | None:
    """The two questions a question asks as one, each as a question of its own, or None."""
    m = _TWO_PART.match(question)
    if m and _QUESTION_WORD.search(m.group("a")):
        return m.group("a").strip(" ,"), m.group("b").strip(" ,?.!")
    text = question.rstrip(" ?.!")
    m = _TWO_GROUPS.search(text)
    # The noun must be one ("Harvard and Radcliffe admissions"), not a verb after two names ("P and NP is").
    if m and len(m.group("noun")) > 3 and lexical.content_terms(m.group("noun")):
        head, tail = text[: m.start()], text[m.end() :]
        return (
            f"{head}{m.group('x')} {m.group('noun')}{tail}",
            f"{head}{m.group('y')} {m.group('noun')}{tail}",
        )
    m = _TWO_PLACES.match(text)
    if m:
        head, prep = m.group("head"), m.group("prep")
        return f"{head}{prep} {m.group('x')}", f"{head}{prep} {m.group('y')}"
    return None


def describes(entry: DocumentRecord | None, path: str) -> set[str]:
    """The words that say what a document is: its title, kind and publisher (sources.toml), file name."""
    origin = entry.origin if entry else {}
    title = entry.title if entry else ""
    text = " ".join(str(v) for v in (title, origin.get("kind", ""), origin.get("publisher", "")))
    return set(lexical.words(f"{text} {path.replace('-', ' ').replace('_', ' ')}"))


def target_document(
    ranked: Sequence[str], intent: Intent, documents: Mapping[str, DocumentRecord]
) -> str | None:
    """The document a SUMMARY or DOCUMENT question is about: the best-ranked retrieved document that is of
    the kind the question names ("the poster"), else any indexed one of that kind, else the best-ranked one.
    `ranked`: the retrieved hits' document paths, best first; `documents`: the index manifest's
    per-document record (title and origin)."""
    named = [w for w in intent.kind_words if w not in ANY_KIND]

    def of_kind(path: str) -> bool:
        words = describes(documents.get(path), path)
        return any(w in words or w.rstrip("s") in words for w in named)

    if named:
        for path in ranked:
            if of_kind(path):
                return path
        for path in documents:
            if of_kind(path):
                return path
    return ranked[0] if ranked else None
