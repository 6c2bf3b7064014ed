"""The eval's output: a run's result as JSON, Markdown, a chart and a printed summary.

`qa.evaluation` runs the questions and builds one result dict; this module only turns it into
eval/results/latest.json (and a timestamped copy), report.md, modes.png and the text `qa eval` prints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from qa.evaluation import Outcome

# 0-1 scores shown in modes.png (false abstention: lower is better).
CHART = (
    "hit@5",
    "mrr@10",
    "ndcg@10",
    "recall@5",
    "key_fact_accuracy",
    "all_key_facts",
    "f1",
    "citation_precision",
    "citation_recall",
    "abstention_recall",
    "false_abstention_rate",
)


def fmt(value: float | None, name: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if name.endswith("_ms") else f"{value:.3f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table padded to line up in a terminal too."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def overall_table(summary: dict[str, Any], metrics: Sequence[str]) -> str:
    """One row per metric, one column per mode."""
    modes = list(summary)
    rows = [[name] + [fmt(summary[mode]["overall"][name], name) for mode in modes] for name in metrics]
    return table(["metric", *modes], rows)


def record(o: Outcome) -> dict[str, Any]:
    """One outcome as JSON: what was asked, expected and got, its scores, and why it missed."""
    a = o.answer
    return {
        "id": o.item.id,
        "type": o.item.type,
        "question": o.item.question,
        "history": list(o.item.history),
        "query": a.query,
        "expected": o.item.reference_answer,
        "got": a.answer,
        "abstained": a.abstained,
        "reason": a.reason,
        "backend": a.backend,
        "notice": a.notice,
        "citations": [
            {"source": c.source, "locator": c.locator, "quote": c.quote, "chunk_id": c.chunk_id}
            for c in a.citations
        ],
        "ranked_chunk_ids": [c for c, _ in o.ranked],
        "relevant_ranks": [rank for rank, (_, r) in enumerate(o.ranked, start=1) if r],
        "scores": o.scores,
        "timings_ms": {k: round(v, 2) for k, v in a.timings_ms.items()},
        "why": o.why,
    }


def render_report(result: dict[str, Any], metrics: Sequence[str], main_mode: str, rank_depth: int) -> str:
    """eval/results/report.md: the tables, the calibration, and every miss explained."""
    summary = result["summary"]
    main = summary[main_mode]["by_type"]
    per_type: tuple[str, ...] = ("hit@5", "mrr@10", "recall@5", "key_fact_accuracy", "all_key_facts", "f1")
    per_type += ("citation_precision", "citation_recall", "abstention_recall", "false_abstention_rate")
    counts = {t: sum(r["type"] == t for r in result["questions"][main_mode]) for t in main}
    lines = [
        f"# qa evaluation, {result['created']}",
        "",
        f"{result['n_questions']} questions from `{result['questions_file']}`; top_k {result['settings']['top_k']} "
        f"for answers, top {rank_depth} for ranking metrics; {result['runtime_s']:.0f} s. "
        "Retrieval, answer and citation metrics are over answerable questions; abstention over all.",
        "",
        "## Overall",
        "",
        overall_table(summary, metrics),
        "",
        f"## Per question type ({main_mode})",
        "",
        table(
            ["type", "n", *per_type],
            [[t, str(counts[t])] + [fmt(main[t][k]) for k in per_type] for t in main],
        ),
        "",
    ]
    for name in ("key_fact_accuracy", "mrr@10"):
        lines += [
            f"## {name} per type and mode",
            "",
            table(
                ["type", *summary],
                [[t] + [fmt(summary[mode]["by_type"][t][name]) for mode in summary] for t in main],
            ),
            "",
        ]
    for name, fb in result["fallbacks"].items():
        lines += [
            f"**Warning**: {fb['count']} {name} answers are the extractive fallback ({fb['first']})",
            "",
        ]
    cal = result.get("calibration")
    if cal:
        lines += ["## Abstention calibration", "", *calibration_lines(cal), ""]
    for mode, records in result["questions"].items():
        if mode != main_mode and mode.startswith("extractive"):
            continue
        misses = [r for r in records if r["why"]]
        lines += [f"## Misses ({mode}): {len(misses)} of {len(records)}", ""]
        for r in misses:
            asked = " → ".join([*r["history"], r["question"]])
            lines += [
                f"### {r['id']} ({r['type']}): {asked}",
                "",
                *([f"- searched for: {r['query']}"] if r["query"] != r["question"] else []),
                f"- expected: {r['expected'] or '(abstain)'}",
                f"- got: {r['got']}",
                f"- why: {r['why']}",
                "",
            ]
    return "\n".join(lines)


def calibration_lines(cal: dict[str, Any]) -> list[str]:
    """The calibration report (`qa.evaluation.calibrate`) as bullet lines."""
    held, cv, full = cal["held_out"], cal["cross_validation"], cal["full_set"]

    def show(point: dict[str, float]) -> str:
        return ", ".join(f"{k} {v:.3f}" for k, v in point.items())

    lines = [
        f"Objective: {cal['objective']}. Split: {cal['split']} (sizes {cal['fold_sizes']}); "
        f"{cal['grid_points']} grid points.",
        "",
        f"- current ({show(cal['current'])}): {cal['current_score_all']:.3f} on all questions",
        f"- held-out split, fit on fold 0 → {show(held['thresholds'])}: {held['fit_score']:.3f} on fold 0, "
        f"**{held['held_out_score']:.3f} on held-out fold 1** (current: {held['current_held_out_score']:.3f})",
    ]
    for f in cv["folds"]:
        lines.append(
            f"- 2-fold CV, fit on fold {f['fit_on_fold']} → {show(f['thresholds'])}: "
            f"held-out {f['held_out_score']:.3f} (current {f['current_held_out_score']:.3f})"
        )
    lines += [
        f"- 2-fold CV mean held-out: **{cv['mean_held_out_score']:.3f}** "
        f"(current thresholds: {cv['current_mean_held_out_score']:.3f})",
        f"- fit on all questions → {show(full['thresholds'])}: {full['in_sample_score']:.3f} in-sample "
        "(optimistic: fitted and scored on the same questions)",
    ]
    lines.append(
        f"- no threshold in the grid changes these: answerable but always abstained "
        f"{', '.join(cal['always_abstain']) or 'none'}; unanswerable but never abstained "
        f"{', '.join(cal['never_abstain']) or 'none'}"
    )
    if not cal["current_matches_run"]:
        lines.append("- WARNING: re-running abstain_reason at the current thresholds disagrees with the run.")
    return lines


def plot_modes(summary: dict[str, Any], path: Path) -> None:
    """A grouped bar chart of the main 0-1 metrics, one bar per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(summary)
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / len(modes)
    x = np.arange(len(CHART))
    for i, mode in enumerate(modes):
        values = [summary[mode]["overall"][k] or 0.0 for k in CHART]
        ax.bar(x + (i - (len(modes) - 1) / 2) * width, values, width, label=mode)
    ax.set_xticks(x, [k.replace("_", " ") for k in CHART], rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (false abstention: lower is better)")
    ax.set_title("qa eval: modes compared")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(
    result: dict[str, Any],
    out: Path,
    created: datetime,
    metrics: Sequence[str],
    main_mode: str,
    rank_depth: int,
) -> None:
    """latest.json, a copy named for `created`, report.md and modes.png, in `out` (made if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1, ensure_ascii=False)
    (out / "latest.json").write_text(text, encoding="utf-8")
    (out / f"{created.strftime('%Y%m%dT%H%M%SZ')}.json").write_text(text, encoding="utf-8")
    (out / "report.md").write_text(render_report(result, metrics, main_mode, rank_depth), encoding="utf-8")
    plot_modes(result["summary"], out / "modes.png")


def print_summary(result: dict[str, Any], out: Path, metrics: Sequence[str]) -> None:
    """What `qa eval` prints: the overall table, fallback warnings, the calibration, where results went."""
    print(overall_table(result["summary"], metrics))
    for name, fb in result["fallbacks"].items():
        print(f"\nWARNING: {fb['count']} {name} answers are the extractive fallback: {fb['first']}")
    cal = result["calibration"]
    if cal:
        print("\nAbstention calibration:\n" + "\n".join(calibration_lines(cal)))
    print(f"\n{result['n_questions']} questions, {result['runtime_s']} s.")
    print(f"Report: {(out / 'report.md').resolve()} (all numbers: {(out / 'latest.json').resolve()})")
