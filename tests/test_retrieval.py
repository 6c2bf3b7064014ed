"""Fusion, near-duplicate collapsing, and hybrid retrieval finding codes that dense search misses."""

from __future__ import annotations

import numpy as np

from qa.config import RetrievalMode, Settings
from qa.indexing import build_index
from qa.retrieval import Hit, for_answering, is_near_duplicate, retrieve, rrf_fuse
from qa.stores import Manifest
from qa.stores.faiss import Store
from tests.conftest import FakeEmbedder, make_chunk


def test_rrf_rewards_agreement_between_lists() -> None:
    fused = rrf_fuse([[1, 2, 3], [3, 4, 1]], k=60)
    assert [item for item, _ in fused][:2] == [1, 3]
    assert abs(dict(fused)[1] - (1 / 61 + 1 / 63)) < 1e-12
    assert dict(fused)[4] == 1 / 62


def test_rrf_of_one_list_keeps_its_order() -> None:
    assert [i for i, _ in rrf_fuse([[5, 3, 9]])] == [5, 3, 9]


def test_near_duplicates() -> None:
    a = make_chunk("a.txt", "T", ("x" * 100,), offset=0)
    assert is_near_duplicate(a, make_chunk("a.txt", "T", ("y" * 100,), offset=10))
    assert not is_near_duplicate(a, make_chunk("a.txt", "T", ("z" * 100,), offset=90))
    assert is_near_duplicate(
        make_chunk("a.txt", "T", ("Same.",), offset=0), make_chunk("b.txt", "T", ("same.",), offset=0)
    )


def test_bm25_finds_a_code_that_dense_search_misses() -> None:
    """A dense model that knows nothing of 'AHKFTA' (here: random vectors) still gets it via BM25."""
    rng = np.random.default_rng(0)
    texts = [f"Filler passage {i} about regional trade and cooperation." for i in range(50)]
    texts[37] = "The AHKFTA entered into force in 2019."
    chunks = [make_chunk(f"d{i}.txt", "T", (t,), offset=0) for i, t in enumerate(texts)]
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = Store(Manifest(model="m", dim=8, chunker={}))
    store.add(list(range(50)), chunks, vectors, [vectors[i : i + 1] for i in range(50)])
    query_vector = -vectors[37]  # as far from the right chunk as possible
    dense = retrieve(store, "AHKFTA", query_vector, top_k=5, mode=RetrievalMode.DENSE)
    assert 37 not in [h.chunk_id for h in dense]
    hybrid = retrieve(store, "AHKFTA", query_vector, top_k=5)
    found = next(h for h in hybrid if h.chunk_id == 37)  # raises if hybrid retrieval lost it
    assert found.bm25_rank == 1 and found.dense_rank is None  # dense ranked it below its 30 candidates
    years = retrieve(store, "2019", query_vector, top_k=3, mode=RetrievalMode.BM25)
    assert years[0].chunk_id == 37 and years[0].dense_rank is None


def test_hits_are_unique_and_ranked(fake_settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(fake_settings, fake_embedder)
    store = Store.load(fake_settings.index_dir)
    query = "When did the AHKFTA enter into force?"
    hits = retrieve(store, query, fake_embedder.embed([query])[0], top_k=5)
    assert len(hits) == 5
    assert len({h.chunk_id for h in hits}) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert any("AHKFTA" in h.chunk.text for h in hits)


def test_each_side_of_a_comparison_is_retrieved_on_its_own(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    build_index(fake_settings, fake_embedder)
    store = Store.load(fake_settings.index_dir)
    question = "How does ASEAN's trade with Hong Kong, China compare with its trade with China in 2024?"
    vector = fake_embedder.embed([question])[0]
    hits = retrieve(store, question, vector, top_k=2)
    searched: list[str] = []

    def search(side: str) -> list[Hit]:
        searched.append(side)
        return retrieve(store, side, fake_embedder.embed([side])[0], top_k=3)

    found = for_answering(store, question, question, vector, hits, search)
    assert searched == ["ASEAN's trade with Hong Kong, China", "its trade with China in 2024"]
    added = found.hits[len(hits) :]
    assert found.hits[: len(hits)] == tuple(hits) and added  # after the question's own, ranked by nothing
    assert len({h.chunk_id for h in found.hits}) == len(found.hits)
    assert all(h.score == 0.0 and h.dense_rank is None and h.bm25_rank is None for h in added)
    assert all(h.dense_score == float(store.vector(h.chunk_id) @ vector) for h in added)
    # Any other shape of question reads no side.
    for_answering(
        store,
        "When did the AHKFTA enter into force?",
        "When did the AHKFTA enter into force?",
        vector,
        hits,
        search,
    )
    assert len(searched) == 2
