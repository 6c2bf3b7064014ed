"""NFCorpus (BEIR): 3,633 medical abstracts, retrieval only, scored with graded relevance on the test split.

One document per abstract, its title in sources.toml, so every chunk carries the title as context (for BM25
and the embedder alike), as BEIR's systems index title and text together. A long abstract becomes several
chunks; a document ranks where its best chunk ranks (chunks -> documents, first occurrence wins).

Rankings come from the store's own fused search (`VectorStore.fused_search`, what `qa.retrieval.retrieve`
calls), taken deep enough for recall@100. `retrieve` then also collapses chunks with identical text, which
a chat wants but a benchmark must not: 40 NFCorpus documents duplicate another's text, and both are judged.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.config import RetrievalMode
from qa.datasets import scores as s
from qa.datasets.base import CorpusDoc, fixed_sample, require_file

if TYPE_CHECKING:
    from qa.engine import QA

FOLDER = "nfcorpus"
SPLIT = "test"
NDCG_K, RECALL_K = 10, 100
# Chunks asked of each retriever: enough that 100 distinct documents remain after chunks are merged.
DEPTH = 400
# Published nDCG@10 on the 323 test queries (datasets README): BEIR paper, Pyserini, MTEB.
PUBLISHED = {
    "BM25, Elasticsearch (BEIR paper)": 0.325,
    "BM25, Anserini flat": 0.322,
    "all-MiniLM-L6-v2 (MTEB)": 0.31,
    "bge-base-en-v1.5": 0.374,
}
MODES = (RetrievalMode.BM25, RetrievalMode.DENSE, RetrievalMode.HYBRID)


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    qrels: dict[str, int]  # document id -> graded relevance


def data_files(root: Path) -> list[Path]:
    folder = root / FOLDER
    return [
        require_file(folder / "corpus.jsonl", "NFCorpus corpus.jsonl"),
        require_file(folder / "queries.jsonl", "NFCorpus queries.jsonl"),
        require_file(folder / "qrels" / f"{SPLIT}.tsv", f"NFCorpus qrels/{SPLIT}.tsv"),
    ]


def load(root: Path) -> tuple[list[CorpusDoc], list[Query]]:
    """The abstracts as documents, and the test queries that have judgements, in id order."""
    corpus_file, queries_file, qrels_file = data_files(root)
    docs = []
    with corpus_file.open(encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            docs.append(CorpusDoc(f"{d['_id']}.txt", d["title"].strip() or d["_id"], d["text"]))
    qrels: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    texts = {}
    with queries_file.open(encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            texts[q["_id"]] = q["text"]
    missing = sorted(set(qrels) - set(texts))
    if missing:
        raise ValueError(f"{qrels_file}: {len(missing)} judged queries are not in {queries_file}")
    return docs, [Query(qid, texts[qid], qrels[qid]) for qid in sorted(qrels)]


def quick_corpus(
    docs: Sequence[CorpusDoc], queries: Sequence[Query], size: int, seed: int
) -> tuple[list[CorpusDoc], list[Query]]:
    """The regression gate's set: a fixed random sub-corpus of `size` documents, and the queries it judges.

    The whole corpus is 7,872 chunks: many minutes of embedding for a CI machine that starts with an empty
    cache, and the queries' judged documents alone are hundreds (one query judges 400+). So the gate ranks
    within a fixed random `size`-document sample, each query keeping only its judgements inside it (queries
    with none are left out). Fewer competitors, and fewer judged documents per query (3.5 against 38), make
    the scores differ from the full corpus's: the gate's limits are its own, never comparable to the
    published figures.
    """
    kept = fixed_sample(docs, size, seed)
    ids = {doc_id(d.path) for d in kept}
    judged = [Query(q.id, q.text, {d: g for d, g in q.qrels.items() if d in ids}) for q in queries]
    return kept, [q for q in judged if q.qrels]


def doc_id(path: str) -> str:
    return path.removesuffix(".txt")


def ranking(qa: QA, text: str, vector: Any, mode: RetrievalMode, depth: int) -> list[str]:
    """Document ids best first, from the store's fused chunk ranking at `depth` chunks per retriever."""
    fused = qa.store.fused_search(text, vector, depth, qa.settings.rrf_k, mode)
    chunks = qa.store.chunks
    return s.unique_in_order([doc_id(chunks[cid].doc_path) for cid, _ in fused.ranking])


def run(qa: QA, queries: Sequence[Query], subset: int | None = None) -> dict[str, Any]:
    """nDCG@10 and recall@100 per retriever (and hybrid at the product's depth), with intervals.

    `subset`: the corpus is the gate's sample of that many documents (`quick_corpus`), not all 3,633."""
    from tqdm import tqdm

    product_depth = qa.settings.candidates
    per_query: dict[str, list[dict[str, Any]]] = {m.value: [] for m in MODES}
    per_query[f"hybrid@{product_depth}"] = []
    for q in tqdm(queries, desc="nfcorpus", unit="q", disable=None):
        vector = qa.embedder.embed([q.text])[0]  # one query at a time, as QA.ask embeds it
        runs = {m.value: ranking(qa, q.text, vector, m, DEPTH) for m in MODES}
        runs[f"hybrid@{product_depth}"] = ranking(qa, q.text, vector, RetrievalMode.HYBRID, product_depth)
        for name, ranked in runs.items():
            per_query[name].append(
                {
                    "id": q.id,
                    "ndcg@10": s.ndcg_graded(ranked, q.qrels, NDCG_K),
                    "recall@100": s.recall_at(ranked, q.qrels, RECALL_K),
                    "ranked": len(ranked),
                    "top10": ranked[:NDCG_K],
                }
            )
    summary = {
        name: {
            "ndcg@10": s.bootstrap_mean([r["ndcg@10"] for r in rs]),
            "recall@100": s.bootstrap_mean([r["recall@100"] for r in rs]),
        }
        for name, rs in per_query.items()
    }
    ndcg = {name: [r["ndcg@10"] for r in rs] for name, rs in per_query.items()}
    diffs = {
        "hybrid − bm25": s.paired_difference(ndcg["hybrid"], ndcg["bm25"]),
        "hybrid − dense": s.paired_difference(ndcg["hybrid"], ndcg["dense"]),
        "dense − bm25": s.paired_difference(ndcg["dense"], ndcg["bm25"]),
    }
    short = {name: sum(r["ranked"] < RECALL_K for r in rs) for name, rs in per_query.items()}
    sections = [
        {
            "title": f"Retrieval on the {len(queries)} {SPLIT} queries (95% bootstrap intervals)",
            "text": (
                f"**Quick gate corpus**: a fixed random sample of {subset} documents, not all 3,633, each "
                "query judged only on the documents in it: scores differ from the full corpus's and are "
                "not comparable to the published ones. "
                if subset
                else ""
            )
            + f"Each retriever is asked for its top {DEPTH} chunks; `hybrid@{product_depth}` is the "
            f"product's setting ({product_depth} per retriever before fusion), which is all a chat reads. "
            "Queries with fewer than 100 documents ranked (BM25: no shared term): "
            + ", ".join(f"{k} {v}" for k, v in short.items())
            + ".",
            "header": ["retriever", "nDCG@10", "recall@100"],
            "rows": [
                [name, est["ndcg@10"].describe(), est["recall@100"].describe()]
                for name, est in summary.items()
            ],
        },
        {
            "title": "Published nDCG@10 on the 323 test queries and the full corpus",
            "header": ["system", "nDCG@10"],
            "rows": [[name, f"{v:.3f}"] for name, v in PUBLISHED.items()],
        },
        {
            "title": "Paired differences in nDCG@10 (same queries, 95% bootstrap intervals)",
            "header": ["difference", "mean [95% interval]"],
            "rows": [[name, d.describe()] for name, d in diffs.items()],
        },
    ]
    return {
        "summary": {name: {k: e.to_json() for k, e in est.items()} for name, est in summary.items()},
        "differences": {name: d.to_json() for name, d in diffs.items()},
        "sections": sections,
        "chart": {name: {k: e.to_json() for k, e in est.items()} for name, est in summary.items()},
        "gate": {f"{name}.{k}": e.value for name, est in summary.items() for k, e in est.items()},
        "records": per_query,
    }
