"""Web app latency: `qa serve` start to served page, first answer, and /ask under concurrent clients.

    .venv/bin/python bench/app_latency.py                 # starts `qa serve` on a free port (index present)
    .venv/bin/python bench/app_latency.py --url URL       # measures an app that is already running

Each concurrent client is its own gradio_client.Client (as separate users would be), connected first; then
in each round every client calls /ask once, all at the same time, with one of the evaluation set's
answerable questions. Clients run in this process, so on a small machine they share its CPUs with the app.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from serving import connect, free_port, percentile, wait_for_page

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "When did the AHKFTA enter into force?",
    "What was the value of ASEAN-Hong Kong, China trade in 2024?",
    "What did Hainan and the HKSAR sign?",
    "How much FDI flowed from Hong Kong, China into ASEAN in 2024?",
    "On what date were the negotiations for the AHKFTA and AHKIA concluded?",
]


@contextmanager
def served(timeout_s: float) -> Iterator[tuple[str, float]]:
    """Start `qa serve` on a free port; yield its URL and the seconds until it served the page."""
    port = free_port()
    env = os.environ | {
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "qa"), "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_page(url, timeout_s, proc)
        yield url, time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def timed_ask(client: Any, question: str) -> tuple[float, float, bool]:
    """(seconds the call took, seconds the app spent answering inside it, whether it cited)."""
    started = time.perf_counter()
    result: dict[str, Any] = client.predict(question, api_name="/ask")
    seconds = time.perf_counter() - started
    return seconds, result["timings_ms"]["total"] / 1000, bool(result.get("citations"))


def measure(url: str, clients: int, rounds: int) -> dict[str, Any]:
    """The first answer on a fresh app, then `rounds` bursts of one /ask per client, all in flight at once."""
    first_s, first_answer_s, first_cited = timed_ask(connect(url), QUESTIONS[0])
    with ThreadPoolExecutor(clients) as pool:
        connected = list(pool.map(connect, [url] * clients))  # connecting is not part of a request's latency
        latencies: list[float] = []
        answering: list[float] = []
        cited = 0
        wall_started = time.perf_counter()
        for _ in range(rounds):
            jobs = [(c, QUESTIONS[i % len(QUESTIONS)]) for i, c in enumerate(connected)]
            for seconds, inside, ok in pool.map(lambda job: timed_ask(*job), jobs):
                latencies.append(seconds)
                answering.append(inside)
                cited += ok
        wall = time.perf_counter() - wall_started
    return {
        "first_answer_s": round(first_s, 3),
        "first_answer_qa_s": round(first_answer_s, 3),
        "first_answer_cited": first_cited,
        "clients": clients,
        "requests": len(latencies),
        "with_citations": cited,
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "max_s": round(max(latencies), 3),
        "qa_p50_s": round(statistics.median(answering), 3),
        "throughput_rps": round(len(latencies) / wall, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an app already running (default: start `qa serve`)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the page")
    args = parser.parse_args()
    if args.url:
        wait_for_page(args.url, args.timeout)
        report = {"url": args.url} | measure(args.url, args.clients, args.rounds)
    else:
        with served(args.timeout) as (url, startup_s):
            report = {"serve_to_page_s": round(startup_s, 2)} | measure(url, args.clients, args.rounds)
    report["cpus"] = os.cpu_count()
    print(json.dumps(report))
    return 0 if report["with_citations"] == report["requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
