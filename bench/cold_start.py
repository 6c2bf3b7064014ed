"""Cold start: from starting the app to its first answer, and where that time goes.

    .venv/bin/python bench/cold_start.py             # 3 rounds; writes bench/cold_start.json and a section
    .venv/bin/python bench/cold_start.py --rounds 5  # of bench/results.md ("## Cold start")

Two measurements, on a copy of corpus/ with its index already up to date (what `make run` meets on every
start after the first):

1. **End to end**, as a user meets it: `qa serve` is started as a new process; we time until its page is
   served, then the first `/ask` answer (with citations) through gradio_client. `make run` adds only make's
   check of the `.venv` stamp (milliseconds) before that process starts.
2. **Phases**, in one fresh process doing what `qa serve` does, timed one after the other: importing the
   libraries, loading the embedding model, `qa index` finding nothing to do, loading the index and building
   the Gradio app, and the first answer (its first query embedding included).

Each round is a new process, so the OS file cache is warm after the first round (as it is on a machine that
has run the app before); the first round is reported separately.
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
from common import CORPUS, ROOT, machine
from serving import connect, write_section

RESULTS_JSON = ROOT / "bench" / "cold_start.json"
RESULTS_MD = ROOT / "bench" / "results.md"
SECTION = "## Cold start"
QUESTION = "When did the AHKFTA enter into force?"

# Run in a fresh interpreter: what `qa serve` does before it listens, phase by phase.
PHASES = r"""
import json, sys, time
from pathlib import Path
t = time.perf_counter()
marks = {}
def mark(name):
    global t
    now = time.perf_counter()
    marks[name] = round(now - t, 3)
    t = now
import gradio
from qa.config import Settings
from qa.embedding import make_embedder
from qa.engine import QA
from qa.indexing import build_index
from qa.webapp import build_app
mark("import")
settings = Settings.from_env(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]))
embedder = make_embedder(settings)
mark("load_model")
summary = build_index(settings, embedder, show_progress=False)
assert summary.added == summary.updated == summary.removed == 0, summary
mark("index_check")
qa = QA(settings, embedder=embedder)
build_app(qa)
mark("load_index_build_app")
answer = qa.ask(sys.argv[3])
assert answer.citations and not answer.abstained
mark("first_answer")
print(json.dumps(marks))
"""


def phases(corpus: Path, index: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PHASES, str(corpus), str(index), QUESTION],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    marks: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return marks


def end_to_end(corpus: Path, index: Path, timeout_s: float) -> dict[str, float]:
    os.environ["QA_CORPUS"], os.environ["QA_INDEX"] = str(corpus), str(index)
    started = time.perf_counter()
    with served(timeout_s) as (url, to_page):
        seconds, _inside, cited = timed_ask(connect(url), QUESTION)
        if not cited:
            raise SystemExit("the first answer had no citations")
        total = time.perf_counter() - started
    return {
        "to_page_s": round(to_page, 3),
        "first_ask_s": round(seconds, 3),
        "to_first_answer_s": round(total, 3),
    }


def run(rounds: int, timeout_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qa-cold-") as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        shutil.copytree(CORPUS, corpus)
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "qa"), "index", "--corpus", str(corpus), "--index", str(index)],
            check=True,
            capture_output=True,
        )
        e2e = [end_to_end(corpus, index, timeout_s) for _ in range(rounds)]
        phase_runs = [phases(corpus, index) for _ in range(rounds)]
    median = {k: round(statistics.median(r[k] for r in e2e[1:] or e2e), 3) for k in e2e[0]}
    phase_median = {
        k: round(statistics.median(r[k] for r in phase_runs[1:] or phase_runs), 3) for k in phase_runs[0]
    }
    return {
        "machine": machine(),
        "measured": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "rounds": rounds,
        "end_to_end_first_round": e2e[0],
        "end_to_end_median": median,
        "phases_median": phase_median,
        "phases_first_round": phase_runs[0],
    }


def markdown(r: dict[str, Any]) -> str:
    e2e, first, ph = r["end_to_end_median"], r["end_to_end_first_round"], r["phases_median"]
    later = "median of the later rounds" if r["rounds"] > 1 else "one round"
    lines = [
        SECTION,
        "",
        f"`bench/cold_start.py`, {r['measured']}, {r['rounds']} rounds, index already up to date; load average "
        f"at start {', '.join(str(x) for x in r['machine']['load_average_at_start'])}.",
        "",
        f"| `qa serve` started → | first round | {later} |",
        "|---|---:|---:|",
        f"| page served | {first['to_page_s']} s | {e2e['to_page_s']} s |",
        f"| first `/ask` answered (after the page) | {first['first_ask_s']} s | {e2e['first_ask_s']} s |",
        f"| **first answer, from start** | **{first['to_first_answer_s']} s** | **{e2e['to_first_answer_s']} s** |",
        "",
        f"Where it goes (one fresh process doing the same steps, {later}):",
        "",
        "| phase | s |",
        "|---|---:|",
        *[f"| {name.replace('_', ' ')} | {ph[name]} |" for name in ph],
        "",
        "What keeps it short: the model is loaded once and shared by the index check and the app; the index "
        "check compares sizes and mtimes and reads no unchanged file; nothing heavy runs at import time "
        "(torch, FAISS and Gradio are imported by the commands that need them); the first query pays no "
        "warm-up of its own beyond its embedding.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the page")
    args = parser.parse_args()
    result = run(args.rounds, args.timeout)
    RESULTS_JSON.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_section(RESULTS_MD, SECTION, markdown(result))
    print(json.dumps({k: result[k] for k in ("end_to_end_median", "phases_median")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
