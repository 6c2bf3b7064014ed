"""Checking and cleaning a user's question before anything else sees it."""

from __future__ import annotations

import re
import unicodedata

from qa.errors import QAError


class QuestionError(QAError, ValueError):
    """The question cannot be asked as given; the message says what to do."""


# Control and format characters, separators that break lines, lone surrogates (no encoder takes them:
# echoing one crashed the chat's JSON stream), private-use and unassigned code points.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def printable(raw: str) -> str:
    """`raw` with every character no UI or encoder should see replaced by a space: safe to echo back."""
    return "".join(" " if unicodedata.category(ch) in _UNPRINTABLE else ch for ch in raw)


def clean_question(raw: str, max_chars: int) -> tuple[str, str]:
    """(question, notice): control and format characters removed, whitespace collapsed, cut to `max_chars`.

    Raises QuestionError for an empty question. Long questions are cut rather than refused, and the notice
    says so, because a pasted paragraph usually still contains the question.
    """
    if not isinstance(raw, str):
        raise QuestionError("The question must be text.")
    text = re.sub(r"\s+", " ", printable(raw)).strip()
    if not text:
        raise QuestionError("The question is empty: type a question about the documents.")
    notice = ""
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] or text[:max_chars]
        notice = f"The question was cut to its first {max_chars} characters."
    return text, notice


def claim(question: str, answer: str) -> str:
    """The statement an answer makes about its question, as one sentence: how a terse answer is checked.

    >>> claim("In what city is the head office?", "Delhi")
    'In what city is the head office: Delhi'
    """
    return f"{question.strip().rstrip('?.!').strip()}: {answer.strip()}"
