"""`qa eval --dataset NAME`: a public set's corpus and index (cached), its questions through QA, a report.

    qa eval --dataset squad2                       all 2,805 questions, extractive (+ --backend beside it)
    qa eval --dataset nfcorpus                     the 323 test queries, BM25, dense and hybrid
    qa eval --dataset halueval                     1,000 items: the verifier as a judge, and open-book QA
    qa eval --dataset squad2 --quick --check       the regression gate's sample, against public_thresholds.toml

`--limit N --seed S` draw a fixed sample. Results go to eval/results/<dataset>/ (quick runs to .../quick/).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa import metrics as m
from qa.config import Backend, RetrievalMode, Settings
from qa.datasets import halueval, nfcorpus, report, squad2
from qa.datasets.base import Dataset, DatasetError, data_root, fingerprint, fixed_sample, prepare

if TYPE_CHECKING:
    from qa.embedding import Embedder
    from qa.engine import QA
    from qa.eval_types import Mode

log = logging.getLogger(__name__)

# Sample sizes: None is the whole set. The quick sizes are what the regression gate runs.
DEFAULT_LIMIT = {Dataset.SQUAD2: None, Dataset.NFCORPUS: None, Dataset.HALUEVAL: 1000}
QUICK_LIMIT = {Dataset.SQUAD2: 100, Dataset.NFCORPUS: 100, Dataset.HALUEVAL: 100}
# Documents of the quick NFCorpus sub-corpus (nfcorpus.quick_corpus): its cold build is part of make test.
QUICK_NFCORPUS_DOCS = 200
TITLES = {
    Dataset.SQUAD2: "SQuAD 2.0 open-book",
    Dataset.NFCORPUS: "NFCorpus (BEIR) retrieval",
    Dataset.HALUEVAL: "HaluEval QA",
}
UNITS = {Dataset.SQUAD2: "questions", Dataset.NFCORPUS: "test queries", Dataset.HALUEVAL: "items"}
WARMUP = 3  # questions asked untimed first, so latency excludes model loading and cold caches


def load_limits(path: Path, dataset: Dataset) -> tuple[dict[str, float], dict[str, float]]:
    """The [<dataset>.min] and [<dataset>.max] tables of eval/public_thresholds.toml."""
    if not path.is_file():
        raise DatasetError(f"Thresholds file not found: {path}; create it or run without --check.")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get(dataset.value, {})
        mins = {str(k): float(v) for k, v in table.get("min", {}).items()}
        maxes = {str(k): float(v) for k, v in table.get("max", {}).items()}
    except (tomllib.TOMLDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise DatasetError(f"{path}: cannot read thresholds ({exc}).") from exc
    if not mins and not maxes:
        raise DatasetError(f"{path} has no [{dataset.value}.min] or [{dataset.value}.max] table to check.")
    return mins, maxes


def modes_for(backend: Backend | None) -> list[Mode]:
    """Extractive over hybrid retrieval, and the generator named by --backend beside it.

    Only an explicit --backend adds a column (not QA_BACKEND or the configured default): a generator over
    thousands of questions takes hours on a CPU, so it is never run by surprise."""
    from qa.eval_types import Mode

    modes = [Mode(Backend.EXTRACTIVE, RetrievalMode.HYBRID)]
    if backend is not None and backend is not Backend.EXTRACTIVE:
        modes.append(Mode(backend, RetrievalMode.HYBRID))
    return modes


def run_dataset(
    settings: Settings,
    dataset: Dataset,
    *,
    out: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    backend: Backend | None = None,
    quick: bool = False,
    check: bool = False,
    data: Path | None = None,
    cache: Path | None = None,
    thresholds: Path | None = None,
    embedder: Embedder | None = None,
) -> int:
    """Evaluate one public set, write its report, print a summary; 1 when --check finds a metric out of bounds."""
    from qa.evaluation import eval_dir

    started = time.perf_counter()
    if check and not quick:
        raise DatasetError("--check with --dataset gates the quick sample: add --quick.")
    limits_path = thresholds or eval_dir() / "public_thresholds.toml"
    limits = load_limits(limits_path, dataset) if check else None
    root = data or data_root()
    where = (cache or settings.cache_dir / "datasets") / dataset.value
    out = out or eval_dir() / "results" / dataset.value / ("quick" if quick else "")
    n = limit if limit is not None else (QUICK_LIMIT if quick else DEFAULT_LIMIT)[dataset]
    if embedder is None:
        from qa.embedding import make_embedder

        embedder = make_embedder(settings)
    modes = modes_for(backend)
    runner = {Dataset.SQUAD2: _squad2, Dataset.NFCORPUS: _nfcorpus, Dataset.HALUEVAL: _halueval}[dataset]
    ran = runner(Request(settings, root, where, n, seed, embedder, modes, quick))
    body, qa = ran.body, ran.qa
    failures = m.failed_checks(body["gate"], *limits) if limits else []
    result: dict[str, Any] = {
        "dataset": dataset.value,
        "title": TITLES[dataset] + (" (quick)" if quick else ""),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": _command(dataset, quick, limit, seed, backend),
        "sample": {"population": ran.population, "n": ran.n, "seed": seed, "unit": UNITS[dataset]},
        "settings": _settings_json(qa.settings, embedder),
        "build": ran.build,
        "runtime_s": round(time.perf_counter() - started, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **body,
        "check": {"thresholds": str(limits_path), "failures": failures} if check else None,
    }
    report.write(result, out)
    report.print_summary(result, out)
    if check:
        for failure in failures:
            log.error("qa eval --check: FAILED %s %s", dataset.value, failure)
        print(
            f"qa eval --check ({dataset.value}): {'FAILED' if failures else 'passed'} against {limits_path}"
        )
    return 1 if failures else 0


@dataclass(frozen=True)
class Request:
    """What every set's runner is given: the settings, where the data and its cached index are, the sample."""

    settings: Settings
    root: Path  # the public datasets folder
    where: Path  # this set's cached index
    n: int | None  # sample size; None for all
    seed: int
    embedder: Embedder
    modes: list[Mode]
    quick: bool


@dataclass(frozen=True)
class Ran:
    """What one set's run hands to the report: its sections and scores, and how it was sampled and built."""

    body: dict[str, Any]
    qa: QA
    build: dict[str, Any]
    population: int
    n: int


def _squad2(r: Request) -> Ran:
    docs, items = squad2.load(r.root)
    sample = fixed_sample(items, r.n, r.seed)
    qa, build = _open(r, r.where, fingerprint(squad2.data_files(r.root)), docs)
    _warm_up(qa, [i.question for i in sample])
    return Ran(squad2.run(qa, sample, r.modes, r.quick), qa, build, len(items), len(sample))


def _nfcorpus(r: Request) -> Ran:
    docs, queries = nfcorpus.load(r.root)
    where, stamp = r.where, fingerprint(nfcorpus.data_files(r.root))
    if r.quick:  # its own folder, so the gate never rewrites the full set's index
        docs, queries = nfcorpus.quick_corpus(docs, queries, QUICK_NFCORPUS_DOCS, r.seed)
        where = where.with_name(f"{where.name}-quick")
        stamp = fingerprint(nfcorpus.data_files(r.root), extra=f"quick {r.seed} {QUICK_NFCORPUS_DOCS}")
    sample = fixed_sample(queries, r.n, r.seed)
    qa, build = _open(r, where, stamp, docs)
    body = nfcorpus.run(qa, sample, subset=len(docs) if r.quick else None)
    return Ran(body, qa, build, len(queries), len(sample))


def _halueval(r: Request) -> Ran:
    path = halueval.data_file()
    items = halueval.load(path)
    sample = fixed_sample(items, r.n, r.seed)
    qa, build = _open(r, r.where, fingerprint([path]), halueval.corpus(items))
    _warm_up(qa, [i.question for i in sample])
    body = halueval.run(qa, sample, items, r.modes, qa.settings, r.embedder)
    return Ran(body, qa, build, len(items), len(sample))


def _open(r: Request, where: Path, stamp: str, docs: Any) -> tuple[QA, dict[str, Any]]:
    """The set's index, built or brought up to date in the cache, opened in the QA object the app uses."""
    from qa.engine import QA

    prepared = prepare(r.settings, where, stamp, docs, r.embedder)
    return QA(prepared.settings, r.embedder), prepared.build


def _warm_up(qa: QA, questions: list[str]) -> None:
    # Extractive, named: a bare ask would use the configured default (auto), loading and running the local
    # model for minutes before a run that may never use it.
    for question in questions[:WARMUP]:
        qa.ask(question, backend=Backend.EXTRACTIVE)


def _settings_json(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    return {
        "model": embedder.name,
        "top_k": settings.top_k,
        "candidates": settings.candidates,
        "rrf_k": settings.rrf_k,
        "max_chunk_tokens": settings.max_chunk_tokens,
        "abstain": dataclasses.asdict(settings.abstain),
        "verify_min_support": settings.verify_min_support,
    }


def _command(dataset: Dataset, quick: bool, limit: int | None, seed: int, backend: Backend | None) -> str:
    parts = ["qa eval --dataset", dataset.value]
    parts += ["--quick"] if quick else []
    parts += [f"--limit {limit}"] if limit is not None else []
    parts += [f"--seed {seed}"] if seed else []
    parts += [f"--backend {backend.value}"] if backend else []
    return " ".join(parts)
