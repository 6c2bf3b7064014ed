"""The store seam: what indexing, retrieval, answering and the engine may ask of an open index, and the
fusion of its two rankings (dense and BM25) for a store that does not fuse them itself.

The types the seam speaks live beside it: `Manifest` and `DocumentRecord` (`qa.stores.manifest`), the
errors (`qa.stores.errors`), a chunk's JSON (`qa.stores.codec`). Each backend imports these, never another
backend; the factory in `qa.stores` is the one place that picks a backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from qa.chunking import Chunk
from qa.config import RetrievalMode
from qa.stores.manifest import Manifest


class VectorStore(Protocol):
    """An open index: chunk records, chunk and sentence vectors, lexical search and the manifest."""

    @property
    def manifest(self) -> Manifest: ...

    @property
    def generation(self) -> str: ...

    @property
    def chunks(self) -> Mapping[int, Chunk]: ...

    @property
    def sentence_vectors(self) -> Mapping[int, np.ndarray]: ...

    def __len__(self) -> int: ...

    def add(
        self, ids: list[int], chunks: list[Chunk], vectors: np.ndarray, sentence_vectors: list[np.ndarray]
    ) -> None: ...

    def remove(self, ids: list[int]) -> None: ...

    def vector(self, chunk_id: int) -> np.ndarray: ...

    def search(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]: ...

    def search_bm25(self, query: str, k: int) -> list[tuple[int, float]]: ...

    def fused_search(
        self, query: str, query_vector: np.ndarray, k: int, rrf_k: int, mode: RetrievalMode
    ) -> Fused: ...

    def term_frequencies(self) -> Mapping[str, int]: ...

    def save(self) -> str:
        """Make what the store holds the live index where it was opened or created (the settings' index
        folder, or Milvus collection), switching readers over atomically; returns the new generation."""
        ...


@dataclass(frozen=True)
class Fused:
    """A fused ranking, best first, with each route's rank where the store reports it."""

    ranking: list[tuple[int, float]]
    dense_rank: dict[int, int] = field(default_factory=dict)
    bm25_rank: dict[int, int] = field(default_factory=dict)
    bm25_score: dict[int, float] = field(default_factory=dict)


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


def fuse_here(
    store: VectorStore, query: str, query_vector: np.ndarray, k: int, rrf_k: int, mode: RetrievalMode
) -> Fused:
    """Dense and BM25 top-k from the store, fused in this process (two short lists: cheap at any scale)."""
    dense = store.search(query_vector, k) if mode != RetrievalMode.BM25 else []
    lexical = store.search_bm25(query, k) if mode != RetrievalMode.DENSE else []
    return Fused(
        rrf_fuse([[cid for cid, _ in dense], [cid for cid, _ in lexical]], k=rrf_k),
        {cid: r for r, (cid, _) in enumerate(dense, start=1)},
        {cid: r for r, (cid, _) in enumerate(lexical, start=1)},
        dict(lexical),
    )
