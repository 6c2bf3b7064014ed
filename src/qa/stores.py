"""The store seam: what indexing, retrieval, answering and the engine may ask of an index, and the factory
that opens the configured one (FAISS files, `qa.store`, or a Milvus collection, `qa.milvus_store`).

Nothing outside this module, the two stores and `qa.config` knows which store is in use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from qa.chunking import Chunk
from qa.config import RetrievalMode, Settings, StoreKind

if TYPE_CHECKING:
    from qa.store import Manifest


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

    def save(self, index_dir: Path) -> str: ...


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


# ---- the factory: the only place that picks a store by the settings -----------------------------------------


def open_store(settings: Settings, writing: bool = False) -> VectorStore:
    """The live index, or an IndexError_ naming the fix (IndexMissing when there is none yet).

    `writing`: opened by `qa index` under the lock, which may repair what a killed run left."""
    if settings.store is StoreKind.MILVUS:
        from qa.milvus_store import MilvusStore

        return MilvusStore.load(settings, writing)
    from qa.store import Store

    return Store.load(settings.index_dir, settings.vector_index)


def new_store(settings: Settings, manifest: Manifest) -> VectorStore:
    """An empty index for a full build; saving it switches readers over atomically."""
    if settings.store is StoreKind.MILVUS:
        from qa.milvus_store import MilvusStore

        return MilvusStore.create(settings, manifest)
    from qa.store import Store

    return Store(manifest, policy=settings.vector_index)


def live_generation(settings: Settings) -> str | None:
    """What a reader compares with its store's `generation` to notice a newer index (None: no index)."""
    if settings.store is StoreKind.MILVUS:
        from qa.milvus_store import live_generation as milvus_generation

        return milvus_generation(settings)
    from qa.store import current_generation

    return current_generation(settings.index_dir)


def prune(settings: Settings) -> None:
    """Remove what killed writers left behind, keeping the live index and the one before it."""
    if settings.store is StoreKind.MILVUS:
        from qa.milvus_store import prune as milvus_prune

        milvus_prune(settings)
        return
    from qa.store import prune as faiss_prune

    faiss_prune(settings.index_dir)
