"""The eval's typed result (qa.eval_types.EvalRun) through its report and the CLI's verdict, without a model."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qa.cli import report_eval
from qa.eval_report import summary_text, write_results
from qa.eval_types import (
    ANSWERS,
    CITATIONS,
    GROUNDING,
    MAIN,
    METRICS,
    RETRIEVAL,
    Check,
    EvalItem,
    EvalRun,
    ModeSummary,
    Outcome,
    Scores,
)
from qa.evaluation import by_type, summarise
from qa.types import Answer


def make_run(tmp_path: Path, failures: tuple[str, ...] | None = ()) -> EvalRun:
    item = EvalItem("q1", "single_fact", "What?", (), True, "Yes.", (("yes",),), ("a.txt",), ("Yes.",))
    answer = Answer("What?", "What?", "Yes. [1]", False, timings_ms={"retrieve": 2.0, "total": 5.0})
    scores: Scores = dict.fromkeys(RETRIEVAL + ANSWERS + CITATIONS + GROUNDING, 1.0)
    hit = Outcome(item, answer, scores, ((3, True), (8, False)), "")
    miss = Outcome(
        replace(item, id="q2", type="followup", question="And then?", history=("What?",)),
        replace(answer, question="And then?", query="What? and then"),
        dict.fromkeys(scores, 0.0),
        ((4, False),),
        "missing yes; retrieval: no evidence in the top 10",
    )
    outcomes = {MAIN: (hit, miss)}
    return EvalRun(
        created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        questions_file=tmp_path / "questions.jsonl",
        settings={"top_k": 5},
        main=MAIN,
        runtime_s=1.5,
        outcomes=outcomes,
        summary={MAIN: ModeSummary(summarise(outcomes[MAIN]), by_type(outcomes[MAIN]))},
        fallbacks={},
        calibration=None,
        check=None if failures is None else Check(tmp_path / "thresholds.toml", failures),
        out=tmp_path / "results",
    )


def test_the_run_is_written_as_json_markdown_and_a_chart(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    write_results(run)
    result = json.loads((run.out / "latest.json").read_text(encoding="utf-8"))
    assert (run.out / "20260102T030405Z.json").read_text(encoding="utf-8") == json.dumps(
        result, indent=1, ensure_ascii=False
    )
    assert result["created"] == "2026-01-02T03:04:05+00:00" and result["n_questions"] == 2
    assert result["modes"] == [MAIN] and set(result["summary"][MAIN]["overall"]) == set(METRICS)
    assert set(result["summary"][MAIN]["by_type"]) == {"single_fact", "followup"}
    assert result["check"] == {"thresholds": str(tmp_path / "thresholds.toml"), "failures": []}
    first, second = result["questions"][MAIN]
    assert (first["id"], first["ranked_chunk_ids"], first["relevant_ranks"]) == ("q1", [3, 8], [1])
    assert second["history"] == ["What?"] and second["why"].startswith("missing yes")
    report = (run.out / "report.md").read_text(encoding="utf-8")
    assert f"## Misses ({MAIN}): 1 of 2" in report
    assert "### q2 (followup): What? → And then?" in report and "- searched for: What? and then" in report
    assert (run.out / "modes.png").stat().st_size > 0


def test_the_cli_prints_the_summary_and_decides_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = make_run(tmp_path, failures=None)
    assert run.passed and report_eval(run) == 0
    printed = capsys.readouterr()
    assert printed.out == summary_text(run) + "\n" and printed.err == ""
    assert (
        "2 questions, 1.5 s." in printed.out and f"Report: {(run.out / 'report.md').resolve()}" in printed.out
    )

    assert report_eval(make_run(tmp_path)) == 0
    assert (
        f"qa eval --check ({MAIN}): passed against {tmp_path / 'thresholds.toml'}" in capsys.readouterr().out
    )

    failed = make_run(tmp_path, failures=("hit@5 = 0.500, 0.400 below the minimum 0.900",))
    assert not failed.passed and report_eval(failed) == 1
    printed = capsys.readouterr()
    assert printed.err == "qa eval --check: FAILED hit@5 = 0.500, 0.400 below the minimum 0.900\n"
    assert f"qa eval --check ({MAIN}): FAILED against" in printed.out
