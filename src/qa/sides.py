"""Comparisons and two-part questions -> the sentence that answers each side.

A COMPARISON ("How does X compare with Y?") or TWO_PART question ("How many Japanese and South Korean
companies ...?") starts from the FACT selection, whose best sentences are often all about one side; each
side then gets its own best sentence (`select_comparison`). What names a side is worked out from the sides'
wording alone (`side_marks`), so it holds for any folder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath

from qa import lexical, shapes, tuning
from qa.selecting import Candidate


def select_comparison(
    candidates: Sequence[Candidate], fact: Sequence[Candidate], sides: Sequence[str], measured: bool = False
) -> list[Candidate]:
    """The FACT selection `fact`, then for each side of the comparison, that side's best sentence if it is
    not already there. (A chosen sentence that names a side is not enough: the FACT selection adds
    sentences for the words they cover, and "in the poster" is named by any sentence of the poster.)

    `measured`: the question compares amounts ("Was X larger than Y?"), so a side's sentence must give one,
    a number other than a year (a sentence naming Japan without a figure answers nothing). A relation
    compared both ways has no words of its own on either side: each side's sentence is the one told from
    its second party's side (`mirrored_views`)."""
    if not fact:
        return []
    floor = max(c.score for c in fact) - tuning.COMPARISON_WINDOW
    # Measured, the FACT selection's sentences without a figure do not answer it either.
    chosen = [c for c in fact if _gives_amount(c)] if measured else list(fact)
    for view in mirrored_views(sides):
        for cand in candidates:
            if cand.score < floor:
                break
            if view.search(cand.hit.chunk.sentences[cand.index].text):
                if cand not in chosen:
                    chosen.append(cand)
                break
    for distinct, masks in side_marks(sides):
        if not distinct or len(chosen) >= tuning.COMPARISON_SENTENCES:
            continue
        for cand in candidates:
            if cand.score < floor:
                break
            # Not checked for redundancy: sentence vectors are pooled in their chunk's context, so two
            # sentences of one chunk about two sides read as near duplicates ("1,400 Japanese companies"
            # and "160 South Korean companies").
            if measured and not _gives_amount(cand):
                continue
            if _names_side(cand, distinct, masks):
                if cand not in chosen:
                    chosen.append(cand)
                break
    return chosen or list(fact)


# "Hong Kong's importance to ASEAN", "the importance of Hong Kong to ASEAN": who matters, and to whom.
_TO_WHOM = re.compile(
    r"^(?:(?:the|its|their)\s+)?(?:(?P<who>[^,]+?)['’]s?\s+[\w\s-]+?|[\w\s-]+?\s+of\s+(?P<who_of>[^,]+?))"
    r"\s+(?:to|for|on|in|with)\s+(?P<whom>[^,]+)$",
    re.IGNORECASE,
)


def mirrored_views(sides: Sequence[str]) -> list[re.Pattern[str]]:
    """For a comparison of one relation both ways ("Hong Kong's importance to ASEAN" with "ASEAN's
    importance to Hong Kong"), a pattern per side for a sentence told from its second party's side ("HK was
    only ASEAN's 7th trading partner": ASEAN's view of Hong Kong): that party's possessive, the first named.
    The two sides share every word, so their words cannot tell their sentences apart. [] otherwise."""
    pairs: list[tuple[str, str]] = []
    for side in sides:
        m = _TO_WHOM.match(side.strip(" ?.!"))
        if m is None:
            return []
        pairs.append(((m["who"] or m["who_of"]).strip(), m["whom"].strip()))
    if len(pairs) != 2 or not _alike(pairs[0][0], pairs[1][1]) or not _alike(pairs[0][1], pairs[1][0]):
        return []
    return [
        re.compile(rf"(?=.*\b{_name(who)}\b).*\b{_name(whom)}['’]s\b", re.IGNORECASE) for who, whom in pairs
    ]


def _alike(a: str, b: str) -> bool:
    return lexical.content_terms(a) == lexical.content_terms(b) and bool(lexical.content_terms(a))


def _name(name: str) -> str:
    """A pattern for a name or its initials ("Hong Kong" or "HK", `lexical.initialisms`)."""
    spelled = r"\s+".join(map(re.escape, re.findall(r"[\w'’-]+", name)))
    initials = max(lexical.initialisms(name), key=len, default="")
    return f"(?:{spelled}|{initials})" if initials else f"(?:{spelled})"


def _gives_amount(cand: Candidate) -> bool:
    text = cand.hit.chunk.sentences[cand.index].text
    return bool(lexical.numbers(text) - lexical.years(text))


def side_marks(sides: Sequence[str]) -> list[tuple[frozenset[str], tuple[re.Pattern[str], ...]]]:
    """For each side of a comparison: the terms that name it and no other side, and the other sides' longer
    names, which a sentence must not be read through.

    A side's name inside another side's longer name is still its own: in "ASEAN's trade with Hong Kong,
    China" against "its trade with China", "China" names the second side, and "ASEAN-Hong Kong, China trade"
    does not mention it. A number ("in 2024") dates the whole comparison, not one side."""
    own = [_side_terms(side) for side in sides]
    out: list[tuple[frozenset[str], tuple[re.Pattern[str], ...]]] = []
    for i, terms in enumerate(own):
        others: set[str] = set()
        masks: list[re.Pattern[str]] = []
        for j, side in enumerate(sides):
            if j == i:
                continue
            for run in lexical.NAME_RUN.findall(side):
                if set(lexical.content_terms(run)) - terms:  # a name of its own, not this side's
                    side = side.replace(run, " ")
                    words = re.findall(r"[\w'’-]+", run)
                    masks.append(re.compile(r"\b" + r"[\s,]+".join(map(re.escape, words)) + r"\b", re.I))
            others |= _side_terms(side)
        out.append((frozenset(terms - others), tuple(masks)))
    return out


_KIND_TERMS = frozenset(lexical.stem_words(sorted(shapes.KIND_WORDS)))


def _side_terms(text: str) -> set[str]:
    """A side's content terms without numbers, and the kinds of document it names ("poster" is a stopword
    to retrieval, but "in the poster" and "in the overview" are two sides)."""
    terms = {t for t in lexical.content_terms(text) if not any(ch.isdigit() for ch in t)}
    return terms | (set(lexical.stem_words(lexical.words(text))) & _KIND_TERMS)


def _names_side(cand: Candidate, distinct: frozenset[str], masks: Sequence[re.Pattern[str]]) -> bool:
    """Whether a sentence names a side: one of its distinct terms, outside the other sides' longer names;
    or, for a side that is only a document ("in the student poster": a kind of document and at most one
    word more), by being in a document whose title or file name says so. A side that asks more ("According
    to the poster, what rank ...") must be named by its own words."""
    chunk = cand.hit.chunk
    kinds = distinct & _KIND_TERMS
    if kinds and len(distinct - kinds) <= 1:
        described = f"{chunk.title} {PurePath(chunk.doc_path).stem.replace('-', ' ').replace('_', ' ')}"
        if kinds & set(lexical.stem_words(lexical.words(described))):
            return True
    if not cand.terms & distinct:
        return False
    text = chunk.sentences[cand.index].text
    for mask in masks:
        text = mask.sub(" ", text)
    return bool(set(lexical.content_terms(text)) & distinct)
