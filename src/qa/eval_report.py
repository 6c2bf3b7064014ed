"""The eval's output: a run's result as JSON, Markdown, a chart and a printed summary.

`qa.evaluation` runs the questions and hands over an `EvalRun` (qa.eval_types); this module only turns it
into eval/results/latest.json (and a timestamped copy), report.md, modes.png and the text `qa eval` prints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.eval_types import METRICS, RANK_DEPTH, EvalRun, ModeSummary

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


def overall_table(summary: Mapping[str, ModeSummary], metrics: Sequence[str] = METRICS) -> str:
    """One row per metric, one column per mode."""
    modes = list(summary)
    rows = [[name] + [fmt(summary[mode].overall[name], name) for mode in modes] for name in metrics]
    return table(["metric", *modes], rows)


def render_report(run: EvalRun) -> str:
    """eval/results/report.md: the tables, the calibration, and every miss explained."""
    summary = run.summary
    main = summary[run.main].by_type
    per_type: tuple[str, ...] = ("hit@5", "mrr@10", "recall@5", "key_fact_accuracy", "all_key_facts", "f1")
    per_type += ("citation_precision", "citation_recall", "abstention_recall", "false_abstention_rate")
    counts = {t: sum(o.item.type == t for o in run.outcomes[run.main]) for t in main}
    lines = [
        f"# qa evaluation, {run.created.isoformat(timespec='seconds')}",
        "",
        f"{run.n_questions} questions from `{run.questions_file}`; top_k {run.settings['top_k']} "
        f"for answers, top {RANK_DEPTH} for ranking metrics; {run.runtime_s:.0f} s. "
        "Retrieval, answer and citation metrics are over answerable questions; abstention over all.",
        "",
        "## Overall",
        "",
        overall_table(summary),
        "",
        f"## Per question type ({run.main})",
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
                [[t] + [fmt(summary[mode].by_type[t][name]) for mode in summary] for t in main],
            ),
            "",
        ]
    for name, fb in run.fallbacks.items():
        lines += [
            f"**Warning**: {fb.count} {name} answers are the extractive fallback ({fb.first})",
            "",
        ]
    if run.calibration:
        lines += ["## Abstention calibration", "", *calibration_lines(run.calibration), ""]
    for mode, outcomes in run.outcomes.items():
        if mode != run.main and mode.startswith("extractive"):
            continue
        misses = [o for o in outcomes if o.why]
        lines += [f"## Misses ({mode}): {len(misses)} of {len(outcomes)}", ""]
        for o in misses:
            item, answer = o.item, o.answer
            asked = " → ".join([*item.history, item.question])
            lines += [
                f"### {item.id} ({item.type}): {asked}",
                "",
                *([f"- searched for: {answer.query}"] if answer.query != item.question else []),
                f"- expected: {item.reference_answer or '(abstain)'}",
                f"- got: {answer.answer}",
                f"- why: {o.why}",
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


def plot_modes(summary: Mapping[str, ModeSummary], path: Path) -> None:
    """A grouped bar chart of the main 0-1 metrics, one bar per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(summary)
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / len(modes)
    x = np.arange(len(CHART))
    for i, mode in enumerate(modes):
        values = [summary[mode].overall[k] or 0.0 for k in CHART]
        ax.bar(x + (i - (len(modes) - 1) / 2) * width, values, width, label=mode)
    ax.set_xticks(x, [k.replace("_", " ") for k in CHART], rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (false abstention: lower is better)")
    ax.set_title("qa eval: modes compared")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(run: EvalRun) -> None:
    """latest.json, a copy named for the run's start, report.md and modes.png, in `run.out` (made if missing)."""
    out = run.out
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(run.to_json(), indent=1, ensure_ascii=False)
    (out / "latest.json").write_text(text, encoding="utf-8")
    (out / f"{run.created.strftime('%Y%m%dT%H%M%SZ')}.json").write_text(text, encoding="utf-8")
    (out / "report.md").write_text(render_report(run), encoding="utf-8")
    plot_modes(run.summary, out / "modes.png")


def summary_text(run: EvalRun) -> str:
    """What `qa eval` prints: the overall table, fallback warnings, the calibration, where results went."""
    parts = [overall_table(run.summary)]
    for name, fb in run.fallbacks.items():
        parts.append(f"\nWARNING: {fb.count} {name} answers are the extractive fallback: {fb.first}")
    if run.calibration:
        parts.append("\nAbstention calibration:\n" + "\n".join(calibration_lines(run.calibration)))
    parts.append(f"\n{run.n_questions} questions, {run.runtime_s} s.")
    out = run.out
    parts.append(f"Report: {(out / 'report.md').resolve()} (all numbers: {(out / 'latest.json').resolve()})")
    return "\n".join(parts)
