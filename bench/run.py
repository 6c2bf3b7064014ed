"""`make bench`: every benchmark in one run, written to bench/results.json and bench/results.md.

    .venv/bin/python bench/run.py                    # everything (about half an hour on 2 busy cores)
    .venv/bin/python bench/run.py --skip-1m          # scale rows at 10k and 100k only
    .venv/bin/python bench/run.py --only scale       # one part: pipeline, embedding or scale

Absolute times depend on the machine and on what else runs on it; the ratios (ours / LlamaIndex, index /
encode, ONNX / PyTorch) are measured side by side in one process and are the numbers to compare.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import embed_backends
import pipeline
import scale
from common import ROOT, log, machine

OUT = ROOT / "bench"
PARTS = ("pipeline", "embedding", "scale")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--skip-1m", action="store_true", help="leave out the 1M-vector scale rows")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for results.json and results.md")
    parser.add_argument("--render", action="store_true", help="only rewrite results.md from results.json")
    args = parser.parse_args()
    if args.render:
        saved = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
        write_sections(args.out / "results.md", render(saved))
        return 0
    parts = args.only or list(PARTS)
    started = time.time()
    previous = args.out / "results.json"
    # A partial run (--only) updates the parts it ran and keeps the others from the last full run.
    results: dict[str, Any] = (
        json.loads(previous.read_text(encoding="utf-8")) if args.only and previous.exists() else {}
    )
    results.update({"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")})
    runs = results.setdefault("runs", {})
    for part in parts:
        runs[part] = results["started"]
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        work = Path(tmp)
        if "pipeline" in parts:
            results.update(pipeline.run(work))
        if "embedding" in parts:
            log("embedding backends: PyTorch vs ONNX Runtime")
            results["embedding_backends"] = embed_backends.run(work)
    if "scale" in parts:
        sizes = scale.SIZES[:-1] if args.skip_1m else scale.SIZES
        results["scale"] = scale.run(sizes)
    results["seconds"] = round(time.time() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    write_sections(args.out / "results.md", render(results))
    log(f"wrote {args.out / 'results.json'} and {args.out / 'results.md'}")
    return 0


def write_sections(path: Path, ours: str) -> None:
    """Write our `## ` sections into results.md, keeping the sections other benchmarks wrote (bench/load.py)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    mine = {line for line in ours.splitlines() if line.startswith("## ")}
    kept = [s for s in text.split("\n## ")[1:] if f"## {s.splitlines()[0]}" not in mine]
    merged = ours.rstrip("\n") + "".join("\n\n## " + s.rstrip("\n") for s in kept)
    path.write_text(merged + "\n", encoding="utf-8")


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def render(r: dict[str, Any]) -> str:
    """results.md: the machine, then one section per benchmark, each with how it was measured."""
    m = r["machine"]
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (bench/run.py) on {r['started']}, in {r['seconds'] / 60:.0f} min.",
        "",
        "Parts and when they last ran: "
        + ", ".join(f"{part} {when}" for part, when in r.get("runs", {}).items())
        + ".",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['ram_gb']} GB RAM",
        f"- {m['os']}, Python {m['python']}",
        f"- Load average at start: {', '.join(str(x) for x in m['load_average_at_start'])} "
        "(other processes share these cores: absolute times are noisy, ratios measured side by side are not)",
        "- Libraries: " + ", ".join(f"{k} {v}" for k, v in m["libraries"].items()),
        "",
    ]
    if "index_vs_encode" in r:
        ours, llama = r["ours"], r["llamaindex"]
        out += [
            "## Indexing vs the raw encoder",
            "",
            f"A fresh `qa index` (build_index, model loaded beforehand) of {r['documents']} synthetic documents "
            f"({r['chunks']} chunks; bench/synthetic_corpus.py) against `SentenceTransformer.encode` of the same "
            "chunk texts, alternating rounds.",
            "",
            *table(
                ["", "chunks/s"],
                [
                    ["`qa index` (chunk, embed with late pooling, BM25, save)", r["index_chunks_per_s"]],
                    ["`SentenceTransformer.encode`", r["encode_chunks_per_s"]],
                    ["**index_vs_encode**", f"**{r['index_vs_encode']}**"],
                ],
            ),
            "",
            "## Ours vs LlamaIndex",
            "",
            "Same corpus (corpus/), same model folder (all-MiniLM-L6-v2), same run. LlamaIndex with default "
            "settings: SimpleDirectoryReader, VectorStoreIndex (default chunking), retriever "
            "similarity_top_k=5, index persisted to disk (ours is written to disk too). Query time: ours is "
            "`QA.ask` (retrieval + extractive answer), LlamaIndex's `retriever.retrieve` (no answer). hit@5: "
            "answerable evaluation questions; a hit is a retrieved chunk from the right file containing an "
            "evidence sentence. Follow-ups are condensed the same way for both.",
            "",
            *table(
                ["", "ours", "LlamaIndex", "ours / LlamaIndex"],
                [
                    ["chunks", ours["chunks"], llama["chunks"], ""],
                    [
                        "build of corpus/ (s, median of 3)",
                        ours["build_s"],
                        llama["build_s"],
                        r["build_vs_llamaindex"],
                    ],
                    [
                        "build of the synthetic corpus (s)",
                        r["ours_synthetic_build_s"],
                        llama["synthetic_build_s"],
                        r["build_vs_llamaindex_synthetic"],
                    ],
                    ["query p50 (ms)", r["query_p50_ms"], llama["query_p50_ms"], r["query_vs_llamaindex"]],
                    ["query p95 (ms)", r["query_p95_ms"], llama["query_p95_ms"], ""],
                    [
                        "query p50, LlamaIndex on one torch thread as ours (ms)",
                        r["query_p50_ms"],
                        llama["query_p50_ms_one_thread"],
                        r["query_vs_llamaindex_one_thread"],
                    ],
                    [
                        "retrieval only p50 (ms)",
                        ours["retrieve_p50_ms"],
                        llama["query_p50_ms"],
                        r["retrieve_vs_llamaindex"],
                    ],
                    ["hit@5 (hybrid, the product)", r["ours_hit5"], llama["hit5"], ""],
                    ["hit@5 (dense only)", r["ours_dense_hit5"], llama["hit5"], ""],
                    ["hit@1 (hybrid)", ours["hybrid"]["hit1"], llama["hit1"], ""],
                ],
            ),
            "",
            "Below 1 in the last column means we are faster.",
            "",
            f"Why LlamaIndex builds faster: its default chunks (median {llama['chunk_tokens_p50']} word pieces) "
            "are longer than the 256 the model reads, so "
            f"{100 * llama['share_of_text_past_model_window']:.0f}% of the text is never embedded; ours are "
            "sized to the model's window, with one sentence of overlap and a title prefix, so we embed all of "
            "it (and more chunks). Why its queries are slower by default: torch runs one query on two OpenMP "
            "threads, which stall at barriers when another process holds a core; our `embed` uses one thread "
            "for a query. With the same setting, the query ratio is the one-thread row.",
            "",
        ]
    if "embedding_backends" in r:
        e = r["embedding_backends"]
        out += ["## Embedding backends: PyTorch vs ONNX Runtime", ""]
        if "skipped" in e:
            out += [f"Skipped: {e['skipped']}", ""]
        else:
            rows = [
                [
                    name,
                    b["index_chunks_per_s"],
                    b["query_embed_p50_ms"],
                    b["hybrid_hit5"],
                    b["hybrid_mrr10"],
                    b["dense_hit5"],
                    b["dense_mrr10"],
                ]
                for name, b in e["backends"].items()
            ]
            out += [
                f"Late-pooling throughput on {e['chunks_timed']} synthetic chunks, query embedding latency "
                "over the evaluation questions, and retrieval quality with each backend's own index of corpus/. "
                f"One-off ONNX export and quantisation: {e['export_s']} s.",
                "",
                *table(
                    [
                        "backend",
                        "index chunks/s",
                        "query embed p50 ms",
                        "hit@5 hybrid",
                        "MRR@10 hybrid",
                        "hit@5 dense",
                        "MRR@10 dense",
                    ],
                    rows,
                ),
                "",
                f"int8 vs PyTorch: indexing x{e['index_speedup']}, query embedding x{e['query_speedup']}; "
                f"hit@5 {e['hybrid_hit5_points']:+} points (hybrid), {e['dense_hit5_points']:+} (dense); "
                f"MRR@10 {e['hybrid_mrr10_points']:+} (hybrid), {e['dense_mrr10_points']:+} (dense).",
                "",
            ]
    if "scale" in r:
        rows = [
            [
                f"{row['n']:,}",
                row["index"] + (" (chosen)" if row["chosen"] else ""),
                row["build_s"],
                row["memory_mb"],
                row["query_p50_ms"],
                row["query_p95_ms"],
                row["recall10"],
                row["remove_10_ms"],
            ]
            for row in r["scale"]
        ]
        out += [
            "## Scale: vector search at 10k, 100k and 1M chunks",
            "",
            "Synthetic unit vectors (dim 384) with topic structure (bench/scale.py); single-query searches as "
            "`Store.search` makes them; recall@10 of 300 held-out queries against exact search; memory is "
            "the serialised index. 'chosen' is what the store uses at that size (`VectorIndexPolicy`).",
            "",
            *table(
                ["n", "index", "build s", "memory MB", "p50 ms", "p95 ms", "recall@10", "remove 10 ms"], rows
            ),
            "",
            "nprobe is calibrated per index when it is trained (recall@10 >= 0.97 on perturbed copies of its "
            "own vectors). Clustered synthetic data is easier than real embeddings may be, so here is what "
            "a larger nprobe would cost (100 queries each):",
            "",
            *table(
                ["n", "nprobe", "p50 ms", "p95 ms", "recall@10"],
                [
                    [f"{row['n']:,}", s["nprobe"], s["query_p50_ms"], s["query_p95_ms"], s["recall10"]]
                    for row in r["scale"]
                    for s in row.get("nprobe_sweep", [])
                ],
            ),
            "",
        ]
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
