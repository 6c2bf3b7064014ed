"""FAISS (our policy) beside Milvus Lite, through the same store seam, in one run.

    nice .venv/bin/python bench/milvus.py                # 100k and 1M chunks
    nice .venv/bin/python bench/milvus.py 20000 100000   # other sizes

For each size: synthetic 384-d chunk vectors shaped like sentence embeddings (bench/scale.py), one sentence
per chunk, a short text for BM25. Build = `new_store` + `add` in batches + `save` (the FAISS store trains
IVF past 50k; Milvus Lite inserts, builds its HNSW segments and flushes). Query = single-vector
`store.search(q, 10)`; recall@10 against exact search. Rows go to bench/results.json ("stores", other keys
kept) and a "Stores" section of bench/results.md.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import log, pct
from scale import DIM, clustered_vectors, rss_mb

from qa.chunking import Chunk, Sentence
from qa.config import Settings, StoreKind
from qa.stores import DocumentRecord, Manifest, new_store, open_store
from qa.stores.faiss_index import recall

SIZES = (100_000, 1_000_000)
QUERIES = 200
BATCH = 10_000
HERE = Path(__file__).resolve().parent
SECTION = "## Stores: FAISS vs Milvus Lite"


def _chunk(i: int) -> Chunk:
    text = f"Chunk {i} is about topic{i % 997} and code X{i}."
    return Chunk(f"doc{i // 20}.txt", "Title", "", None, 0, len(text), (Sentence(0, len(text), text),))


def measure(kind: StoreKind, vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray) -> dict[str, Any]:
    n = len(vectors)
    with tempfile.TemporaryDirectory(dir=HERE.parent / "index") as folder:
        settings = Settings(index_dir=Path(folder), store=kind)
        before = rss_mb()
        started = time.perf_counter()
        store = new_store(settings, Manifest(model="synthetic", dim=DIM, chunker={}, next_id=n))
        for start in range(0, n, BATCH):
            ids = list(range(start, min(n, start + BATCH)))
            batch = vectors[start : start + len(ids)]
            store.add(ids, [_chunk(i) for i in ids], batch, [batch[j : j + 1] for j in range(len(ids))])
        store.manifest.documents = {"all": DocumentRecord(tuple(range(n)))}
        store.save()
        build_s = time.perf_counter() - started
        reader = open_store(settings)
        reader.search(queries[0], 10)  # first query loads lazily built state
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            found.append([cid for cid, _ in reader.search(q, 10)])
            times.append((time.perf_counter() - t0) * 1000)
        return {
            "n": n,
            "store": kind.value,
            "build_s": round(build_s, 1),
            "query_p50_ms": round(pct(times, 50), 2),
            "query_p95_ms": round(pct(times, 95), 2),
            "recall10": round(recall(np.asarray(found), exact), 4),
            "rss_growth_mb": round(rss_mb() - before, 1),
        }


def run(sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    import faiss

    rows = []
    for n in sizes:
        vectors, queries = clustered_vectors(n, QUERIES)
        _, exact = faiss.knn(queries, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
        for kind in StoreKind:
            row = measure(kind, vectors, queries, exact)
            log(f"stores: {row}")
            rows.append(row)
    return rows


def write(rows: list[dict[str, Any]]) -> None:
    path = HERE / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results["stores"] = rows
    path.write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        SECTION,
        "",
        "| chunks | store | build (s) | query p50 (ms) | query p95 (ms) | recall@10 |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['n']:,} | {r['store']} | {r['build_s']} | {r['query_p50_ms']} | {r['query_p95_ms']} | "
            f"{r['recall10']} |"
            for r in rows
        ),
        "",
        "Same run, same synthetic 384-d vectors (bench/milvus.py): build through the store seam (add + save, "
        "sentence vectors and BM25 included), single-vector searches, recall@10 vs exact. FAISS is exact up "
        "to 50k chunks, then IVF with calibrated nprobe; Milvus Lite uses HNSW (M=16, ef=96) per segment.",
    ]
    md = HERE / "results.md"
    text = md.read_text() if md.exists() else ""
    parts = text.split("\n## ")
    kept = [p for p in parts[1:] if not ("## " + p).startswith(SECTION)]
    md.write_text(
        "\n## ".join([parts[0].rstrip("\n") + "\n", *kept]).rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    )


if __name__ == "__main__":
    chosen = tuple(int(a) for a in sys.argv[1:]) or SIZES
    rows = run(chosen)
    write(rows)
    print(json.dumps(rows, indent=2))
