"""Checking and cleaning a user's question before anything else sees it."""

from __future__ import annotations

import re
import unicodedata


class QuestionError(ValueError):
    """The question cannot be asked as given; the message says what to do."""


def clean_question(raw: str, max_chars: int) -> tuple[str, str]:
    """(question, notice): control and format characters removed, whitespace collapsed, cut to `max_chars`.

    Raises QuestionError for an empty question. Long questions are cut rather than refused, and the notice
    says so, because a pasted paragraph usually still contains the question.
    """
    if not isinstance(raw, str):
        raise QuestionError("The question must be text.")
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") else ch for ch in raw
    )
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("The question is empty: type a question about the documents.")
    notice = ""
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] or text[:max_chars]
        notice = f"The question was cut to its first {max_chars} characters."
    return text, notice
