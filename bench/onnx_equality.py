"""Is fp32 ONNX the same embedder as PyTorch? Vectors and metrics, on the evaluation set and on NFCorpus.

    .venv/bin/python bench/onnx_equality.py                 # writes bench/onnx_equality.json and a section
    .venv/bin/python bench/onnx_equality.py --nfcorpus DIR  # of bench/results.md ("## ONNX equality")

1. **Vectors.** Every chunk of corpus/ (its vector and its sentences' late-pooled vectors, as `qa index`
   makes them), every evaluation query, and every NFCorpus document and test query, embedded by both
   backends: the largest difference of one component, and the lowest cosine between the two vectors of one
   text. Tolerance (stated before measuring): max |difference| <= 1e-4 and cosine >= 0.9999.
2. **Metrics on the evaluation set.** `qa eval --quick` (extractive, hybrid retrieval: every metric of the
   `make test` gate) with each backend's own index of corpus/.
3. **Metrics on NFCorpus** (BEIR format, read directly: corpus.jsonl, queries.jsonl, qrels/test.tsv; title
   and text of each document, truncated at the model's 256 word pieces by both backends alike). Dense
   retrieval only, exact inner product over all documents, so the embedding alone decides: nDCG@10 (graded
   relevance), recall@100, MRR@10. Tolerance: every metric within 0.005.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import CORPUS, ROOT, eval_queries, log, machine
from embed_backends import corpus_chunks
from serving import write_section

from qa.config import EmbedBackend, Settings
from qa.embedding import Embedder
from qa.embedding.onnx import OnnxEmbedder
from qa.embedding.pytorch import SentenceTransformerEmbedder

RESULTS_JSON = ROOT / "bench" / "onnx_equality.json"
RESULTS_MD = ROOT / "bench" / "results.md"
SECTION = "## ONNX equality"
NFCORPUS = ROOT.parent / "shared" / "datasets" / "nfcorpus"
MAX_ABS_DIFF = 1e-4
MIN_COSINE = 0.9999
METRIC_TOLERANCE = 0.005


def vector_diff(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Largest component difference and lowest row cosine between two stacks of unit vectors."""
    if len(a) == 0:
        return {"n": 0, "max_abs_diff": 0.0, "min_cosine": 1.0}
    return {
        "n": len(a),
        "max_abs_diff": float(np.abs(a - b).max()),
        "mean_abs_diff": float(np.abs(a - b).mean()),
        "min_cosine": float((a * b).sum(axis=1).min()),
    }


def corpus_vectors(embedders: dict[str, Embedder], settings: Settings) -> dict[str, dict[str, float]]:
    """Chunk and late-pooled sentence vectors of corpus/, and the evaluation queries, by both backends."""
    chunks = corpus_chunks(CORPUS, embedders["onnx"], settings)
    texts, spans = [c.embed_text() for c in chunks], [c.sentence_spans() for c in chunks]
    queries = [q.query for q in eval_queries()]
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, embedder in embedders.items():
        vectors, sentence_vectors = embedder.embed_with_spans(texts, spans)
        out[name] = {
            "chunks": vectors,
            "sentences": np.concatenate(sentence_vectors),
            "queries": embedder.embed(queries),
        }
    return {kind: vector_diff(out["torch"][kind], out["onnx"][kind]) for kind in out["torch"]}


def eval_metrics(embedders: dict[str, Embedder], settings: Settings, work: Path) -> dict[str, dict[str, Any]]:
    """`qa eval --quick`'s overall metrics with each backend's own index of a copy of corpus/."""
    from qa.engine import QA
    from qa.eval_types import MAIN
    from qa.evaluation import run_eval
    from qa.indexing import build_index

    shutil.copytree(CORPUS, work / "corpus")
    metrics: dict[str, dict[str, Any]] = {}
    for name, embedder in embedders.items():
        backend = EmbedBackend.TORCH if name == "torch" else EmbedBackend.ONNX
        s = settings.replace(
            corpus_dir=work / "corpus", index_dir=work / f"index-{name}", embed_backend=backend
        )
        build_index(s, embedder, show_progress=False)
        out = work / f"eval-{name}"
        with contextlib.redirect_stdout(io.StringIO()):
            run_eval(s, out=out, quick=True, qa=QA(s, embedder=embedder))
        result = json.loads((out / "latest.json").read_text(encoding="utf-8"))
        overall = result["summary"][MAIN]["overall"]
        metrics[name] = {
            k: v
            for k, v in overall.items()
            if isinstance(v, int | float) and not k.endswith("_ms")  # quality only, not timings
        }
    return metrics


def read_nfcorpus(folder: Path) -> tuple[list[str], list[str], dict[str, str], dict[str, dict[str, int]]]:
    """(doc ids, doc texts, test query id -> text, qrels) from a BEIR folder."""
    ids, texts = [], []
    with (folder / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            ids.append(doc["_id"])
            texts.append(f"{doc.get('title', '')}. {doc['text']}".strip(". "))
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (folder / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        next(fh)  # header
        for line in fh:
            qid, did, score = line.rstrip("\n").split("\t")
            qrels[qid][did] = int(score)
    queries = {}
    with (folder / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            if q["_id"] in qrels:
                queries[q["_id"]] = q["text"]
    return ids, texts, queries, dict(qrels)


def ranking_metrics(
    ranked: Sequence[Sequence[str]], qids: Sequence[str], qrels: dict[str, dict[str, int]]
) -> dict[str, float]:
    """Mean nDCG@10 (graded gains, BEIR's formula), recall@100 and MRR@10 over the queries."""
    ndcg, recall, mrr = [], [], []
    for qid, docs in zip(qids, ranked, strict=True):
        rel = qrels[qid]
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(docs[:10]))
        ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:10]))
        ndcg.append(dcg / ideal if ideal else 0.0)
        relevant = {d for d, g in rel.items() if g > 0}
        recall.append(len(relevant & set(docs[:100])) / len(relevant) if relevant else 0.0)
        mrr.append(next((1 / (i + 1) for i, d in enumerate(docs[:10]) if d in relevant), 0.0))
    return {
        "ndcg@10": float(np.mean(ndcg)),
        "recall@100": float(np.mean(recall)),
        "mrr@10": float(np.mean(mrr)),
    }


def sample_corpus(
    ids: list[str], texts: list[str], queries: dict[str, str], qrels: dict[str, dict[str, int]], n_docs: int
) -> tuple[list[str], list[str], dict[str, str], dict[str, dict[str, int]]]:
    """A random `n_docs` of the documents (seed 0); judgements restricted to them, and only the test queries
    with a relevant document left. Both backends see the same sample, so the comparison stays paired."""
    if n_docs >= len(ids):
        return ids, texts, queries, qrels
    keep = sorted(np.random.default_rng(0).choice(len(ids), n_docs, replace=False).tolist())
    kept = {ids[i] for i in keep}
    qrels = {q: {d: g for d, g in rel.items() if d in kept} for q, rel in qrels.items()}
    qrels = {q: rel for q, rel in qrels.items() if any(g > 0 for g in rel.values())}
    return (
        [ids[i] for i in keep],
        [texts[i] for i in keep],
        {q: t for q, t in queries.items() if q in qrels},
        qrels,
    )


def nfcorpus(embedders: dict[str, Embedder], folder: Path, n_docs: int) -> dict[str, Any]:
    full = read_nfcorpus(folder)
    ids, texts, queries, qrels = sample_corpus(*full, n_docs)
    qids = list(queries)
    vectors: dict[str, dict[str, np.ndarray]] = {}
    metrics: dict[str, dict[str, float]] = {}
    seconds: dict[str, float] = {}
    for name, embedder in embedders.items():
        started = time.perf_counter()
        docs = embedder.embed(texts)
        seconds[name] = time.perf_counter() - started
        qv = embedder.embed([queries[q] for q in qids])
        vectors[name] = {"documents": docs, "queries": qv}
        top = np.argsort(-(qv @ docs.T), axis=1)[:, :100]
        metrics[name] = ranking_metrics([[ids[j] for j in row] for row in top], qids, qrels)
        log(f"nfcorpus {name}: {metrics[name]} ({seconds[name]:.0f} s to embed {len(texts)} documents)")
    return {
        "documents": len(ids),
        "documents_in_corpus": len(full[0]),
        "test_queries": len(qids),
        "vectors": {
            k: vector_diff(vectors["torch"][k], vectors["onnx"][k]) for k in ("documents", "queries")
        },
        "metrics": metrics,
        "embed_documents_s": {k: round(v, 1) for k, v in seconds.items()},
    }


def verdict(result: dict[str, Any]) -> list[str]:
    """Every way the result breaks the stated tolerances (empty: ONNX fp32 is equal)."""
    problems = []
    groups = {
        "corpus": result["vectors"],
        **{f"nfcorpus {k}": v for k, v in result.get("nfcorpus", {}).get("vectors", {}).items()},
    }
    for where, diffs in groups.items():
        for kind, d in ({where: diffs} if "n" in diffs else diffs).items():
            if d["n"] and (d["max_abs_diff"] > MAX_ABS_DIFF or d["min_cosine"] < MIN_COSINE):
                problems.append(f"{where} {kind}: {d}")
    tables = {"eval": result["eval_metrics"], "nfcorpus": result.get("nfcorpus", {}).get("metrics", {})}
    for where, table in tables.items():
        for metric, value in table.get("torch", {}).items():
            other = table["onnx"].get(metric)
            if (
                isinstance(value, int | float)
                and isinstance(other, int | float)
                and abs(other - value) > METRIC_TOLERANCE
            ):
                problems.append(f"{where} {metric}: torch {value} vs onnx {other}")
    return problems


def markdown(r: dict[str, Any]) -> str:
    lines = [
        SECTION,
        "",
        f"`bench/onnx_equality.py`, {r['measured']}; load average at start "
        f"{', '.join(str(x) for x in r['machine']['load_average_at_start'])}. Tolerances stated before measuring: "
        f"vectors max |Δ| ≤ {MAX_ABS_DIFF:g} and cosine ≥ {MIN_COSINE}; metrics within {METRIC_TOLERANCE}.",
        "",
        "| texts (PyTorch vs fp32 ONNX) | n | max \\|Δ\\| of a component | mean \\|Δ\\| | lowest cosine |",
        "|---|---:|---:|---:|---:|",
    ]
    rows = [(f"corpus/ {k}", v) for k, v in r["vectors"].items()]
    nf = r.get("nfcorpus", {})
    rows += [(f"NFCorpus {k}", v) for k, v in nf.get("vectors", {}).items()]
    for name, d in rows:
        lines.append(
            f"| {name} | {d['n']} | {d['max_abs_diff']:.2e} | {d.get('mean_abs_diff', 0):.2e} | {d['min_cosine']:.7f} |"
        )
    if nf:
        lines += [
            "",
            f"NFCorpus: {nf['documents']} of its {nf['documents_in_corpus']} documents"
            + (" (a random sample, seed 0)" if nf["documents"] < nf["documents_in_corpus"] else "")
            + f", {nf['test_queries']} test queries with a relevant document among them; dense retrieval.",
        ]
    lines += ["", "| metric | PyTorch | fp32 ONNX | Δ |", "|---|---:|---:|---:|"]
    for where, table in (("eval", r["eval_metrics"]), ("NFCorpus", r.get("nfcorpus", {}).get("metrics", {}))):
        for metric, value in table.get("torch", {}).items():
            other = table["onnx"][metric]
            lines.append(f"| {where} {metric} | {value:.4f} | {other:.4f} | {other - value:+.4f} |")
    lines += [
        "",
        f"Verdict: {'equal within the tolerances' if not r['problems'] else 'NOT equal: ' + '; '.join(r['problems'])}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nfcorpus", type=Path, default=NFCORPUS, help="BEIR NFCorpus folder")
    parser.add_argument("--skip-nfcorpus", action="store_true")
    parser.add_argument(
        "--nfcorpus-docs", type=int, default=10**9, help="embed a random sample of this many documents (all)"
    )
    args = parser.parse_args()
    load = machine()
    settings = Settings(corpus_dir=CORPUS)
    with tempfile.TemporaryDirectory(prefix="qa-onnx-eq-") as tmp:
        work = Path(tmp)
        embedders: dict[str, Embedder] = {
            "torch": SentenceTransformerEmbedder(settings.model_path, settings.embed_batch_size),
            "onnx": OnnxEmbedder(
                settings.model_path, settings.cache_dir / "onnx", settings.embed_batch_size, quantize=False
            ),
        }
        result: dict[str, Any] = {"machine": load, "measured": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        result["vectors"] = corpus_vectors(embedders, settings)
        log(f"corpus vectors: {result['vectors']}")
        result["eval_metrics"] = eval_metrics(embedders, settings, work)
        log(f"eval metrics: {result['eval_metrics']}")
        if not args.skip_nfcorpus:
            if not (args.nfcorpus / "corpus.jsonl").is_file():
                print(
                    f"onnx_equality: no NFCorpus at {args.nfcorpus} (--nfcorpus DIR or --skip-nfcorpus)",
                    file=sys.stderr,
                )
                return 2
            result["nfcorpus"] = nfcorpus(embedders, args.nfcorpus, args.nfcorpus_docs)
    result["problems"] = verdict(result)
    RESULTS_JSON.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_section(RESULTS_MD, SECTION, markdown(result))
    print(markdown(result))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
