"""The everyday path, PyTorch embedder vs fp32 ONNX, side by side in one run: start, shell ask, query, index.

    .venv/bin/python bench/everyday.py              # 5 rounds; writes bench/everyday.json and a section
    .venv/bin/python bench/everyday.py --rounds 3   # of bench/results.md ("## Everyday path")

What each number is (the issue's targets in brackets; each backend has its own index, already up to date):

- **`qa serve` → first answer** [≤ 3 s]: a new `qa serve` process started; the seconds until its first
  `/ask` answer (cited) came back through gradio_client, the page's serving included.
- **shell `qa ask`** [≤ 2 s]: `qa ask "…"` as a new process, start to exit, answer printed with sources.
- **extractive query p50/p95** [p50 ≤ 8 ms]: `QA.ask` in a warm process (retrieve + answer, the query's
  embedding included) over every question of eval/questions.jsonl.
- **shell `qa ask`, default answerer**: the same with `QA_BACKEND=auto` (ONNX), model load included.
- **indexing chunks/s**: `qa index --rebuild`'s work in process (read, chunk, embed with late pooling,
  write) on the synthetic corpus (bench/synthetic_corpus.py, its first 60 documents).

Rounds alternate the backends (torch, onnx, torch, onnx, ...) so load from other processes hits both
alike; the median of the rounds is reported (the first round too, for the process starts: a cold file cache).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from app_latency import served, timed_ask
from common import CORPUS, ROOT, eval_queries, machine, pct
from serving import connect, write_section
from synthetic_corpus import write_corpus

from qa.config import Backend, EmbedBackend, Settings
from qa.embedding import make_embedder
from qa.engine import QA
from qa.indexing import build_index

RESULTS_JSON = ROOT / "bench" / "everyday.json"
RESULTS_MD = ROOT / "bench" / "results.md"
SECTION = "## Everyday path"
QUESTION = "When did the AHKFTA enter into force?"
BACKENDS = (EmbedBackend.TORCH, EmbedBackend.ONNX)
INDEX_DOCS = 60
QA_BIN = ROOT / ".venv" / "bin" / "qa"


def serve_to_first_answer(timeout_s: float) -> float:
    started = time.perf_counter()
    with served(timeout_s) as (url, _to_page):
        _seconds, _inside, cited = timed_ask(connect(url), QUESTION)
        if not cited:
            raise SystemExit("the first answer had no citations")
        return time.perf_counter() - started


def shell_ask() -> float:
    started = time.perf_counter()
    out = subprocess.run(
        [str(QA_BIN), "ask", QUESTION], capture_output=True, text=True, env=os.environ.copy()
    )
    seconds = time.perf_counter() - started
    if out.returncode != 0 or "Sources:" not in out.stdout:
        raise SystemExit(f"qa ask failed: {out.stderr[-500:]}")
    return seconds


def query_latency(settings: Settings) -> list[float]:
    """Milliseconds per extractive `ask`, every evaluation question, in a process already warm."""
    qa = QA(settings)
    questions = eval_queries()
    # Named: a bare ask uses the default answerer (auto), which would time the local model instead.
    for q in questions[:5]:
        qa.ask(q.question, q.history, backend=Backend.EXTRACTIVE)
    times = []
    for q in questions:
        started = time.perf_counter()
        qa.ask(q.question, q.history, backend=Backend.EXTRACTIVE)
        times.append((time.perf_counter() - started) * 1000)
    return times


def index_rate(settings: Settings, corpus: Path, index: Path) -> float:
    """Chunks per second of a full rebuild (the model loaded beforehand: its load is not indexing)."""
    s = settings.replace(corpus_dir=corpus, index_dir=index)
    embedder = make_embedder(s)
    embedder.embed(["warm up"])
    summary = build_index(s, embedder, rebuild=True, show_progress=False)
    return summary.chunks / summary.seconds


def run(rounds: int, timeout_s: float) -> dict[str, Any]:
    load = machine()
    with tempfile.TemporaryDirectory(prefix="qa-everyday-") as tmp:
        work = Path(tmp)
        shutil.copytree(CORPUS, work / "corpus")
        synthetic = work / "synthetic"
        write_corpus(synthetic, n_docs=INDEX_DOCS)
        settings = {
            b: Settings.from_env(corpus_dir=work / "corpus", index_dir=work / f"index-{b}", embed_backend=b)
            for b in BACKENDS
        }
        for b in BACKENDS:  # each backend's own index, up to date before anything is timed
            build_index(settings[b], make_embedder(settings[b]), show_progress=False)
        serve: dict[str, list[float]] = {b: [] for b in BACKENDS}
        ask: dict[str, list[float]] = {b: [] for b in BACKENDS}
        index: dict[str, list[float]] = {b: [] for b in BACKENDS}
        query: dict[str, list[float]] = {b: [] for b in BACKENDS}
        auto_ask: list[float] = []
        for _ in range(rounds):
            for b in BACKENDS:
                # The embedders are compared on the extractive path: the local model (`auto`, the
                # default answerer) would add the same seconds of decoding to both and hide the difference.
                os.environ.update(
                    QA_CORPUS=str(work / "corpus"),
                    QA_INDEX=str(work / f"index-{b}"),
                    QA_EMBED_BACKEND=b.value,
                    QA_BACKEND="extractive",
                )
                serve[b].append(serve_to_first_answer(timeout_s))
                ask[b].append(shell_ask())
            # The default answerer from the shell, once per round: what `qa ask` costs a user who changed
            # nothing (ONNX embedder, model load and one verified answer included).
            os.environ.update(QA_INDEX=str(work / "index-onnx"), QA_EMBED_BACKEND="onnx", QA_BACKEND="auto")
            auto_ask.append(shell_ask())
        for _ in range(rounds):
            for b in BACKENDS:
                index[b].append(index_rate(settings[b], synthetic, work / f"synthetic-index-{b}"))
        for b in BACKENDS:
            query[b] = query_latency(settings[b])
    result: dict[str, Any] = {
        "machine": load,
        "measured": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "rounds": rounds,
        "load_average_at_end": list(os.getloadavg()),
        "backends": {},
        "auto_shell_ask_s_median": round(statistics.median(auto_ask), 2),
        "auto_shell_ask_s_all": [round(x, 2) for x in auto_ask],
    }
    for b in BACKENDS:
        result["backends"][b.value] = {
            "serve_first_answer_s_median": round(statistics.median(serve[b]), 2),
            "serve_first_answer_s_first_round": round(serve[b][0], 2),
            "serve_first_answer_s_all": [round(x, 2) for x in serve[b]],
            "shell_ask_s_median": round(statistics.median(ask[b]), 2),
            "shell_ask_s_all": [round(x, 2) for x in ask[b]],
            "query_ms_p50": round(pct(query[b], 50), 2),
            "query_ms_p95": round(pct(query[b], 95), 2),
            "queries_timed": len(query[b]),
            "index_chunks_per_s_median": round(statistics.median(index[b]), 1),
            "index_chunks_per_s_all": [round(x, 1) for x in index[b]],
        }
    return result


def markdown(r: dict[str, Any]) -> str:
    t, o = r["backends"]["torch"], r["backends"]["onnx"]
    rows = [
        ("`qa serve` → first answer (s, median)", "serve_first_answer_s_median", "≤ 3"),
        ("… first round (cold file cache)", "serve_first_answer_s_first_round", ""),
        ("shell `qa ask` (s, median)", "shell_ask_s_median", "≤ 2"),
        ("extractive query p50 (ms)", "query_ms_p50", "≤ 8"),
        ("extractive query p95 (ms)", "query_ms_p95", ""),
        ("indexing (chunks/s, median)", "index_chunks_per_s_median", ""),
    ]
    lines = [
        SECTION,
        "",
        f"`bench/everyday.py`, {r['measured']}, {r['rounds']} rounds alternating the backends; load average "
        f"{', '.join(f'{x:.2f}' for x in r['machine']['load_average_at_start'])} at start, "
        f"{', '.join(f'{x:.2f}' for x in r['load_average_at_end'])} at the end (2 cores).",
        "",
        "| | PyTorch (before) | fp32 ONNX (now the default) | target |",
        "|---|---:|---:|---:|",
        *[f"| {label} | {t[key]} | {o[key]} | {target} |" for label, key, target in rows],
        "",
        f"Query latency over {o['queries_timed']} evaluation questions per backend; indexing: the first "
        f"{INDEX_DOCS} documents of the synthetic corpus, a full rebuild per round. Both columns answer "
        "extractively; the default answerer (`auto`: the quote, then the local model's verified answer) "
        f"from the shell took {r['auto_shell_ask_s_median']} s (median; all: {r['auto_shell_ask_s_all']}).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for the page")
    args = parser.parse_args()
    result = run(args.rounds, args.timeout)
    RESULTS_JSON.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_section(RESULTS_MD, SECTION, markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
