"""The `auto` reader under load: many /ask clients at once, one local model, and a bound on the wait.

    .venv/bin/python bench/reader_load.py                     # 20 clients, 2 questions each
    .venv/bin/python bench/reader_load.py --clients 5 --questions 1 --no-write

Starts `qa serve` with QA_BACKEND=auto (as a user runs it) over a temporary copy of corpus/ and its own
index, waits for the page, then starts every client at once (each its own gradio_client.Client, as separate
users are). The model writes one answer at a time; a question whose expected wait exceeds QA_LLM_WAIT gets
the quote at once with a notice (`qa.generation.turns`). Reports errors (target 0), answers that are neither
cited nor an abstention (target 0), how many were written by the model and how many fell back and why, and
latency p50 / p95 / max beside the target: p95 within the wait bound plus one answer's time.

Writes bench/reader_load.json and the "## Reader under load" section of bench/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from load import QUESTIONS, served
from serving import connect, percentile, write_section

ROOT = Path(__file__).resolve().parents[1]
RESULTS_MD = ROOT / "bench" / "results.md"
RESULTS_JSON = ROOT / "bench" / "reader_load.json"
SECTION = "## Reader under load"


def run(clients: int, per_client: int, wait_s: float, start_timeout: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="qa-reader-load-"))
    corpus, index = work / "corpus", work / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    os.environ["QA_BACKEND"] = "auto"
    os.environ["QA_LLM_WAIT"] = str(wait_s)
    calls: list[dict[str, Any]] = []
    lock = threading.Lock()
    try:
        t_start = time.perf_counter()
        with served(corpus, index, work / "serve.log", start_timeout) as (url, _pid):
            page_s = time.perf_counter() - t_start
            connections = [connect(url) for _ in range(clients)]
            # One question first, alone: the time of one written answer on an idle model.
            started = time.perf_counter()
            alone = connections[0].predict(QUESTIONS[0], api_name="/ask")
            one_answer_s = time.perf_counter() - started
            go = threading.Event()

            def client(n: int) -> None:
                go.wait()
                for i in range(per_client):
                    question = QUESTIONS[(n * per_client + i) % len(QUESTIONS)]
                    began = time.perf_counter()
                    record: dict[str, Any] = {"question": question}
                    try:
                        result = connections[n].predict(question, api_name="/ask")
                        record |= {
                            "ok": isinstance(result, dict) and "answer" in result,
                            "cited": bool(result.get("citations")),
                            "abstained": bool(result.get("abstained")),
                            "backend": result.get("backend", ""),
                            "notice": result.get("notice", ""),
                        }
                    except Exception as exc:  # a client error is what this benchmark counts
                        record |= {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
                    record["seconds"] = time.perf_counter() - began
                    with lock:
                        calls.append(record)

            threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
            for t in threads:
                t.start()
            load_started = time.perf_counter()
            go.set()
            for t in threads:
                t.join()
            wall = time.perf_counter() - load_started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = [c["seconds"] for c in calls]
    ok = [c for c in calls if c.get("ok")]
    return {
        "clients": clients,
        "questions_per_client": per_client,
        "wait_bound_s": wait_s,
        "serve_to_page_s": round(page_s, 1),
        "one_answer_alone_s": round(one_answer_s, 2),
        "one_answer_alone_backend": alone.get("backend") if isinstance(alone, dict) else None,
        "requests": len(calls),
        "errors": len(calls) - len(ok),
        "error_samples": [c["error"] for c in calls if "error" in c][:3],
        "neither_cited_nor_abstained": sum(1 for c in ok if not c["cited"] and not c["abstained"]),
        "by_backend": dict(Counter(c["backend"] for c in ok)),
        "fallback_notices": dict(Counter(c["notice"].split(":")[0][:80] for c in ok if c["notice"])),
        "wall_s": round(wall, 1),
        "p50_s": round(statistics.median(seconds), 2) if seconds else None,
        "p95_s": round(percentile(seconds, 0.95), 2),
        "max_s": round(max(seconds), 2) if seconds else None,
        "target_p95_s": round(wait_s + one_answer_s, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def markdown(r: dict[str, Any]) -> str:
    return (
        f"{SECTION}\n\n"
        f"`bench/reader_load.py`: {r['clients']} clients at once, {r['questions_per_client']} questions each "
        f"({r['requests']} requests) against `qa serve` with `QA_BACKEND=auto` and `QA_LLM_WAIT={r['wait_bound_s']:g}`, "
        f"clients on the same 2 cores (load average after: {', '.join(map(str, r['load_average']))}).\n\n"
        "| errors | neither cited nor abstained | written by the model / quote | p50 | p95 | max | target p95 |\n"
        "|---|---|---|---|---|---|---|\n"
        f"| {r['errors']} | {r['neither_cited_nor_abstained']} | {r['by_backend'].get('auto', 0)} / "
        f"{r['by_backend'].get('extractive', 0)} | {r['p50_s']} s | {r['p95_s']} s | {r['max_s']} s | "
        f"{r['target_p95_s']} s (bound + one answer alone, {r['one_answer_alone_s']} s) |\n\n"
        f"Why answers fell back: {json.dumps(r['fallback_notices'])}.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=2, help="questions per client")
    parser.add_argument("--wait", type=float, default=10.0, help="QA_LLM_WAIT for the served app")
    parser.add_argument("--start-timeout", type=float, default=300.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.clients, args.questions, args.wait, args.start_timeout)
    print(json.dumps(result, indent=1))
    if not args.no_write:
        RESULTS_JSON.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        write_section(RESULTS_MD, SECTION, markdown(result))
    return 0 if result["errors"] == 0 and result["neither_cited_nor_abstained"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
