"""Dense (FAISS) + BM25 retrieval, fused with reciprocal rank fusion -> [Hit].

Dense search finds paraphrases; BM25 finds codes and numbers ("AHKFTA", "2019") that a small embedding model
blurs. RRF needs no score calibration between the two: each list contributes 1 / (rrf_k + rank).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.chunking import Chunk
from qa.config import RetrievalMode
from qa.store import Store


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with the evidence of how it was found."""

    chunk_id: int
    chunk: Chunk
    score: float  # fused RRF score (the ranking key)
    dense_rank: int | None  # 1-based, None when dense search did not return it
    bm25_rank: int | None
    dense_score: float  # cosine with the query (computed for every hit, so answers can compare them)
    bm25_score: float


def rrf_fuse(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of several ranked id lists, best first; ties keep first-seen order.

    >>> rrf_fuse([[1, 2, 3], [3, 1]], k=60)[0][0]
    1
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def is_near_duplicate(a: Chunk, b: Chunk, threshold: float = 0.6) -> bool:
    """Two chunks of one document sharing most of their characters, or two identical texts anywhere."""
    if a.doc_path == b.doc_path:
        overlap = min(a.end, b.end) - max(a.start, b.start)
        shorter = min(a.end - a.start, b.end - b.start)
        if shorter > 0 and overlap / shorter >= threshold:
            return True
    return a.text.strip().lower() == b.text.strip().lower()


def retrieve(
    store: Store,
    query: str,
    query_vector: np.ndarray,
    top_k: int,
    candidates: int = 30,
    rrf_k: int = 60,
    mode: RetrievalMode = RetrievalMode.HYBRID,
) -> list[Hit]:
    """The top_k fused hits for a query, near-duplicates collapsed."""
    if len(store) == 0:
        return []
    dense = store.search(query_vector, candidates) if mode != RetrievalMode.BM25 else []
    lexical = store.search_bm25(query, candidates) if mode != RetrievalMode.DENSE else []
    dense_rank = {cid: r for r, (cid, _) in enumerate(dense, start=1)}
    bm25_rank = {cid: r for r, (cid, _) in enumerate(lexical, start=1)}
    bm25_score = dict(lexical)
    fused = rrf_fuse([[cid for cid, _ in dense], [cid for cid, _ in lexical]], k=rrf_k)
    hits: list[Hit] = []
    for cid, score in fused:
        chunk = store.chunks[cid]
        if any(is_near_duplicate(chunk, h.chunk) for h in hits):
            continue
        hits.append(
            Hit(
                chunk_id=cid,
                chunk=chunk,
                score=score,
                dense_rank=dense_rank.get(cid),
                bm25_rank=bm25_rank.get(cid),
                dense_score=float(store.vector(cid) @ query_vector),
                bm25_score=bm25_score.get(cid, 0.0),
            )
        )
        if len(hits) >= top_k:
            break
    return hits
