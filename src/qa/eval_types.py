"""What an evaluation run hands its report: the questions, each outcome, and the run as a whole.

`qa.evaluation` builds these and `qa.eval_report` renders them; both import this module and not each other.
`EvalRun.to_json` is eval/results/latest.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from qa.choices import Backend, RetrievalMode
from qa.types import Answer

MAIN = "extractive-hybrid"  # the product's mode: what --check gates and what the misses list explains
RANK_DEPTH = 10  # ranking metrics look at the top 10, whatever top_k the answerer uses

Scores = dict[str, float | None]
# Per-question scores, averaged over the questions where they are defined (answerable ones, mostly).
RETRIEVAL = ("hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", "recall@5", "recall@10")
ANSWERS = ("key_fact_accuracy", "all_key_facts", "f1", "exact_match")
CITATIONS = ("citation_precision", "citation_recall", "citation_fact_recall")
# Whole-set scores.
ABSTENTION = ("abstention_precision", "abstention_recall", "false_abstention_rate")
# Over every answered question: the share of answer sentences verification could not match to a passage.
GROUNDING = ("unsupported_sentence_rate",)
# first_token: until the first streamed text (a non-streaming answerer's whole answer arrives at once).
STAGES = ("retrieve", "first_token", "answer", "total")
LATENCY = tuple(f"{stage}_{p}_ms" for stage in STAGES for p in ("p50", "p95"))
METRICS = RETRIEVAL + ANSWERS + CITATIONS + ABSTENTION + GROUNDING + LATENCY


@dataclass(frozen=True)
class EvalItem:
    """One line of eval/questions.jsonl (schema: eval/check_questions.py)."""

    id: str
    type: str
    question: str
    history: tuple[str, ...]
    answerable: bool
    reference_answer: str
    key_facts: tuple[tuple[str, ...], ...]
    sources: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Mode:
    """An answerer and a retriever, evaluated together as one column."""

    backend: Backend
    retrieval: RetrievalMode

    @property
    def name(self) -> str:
        return f"{self.backend.value}-{self.retrieval.value}"


@dataclass(frozen=True)
class Outcome:
    """One question asked in one mode: the answer, its scores and, for a miss, why."""

    item: EvalItem
    answer: Answer
    scores: Scores
    ranked: tuple[tuple[int, bool], ...]  # the top 10: chunk id, and whether it holds evidence
    why: str

    def to_json(self) -> dict[str, Any]:
        """What was asked, expected and got, its scores, and why it missed."""
        a = self.answer
        return {
            "id": self.item.id,
            "type": self.item.type,
            "question": self.item.question,
            "history": list(self.item.history),
            "query": a.query,
            "expected": self.item.reference_answer,
            "got": a.answer,
            "abstained": a.abstained,
            "reason": a.reason,
            "backend": a.backend,
            "notice": a.notice,
            "doubt": a.doubt,
            "citations": [
                {"source": c.source, "locator": c.locator, "quote": c.quote, "chunk_id": c.chunk_id}
                for c in a.citations
            ],
            "ranked_chunk_ids": [c for c, _ in self.ranked],
            "relevant_ranks": [rank for rank, (_, r) in enumerate(self.ranked, start=1) if r],
            "scores": self.scores,
            "timings_ms": {k: round(v, 2) for k, v in a.timings_ms.items()},
            "why": self.why,
        }


@dataclass(frozen=True)
class ModeSummary:
    """One mode's metrics over the whole set, and per question type."""

    overall: Scores
    by_type: Mapping[str, Scores]


@dataclass(frozen=True)
class Fallback:
    """A generator mode whose answers came from the extractive fallback: its column measures that."""

    count: int
    first: str  # the first fallback's notice, which says why


@dataclass(frozen=True)
class Check:
    """`--check`: the main mode's metrics against eval/thresholds.toml."""

    thresholds: Path
    failures: tuple[str, ...]  # one line per metric out of bounds


@dataclass(frozen=True)
class EvalRun:
    """One `qa eval`: what ran, its scores per mode, and (with --check) whether it passed."""

    created: datetime
    questions_file: Path
    settings: Mapping[str, Any]  # what shaped the scores (top_k, model, index generation, thresholds)
    main: str  # the mode --check gates (MAIN, or the --quick --backend mode)
    runtime_s: float
    outcomes: Mapping[str, tuple[Outcome, ...]]  # by mode name, in the order run
    summary: Mapping[str, ModeSummary]
    fallbacks: Mapping[str, Fallback]
    calibration: dict[str, Any] | None  # qa.metrics.calibration_summary's report
    check: Check | None
    out: Path  # where latest.json, report.md and modes.png were written

    @property
    def n_questions(self) -> int:
        return len(next(iter(self.outcomes.values()), ()))

    @property
    def passed(self) -> bool:
        """False when --check found a metric out of bounds (the CLI exits 1)."""
        return self.check is None or not self.check.failures

    def to_json(self) -> dict[str, Any]:
        """eval/results/latest.json."""
        return {
            "created": self.created.isoformat(timespec="seconds"),
            "questions_file": str(self.questions_file),
            "n_questions": self.n_questions,
            "settings": dict(self.settings),
            "modes": list(self.outcomes),
            "runtime_s": self.runtime_s,
            "summary": {
                name: {"overall": s.overall, "by_type": dict(s.by_type)} for name, s in self.summary.items()
            },
            "calibration": self.calibration,
            "fallbacks": {name: {"count": f.count, "first": f.first} for name, f in self.fallbacks.items()},
            "check": {"thresholds": str(self.check.thresholds), "failures": list(self.check.failures)}
            if self.check is not None
            else None,
            "questions": {name: [o.to_json() for o in os] for name, os in self.outcomes.items()},
        }
