"""Dense (FAISS) + BM25 retrieval, fused with reciprocal rank fusion -> [Hit].

Dense search finds paraphrases; BM25 finds codes and numbers ("AHKFTA", "2019") that a small embedding model
blurs. RRF needs no score calibration between the two: each list contributes 1 / (rrf_k + rank).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.cards import CARD_HEADING
from qa.chunking import Chunk
from qa.config import RetrievalMode
from qa.stores import VectorStore, rrf_fuse

__all__ = ["Hit", "document_hits", "is_near_duplicate", "lexical_hits", "retrieve", "rrf_fuse"]


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


def is_near_duplicate(a: Chunk, b: Chunk, threshold: float = 0.6) -> bool:
    """Two chunks of one document sharing most of their characters, or two identical texts anywhere."""
    if a.doc_path == b.doc_path:
        overlap = min(a.end, b.end) - max(a.start, b.start)
        shorter = min(a.end - a.start, b.end - b.start)
        if shorter > 0 and overlap / shorter >= threshold:
            return True
    return a.text.strip().lower() == b.text.strip().lower()


def retrieve(
    store: VectorStore,
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
    # The store fuses: the FAISS store in this process, the Milvus store in the engine (one hybrid search).
    fused = store.fused_search(query, query_vector, candidates, rrf_k, mode)
    hits: list[Hit] = []
    for cid, score in fused.ranking:
        chunk = store.chunks[cid]
        if any(is_near_duplicate(chunk, h.chunk) for h in hits):
            continue
        hits.append(
            Hit(
                chunk_id=cid,
                chunk=chunk,
                score=score,
                dense_rank=fused.dense_rank.get(cid),
                bm25_rank=fused.bm25_rank.get(cid),
                dense_score=float(store.vector(cid) @ query_vector),
                bm25_score=fused.bm25_score.get(cid, 0.0),
            )
        )
        if len(hits) >= top_k:
            break
    return hits


def document_hits(
    store: VectorStore,
    doc_path: str,
    query_vector: np.ndarray,
    have: Sequence[Hit],
    limit: int,
    only_card: bool = False,
) -> list[Hit]:
    """Chunks of one document that retrieval did not return, in document order, at most `limit`: what a
    summary of the whole document is chosen from (the five best chunks of a long document are not it).
    Ranked after every retrieved hit (score 0, no rank of their own). `only_card`: its document card alone,
    which a question about the document itself ("Who wrote it?") is answered from."""

    entry = store.manifest.documents.get(doc_path)
    if entry is None:
        return []
    taken = {h.chunk_id for h in have}
    out: list[Hit] = []
    for cid in entry.chunk_ids:
        if cid in taken or cid not in store.chunks:
            continue
        chunk = store.chunks[cid]
        if only_card and chunk.heading != CARD_HEADING:
            continue
        out.append(Hit(cid, chunk, 0.0, None, None, float(store.vector(cid) @ query_vector), 0.0))
        if len(out) >= limit:
            break
    return out


def lexical_hits(
    store: VectorStore,
    query: str,
    query_vector: np.ndarray,
    have: Sequence[Hit],
    keep: Callable[[Chunk], bool],
    depth: int,
    limit: int,
) -> list[Hit]:
    """BM25's top `depth` chunks that `keep` accepts and retrieval did not return, at most `limit`: for a
    question whose key is a literal ("What happened on 19 September 2025?"), which dense search cannot see
    and fusion can rank below the top k. Ranked after every retrieved hit."""
    taken = {h.chunk_id for h in have}
    out: list[Hit] = []
    for cid, score in store.search_bm25(query, depth):
        chunk = store.chunks.get(cid)
        if cid in taken or chunk is None or not keep(chunk):
            continue
        out.append(Hit(cid, chunk, 0.0, None, None, float(store.vector(cid) @ query_vector), score))
        if len(out) >= limit:
            break
    return out
