"""Extractive answer, citations, abstention -> Answer.

The answer is made of source sentences, each cited with `[n]` to the exact sentence it quotes, so every
claim can be checked. Sentences are scored by

    score = W_DENSE * cosine(query, sentence)      sentence vectors stored at index time (late pooling)
          + W_LEXICAL * share of query terms found  stemmed, stopwords removed
          + W_TYPE * (has the kind of thing asked)  a date for "when", an amount for "how much", ...
          + W_RANK / rank of its chunk              retrieval's own judgement, lightly

and the answer is one to three non-redundant sentences. Before answering, `abstain_reason` decides whether
the documents hold an answer at all (thresholds in `config.AbstainThresholds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from qa import lexical
from qa.config import AbstainThresholds
from qa.retrieval import Hit
from qa.store import Store

NOT_FOUND = "I could not find this in the documents."
W_DENSE, W_LEXICAL, W_TYPE, W_RANK = 0.55, 0.35, 0.12, 0.04
REDUNDANT_COSINE = 0.88  # a second sentence this close to one already chosen adds nothing
EXTRA_SENTENCE_MARGIN = 0.10  # extra sentences must score within this of the best one
# A sentence opening with one of these leans on the one before it ("They are comprehensive in scope").
_ANAPHORA = (
    "they ",
    "it ",
    "this ",
    "these ",
    "those ",
    "its ",
    "their ",
    "he ",
    "she ",
    "such ",
    "the agreements ",
)


@dataclass(frozen=True)
class Citation:
    """`[n]` in the answer: the exact source sentence(s) quoted, and where they are."""

    n: int
    source: str  # relative to the corpus folder
    title: str
    page: int | None
    quote: str
    chunk_id: int
    score: float
    start: int  # character offsets of the quote in the source document
    end: int
    passage: str  # the whole chunk, so a UI can show the quote in context


@dataclass(frozen=True)
class Passage:
    """A retrieved passage shown as possibly related (when abstaining) or in the inspector."""

    source: str
    title: str
    page: int | None
    text: str
    chunk_id: int
    score: float


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of the answer and whether its citations support it (always true for extractive)."""

    text: str
    citations: tuple[int, ...]
    verified: bool = True
    reason: str = ""


@dataclass(frozen=True)
class Answer:
    """What `ask` returns; `to_json` is the shape of `qa ask --json` and the app's /ask endpoint."""

    question: str
    query: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    related: tuple[Passage, ...] = ()
    hits: tuple[Hit, ...] = ()
    sentences: tuple[AnswerSentence, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    backend: str = "extractive"
    reason: str = ""  # why it abstained, or a note such as a backend fallback
    notice: str = ""

    @property
    def unsupported(self) -> tuple[str, ...]:
        return tuple(s.text for s in self.sentences if not s.verified)

    def to_json(self) -> dict[str, Any]:
        cited = {c.chunk_id for c in self.citations}
        return {
            "question": self.question,
            "query": self.query,
            "answer": self.answer,
            "abstained": self.abstained,
            "reason": self.reason,
            "backend": self.backend,
            "notice": self.notice,
            "citations": [
                {k: v for k, v in asdict(c).items() if k != "passage"} | {"passage": c.passage}
                for c in self.citations
            ],
            "related": [asdict(p) for p in self.related],
            "sentences": [asdict(s) for s in self.sentences],
            "unsupported": list(self.unsupported),
            "retrieved": [
                {
                    "chunk_id": h.chunk_id,
                    "source": h.chunk.doc_path,
                    "title": h.chunk.title,
                    "page": h.chunk.page,
                    "dense_rank": h.dense_rank,
                    "bm25_rank": h.bm25_rank,
                    "fused_score": round(h.score, 6),
                    "dense_score": round(h.dense_score, 4),
                    "cited": h.chunk_id in cited,
                }
                for h in self.hits
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


@dataclass(frozen=True)
class StreamEvent:
    """A piece of an answer as it is produced; the last event carries the finished Answer."""

    delta: str
    answer: Answer | None = None


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved chunk, scored against the query."""

    hit_rank: int
    hit: Hit
    index: int  # position in the chunk
    cosine: float
    lexical: float
    typed: bool
    score: float
    vector: np.ndarray


def score_sentences(
    hits: Sequence[Hit], store: Store, query: str, query_vector: np.ndarray
) -> list[Candidate]:
    """Every answer-worthy sentence of the hits with its score, best first (headings and fragments left out)."""
    terms = lexical.content_terms(query)
    kind = lexical.answer_type(query)
    out: list[Candidate] = []
    seen_text: set[str] = set()
    for rank, hit in enumerate(hits, start=1):
        vectors = store.sentence_vectors[hit.chunk_id]
        cosines = vectors @ query_vector
        for i, sentence in enumerate(hit.chunk.sentences):
            key = sentence.text.lower()
            if sentence.context or key in seen_text:  # overlap sentences appear in two chunks: score once
                continue
            seen_text.add(key)
            sentence_terms = set(lexical.content_terms(sentence.text))
            lex = sum(t in sentence_terms for t in terms) / len(terms) if terms else 0.0
            typed = lexical.has_type(sentence.text, kind)
            score = (
                W_DENSE * float(cosines[i])
                + W_LEXICAL * lex
                + (W_TYPE if typed else -W_TYPE) * (kind is not lexical.AnswerType.OTHER)
                + W_RANK / rank
            )
            out.append(Candidate(rank, hit, i, float(cosines[i]), lex, typed, score, vectors[i]))
    out.sort(key=lambda c: -c.score)
    return out


def select_sentences(candidates: Sequence[Candidate], max_sentences: int = 3) -> list[Candidate]:
    """The best sentence, plus up to two close runners-up that are not redundant with it."""
    if not candidates:
        return []
    chosen = [candidates[0]]
    for cand in candidates[1:]:
        if len(chosen) >= max_sentences or cand.score < chosen[0].score - EXTRA_SENTENCE_MARGIN:
            break
        if any(float(cand.vector @ c.vector) >= REDUNDANT_COSINE for c in chosen):
            continue
        if cand.lexical == 0 and cand.cosine < chosen[0].cosine - 0.05:
            continue
        chosen.append(cand)
    # Read in document order when sentences come from one passage, so the answer flows like the source.
    return (
        sorted(chosen, key=lambda c: (c.hit_rank, c.index))
        if len({c.hit.chunk_id for c in chosen}) == 1
        else chosen
    )


def abstain_reason(
    query: str, hits: Sequence[Hit], candidates: Sequence[Candidate], thresholds: AbstainThresholds
) -> str:
    """Why the documents do not answer the query, or "" when they may. Explicit checks come first."""
    if not hits or not candidates:
        return "nothing relevant was retrieved"
    passages = " ".join(h.chunk.embed_text() for h in hits)
    passage_numbers = lexical.numbers(passages)
    missing_years = sorted(y for y in lexical.years(query) if y not in passage_numbers)
    if missing_years:
        return f"no retrieved passage mentions {', '.join(missing_years)}"
    passage_acronyms = {a.lower() for a in lexical.acronyms(passages)}
    passage_lower = passages.lower()
    missing = sorted(
        a
        for a in lexical.acronyms(query)
        if a.lower() not in passage_acronyms and a.lower() not in passage_lower
    )
    if missing:
        return f"no retrieved passage mentions {', '.join(missing)}"
    best = candidates[0]
    if max(h.dense_score for h in hits) < thresholds.min_chunk_cosine:
        return "the closest passages are not about this"
    if best.cosine < thresholds.min_sentence_cosine and best.lexical < thresholds.min_term_coverage:
        return "no sentence is close enough to the question"
    terms = lexical.content_terms(query)
    if terms:
        found = set(lexical.content_terms(passages))
        coverage = sum(t in found for t in terms) / len(terms)
        if coverage < thresholds.min_term_coverage and best.cosine < thresholds.min_sentence_cosine + 0.1:
            return "the passages do not mention most of the question's terms"
    kind = lexical.answer_type(query)
    if kind is not lexical.AnswerType.OTHER and not any(
        c.typed and c.score >= best.score - 0.15 for c in candidates
    ):
        return f"the passages near this topic give no {kind.value}"
    return ""


def compose(selected: Sequence[Candidate]) -> tuple[str, tuple[Citation, ...], tuple[AnswerSentence, ...]]:
    """Answer text with [n] markers and one citation per quoted sentence (its neighbour added when needed)."""
    citations: list[Citation] = []
    parts: list[str] = []
    sentences: list[AnswerSentence] = []
    for n, cand in enumerate(selected, start=1):
        chunk = cand.hit.chunk
        first = cand.index
        if cand.index > 0 and chunk.sentences[cand.index].text.lower().startswith(_ANAPHORA):
            prev = chunk.sentences[cand.index - 1]
            if not prev.context:
                first = cand.index - 1
        quoted = chunk.sentences[first : cand.index + 1]
        quote = " ".join(s.text for s in quoted)
        citations.append(
            Citation(
                n=n,
                source=chunk.doc_path,
                title=chunk.title,
                page=chunk.page,
                quote=quote,
                chunk_id=cand.hit.chunk_id,
                score=round(cand.score, 4),
                start=quoted[0].start,
                end=quoted[-1].end,
                passage=chunk.text,
            )
        )
        parts.append(f"{quote} [{n}]")
        sentences.append(AnswerSentence(quote, (n,)))
    return " ".join(parts), tuple(citations), tuple(sentences)


def related_passages(hits: Sequence[Hit], limit: int = 3) -> tuple[Passage, ...]:
    return tuple(
        Passage(
            h.chunk.doc_path, h.chunk.title, h.chunk.page, h.chunk.text, h.chunk_id, round(h.dense_score, 4)
        )
        for h in hits[:limit]
    )


def extractive_answer(
    question: str,
    query: str,
    hits: Sequence[Hit],
    store: Store,
    query_vector: np.ndarray,
    thresholds: AbstainThresholds,
    max_sentences: int = 3,
) -> Answer:
    """The default answerer: offline, deterministic, every sentence an exact quote."""
    candidates = score_sentences(hits, store, query, query_vector)
    reason = abstain_reason(query, hits, candidates, thresholds)
    if reason:
        return Answer(
            question, query, NOT_FOUND, True, related=related_passages(hits), hits=tuple(hits), reason=reason
        )
    text, citations, sentences = compose(select_sentences(candidates, max_sentences))
    return Answer(question, query, text, False, citations, hits=tuple(hits), sentences=sentences)
