"""End to end with the real model on the real corpus: the `ask` user path."""

from __future__ import annotations

from typing import Any

import pytest

from qa.condense import Turn

ANSWERABLE = [
    (
        "When did the AHKFTA enter into force?",
        ["11 and 17 June 2019"],
        "asean-hong-kong-china-relations-overview.txt",
    ),
    (
        "How much did Hong Kong contribute to the ECOTECH Work Programme?",
        ["HKD 25 million"],
        "asean-hong-kong-china-relations-overview.txt",
    ),
    ("What is RCEP?", ["Regional Comprehensive Economic Partnership"], "asean-china-fta-upgrade-signed.txt"),
    (
        "How many Japanese companies were operating in Hong Kong in 2024?",
        ["1,400"],
        "investhk-japan-korea-visit.txt",
    ),
    ("When did Hainan and the HKSAR sign the MOU?", ["March 26, 2025"], "hainan-hksar-mou.txt"),
    ("When did the first ASEAN-China FTA come into force?", ["2010"], "asean-china-fta-upgrade-signed.txt"),
]
UNANSWERABLE = [
    "What is the boiling point of water?",
    "What was the ASEAN-HKC trade value in 2015?",
    "When and where was the 8th AEM-Hong Kong, China Consultations held?",
    "How do I reverse a list in Python?",
]


@pytest.mark.slow
@pytest.mark.parametrize(("question", "facts", "source"), ANSWERABLE)
def test_real_answers_have_facts_and_exact_citations(
    real_qa: Any, question: str, facts: list[str], source: str
) -> None:
    answer = real_qa.ask(question)
    assert not answer.abstained, answer.reason
    for fact in facts:
        assert fact in answer.answer
    assert any(c.source == source and any(f in c.quote for f in facts) for c in answer.citations)
    corpus = real_qa.settings.corpus_dir
    for c in answer.citations:
        assert f"[{c.n}]" in answer.answer
        text = (corpus / c.source).read_text(encoding="utf-8")
        assert text[c.start : c.end].replace("\n", " ") == c.quote  # the quote is the exact source text
    assert set(answer.timings_ms) >= {"retrieve", "answer", "total"}


@pytest.mark.slow
@pytest.mark.parametrize("question", UNANSWERABLE)
def test_real_unanswerable_questions_abstain(real_qa: Any, question: str) -> None:
    answer = real_qa.ask(question)
    assert answer.abstained, answer.answer
    assert answer.answer == "I could not find this in the documents."
    assert answer.citations == () and answer.related


@pytest.mark.slow
def test_real_follow_up_uses_the_earlier_turn(real_qa: Any) -> None:
    first = real_qa.ask("How many Japanese companies were operating in Hong Kong in 2024?")
    history = [Turn(first.question, first.query, first.answer)]
    follow = real_qa.ask("What about South Korean ones?", history)
    assert follow.query != follow.question and "Japanese" in follow.query
    assert "160" in follow.answer


@pytest.mark.slow
def test_real_json_shape(real_qa: Any) -> None:
    data = real_qa.ask("When did the AHKFTA enter into force?").to_json()
    assert {"question", "query", "answer", "abstained", "citations", "related", "timings_ms"} <= set(data)
    citation = data["citations"][0]
    assert {"n", "source", "title", "quote", "chunk_id", "score"} <= set(citation)
    assert set(data["timings_ms"]) >= {"retrieve", "answer", "total"}
