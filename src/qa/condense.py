"""Follow-up question -> standalone query, from the earlier turns (rule-based; no model needed).

    "When did the AHKFTA enter into force?"  then  "And the investment agreement?"
        -> "When did the AHKFTA enter into force? the investment agreement"
    "What did Hainan and the HKSAR sign?"     then  "When was it signed?"
        -> "When was it signed? Hainan HKSAR sign"

Retrieval and the answerer read the result as one question: the fragment supplies the new subject, the
earlier query the rest (including what kind of answer is wanted).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa import lexical

_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|he|him|his|she|her|there|then)\b", re.I
)
_FOLLOW_OPENER = re.compile(r"^\s*(and|also|what about|how about|and what about|same for|but)\b[\s,]*", re.I)
_WH_START = re.compile(
    r"^\s*(what|when|where|who|whom|whose|which|why|how|is|are|was|were|did|does|do|can|could)\b", re.I
)


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: what was asked, the query actually searched, and the answer given."""

    question: str
    query: str
    answer: str = ""


def is_follow_up(question: str) -> bool:
    """A question that leans on an earlier one: opens with "and"/"what about", uses a pronoun, or is a fragment."""
    if _FOLLOW_OPENER.match(question):
        return True
    if not _WH_START.match(question):
        return len(lexical.content_terms(question)) <= 4
    has_subject = bool(lexical.acronyms(question) or lexical.names(question))
    return bool(_PRONOUN.search(question)) and not has_subject


def condense(question: str, history: Sequence[Turn]) -> str:
    """The standalone query to search for `question` after `history` (the question itself if it stands alone)."""
    if not history or not is_follow_up(question):
        return question
    previous = history[-1].query or history[-1].question
    fragment = _FOLLOW_OPENER.sub("", question).strip()
    if not _WH_START.match(fragment):
        # "And the investment agreement?": the earlier question, asked of a new subject.
        return f"{previous} {fragment.rstrip('?').strip()}".strip()
    # "When was it signed?": the new question, with the earlier subject's words to resolve "it".
    subject = " ".join(w for w in re.findall(r"[\w.\-&]+", previous) if w.lower() not in lexical.STOPWORDS)
    return f"{fragment} {subject}".strip()
