"""PyTorch vs ONNX Runtime int8 for the embedding model: speed (index-time late pooling, query-time) and quality.

    .venv/bin/python bench/embed_backends.py       # prints one JSON object

Quality is retrieval on the evaluation set with each backend's own index of corpus/ (hybrid, the product, and
dense, where the embedding alone decides). Speed is measured side by side, A/B/A/B, on the chunks of the
synthetic corpus, so load from other processes hits both alike.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from common import CORPUS, eval_queries, latency_ms, log, median, pct, stopwatch
from retrieval_quality import quality
from synthetic_corpus import write_corpus

from qa.chunking import Chunk, chunk_with_settings
from qa.config import Settings
from qa.corpus import load_sources, read_document
from qa.embedding import Embedder
from qa.embedding.pytorch import SentenceTransformerEmbedder
from qa.indexing import build_index
from qa.stores.faiss import Store
from qa.walk import find_files

SPEED_CHUNKS = 256
ROUNDS = 2


def corpus_chunks(corpus: Path, embedder: Embedder, settings: Settings) -> list[Chunk]:
    """The chunks `qa index` would embed for `corpus`."""
    sources = load_sources(corpus)
    chunks: list[Chunk] = []
    for path in find_files(corpus):
        doc = read_document(path, corpus, sources, settings.max_file_bytes)
        chunks.extend(chunk_with_settings(doc, embedder.count_tokens, settings))
    return chunks


def run(work: Path) -> dict[str, Any]:
    from qa.embedding.onnx import OnnxEmbedder, onnx_available

    if not onnx_available():
        return {"skipped": "onnxruntime or onnx is not installed (pip install -e '.[onnx]')"}
    settings = Settings(corpus_dir=CORPUS)
    torch_embedder = SentenceTransformerEmbedder(settings.model_path, settings.embed_batch_size)
    with stopwatch() as export_s:
        onnx_embedder = OnnxEmbedder(settings.model_path, work / "onnx-cache", settings.embed_batch_size)
    log(f"ONNX export and quantisation: {export_s[0]:.1f} s")
    fp32 = OnnxEmbedder(settings.model_path, work / "onnx-cache", settings.embed_batch_size, quantize=False)
    backends: dict[str, Embedder] = {"torch": torch_embedder, "onnx_int8": onnx_embedder, "onnx_fp32": fp32}

    queries = eval_queries()
    scores = {}
    for name, embedder in backends.items():
        index_settings = settings.replace(index_dir=work / f"index-{name}")
        build_index(index_settings, embedder, rebuild=True, show_progress=False)
        scores[name] = quality(Store.load(index_settings.index_dir), embedder, queries, index_settings)
        log(f"{name}: {scores[name]}")

    synthetic = work / "synthetic"
    if not synthetic.is_dir():
        write_corpus(synthetic)
    chunks = corpus_chunks(synthetic, torch_embedder, settings)[:SPEED_CHUNKS]
    texts = [c.embed_text() for c in chunks]
    spans = [c.sentence_spans() for c in chunks]
    questions = [q.question for q in queries]
    index_s: dict[str, list[float]] = {name: [] for name in backends}
    query_ms: dict[str, list[float]] = {name: [] for name in backends}
    for embedder in backends.values():  # warm up
        embedder.embed_with_spans(texts[:32], spans[:32])
        embedder.embed(questions[:5])
    for _ in range(ROUNDS):
        for name, embedder in backends.items():
            with stopwatch() as t:
                embedder.embed_with_spans(texts, spans)
            index_s[name].append(t[0])
            for q in questions:
                query_ms[name].extend(latency_ms(lambda e=embedder, q=q: e.embed([q])))  # type: ignore[misc]
    result: dict[str, Any] = {
        "export_s": round(export_s[0], 1),
        "chunks_timed": len(texts),
        "backends": {},
    }
    for name in backends:
        result["backends"][name] = {
            "name": backends[name].name,
            "index_chunks_per_s": round(len(texts) / median(index_s[name]), 1),
            "query_embed_p50_ms": round(pct(query_ms[name], 50), 2),
            "query_embed_p95_ms": round(pct(query_ms[name], 95), 2),
            **{f"{mode}_{k}": round(v, 4) for mode, s in scores[name].items() for k, v in s.items()},
        }
    t, o = result["backends"]["torch"], result["backends"]["onnx_int8"]
    result["index_speedup"] = round(o["index_chunks_per_s"] / t["index_chunks_per_s"], 2)
    result["query_speedup"] = round(t["query_embed_p50_ms"] / o["query_embed_p50_ms"], 2)
    result["hybrid_hit5_points"] = round(100 * (o["hybrid_hit5"] - t["hybrid_hit5"]), 1)
    result["dense_hit5_points"] = round(100 * (o["dense_hit5"] - t["dense_hit5"]), 1)
    result["hybrid_mrr10_points"] = round(100 * (o["hybrid_mrr10"] - t["hybrid_mrr10"]), 1)
    result["dense_mrr10_points"] = round(100 * (o["dense_mrr10"] - t["dense_mrr10"]), 1)
    return result


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        print(json.dumps(run(Path(tmp)), indent=2))
