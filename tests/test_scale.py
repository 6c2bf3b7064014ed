"""The store past its exact-search threshold: IVF against brute force, removal, save/load, switching kinds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.config import VectorIndexPolicy
from qa.stores import Manifest
from qa.stores import faiss_index as vector_index
from qa.stores.faiss import Store
from qa.stores.faiss_index import IndexKind
from tests.conftest import make_chunk

N, DIM = 20_000, 64
POLICY = VectorIndexPolicy(exact_max=2_000, calibration_queries=128)


def clustered(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """Unit vectors around n/200 topic centres, like sentence embeddings of a many-topic corpus."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(4, n // 200), dim)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.8 * rng.standard_normal((n, dim)).astype(np.float32)
    out: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def near(vectors: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    """Queries close to (not equal to) some indexed vectors."""
    rng = np.random.default_rng(seed)
    q = vectors[rng.choice(len(vectors), count, replace=False)]
    q = q + 0.05 * rng.standard_normal(q.shape).astype(np.float32)
    out: np.ndarray = q / np.linalg.norm(q, axis=1, keepdims=True)
    return out


def brute_force(vectors: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    return [int(i) for i in ids[np.argsort(-(vectors @ q))[:k]]]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    ids = np.arange(N, dtype=np.int64) * 2 + 5  # sparse ids, as after removals
    return ids, clustered(N)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, data: tuple[np.ndarray, np.ndarray]) -> Path:
    """A store of N vectors saved once past the threshold (so trained as IVF)."""
    ids, vectors = data
    store = Store(Manifest(model="m", dim=DIM, chunker={}), policy=POLICY)
    store.add(
        ids.tolist(),
        [make_chunk(f"doc{i // 10}.txt", "T", (f"Chunk {i}.",), offset=0) for i in ids.tolist()],
        vectors,
        [vectors[i : i + 1] for i in range(N)],
    )
    assert vector_index.kind_of(store.index) is IndexKind.FLAT  # adding does not retrain...
    folder = tmp_path_factory.mktemp("ivf")
    store.save(folder)
    assert vector_index.kind_of(store.index) is IndexKind.IVF  # ...saving does
    return folder


def test_ivf_recall_against_brute_force(saved: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    ids, vectors = data
    store = Store.load(saved)
    index = store.index
    assert vector_index.kind_of(index) is IndexKind.IVF
    assert index.nlist == vector_index.wanted_nlist(N, POLICY)
    assert 1 <= index.nprobe < index.nlist  # calibrated, and not a disguised exhaustive scan
    queries = near(vectors, 100)
    found = np.array([[cid for cid, _ in store.search(q, 10)] for q in queries])
    exact = np.array([brute_force(vectors, ids, q, 10) for q in queries])
    assert vector_index.recall(found, exact) >= 0.95
    # Scores are exact inner products of the stored (unquantised) vectors.
    cid, score = store.search(queries[0], 1)[0]
    assert score == pytest.approx(float(vectors[(cid - 5) // 2] @ queries[0]), abs=1e-5)


def test_ivf_reconstructs_exact_vectors(saved: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    ids, vectors = data
    store = Store.load(saved)
    for row in (0, 1234, N - 1):
        assert np.array_equal(store.vector(int(ids[row])), vectors[row])


def test_removing_one_document_at_scale(
    saved: Path, data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    ids, vectors = data
    store = Store.load(saved, policy=POLICY)
    doc = [int(i) for i in ids[500:510]]  # one document's ten chunks
    store.remove(doc)
    assert store.index.ntotal == len(store) == N - 10
    for row in range(500, 510):
        got = [cid for cid, _ in store.search(vectors[row], 5)]
        assert not set(got) & set(doc)
        assert got  # the neighbours are still found
    with pytest.raises(RuntimeError):
        store.vector(doc[0])
    assert np.array_equal(store.vector(int(ids[511])), vectors[511])
    store.save(tmp_path)  # removal of ten does not retrain: same lists, same nprobe
    reloaded = Store.load(tmp_path)
    assert vector_index.kind_of(reloaded.index) is IndexKind.IVF
    assert reloaded.index.nprobe == store.index.nprobe
    assert reloaded.index.ntotal == N - 10
    assert not {cid for cid, _ in reloaded.search(vectors[505], 10)} & set(doc)


def test_save_load_round_trip_keeps_the_ivf_index(saved: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    _, vectors = data
    first, second = Store.load(saved), Store.load(saved)
    assert first.index.nprobe == second.index.nprobe and first.index.nlist == second.index.nlist
    for q in near(vectors, 20, seed=7):
        assert first.search(q, 10) == second.search(q, 10)


def test_fit_switches_kind_with_hysteresis() -> None:
    policy = VectorIndexPolicy(exact_max=1_000, calibration_queries=32)
    vectors = clustered(3_000, dim=16)
    ids = np.arange(3_000, dtype=np.int64)
    flat = vector_index.new_flat(16)
    flat.add_with_ids(vectors[:1_000], ids[:1_000])
    assert vector_index.fit(flat, policy) is flat  # at the threshold: stays exact
    flat.add_with_ids(vectors[1_000:1_200], ids[1_000:1_200])
    ivf = vector_index.fit(flat, policy)
    assert vector_index.kind_of(ivf) is IndexKind.IVF and ivf.ntotal == 1_200
    got_ids, got_vectors = vector_index.all_vectors(ivf)
    assert np.array_equal(got_ids, ids[:1_200]) and np.array_equal(got_vectors, vectors[:1_200])
    ivf.remove_ids(ids[700:1_200])  # 700 left: above half the threshold, stays IVF
    assert vector_index.fit(ivf, policy) is ivf
    ivf.remove_ids(ids[400:700])  # 400 left: back to exact search
    back = vector_index.fit(ivf, policy)
    assert vector_index.kind_of(back) is IndexKind.FLAT
    assert np.array_equal(vector_index.all_vectors(back)[1], vectors[:400])


def test_ivf_retrains_when_the_count_doubles() -> None:
    policy = VectorIndexPolicy(exact_max=500, calibration_queries=32)
    vectors = clustered(3_000, dim=16)
    ids = np.arange(3_000, dtype=np.int64)
    ivf = vector_index.build_ivf(ids[:1_000], vectors[:1_000], policy)
    ivf.add_with_ids(vectors[1_000:1_500], ids[1_000:1_500])
    assert vector_index.fit(ivf, policy) is ivf  # 1.5x: lists still fit
    ivf.add_with_ids(vectors[1_500:], ids[1_500:])
    refit = vector_index.fit(ivf, policy)  # 3x: retrained with nlist for 3,000
    assert refit is not ivf and refit.nlist == vector_index.wanted_nlist(3_000, policy)


def test_search_restores_the_thread_setting() -> None:
    import faiss

    before = faiss.omp_get_max_threads()
    flat = vector_index.new_flat(8)
    flat.add_with_ids(clustered(50, dim=8), np.arange(50, dtype=np.int64))
    scores, ids = vector_index.search(flat, clustered(1, dim=8, seed=3)[0], 5)
    assert len(ids) == 5 and scores[0] >= scores[-1]
    assert faiss.omp_get_max_threads() == before


def test_policy_defaults_are_sane() -> None:
    policy = VectorIndexPolicy()
    assert policy.exact_max >= 10_000  # small corpora never pay for training or lose recall
    assert vector_index.wanted_nlist(1_000_000, policy) == 4_000
    assert replace(policy, exact_max=0).exact_max == 0
