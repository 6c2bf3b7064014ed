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


MAX_HISTORY_TURNS = 50  # more earlier turns than any conversation needs (only the last ones are read)


def history_from_json(value: object) -> tuple[Turn, ...]:
    """Earlier turns from JSON (`qa ask --json -` lines, the app's /ask): `[{"question": ..., "answer": ...}]`.

    Each turn's searched query is rebuilt with `condense`, as the conversation would have made it.
    QuestionError (naming the expected shape) for anything else.
    """
    from qa.questions import QuestionError

    if value is None:
        return ()
    shape = 'history must be a list of {"question": "...", "answer": "..."} objects'
    if not isinstance(value, list):
        raise QuestionError(f"The {shape}, got {type(value).__name__}.")
    turns: list[Turn] = []
    for i, item in enumerate(value[-MAX_HISTORY_TURNS:]):
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise QuestionError(f"The {shape}; item {i} is not one.")
        question, answer = item["question"].strip(), item.get("answer", "")
        if not isinstance(answer, str):
            raise QuestionError(f"The {shape}; item {i}'s answer is not text.")
        if question:
            turns.append(Turn(question, condense(question, turns), answer))
    return tuple(turns)
