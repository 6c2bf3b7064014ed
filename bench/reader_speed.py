"""The auto reader's speed against the whole-chunk generated mode, side by side in one run.

    .venv/bin/python bench/reader_speed.py [--models 1.5b 0.5b] [--limit 30] [--lookup 0 10]

For each model, every answerable question of eval/questions.jsonl (the first `--limit`, no follow-ups) is
asked in each configuration, one after the other on the same loaded model and index:

- `whole chunks` — the `llamacpp` generated mode: the retrieved chunks, trimmed to the context window;
- `reader` — the `auto` mode: the extractive answerer's best sentences and their neighbours within
  settings.reader_prompt_tokens, the system prefix read once per process;
- `reader + lookup N` — the same with prompt-lookup decoding (N draft tokens), for each N of `--lookup`.

It reports time to first token and total (p50/p95, seconds), prompt tokens read per question (p50), and the
machine's load. Writes bench/reader_speed.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from common import ROOT, log, machine

from qa.config import Backend, Settings
from qa.engine import QA
from qa.evaluation import load_questions
from qa.generation.llamacpp import LlamaCppGenerator


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run_config(qa: QA, questions: list[str], backend: Backend) -> dict[str, Any]:
    generator, problem = qa.generator(backend)
    assert isinstance(generator, LlamaCppGenerator), problem
    first, total, read, prompt = [], [], [], []
    fallbacks = 0
    for question in questions:
        answer = qa.ask(question, backend=backend)
        if answer.backend not in (backend.value,) and not answer.abstained:
            fallbacks += 1
        t = answer.timings_ms
        total.append(t["total"] / 1000)
        first.append(t.get("first_token", t["total"]) / 1000)
        tokens, prefix = generator.last_prompt
        prompt.append(tokens)
        read.append(tokens - prefix if backend is Backend.AUTO else tokens)
    return {
        "n": len(questions),
        "first_token_p50_s": round(percentile(first, 0.5), 2),
        "first_token_p95_s": round(percentile(first, 0.95), 2),
        "total_p50_s": round(percentile(total, 0.5), 2),
        "total_p95_s": round(percentile(total, 0.95), 2),
        "prompt_tokens_p50": statistics.median(prompt),
        "tokens_read_p50": statistics.median(read),
        "fallbacks": fallbacks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["1.5b", "0.5b"])
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--lookup", nargs="*", type=int, default=[])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "reader_speed.json")
    args = parser.parse_args()
    items = [i for i in load_questions(ROOT / "eval" / "questions.jsonl") if i.answerable and not i.history]
    questions = [i.question for i in items[: args.limit]]
    results: dict[str, Any] = {"machine": machine(), "load_before": os.getloadavg(), "rows": []}
    base = Settings.from_env()
    embedder_qa: QA | None = None
    for model in args.models:
        configs: list[tuple[str, Backend, int]] = [
            ("whole chunks", Backend.LLAMACPP, 0),
            ("reader", Backend.AUTO, 0),
        ]
        configs += [(f"reader + lookup {n}", Backend.AUTO, n) for n in args.lookup if n > 0]
        for label, backend, lookup in configs:
            settings = base.replace(llm_model=model, llm_prompt_lookup=lookup)
            qa = QA(settings, embedder=embedder_qa.embedder if embedder_qa else None)
            embedder_qa = embedder_qa or qa
            log(f"reader speed: {model} {label}")
            qa.ask(questions[0], backend=backend)  # load the model and read the prefix: not timed
            started = time.perf_counter()
            row = {"model": model, "config": label, **run_config(qa, questions, backend)}
            row["wall_s"] = round(time.perf_counter() - started, 1)
            results["rows"].append(row)
            generator, _ = qa.generator(backend)
            if isinstance(generator, LlamaCppGenerator):
                generator.close()
            print(json.dumps(row), flush=True)
    results["load_after"] = os.getloadavg()
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results))
    return 0


def table(results: dict[str, Any]) -> str:
    lines = [
        "| model | prompt | first token p50 / p95 (s) | total p50 / p95 (s) | prompt tokens p50 | read per question p50 |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['model']} | {r['config']} | {r['first_token_p50_s']} / {r['first_token_p95_s']} | "
            f"{r['total_p50_s']} / {r['total_p95_s']} | {r['prompt_tokens_p50']:.0f} | {r['tokens_read_p50']:.0f} |"
        )
    load = results["load_before"]
    lines.append(
        f"\n{results['rows'][0]['n'] if results['rows'] else 0} questions per row; load average before "
        f"{load[0]:.2f}, after {results['load_after'][0]:.2f}; {results['machine']}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
