"""Which FAISS index holds the chunk vectors, chosen by their number; training and nprobe calibration for IVF.

Small corpora get exact search (`IndexIDMap2(IndexFlatIP)`): at 100k vectors one query scans them in a few
milliseconds, and nothing needs training. Past `VectorIndexPolicy.exact_max` the store switches to
`IndexIVFFlat` with inner product: k-means (spherical, nlist = 4 * sqrt(n)) splits the vectors into lists and
a query scans only the `nprobe` lists nearest to it. The vectors stay exact (no quantisation), so
`Store.vector` returns what was added and re-indexing a renamed file reuses vectors without loss. A hashtable
direct map keeps `reconstruct(id)` and `remove_ids` working with our sparse chunk ids.

When: `fit` runs as the store is saved (`Store.save`, i.e. at the end of every `qa index`). It trains an IVF
index when the count has crossed the threshold, retrains when the count has doubled or halved since training
(nlist no longer fits), and goes back to exact search below half the threshold (the gap stops a corpus near
the line from flapping). Between trainings new vectors join the nearest existing lists, and removals are
immediate. nprobe is calibrated at training on perturbed copies of indexed vectors, to reach
`target_recall` recall@10 against exact search, and is saved inside the FAISS file.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

import numpy as np

from qa.config import VectorIndexPolicy

# Calibration queries are indexed vectors plus isotropic noise of this norm (cosine ~0.8 to their source):
# a question is never identical to a passage, and an off-manifold query is the hard case for IVF.
QUERY_NOISE = 0.75
RECALL_K = 10


class IndexKind(StrEnum):
    FLAT = "flat"
    IVF = "ivf"


def new_flat(dim: int) -> Any:
    """An empty exact index that takes our own ids."""
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def kind_of(index: Any) -> IndexKind:
    import faiss

    return IndexKind.IVF if isinstance(index, faiss.IndexIVF) else IndexKind.FLAT


def describe(index: Any) -> str:
    """'flat' or 'ivf(nlist=..., nprobe=...)', for benchmarks and logs."""
    if kind_of(index) is IndexKind.IVF:
        return f"ivf(nlist={index.nlist}, nprobe={index.nprobe})"
    return "flat"


def search(index: Any, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and ids of the top k for one query, on one OpenMP thread.

    One query is a few milliseconds of work: FAISS's default of one thread per core makes it wait at
    barriers instead, and on a busy 2-core machine exact search over 10k vectors took 75 ms on 2 threads
    against 0.7 ms on 1. The setting is per calling thread (OpenMP's nthreads-var), so a concurrent
    index build in another thread keeps its cores; it is restored afterwards.
    """
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
    finally:
        faiss.omp_set_num_threads(previous)
    return scores[0], ids[0]


def wanted_nlist(n: int, policy: VectorIndexPolicy) -> int:
    """nlist = nlist_factor * sqrt(n), at least 1."""
    return max(1, round(policy.nlist_factor * math.sqrt(n)))


def wanted_kind(index: Any, policy: VectorIndexPolicy) -> IndexKind:
    """Exact above half the threshold only if already exact; IVF below the threshold only if already IVF."""
    n, kind = index.ntotal, kind_of(index)
    if n > policy.exact_max:
        return IndexKind.IVF
    if kind is IndexKind.IVF and n * policy.refit_factor >= policy.exact_max:
        return IndexKind.IVF
    return IndexKind.FLAT


def needs_fit(index: Any, policy: VectorIndexPolicy) -> bool:
    """True when `fit` would build a new index (kind change, or an IVF whose nlist is off by the factor)."""
    want = wanted_kind(index, policy)
    if want is not kind_of(index):
        return True
    if want is IndexKind.IVF:
        ratio = wanted_nlist(index.ntotal, policy) / float(index.nlist)
        # nlist grows as sqrt(n): n off by refit_factor means nlist off by its square root.
        limit = math.sqrt(policy.refit_factor)
        return ratio > limit or ratio < 1 / limit
    return False


def fit(index: Any, policy: VectorIndexPolicy) -> Any:
    """The index to keep for this many vectors: `index` itself, or a new one holding the same ids and vectors."""
    if not needs_fit(index, policy):
        return index
    ids, vectors = all_vectors(index)
    if wanted_kind(index, policy) is IndexKind.FLAT:
        flat = new_flat(vectors.shape[1])
        flat.add_with_ids(vectors, ids)
        return flat
    return build_ivf(ids, vectors, policy)


def all_vectors(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every (id, vector) an index holds, ids ascending."""
    import faiss

    d = index.d
    if kind_of(index) is IndexKind.IVF:
        lists = index.invlists
        id_parts, vec_parts = [], []
        for list_no in range(index.nlist):
            size = lists.list_size(list_no)
            if size == 0:
                continue
            id_parts.append(faiss.rev_swig_ptr(lists.get_ids(list_no), size).copy())
            codes = faiss.rev_swig_ptr(lists.get_codes(list_no), size * lists.code_size).copy()
            vec_parts.append(codes.view(np.float32).reshape(size, d))
        ids = np.concatenate(id_parts) if id_parts else np.zeros(0, dtype=np.int64)
        vectors = np.concatenate(vec_parts) if vec_parts else np.zeros((0, d), dtype=np.float32)
    else:
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, d), np.float32)
    order = np.argsort(ids, kind="stable")
    return ids[order], np.ascontiguousarray(vectors[order], dtype=np.float32)


def build_ivf(ids: np.ndarray, vectors: np.ndarray, policy: VectorIndexPolicy) -> Any:
    """Train an IVF index on a sample of `vectors`, add them all under `ids`, and calibrate nprobe."""
    import faiss

    n, d = vectors.shape
    nlist = min(wanted_nlist(n, policy), n)
    rng = np.random.default_rng(policy.seed)
    sample_size = min(n, policy.train_per_list * nlist)
    sample = vectors[np.sort(rng.choice(n, size=sample_size, replace=False))]
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)  # keeps quantizer alive
    index.cp.spherical = True  # centroids on the unit sphere, as the vectors are
    index.cp.seed = policy.seed
    index.cp.min_points_per_centroid = 1  # a small sample is the point; silence FAISS's warning
    index.train(sample)
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]  # not in the stubs
    index.add_with_ids(vectors, ids)
    index.nprobe = calibrate_nprobe(index, ids, vectors, policy, rng)
    return index


def calibrate_nprobe(
    index: Any, ids: np.ndarray, vectors: np.ndarray, policy: VectorIndexPolicy, rng: np.random.Generator
) -> int:
    """The smallest nprobe (of 1, 2, 3, 4, 6, 9, 14, 21, 32, 48, ...) whose recall@10 vs exact search reaches the target."""
    import faiss

    n, d = vectors.shape
    count = min(policy.calibration_queries, n)
    picked = vectors[rng.choice(n, size=count, replace=False)]
    noise = rng.standard_normal((count, d)).astype(np.float32)
    noise *= QUERY_NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
    queries = picked + noise
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    k = min(RECALL_K, n)
    _, rows = faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
    exact = ids[rows]
    nprobe = 1
    while True:
        index.nprobe = nprobe
        _, found = index.search(queries, k)
        if recall(found, exact) >= policy.target_recall or nprobe >= index.nlist:
            return int(min(nprobe, index.nlist))
        nprobe = max(nprobe + 1, round(nprobe * 1.5))


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each row of `exact` that the same row of `found` contains."""
    if exact.size == 0:
        return 1.0
    hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, exact, strict=True))
    return hits / exact.size
