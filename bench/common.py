"""What every benchmark needs: the machine's description, the evaluation queries, the hit rule, timers.

Imported by the scripts beside it (`python bench/run.py` puts bench/ on sys.path); not a package.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qa import metrics
from qa.condense import Turn, condense
from qa.evaluation import load_questions

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
QUESTIONS = ROOT / "eval" / "questions.jsonl"
LIBRARIES = (
    "qa",
    "numpy",
    "faiss-cpu",
    "torch",
    "transformers",
    "sentence-transformers",
    "tokenizers",
    "bm25s",
    "onnxruntime",
    "onnx",
    "llama-index-core",
    "llama-index-embeddings-huggingface",
)


@dataclass(frozen=True)
class EvalQuery:
    """One evaluation question as a retriever sees it: the standalone query (follow-ups condensed)."""

    id: str
    question: str
    history: tuple[Turn, ...]
    query: str
    answerable: bool
    sources: tuple[str, ...]
    evidence: tuple[str, ...]


def eval_queries(path: Path = QUESTIONS) -> list[EvalQuery]:
    """Every evaluation question, with earlier turns condensed the way `QA.ask` condenses them."""
    out = []
    for item in load_questions(path):
        history: list[Turn] = []
        for earlier in item.history:
            history.append(Turn(earlier, condense(earlier, history)))
        out.append(
            EvalQuery(
                item.id,
                item.question,
                tuple(history),
                condense(item.question, history),
                item.answerable,
                item.sources,
                item.evidence,
            )
        )
    return out


def is_hit(doc_path: str, text: str, query: EvalQuery) -> bool:
    """A retrieved passage from a right source file that contains an evidence sentence (whitespace-normalised)."""
    return doc_path in query.sources and bool(metrics.evidence_in(text, query.evidence))


def rank_scores(ranked_hits: Sequence[Sequence[bool]]) -> dict[str, float]:
    """hit@1, hit@5 and MRR@10 over answerable questions, as fractions."""
    n = max(len(ranked_hits), 1)
    return {
        "hit1": sum(metrics.hit_at_k(r, 1) for r in ranked_hits) / n,
        "hit5": sum(metrics.hit_at_k(r, 5) for r in ranked_hits) / n,
        "mrr10": sum(metrics.reciprocal_rank(r, 10) for r in ranked_hits) / n,
    }


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_ms(fn: Callable[[], Any], repeat: int = 1) -> list[float]:
    """Wall time of each call of fn, in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t: ...` then t[0] is the elapsed seconds."""
    box: list[float] = []
    started = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - started)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, Python and library versions: what a reader needs to compare numbers."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 0,
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gb": round(ram_gb, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "libraries": versions,
    }


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
