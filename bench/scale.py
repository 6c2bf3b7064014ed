"""Vector search at 10k, 100k and 1M chunks: exact vs IVF, as `qa.stores.faiss_index` builds them.

    .venv/bin/python bench/scale.py                 # 10k, 100k, 1M; prints one JSON object
    .venv/bin/python bench/scale.py 20000 50000     # other sizes

The vectors are synthetic but shaped like sentence embeddings (dim 384, unit length): topics (one per 500
chunks) with a shared low-dimensional spread inside each topic and a little isotropic noise, so a query's
nearest chunk is at cosine ~0.67 and two random chunks at ~0. Queries are held-out points of the same
topics with extra noise; recall@10 is measured against exact search over the same vectors.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np
from common import log, pct

from qa.config import VectorIndexPolicy
from qa.stores import faiss_index as vector_index

DIM = 384
TOPIC_SIZE = 500
LATENT = 32
NOISE = 0.35
QUERY_NOISE = 0.5
QUERIES = 300
SIZES = (10_000, 100_000, 1_000_000)
SWEEP = (16, 64, 256)


def clustered_vectors(n: int, n_queries: int, dim: int = DIM, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` unit vectors with topic structure, and `n_queries` held-out queries near the same topics."""
    rng = np.random.default_rng(seed)
    topics = max(8, n // TOPIC_SIZE)
    centers = rng.standard_normal((topics, dim), dtype=np.float32) / np.sqrt(dim)
    basis = rng.standard_normal((LATENT, dim), dtype=np.float32) / np.sqrt(LATENT * dim)
    total = n + n_queries
    out = np.empty((total, dim), dtype=np.float32)
    for start in range(0, total, 100_000):
        m = min(100_000, total - start)
        x = centers[rng.integers(0, topics, m)]
        x += 0.9 * (rng.standard_normal((m, LATENT), dtype=np.float32) @ basis)
        x += NOISE * rng.standard_normal((m, dim), dtype=np.float32) / np.sqrt(dim)
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    queries = out[n:] + QUERY_NOISE * rng.standard_normal((n_queries, dim), dtype=np.float32) / np.sqrt(dim)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return out[:n], queries


def rss_mb() -> float:
    """Resident memory of this process now, in MiB (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(index: Any, queries: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """p50/p95 of single-query searches (as `Store.search` makes them) and recall@10 vs exact."""
    times, found = [], []
    for q in queries:
        started = time.perf_counter()
        _, ids = vector_index.search(index, q, 10)
        times.append((time.perf_counter() - started) * 1000)
        found.append(ids)
    return {
        "query_p50_ms": round(pct(times, 50), 3),
        "query_p95_ms": round(pct(times, 95), 3),
        "recall10": round(vector_index.recall(np.asarray(found), exact), 4),
    }


def index_bytes(index: Any) -> int:
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def run(sizes: tuple[int, ...] = SIZES, policy: VectorIndexPolicy | None = None) -> list[dict[str, Any]]:
    """Rows {n, index, chosen, build_s, memory_mb, query_p50_ms, query_p95_ms, recall10} for each size."""
    import faiss

    policy = policy or VectorIndexPolicy()
    rows: list[dict[str, Any]] = []
    for n in sizes:
        vectors, queries = clustered_vectors(n, QUERIES)
        ids = np.arange(n, dtype=np.int64) * 3 + 7  # sparse ids, as chunk ids become after removals
        _, rows_exact = faiss.knn(queries, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
        exact = ids[rows_exact]
        chosen = vector_index.IndexKind.IVF if n > policy.exact_max else vector_index.IndexKind.FLAT
        for kind in vector_index.IndexKind:
            before = rss_mb()
            started = time.perf_counter()
            if kind is vector_index.IndexKind.FLAT:
                index = vector_index.new_flat(DIM)
                index.add_with_ids(vectors, ids)
            else:
                index = vector_index.build_ivf(ids, vectors, replace(policy, exact_max=0))
            build_s = time.perf_counter() - started
            grown = rss_mb() - before
            row = {
                "n": n,
                "index": vector_index.describe(index),
                "chosen": kind is chosen,
                "build_s": round(build_s, 2),
                "memory_mb": round(index_bytes(index) / 2**20, 1),
                "rss_growth_mb": round(grown, 1),
                **measure(index, queries, exact),
            }
            if kind is vector_index.IndexKind.IVF:
                # Real embeddings may need a larger nprobe than these: what that would cost.
                calibrated = index.nprobe
                sweep = []
                for nprobe in SWEEP:
                    index.nprobe = nprobe
                    sweep.append({"nprobe": nprobe, **measure(index, queries[:100], exact[:100])})
                index.nprobe = calibrated
                row["nprobe_sweep"] = sweep
            # Removal of one document's vectors (10 chunks) at this size, then the same search still works.
            started = time.perf_counter()
            removed = index.remove_ids(ids[n // 2 : n // 2 + 10])
            row["remove_10_ms"] = round((time.perf_counter() - started) * 1000, 2)
            if removed != 10:
                raise RuntimeError(f"removal at n={n} ({kind}) dropped {removed} of 10 vectors")
            log(f"scale: {row}")
            rows.append(row)
            del index
    return rows


if __name__ == "__main__":
    chosen_sizes = tuple(int(a) for a in sys.argv[1:]) or SIZES
    print(json.dumps(run(chosen_sizes), indent=2))
