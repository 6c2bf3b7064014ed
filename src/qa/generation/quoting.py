"""The quotes shown after a written answer (`auto`): the extractive answerer's sentences that add facts to it.

The model's answers and the quotes each hold key facts the other lacks (README, "Answers"): shown together
they hold the most, and every added sentence is an exact quote.
"""

from __future__ import annotations

import dataclasses

from qa import lexical
from qa.types import Answer, AnswerSentence, Citation

QUOTE_OVERLAP = 0.6  # a quote whose content words the answer shares at least this much adds nothing


def adds_facts(quote: str, answer: str) -> bool:
    """Whether a quoted sentence says something the written answer does not: a number, name or code it
    lacks, or most of its content words."""
    lower = answer.lower()
    if any(n not in answer for n in lexical.numbers(quote)):
        return True
    if any(x.strip("-&").lower() not in lower for x in lexical.names(quote) | lexical.acronyms(quote)):
        return True
    terms = set(lexical.content_terms(quote))
    return bool(terms) and len(terms & set(lexical.content_terms(answer))) / len(terms) < QUOTE_OVERLAP


def with_quotes(
    body: str,
    citations: tuple[Citation, ...],
    sentences: tuple[AnswerSentence, ...],
    extractive: Answer,
    open_ended: bool = False,
) -> tuple[str, tuple[Citation, ...], tuple[AnswerSentence, ...]]:
    """The written answer, then each sentence the extractive answerer quoted that adds facts to it.

    `open_ended` (a why, how or what question, not one for a date, number or name): a quote the written
    answer already cites is shown too when the answer left its facts out (it cites "Considering the Basic
    Law ..., both agreed to have a separate investment agreement" for "Why did they agree to a separate
    investment agreement?" and leaves out the Basic Law), under the number it already has.
    """
    if extractive.abstained:
        return body, citations, sentences
    added_text: list[str] = []
    added_citations: list[Citation] = []
    added_sentences: list[AnswerSentence] = []
    cited = {c.quote: c.n for c in citations}
    for quote in extractive.citations:
        n = cited.get(quote.quote)
        if (n is not None and not open_ended) or not adds_facts(
            quote.quote, body + " " + " ".join(added_text)
        ):
            continue
        if n is None:
            n = len(citations) + len(added_citations) + 1
            added_citations.append(dataclasses.replace(quote, n=n))
        added_sentences.append(AnswerSentence(quote.quote, (n,), quoted=True))
        added_text.append(f"“{quote.quote}” [{n}]")
    if not added_text:
        return body, citations, sentences
    return (
        body + " " + " ".join(added_text),
        citations + tuple(added_citations),
        sentences + tuple(added_sentences),
    )
