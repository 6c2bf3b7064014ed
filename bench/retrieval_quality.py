"""Retrieval quality of an index on the evaluation set: hit@1, hit@5 and MRR@10, hybrid and dense."""

from __future__ import annotations

from collections.abc import Sequence

from common import EvalQuery, is_hit, rank_scores

from qa.config import RetrievalMode, Settings
from qa.embedding import Embedder
from qa.retrieval import retrieve
from qa.stores import VectorStore

DEPTH = 10


def ranked_hits(
    store: VectorStore,
    embedder: Embedder,
    queries: Sequence[EvalQuery],
    settings: Settings,
    mode: RetrievalMode,
) -> list[list[bool]]:
    """For each answerable query, whether each of our top-10 passages is a hit."""
    out = []
    for query in (q for q in queries if q.answerable):
        # One query at a time, as `QA.ask` embeds it: with dynamic int8 quantisation a text's vector
        # depends on the batch it is padded and scaled with.
        vector = embedder.embed([query.query])[0]
        hits = retrieve(store, query.query, vector, DEPTH, settings.candidates, settings.rrf_k, mode)
        out.append([is_hit(h.chunk.doc_path, h.chunk.text, query) for h in hits])
    return out


def quality(
    store: VectorStore, embedder: Embedder, queries: Sequence[EvalQuery], settings: Settings
) -> dict[str, dict[str, float]]:
    """{"hybrid": {...}, "dense": {...}} with hit1, hit5 and mrr10 as fractions."""
    return {
        mode.value: rank_scores(ranked_hits(store, embedder, queries, settings, mode))
        for mode in (RetrievalMode.HYBRID, RetrievalMode.DENSE)
    }
