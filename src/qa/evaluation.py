"""The eval runner: ask every question of eval/questions.jsonl in each mode, score it, report, gate.

    qa eval                  extractive answers over hybrid, dense and BM25 retrieval (+ --backend beside),
                             and a held-out calibration of the abstention thresholds
    qa eval --quick --check  extractive hybrid only; exit 1 when a metric falls below eval/thresholds.toml

Writes latest.json (and a timestamped copy), report.md and modes.png to eval/results/. The metrics are pure
functions in `qa.metrics`, and the output is `qa.eval_report`'s; this module only runs the system, scores
it, calibrates abstention and gates on eval/thresholds.toml.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa import metrics as m
from qa.answering import Analysis, Answer, Evidence, abstain_reason, analyse
from qa.condense import Turn
from qa.config import Backend, ConfigError, RetrievalMode, Settings
from qa.eval_report import write_results
from qa.eval_types import (
    ANSWERS,
    CITATIONS,
    GROUNDING,
    MAIN,
    METRICS,
    RANK_DEPTH,
    RETRIEVAL,
    STAGES,
    Check,
    EvalItem,
    EvalRun,
    Fallback,
    Mode,
    ModeSummary,
    Outcome,
    Scores,
)
from qa.retrieval import Hit, for_answering, retrieve

if TYPE_CHECKING:
    from qa.engine import QA

WARMUP = 3  # questions asked (and not timed) before each mode, so model and index caches are warm
GRID_STEP, GRID_POINTS = 0.025, 5000  # calibration tries about GRID_POINTS thresholds, GRID_STEP apart


def eval_dir() -> Path:
    """eval/ of the working directory (the repository root, where `make eval` runs), not of the package."""
    return Path.cwd() / "eval"


def load_questions(path: Path) -> list[EvalItem]:
    """Read the evaluation set; a malformed line raises ConfigError naming it."""
    if not path.is_file():
        raise ConfigError(f"Evaluation questions not found: {path}. Pass --questions PATH.")
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            items.append(
                EvalItem(
                    str(d["id"]),
                    str(d["type"]),
                    str(d["question"]),
                    tuple(d["history"]),
                    bool(d["answerable"]),
                    str(d["reference_answer"]),
                    tuple(tuple(f) for f in d["key_facts"]),
                    tuple(d["sources"]),
                    tuple(d["evidence"]),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path}, line {lineno}: not a valid question ({exc}); run eval/check_questions.py."
            ) from exc
    if not items:
        raise ConfigError(f"{path} holds no questions.")
    return items


def ask_in_turn(qa: QA, item: EvalItem, mode: Mode) -> Answer:
    """Ask the item's earlier questions first, as a chat would, then the item itself."""
    history: list[Turn] = []
    for question in item.history:
        earlier = qa.ask(question, history, backend=mode.backend, mode=mode.retrieval)
        history.append(Turn(question, earlier.query, earlier.answer))
    return ask_timed(qa, item.question, history, mode)


def ask_timed(qa: QA, question: str, history: Sequence[Turn], mode: Mode) -> Answer:
    """`qa.stream` read to the end, with the time to its first text added as timings_ms["first_token"]."""
    started = time.perf_counter()
    first: float | None = None
    answer: Answer | None = None
    for event in qa.stream(question, history, backend=mode.backend, mode=mode.retrieval):
        if first is None and event.delta:
            first = (time.perf_counter() - started) * 1000
        answer = event.answer or answer
    assert answer is not None  # QA.stream always ends with an answer
    return replace(
        answer, timings_ms={**answer.timings_ms, "first_token": first or answer.timings_ms["total"]}
    )


def score_item(
    item: EvalItem, answer: Answer, ranked: Sequence[Hit], ideal_relevant: int, top_k: int
) -> tuple[Scores, tuple[tuple[int, bool], ...], str]:
    """Scores of one answer (None where a score does not apply), the ranked hits, and why it missed."""
    found = [
        m.evidence_in(h.chunk.text, item.evidence) if h.chunk.doc_path in item.sources else frozenset()
        for h in ranked
    ]
    relevant = [bool(f) for f in found]
    ranked_ids = tuple((h.chunk_id, r) for h, r in zip(ranked, relevant, strict=True))
    grounding: Scores = {
        "unsupported_sentence_rate": None
        if answer.abstained
        else m.unsupported_share([s.verified for s in answer.sentences])
    }
    if not item.answerable:
        why = "" if answer.abstained else "answered a question the documents do not answer"
        return dict.fromkeys(RETRIEVAL + ANSWERS + CITATIONS) | grounding, ranked_ids, why
    n = len(item.evidence)
    text = m.strip_citation_marks(answer.answer) if not answer.abstained else ""
    quotes = [c.quote for c in answer.citations]
    facts = m.key_fact_share(text, item.key_facts)
    scores: Scores = {
        "hit@1": m.hit_at_k(relevant, 1),
        "hit@3": m.hit_at_k(relevant, 3),
        "hit@5": m.hit_at_k(relevant, 5),
        "mrr@10": m.reciprocal_rank(relevant, 10),
        "ndcg@10": m.ndcg_at_k(m.novel_gains(found), 10, ideal_relevant),
        "recall@5": m.evidence_recall(found, n, 5),
        "recall@10": m.evidence_recall(found, n, 10),
        "key_fact_accuracy": facts,
        "all_key_facts": 1.0 if facts == 1.0 else 0.0,
        "f1": m.token_f1(text, item.reference_answer),
        "exact_match": m.exact_match(text, item.reference_answer),
        "citation_precision": m.citation_precision(quotes, item.evidence, item.key_facts),
        "citation_recall": m.citation_recall(quotes, item.evidence),
        "citation_fact_recall": m.citation_fact_recall(quotes, item.key_facts),
    } | grounding
    return scores, ranked_ids, miss_reason(item, answer, found, top_k)


def miss_reason(item: EvalItem, answer: Answer, found: Sequence[frozenset[int]], top_k: int) -> str:
    """Why an answerable question missed: abstained, not retrieved, other sentences chosen, or partly quoted."""
    first = next((r for r, f in enumerate(found, start=1) if f), None)
    where = f"evidence at retrieval rank {first}" if first else f"no evidence in the top {RANK_DEPTH}"
    if answer.abstained:
        return f"abstained ({answer.reason}); {where}"
    text = m.strip_citation_marks(answer.answer)
    missing = [f[0] for f in item.key_facts if not m.fact_found(text, f)]
    if not missing:
        return ""
    quoted = m.norm(" ".join(c.quote for c in answer.citations))
    unquoted = [i for i, e in enumerate(item.evidence) if m.norm(e) not in quoted]
    if first is None or first > top_k:
        cause = f"retrieval: {where}, the answer reads the top {top_k}"
    elif len(unquoted) == len(item.evidence):
        cause = f"selection: {where}, but the answer quotes other sentences"
    else:
        ranks = [next((r for r, f in enumerate(found, start=1) if i in f), None) for i in unquoted]
        at = ", ".join(
            "not retrieved" if r is None else f"rank {r}" + (f", below the top {top_k}" if r > top_k else "")
            for r in ranks
        )
        cause = f"partial: {len(unquoted)} of {len(item.evidence)} evidence sentences not quoted ({at})"
    return f"missing {', '.join(missing)}; {cause}"


def run_mode(qa: QA, items: Sequence[EvalItem], mode: Mode, ideal: dict[str, int]) -> list[Outcome]:
    """Every item asked in one mode (after a few untimed warm-up questions), scored."""
    settings = qa.settings
    for item in items[:WARMUP]:
        qa.ask(item.question, backend=mode.backend, mode=mode.retrieval)
    outcomes = []
    for item in _progress(items, mode.name):
        answer = ask_in_turn(qa, item, mode)
        vector = qa.embedder.embed([answer.query])[0]
        ranked = retrieve(
            qa.store, answer.query, vector, RANK_DEPTH, settings.candidates, settings.rrf_k, mode.retrieval
        )
        scores, ranked_ids, why = score_item(item, answer, ranked, ideal[item.id], settings.top_k)
        outcomes.append(Outcome(item, answer, scores, ranked_ids, why))
    return outcomes


def _progress(items: Sequence[EvalItem], desc: str) -> Sequence[EvalItem]:
    """The items, with a bar on stderr when it is a terminal (a generator mode takes minutes)."""
    if not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="question", file=sys.stderr, leave=False)  # type: ignore[return-value]


def fell_back(answer: Answer, mode: Mode) -> bool:
    return not answer.abstained and answer.backend != mode.backend.value


def ideal_relevant(qa: QA, items: Sequence[EvalItem]) -> dict[str, int]:
    """Per item, the fewest indexed chunks that together hold all its evidence (nDCG's ideal ranking)."""
    chunks = list(qa.store.chunks.values())
    return {
        item.id: m.min_cover(
            [m.evidence_in(c.text, item.evidence) for c in chunks if c.doc_path in item.sources]
        )
        for item in items
    }


def summarise(outcomes: Sequence[Outcome]) -> Scores:
    """The metrics of a set of outcomes: per-question means, abstention counts, latency percentiles."""
    out: Scores = {
        name: m.mean([o.scores[name] for o in outcomes])
        for name in RETRIEVAL + ANSWERS + CITATIONS + GROUNDING
    }
    ab = m.abstention_scores([o.answer.abstained for o in outcomes], [o.item.answerable for o in outcomes])
    out |= {
        "abstention_precision": ab.precision,
        "abstention_recall": ab.recall,
        "false_abstention_rate": ab.false_abstention_rate,
    }
    for stage in STAGES:
        times = [o.answer.timings_ms.get(stage, 0.0) for o in outcomes]
        out[f"{stage}_p50_ms"] = m.percentile(times, 50)
        out[f"{stage}_p95_ms"] = m.percentile(times, 95)
    return out


def by_type(outcomes: Sequence[Outcome]) -> dict[str, Scores]:
    types = sorted({o.item.type for o in outcomes})
    return {t: summarise([o for o in outcomes if o.item.type == t]) for t in types}


# ---- abstention calibration -----------------------------------------------------------------------------


def reanalysis(qa: QA, answer: Answer) -> Analysis:
    """Everything the extractive answerer measured for `answer` (its query and hits), recomputed."""
    vector = qa.embedder.embed([answer.query])[0]
    retrieved = for_answering(qa.store, answer.question, answer.query, vector, answer.hits, qa.side_search())
    return analyse(answer.question, answer.query, retrieved, vector)


def abstention_evidence(qa: QA, answer: Answer) -> Evidence:
    """What the extractive answerer measured before deciding to abstain, recomputed for `answer`."""
    return reanalysis(qa, answer).evidence


def calibrate(
    qa: QA,
    items: Sequence[EvalItem],
    answers: Sequence[Answer],
    grid: Sequence[dict[str, float]] | None = None,
) -> dict[str, Any]:
    """Grid-search the abstention thresholds for balanced accuracy, judged on questions not fitted.

    `answers` are the extractive answers to `items`: their queries and hits are reused, the evidence the
    abstention decision reads is measured once per question, and each grid point re-runs only
    `abstain_reason`. Fits on one stratified half (by a stable hash of the id) and reports the other, runs
    2-fold cross-validation, and fits the whole set for comparison.
    """
    current = qa.settings.abstain
    now = {f.name: v for f in dataclasses.fields(current) if isinstance(v := getattr(current, f.name), float)}
    points = list(grid) if grid is not None else m.grid_around(now, GRID_STEP, GRID_POINTS)
    if now not in points:
        points.append(now)
    evidence = [abstention_evidence(qa, a) for a in answers]
    decisions = np.array([[bool(abstain_reason(e, replace(current, **p))) for e in evidence] for p in points])
    report = m.calibration_summary(
        decisions, np.array([i.answerable for i in items]), [i.id for i in items], points, points.index(now)
    )
    report["current_matches_run"] = bool(
        (decisions[points.index(now)] == [a.abstained for a in answers]).all()
    )
    return report


# ---- regression gate ------------------------------------------------------------------------------------


def load_limits(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    """The [min] and [max] tables of eval/thresholds.toml; unknown metric names are refused."""
    if not path.is_file():
        raise ConfigError(f"Thresholds file not found: {path}; create it or run without --check.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        mins = {str(k): float(v) for k, v in data.get("min", {}).items()}
        maxes = {str(k): float(v) for k, v in data.get("max", {}).items()}
    except (tomllib.TOMLDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: cannot read thresholds ({exc}).") from exc
    unknown = sorted((set(mins) | set(maxes)) - set(METRICS))
    if unknown:
        raise ConfigError(f"{path}: unknown metric(s) {unknown}; known: {', '.join(METRICS)}.")
    return mins, maxes


# ---- the runner -----------------------------------------------------------------------------------------


def run_eval(
    settings: Settings,
    questions: Path | None = None,
    out: Path | None = None,
    backend: Backend | None = None,
    check: bool = False,
    quick: bool = False,
    *,
    qa: QA | None = None,
    thresholds: Path | None = None,
    calibration: bool | None = None,
) -> EvalRun:
    """Evaluate and write the results to `out`; the run says whether --check found a metric out of bounds.

    `qa` reuses a loaded QA object (its settings win); `calibration` defaults to on except with `quick`.
    """
    started = time.perf_counter()
    questions = questions or eval_dir() / "questions.jsonl"
    out = out or eval_dir() / "results"
    items = load_questions(questions)
    if qa is None:
        from qa.engine import QA

        qa = QA(settings)
    settings = qa.settings
    modes = [Mode(Backend.EXTRACTIVE, RetrievalMode.HYBRID)]
    if quick and backend is not None and backend is not Backend.EXTRACTIVE:
        # `--quick --backend B`: that mode alone, gated by its own limits (CI: --backend auto).
        modes = [Mode(backend, RetrievalMode.HYBRID)]
    main = modes[0].name
    default_limits = "thresholds.toml" if main == MAIN else f"thresholds-{modes[0].backend.value}.toml"
    limits_path = thresholds or eval_dir() / default_limits
    limits = load_limits(limits_path) if check else None
    if not quick:
        modes += [Mode(Backend.EXTRACTIVE, RetrievalMode.DENSE), Mode(Backend.EXTRACTIVE, RetrievalMode.BM25)]
        extra = backend or settings.backend
        if extra is not Backend.EXTRACTIVE:
            modes.append(Mode(extra, RetrievalMode.HYBRID))
    ideal = ideal_relevant(qa, items)
    outcomes = {mode.name: tuple(run_mode(qa, items, mode, ideal)) for mode in modes}
    summary = {name: ModeSummary(summarise(o), by_type(o)) for name, o in outcomes.items()}
    # A generator that is down answers with the extractive fallback: its column would then measure that.
    fallbacks = {
        mode.name: Fallback(len(notes), notes[0])
        for mode in modes
        if (notes := [o.answer.notice for o in outcomes[mode.name] if fell_back(o.answer, mode)])
    }
    main_answers = [o.answer for o in outcomes[main]]
    cal = (
        calibrate(qa, items, main_answers)
        if (calibration if calibration is not None else not quick)
        else None
    )
    failures = m.failed_checks(summary[main].overall, *limits) if limits else []
    run = EvalRun(
        created=datetime.now(UTC),
        questions_file=questions,
        settings={
            "top_k": settings.top_k,
            "candidates": settings.candidates,
            "rrf_k": settings.rrf_k,
            "model": qa.embedder.name,
            "index_generation": qa.store.generation,
            "abstain": dataclasses.asdict(settings.abstain),
        },
        main=main,
        runtime_s=round(time.perf_counter() - started, 1),
        outcomes=outcomes,
        summary=summary,
        fallbacks=fallbacks,
        calibration=cal,
        check=Check(limits_path, tuple(failures)) if check else None,
        out=out,
    )
    write_results(run)
    return run
