"""The auto reader's doubt as an abstention signal: `QA_READER_DOUBT` swept on held-out folds.

The local model is told to reply "I could not find this in the documents." when the passages lack the asked
fact; the greedy answer does so only when that reply's first token is the likeliest. Its probability (the
`doubt` of each answer) is a graded signal. This script reads evaluation runs that recorded the doubt
without acting on it, and asks what each threshold would have done:

    QA_READER_DOUBT=1 qa eval --quick --backend auto --out OWN                       # eval/questions.jsonl
    QA_READER_DOUBT=1 qa eval --dataset squad2 --limit 200 --backend auto --out SQUAD
    python bench/reader_doubt.py --own OWN/latest.json --squad SQUAD/latest.json [--out FILE.json]

A threshold only turns answers into abstentions (an answer whose doubt reaches it), so replaying the runs is
exact, except that a follow-up question's history holds the earlier answer as it was. The threshold is
fitted on one fold of eval/questions.jsonl (the evaluation's own stratified split) for balanced accuracy of
abstention, scored on the other fold, both ways round, and then checked on SQuAD 2.0, which was never used to
fit it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from qa import metrics as m

GRID = [round(x, 3) for x in np.arange(0.05, 1.0001, 0.025)]
OFF = 2.0  # a threshold no probability reaches: what the run did without the check
AUTO_MODE = "auto-hybrid"
NEAR_MISS = "unanswerable_near_miss"


@dataclass(frozen=True)
class Case:
    """One question of a run: what the answer was, and what abstaining on it would cost or gain."""

    id: str
    kind: str  # the question type (own set) or "answerable"/"unanswerable" (SQuAD)
    answerable: bool
    abstained: bool
    doubt: float | None
    gain: float  # key-fact share (own set) or 1.0 when correct (SQuAD): what an abstention loses


def own_cases(path: Path) -> list[Case]:
    records = json.loads(path.read_text(encoding="utf-8"))["questions"][AUTO_MODE]
    return [
        Case(
            r["id"],
            r["type"],
            not r["type"].startswith("unanswerable"),
            bool(r["abstained"]),
            r.get("doubt"),
            float(r["scores"].get("key_fact_accuracy") or 0.0),
        )
        for r in records
    ]


def squad_cases(path: Path) -> list[Case]:
    records = json.loads(path.read_text(encoding="utf-8"))["records"][AUTO_MODE]
    return [
        Case(
            r["id"],
            "answerable" if r["answerable"] else "unanswerable",
            bool(r["answerable"]),
            bool(r["abstained"]),
            r.get("doubt"),
            1.0 if r["correct"] else 0.0,
        )
        for r in records
    ]


def decide(cases: Sequence[Case], threshold: float) -> np.ndarray:
    """Whether each question is abstained on when a doubt at or over `threshold` abstains too."""
    return np.array([c.abstained or (c.doubt is not None and c.doubt >= threshold) for c in cases])


def scores(cases: Sequence[Case], abstained: np.ndarray) -> dict[str, float | int]:
    answerable = np.array([c.answerable for c in cases])
    near = np.array([c.kind == NEAR_MISS for c in cases])
    gain = np.array([0.0 if a else c.gain for c, a in zip(cases, abstained, strict=True)])
    out: dict[str, float | int] = {
        "n": len(cases),
        "abstention_recall": float(abstained[~answerable].mean()) if (~answerable).any() else float("nan"),
        "false_abstention": float(abstained[answerable].mean()) if answerable.any() else float("nan"),
        "accuracy": float(gain[answerable].mean()) if answerable.any() else float("nan"),
        "balanced": m.balanced_accuracy(abstained, answerable),
    }
    if near.any():
        out["near_miss_recall"] = float(abstained[near].mean())
    return out


def auc(cases: Sequence[Case]) -> float:
    """ROC AUC of the doubt for telling unanswerable from answerable, over the questions the model read
    (scikit-learn's, as bench/squad_abstention.py)."""
    read = [(not c.answerable, c.doubt) for c in cases if c.doubt is not None]
    if len({unanswerable for unanswerable, _ in read}) < 2:
        return float("nan")
    return float(roc_auc_score([u for u, _ in read], [d for _, d in read]))


def fit(cases: Sequence[Case]) -> float:
    """The threshold with the best balanced accuracy; ties go to the higher one (fewer abstentions)."""
    return max(GRID, key=lambda t: (round(float(scores(cases, decide(cases, t))["balanced"]), 9), t))


def report(own: list[Case], squad: list[Case], threshold: float) -> dict[str, Any]:
    folds = m.stable_folds([c.id for c in own], [c.answerable for c in own])
    halves = [[c for c, f in zip(own, folds, strict=True) if f == k] for k in (0, 1)]
    sets = {"own fold 0": halves[0], "own fold 1": halves[1], "own": own, "squad2": squad}
    result: dict[str, Any] = {
        "threshold": threshold,
        "at_threshold": {
            name: {"off": scores(cases, decide(cases, OFF)), "on": scores(cases, decide(cases, threshold))}
            for name, cases in sets.items()
            if cases
        },
        "auc": {"own": auc(own), **({"squad2": auc(squad)} if squad else {})},
        "read_by_model": {
            "own": sum(c.doubt is not None for c in own),
            "squad2": sum(c.doubt is not None for c in squad),
        },
        "held_out": [],
        "curve": [],
    }
    for k in (0, 1):
        chosen = fit(halves[k])
        other = halves[1 - k]
        result["held_out"].append(
            {
                "fitted_on_fold": k,
                "threshold": chosen,
                "other_fold_off": scores(other, decide(other, OFF)),
                "other_fold_on": scores(other, decide(other, chosen)),
                **({"squad2_on": scores(squad, decide(squad, chosen))} if squad else {}),
            }
        )
    for t in [*GRID, OFF]:
        row: dict[str, Any] = {"threshold": t, "own": scores(own, decide(own, t))}
        if squad:
            row["squad2"] = scores(squad, decide(squad, t))
        result["curve"].append(row)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--own", type=Path, required=True, help="latest.json of qa eval --quick --backend auto"
    )
    parser.add_argument("--squad", type=Path, help="latest.json of qa eval --dataset squad2 --backend auto")
    parser.add_argument("--out", type=Path, help="write the full result as JSON here")
    parser.add_argument("--threshold", type=float, default=0.2, help="the one to compare with off (0.2)")
    args = parser.parse_args(argv)
    own = own_cases(args.own)
    squad = squad_cases(args.squad) if args.squad else []
    result = report(own, squad, args.threshold)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"AUC of the doubt (questions the model read): {result['auc']}  read: {result['read_by_model']}")
    for h in result["held_out"]:
        print(f"fitted on fold {h['fitted_on_fold']}: threshold {h['threshold']}")
        for key in ("other_fold_off", "other_fold_on", "squad2_on"):
            if key in h:
                print(f"  {key:15s} " + "  ".join(f"{k} {v:.3f}" for k, v in h[key].items() if k != "n"))
    print(f"off -> at {args.threshold}:")
    for name, both in result["at_threshold"].items():
        off, on = both["off"], both["on"]
        changes = [f"{k} {off[k]:.3f} -> {on[k]:.3f}" for k in off if k not in ("n", "balanced")]
        print(f"  {name:10s} n={on['n']:3d}  " + "  ".join(changes))
    print("threshold  own: recall near FA keyfacts | squad2: recall FA accuracy")
    for row in result["curve"]:
        o = row["own"]
        line = f"{row['threshold']:9.3f}  {o['abstention_recall']:.3f} {o.get('near_miss_recall', 0):.3f} "
        line += f"{o['false_abstention']:.3f} {o['accuracy']:.3f}"
        if "squad2" in row:
            q = row["squad2"]
            line += f" | {q['abstention_recall']:.3f} {q['false_abstention']:.3f} {q['accuracy']:.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
