"""Sentence selection, abstention checks, composition, follow-up condensing and question cleaning."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa.answering import NOT_FOUND, Answer, extractive_answer
from qa.chunking import Chunk, chunk_with_settings
from qa.condense import Turn, condense, is_follow_up
from qa.config import AbstainThresholds, Settings
from qa.corpus import load_sources, read_document
from qa.lexical import AnswerType, answer_type, bm25_tokens, content_terms, has_type, numeric_tokens
from qa.questions import QuestionError, clean_question
from qa.retrieval import CorpusStats, Retrieved
from qa.shapes import intent_of
from tests.conftest import CORPUS, FakeEmbedder, hybrid_hits, term_stats

# The fake embedder's cosines are lower than a real model's, so selection tests switch the score gates off;
# the explicit checks (years, unknown codes) do not depend on them.
OPEN = AbstainThresholds(min_confidence=0.0, min_chunk_cosine=0.0)


@dataclass(frozen=True)
class Corpus:
    """The project's corpus as chunks and their term statistics: what the answerer is handed, no index."""

    dir: Path
    chunks: tuple[Chunk, ...]
    stats: CorpusStats


@pytest.fixture(scope="module")
def indexed() -> Corpus:
    settings, embedder = Settings(), FakeEmbedder()
    sources = load_sources(CORPUS)
    chunks: list[Chunk] = []
    for path in sorted(p for p in CORPUS.iterdir() if p.suffix in (".txt", ".md")):
        doc = read_document(path, CORPUS, sources, 10**7)
        chunks += chunk_with_settings(doc, embedder.count_tokens, settings)
    return Corpus(CORPUS, tuple(chunks), term_stats(chunks))


def _ask(
    corpus: Corpus, embedder: FakeEmbedder, question: str, thresholds: AbstainThresholds = OPEN
) -> Answer:
    hits = hybrid_hits(question, corpus.chunks, embedder, top_k=5)
    retrieved = Retrieved(tuple(hits), corpus.stats, intent_of(question))
    qv = embedder.embed([question])[0]
    return extractive_answer(question, question, retrieved, qv, thresholds, 3)


def test_answer_quotes_exact_source_sentences(indexed: Corpus, fake_embedder: FakeEmbedder) -> None:
    answer = _ask(indexed, fake_embedder, "When did the AHKFTA and AHKIA enter into force?")
    assert not answer.abstained
    assert "[1]" in answer.answer and answer.citations[0].n == 1
    for c in answer.citations:
        source = (indexed.dir / c.source).read_text(encoding="utf-8")
        assert source[c.start : c.end].replace("\n", " ") == c.quote
        assert c.quote in answer.answer
    assert "11 and 17 June 2019" in answer.answer


def test_a_year_the_documents_never_give_abstains(indexed: Corpus, fake_embedder: FakeEmbedder) -> None:
    answer = _ask(indexed, fake_embedder, "What was the ASEAN-HKC trade value in 2015?")
    assert answer.abstained and answer.answer == NOT_FOUND
    assert "2015" in answer.reason
    assert answer.related and not answer.citations


def test_off_topic_abstains(indexed: Corpus, fake_embedder: FakeEmbedder) -> None:
    answer = _ask(indexed, fake_embedder, "How do I bake sourdough bread at home?", AbstainThresholds())
    assert answer.abstained


def test_unknown_code_abstains(indexed: Corpus, fake_embedder: FakeEmbedder) -> None:
    answer = _ask(indexed, fake_embedder, "When did the ZQXFTA enter into force?")
    assert answer.abstained and "ZQXFTA" in answer.reason


def test_two_part_question_gets_two_sentences(indexed: Corpus, fake_embedder: FakeEmbedder) -> None:
    answer = _ask(
        indexed,
        fake_embedder,
        "How many Japanese companies and how many South Korean companies were in Hong Kong?",
    )
    assert "1,400" in answer.answer and "160" in answer.answer
    assert len(answer.citations) >= 2


def test_anaphoric_sentence_brings_its_antecedent(indexed: Corpus, fake_embedder: FakeEmbedder) -> None:
    answer = _ask(indexed, fake_embedder, "Are they comprehensive in scope, encompassing dispute settlement?")
    quote = next(c.quote for c in answer.citations if "comprehensive in scope" in c.quote)
    assert quote.startswith("The ASEAN-HKC Free Trade Agreement (AHKFTA)")


def test_answer_types_and_detectors() -> None:
    assert answer_type("When was it signed?") is AnswerType.DATE
    assert answer_type("How much of its trade is with ASEAN?") is AnswerType.AMOUNT
    assert answer_type("By how much did the price of oil rise?") is AnswerType.AMOUNT
    # What was paid, spent or invested is answered by a sum of money, not a share or a head count.
    assert answer_type("How much did HKC contribute?") is AnswerType.MONEY
    assert answer_type("How much have Japanese companies invested in Hong Kong?") is AnswerType.MONEY
    for money in ("HKD 25 million", "25 million Hong Kong dollars", "6 million Lira", "$771 billion", "£3bn"):
        assert has_type(money, AnswerType.MONEY), money
    for other in ("1,400 Japanese companies, a 2.3 percent increase", "2 million people", "3.5% of trade"):
        assert not has_type(other, AnswerType.MONEY), other
    assert answer_type("How many projects were completed?") is AnswerType.COUNT
    assert answer_type("Who signed the MOU?") is AnswerType.PERSON
    assert answer_type("Where was it signed?") is AnswerType.PLACE
    assert has_type("signed on 9 September 2017", AnswerType.DATE)
    for when in (
        "opens on Mondays at eight o'clock",
        "closes at 5.30 p.m.",
        "is emptied every Friday",
        "meets weekly",
    ):
        assert has_type(when, AnswerType.DATE), when  # "when" is also a weekday, a time or a recurrence
    assert not has_type("The agreement covers trade in goods.", AnswerType.DATE)
    assert has_type("HKD 25 million", AnswerType.AMOUNT) and not has_type("in Vietnam", AnswerType.AMOUNT)
    # A count counts things: not a share, a sum of money, a year or the day of a date.
    for count in ("28 project proposals", "2,000 firms", "ten member states", "13 projects, as of 2023"):
        assert has_type(count, AnswerType.COUNT), count
    for other in (
        "about 30 percent of global GDP",
        "6.3% of FDI",
        "USD 3.2 million",
        "in 2025",
        "October 28",
    ):
        assert not has_type(other, AnswerType.COUNT), other
    assert numeric_tokens("the 8th AEM in 2015 cost 1,033.9") == {"8th", "2015", "1033.9"}
    assert "sign" in content_terms("When was the MOU signed?") and "when" not in content_terms("When?")
    # Written with and without the hyphen, a bound prefix is one word to every match (BM25 included).
    assert content_terms("economic co-operation and e-commerce") == content_terms(
        "economic cooperation, ecommerce"
    )
    assert bm25_tokens(["co-operation"]) == bm25_tokens(["cooperation"])
    assert content_terms("Hong Kong-ASEAN") == ["hong", "kong", "asean"]  # other hyphens still split


def test_condense_follow_ups() -> None:
    history = [Turn("When did the AHKFTA enter into force?", "When did the AHKFTA enter into force?")]
    q = condense("And the investment agreement?", history)
    assert "AHKFTA" in q and "investment agreement" in q and "enter into force" in q
    q2 = condense(
        "When was it signed?",
        [Turn("What did Hainan and the HKSAR sign?", "What did Hainan and the HKSAR sign?")],
    )
    assert q2.startswith("When was it signed?") and "Hainan" in q2
    standalone = "What share of ASEAN trade did Hong Kong account for in 2024?"
    assert condense(standalone, history) == standalone
    assert condense("And the investment agreement?", []) == "And the investment agreement?"
    assert is_follow_up("What about South Korea?") and not is_follow_up(standalone)


def test_clean_question() -> None:
    assert clean_question("  What\x00 is\u200b RCEP?\n", 100) == ("What is RCEP?", "")
    with pytest.raises(QuestionError, match="empty"):
        clean_question(" \t\x07 ", 100)
    text, notice = clean_question("word " * 100_000, 2000)
    assert len(text) <= 2000 and "2000" in notice


def test_a_question_about_what_is_not_so_needs_a_negation(
    indexed: Corpus, fake_embedder: FakeEmbedder
) -> None:
    asked = "When did the AHKFTA and AHKIA enter into force?"
    assert not _ask(indexed, fake_embedder, asked).abstained
    # SQuAD 2.0's near misses: the same question turned round, against passages that never negate.
    negated = _ask(indexed, fake_embedder, "When did the AHKFTA and AHKIA not enter into force?")
    assert negated.abstained and "not so" in negated.reason
    # "Whether or not" asks nothing negative.
    either = "Did the AHKFTA and AHKIA enter into force in June 2019 or not?"
    assert "not so" not in _ask(indexed, fake_embedder, either).reason


def test_a_name_written_as_its_initials_counts_as_the_name(fake_embedder: FakeEmbedder) -> None:
    """ "PR was only the League's 9th partner" answers a question about Port Royal as well as a sentence
    that spells the name out; initials the question's names do not have count for nothing."""
    from qa.answering import QueryTerms, score_sentences
    from qa.lexical import initialisms, spelled_out
    from tests.conftest import make_chunk, make_hits

    assert initialisms("Is Port Royal, Jamaica larger?") == {
        "PR": frozenset({"port", "royal"}),
        "PRJ": frozenset({"port", "royal", "jamaica"}),
    }
    assert spelled_out("PR's trade and the EU's", initialisms("Port Royal")) == {"port", "royal"}
    texts = ("PR was only the League's 9th trading partner.", "The League grew by 4% in 2024.")
    (hit,) = make_hits(make_chunk("news.txt", "News", texts))
    hits = [dataclasses.replace(hit, sentence_vectors=fake_embedder.embed(list(texts)))]
    question = "How important is Port Royal to the League?"
    terms = QueryTerms({"port": 1.0, "royal": 1.0, "leagu": 1.0, "import": 1.0})
    candidates = score_sentences(hits, question, fake_embedder.embed([question])[0], terms)
    lexical_share = {c.hit.chunk.sentences[c.index].text: c.lexical for c in candidates}
    assert lexical_share[texts[0]] == 0.75 and lexical_share[texts[1]] == 0.25
