"""The side-by-side table of README "Generative answers": one column per `qa eval --backend llamacpp` run.

    python scripts/llm_table.py eval/results/llm-135m eval/results/llm-0.5b eval/results/llm-1.5b

Each folder holds a run's latest.json; the extractive column comes from the first. A column is named by the
run's QA_LLM_MODEL (recorded in the folder name after "llm-"), and counts the answers that fell back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROWS = (
    ("key_fact_accuracy", "key-fact accuracy", "{:.3f}"),
    ("all_key_facts", "all key facts", "{:.3f}"),
    ("citation_precision", "citation precision", "{:.3f}"),
    ("citation_recall", "citation recall", "{:.3f}"),
    ("unsupported_sentence_rate", "unsupported-sentence rate", "{:.3f}"),
    ("abstention_precision", "abstention precision", "{:.3f}"),
    ("abstention_recall", "abstention recall", "{:.3f}"),
    ("false_abstention_rate", "false abstention rate", "{:.3f}"),
    ("first_token_p50_ms", "time to first token p50 (s)", "s"),
    ("first_token_p95_ms", "time to first token p95 (s)", "s"),
    ("total_p50_ms", "total p50 (s)", "s"),
    ("total_p95_ms", "total p95 (s)", "s"),
)


def cell(value: float | None, style: str) -> str:
    if value is None:
        return "—"
    if style == "s":  # extractive answers take milliseconds: keep them visible beside the models' seconds
        return f"{value / 1000:.1f}" if value >= 1000 else f"{value / 1000:.3f}"
    return style.format(value)


def columns(folders: list[Path]) -> list[tuple[str, dict[str, Any], int]]:
    """(name, overall scores, fallbacks) for extractive, then each run's generator mode."""
    runs = [json.loads((f / "latest.json").read_text(encoding="utf-8")) for f in folders]
    out = [("extractive", runs[0]["summary"]["extractive-hybrid"]["overall"], 0)]
    for folder, run in zip(folders, runs, strict=True):
        mode = next(m for m in run["modes"] if not m.startswith("extractive"))
        name = f"{mode.split('-')[0]} {folder.name.removeprefix('llm-')}"
        out.append((name, run["summary"][mode]["overall"], run["fallbacks"].get(mode, {}).get("count", 0)))
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    cols = columns([Path(a) for a in argv])
    lines = ["| metric | " + " | ".join(name for name, _, _ in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for key, label, style in ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(s.get(key), style) for _, s, _ in cols) + " |")
    lines.append("| fell back to extractive | " + " | ".join(str(n) for _, _, n in cols) + " |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
