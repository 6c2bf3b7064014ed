"""Load: many concurrent /ask clients for minutes, with an index rebuild in the middle, and no errors.

    .venv/bin/python bench/load.py                          # 50 clients for 120 s, rebuild at 60 s
    .venv/bin/python bench/load.py --clients 10 --duration 30

Starts `qa serve` as a subprocess on a free port (GRADIO_SERVER_PORT) over a temporary copy of corpus/ with
its own index folder, so the real index is never touched. Each client is its own gradio_client.Client (as
separate users would be) calling /ask in a loop; /ask returns the JSON of `qa ask --json`. At --rebuild-at
seconds a new document is written into the temporary corpus and `qa index` runs as a subprocess (the real
model, in a second process, competing for the same cores): the app keeps answering from its loaded index
and switches to the new one on the next question after the swap. One question in eight asks about the new
document, so the report shows when the served answers first cite it.

Reports throughput, latency percentiles (overall, during the rebuild, and outside it), errors (target:
zero), the server's peak memory, and the rebuild's own time. Writes bench/load.json and replaces the
"## Load" section of bench/results.md (appending it when missing; other sections are left as they are).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving import connect, free_port, percentile, wait_for_page, write_section

ROOT = Path(__file__).resolve().parents[1]
QA_BIN = ROOT / ".venv" / "bin" / "qa"
RESULTS_MD = ROOT / "bench" / "results.md"
RESULTS_JSON = ROOT / "bench" / "load.json"
SECTION = "## Load"
QUESTIONS = [
    "When did the AHKFTA enter into force?",
    "What was the value of ASEAN-Hong Kong, China trade in 2024?",
    "What did Hainan and the HKSAR sign?",
    "How much FDI flowed from Hong Kong, China into ASEAN in 2024?",
    "Which cities did the InvestHK chief visit?",
    "What is the trade imbalance between Hong Kong and ASEAN?",
    "Can you recommend a good science-fiction movie?",  # unanswerable: the abstention path under load
]
NEW_DOC = "load-test-ferry-report.txt"
NEW_TEXT = (
    "# Zephyr Ferry annual report\n\n"
    "The Zephyr Ferry Company carried 48,213 passengers across Lindqvist Bay in 2023. "
    "Its three vessels made 2,950 crossings, and the busiest month was August.\n"
)
NEW_QUESTION = "How many passengers did the Zephyr Ferry Company carry across Lindqvist Bay in 2023?"


@dataclass(frozen=True)
class Call:
    """One /ask request as a client saw it."""

    started: float  # seconds since the load began
    seconds: float
    ok: bool
    error: str
    new_question: bool
    cited_new: bool


@contextmanager
def served(corpus: Path, index: Path, log: Path, timeout_s: float) -> Iterator[tuple[str, int]]:
    """`qa serve` over `corpus` and `index` on a free port; yields its URL and process id."""
    port = free_port()
    env = os.environ | {
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    url = f"http://127.0.0.1:{port}/"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(QA_BIN), "serve", "--corpus", str(corpus), "--index", str(index)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_page(url, timeout_s, proc, poll_s=0.2)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), in MiB, while it is still running."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def client_loop(
    client: Any, number: int, t0: float, stop_at: float, calls: list[Call], lock: threading.Lock
) -> None:
    """Ask questions back to back until `stop_at`; every eighth question is about the new document."""
    i = number
    while time.perf_counter() < stop_at:
        new_question = i % 8 == 0
        question = NEW_QUESTION if new_question else QUESTIONS[i % len(QUESTIONS)]
        i += 1
        started = time.perf_counter()
        ok, error, cited_new = True, "", False
        try:
            result = client.predict(question, api_name="/ask")
            if not isinstance(result, dict) or "answer" not in result or "citations" not in result:
                ok, error = False, f"unexpected result: {str(result)[:200]}"
            else:
                cited_new = any(c.get("source") == NEW_DOC for c in result["citations"])
        except Exception as exc:  # a failed request is a result to count, not a reason to stop
            ok, error = False, f"{type(exc).__name__}: {exc}"[:300]
        call = Call(started - t0, time.perf_counter() - started, ok, error, new_question, cited_new)
        with lock:
            calls.append(call)


def rebuild(corpus: Path, index: Path, t0: float, at: float, record: dict[str, Any]) -> None:
    """At `at` seconds: add a document to the corpus and run `qa index` as a separate process.

    Records when it started, when the new generation went live (CURRENT changed) and when it exited.
    """
    time.sleep(max(0.0, t0 + at - time.perf_counter()))
    (corpus / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")
    pointer = index / "CURRENT"
    before = pointer.read_text(encoding="utf-8")
    record["started_s"] = time.perf_counter() - t0
    out, err = corpus.parent / "index.out", corpus.parent / "index.err"
    with out.open("w") as fout, err.open("w") as ferr:
        proc = subprocess.Popen(
            [str(QA_BIN), "index", "--corpus", str(corpus), "--index", str(index), "--json"],
            cwd=ROOT,
            stdout=fout,
            stderr=ferr,
            env=os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
        )
        while proc.poll() is None:
            if "swapped_s" not in record and pointer.read_text(encoding="utf-8") != before:
                record["swapped_s"] = time.perf_counter() - t0
            time.sleep(0.02)
    record["finished_s"] = time.perf_counter() - t0
    record.setdefault("swapped_s", record["finished_s"])
    record["returncode"] = proc.returncode
    record["summary"] = out.read_text().strip()
    record["stderr_tail"] = err.read_text().strip()[-500:]


def latency_stats(calls: list[Call]) -> dict[str, Any]:
    seconds = [c.seconds for c in calls if c.ok]
    if not seconds:
        return {"requests": len(calls)}
    return {
        "requests": len(calls),
        "p50_s": round(statistics.median(seconds), 3),
        "p95_s": round(percentile(seconds, 0.95), 3),
        "p99_s": round(percentile(seconds, 0.99), 3),
        "max_s": round(max(seconds), 3),
    }


def run_load(clients: int, duration: float, rebuild_at: float, start_timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        base = Path(tmp)
        corpus, index = base / "corpus", base / "index"
        shutil.copytree(ROOT / "corpus", corpus)
        corpus_files = sorted(p.name for p in corpus.iterdir())
        started = time.perf_counter()
        with served(corpus, index, base / "serve.log", start_timeout) as (url, pid):
            serve_to_page = time.perf_counter() - started
            with ThreadPoolExecutor(clients) as pool:
                connected = list(pool.map(connect, [url] * clients))
            calls: list[Call] = []
            lock = threading.Lock()
            record: dict[str, Any] = {}
            t0 = time.perf_counter()
            stop_at = t0 + duration
            threads = [
                threading.Thread(target=client_loop, args=(c, n, t0, stop_at, calls, lock), daemon=True)
                for n, c in enumerate(connected)
            ]
            threads.append(threading.Thread(target=rebuild, args=(corpus, index, t0, rebuild_at, record)))
            for t in threads:
                t.start()
            for t in threads:
                t.join(duration + 600)
            wall = time.perf_counter() - t0
            server_peak = peak_rss_mib(pid)
        log_tail = (base / "serve.log").read_text(errors="replace")[-2000:]

    errors = [c for c in calls if not c.ok]
    in_rebuild = [record.get("started_s", 0) <= c.started <= record.get("finished_s", 0) for c in calls]
    during = [c for c, inside in zip(calls, in_rebuild, strict=True) if inside]
    outside = [c for c, inside in zip(calls, in_rebuild, strict=True) if not inside]
    swapped = record.get("swapped_s", float("inf"))
    new_after = [c for c in calls if c.new_question and c.ok and c.started >= swapped]
    new_before = [
        c for c in calls if c.new_question and c.ok and c.started + c.seconds < record.get("started_s", 0)
    ]
    first_cited = min((c.started + c.seconds for c in new_after if c.cited_new), default=None)
    return {
        "clients": clients,
        "duration_s": duration,
        "wall_s": round(wall, 1),
        "serve_to_page_s": round(serve_to_page, 1),
        "requests": len(calls),
        "ok": len(calls) - len(errors),
        "errors": len(errors),
        "error_samples": sorted({c.error for c in errors})[:5],
        "throughput_rps": round(len(calls) / wall, 2),
        **latency_stats(calls),
        "during_rebuild": latency_stats(during),
        "outside_rebuild": latency_stats(outside),
        "rebuild": record,
        "new_document": {
            "asked_before_rebuild": len(new_before),
            "cited_before_rebuild": sum(c.cited_new for c in new_before),
            "asked_after_swap": len(new_after),
            "cited_after_swap": sum(c.cited_new for c in new_after),
            "first_cited_s_after_swap": None if first_cited is None else round(first_cited - swapped, 2),
        },
        "server_peak_rss_mib": None if server_peak is None else round(server_peak),
        "corpus_files": corpus_files,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "serve_log_tail": log_tail if errors else "",
    }


def markdown(r: dict[str, Any]) -> str:
    rb, nd = r["rebuild"], r["new_document"]
    lines = [
        SECTION,
        "",
        f"`bench/load.py`: {r['clients']} concurrent gradio_client clients calling `/ask` back to back for "
        f"{r['duration_s']:.0f} s against `qa serve` (extractive answers, real model) over a copy of corpus/, "
        f"while `qa index` adds a document in a second process at {rb.get('started_s', 0):.0f} s. Clients, "
        f"server and rebuild share the machine ({r['machine']}).",
        "",
        "| | requests | errors | p50 | p95 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in (
        ("all", r),
        ("during the rebuild", r["during_rebuild"]),
        ("outside it", r["outside_rebuild"]),
    ):
        errs = r["errors"] if name == "all" else ""
        lines.append(
            f"| {name} | {s['requests']} | {errs} | {s.get('p50_s', '–')} s | {s.get('p95_s', '–')} s | "
            f"{s.get('p99_s', '–')} s | {s.get('max_s', '–')} s |"
        )
    first = nd["first_cited_s_after_swap"]
    lines += [
        "",
        f"- Throughput: **{r['throughput_rps']} requests/s**; errors: **{r['errors']}** of {r['requests']}.",
        f"- Rebuild: `qa index` (a new process: it loads torch and the model while the app is under load) "
        f"exited {rb.get('returncode')} after {rb.get('finished_s', 0) - rb.get('started_s', 0):.1f} s; its "
        f"own summary: `{rb.get('summary', '')}`.",
        f"- The new document: cited in {nd['cited_before_rebuild']} of {nd['asked_before_rebuild']} answers "
        f"asked before the rebuild and {nd['cited_after_swap']} of {nd['asked_after_swap']} asked after the new "
        f"index went live at {rb.get('swapped_s', 0):.0f} s"
        + (f" (first cited {first} s after the swap)." if first is not None else "."),
        f"- Server peak memory (VmHWM): {r['server_peak_rss_mib']} MiB; `qa serve` to first page: "
        f"{r['serve_to_page_s']} s.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load")
    parser.add_argument("--rebuild-at", type=float, help="seconds into the load (default: half-way)")
    parser.add_argument("--start-timeout", type=float, default=300.0, help="seconds to wait for the app")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/ files alone")
    args = parser.parse_args(argv)
    if not QA_BIN.exists():
        raise SystemExit(f"{QA_BIN} not found: run `make install` first")
    rebuild_at = args.duration / 2 if args.rebuild_at is None else args.rebuild_at
    result = run_load(args.clients, args.duration, rebuild_at, args.start_timeout)
    print(json.dumps(result, indent=1))
    if not args.no_write:
        RESULTS_JSON.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        write_section(RESULTS_MD, SECTION, markdown(result))
        print(f"wrote {RESULTS_JSON} and the {SECTION!r} section of {RESULTS_MD}", file=sys.stderr)
    return 0 if result["errors"] == 0 and result["rebuild"].get("returncode") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
