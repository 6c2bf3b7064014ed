"""Evaluation: the metric functions against hand-computed values, and `run_eval` end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa import metrics as m
from qa.cli import report_eval
from qa.config import Backend, ConfigError, Settings
from qa.eval_types import MAIN, METRICS, EvalItem
from qa.evaluation import load_limits, load_questions, miss_reason, run_eval
from qa.types import NOT_FOUND, Answer, Citation

ROOT = Path(__file__).resolve().parents[1]

# ---- retrieval ------------------------------------------------------------------------------------------


def test_evidence_matches_across_line_breaks_and_case() -> None:
    chunk = "Alpha Lau, mk the Director-General of investment promotion. Other text."
    evidence = ["Alpha Lau,\nmk the director-general of investment promotion.", "Not here."]
    assert m.evidence_in(chunk, evidence) == frozenset({0})


def test_hit_at_k() -> None:
    ranks = [False, True, False]
    assert m.hit_at_k(ranks, 1) == 0.0
    assert m.hit_at_k(ranks, 2) == 1.0
    assert m.hit_at_k([], 5) == 0.0


def test_reciprocal_rank() -> None:
    assert m.reciprocal_rank([False, False, True]) == pytest.approx(1 / 3)
    assert m.reciprocal_rank([True, True]) == 1.0
    assert m.reciprocal_rank([False] * 10 + [True]) == 0.0  # beyond k=10
    assert m.reciprocal_rank([False, True], k=1) == 0.0


def test_ndcg_by_hand() -> None:
    # Relevant at ranks 2 and 4, two relevant in the ideal ranking:
    # DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161; IDCG = 1 + 0.63093 = 1.63093.
    assert m.ndcg_at_k([0, 1, 0, 1], 10, 2) == pytest.approx(1.06161 / 1.63093, abs=1e-4)
    assert m.ndcg_at_k([1, 0], 10, 1) == 1.0
    assert m.ndcg_at_k([0, 1], 10, 1) == pytest.approx(0.63093, abs=1e-4)
    assert m.ndcg_at_k([0, 0, 1], 2, 1) == 0.0  # cut off at k
    assert m.ndcg_at_k([0, 0], 10, 0) == 0.0


def test_overlapping_chunks_repeating_evidence_gain_nothing() -> None:
    assert m.novel_gains([{0}, {0}, set(), {1}]) == [1, 0, 0, 1]
    assert m.ndcg_at_k(m.novel_gains([{0}, {0}]), 10, m.min_cover([{0}, {0}])) == 1.0


def test_min_cover() -> None:
    assert m.min_cover([{0}, {1}, {0, 1}]) == 1
    assert m.min_cover([{0}, {1}, {2}, {0, 1}]) == 2
    assert m.min_cover([set(), set()]) == 0


def test_evidence_recall() -> None:
    found = [{0}, set(), {1}]
    assert m.evidence_recall(found, 3, 2) == pytest.approx(1 / 3)
    assert m.evidence_recall(found, 3, 3) == pytest.approx(2 / 3)
    assert m.evidence_recall([], 2, 5) == 0.0


# ---- answers --------------------------------------------------------------------------------------------


def test_squad_normalisation() -> None:
    assert m.squad_normalise("The  Quick, brown fox!") == "quick brown fox"
    assert m.squad_normalise("An apple a day—“theory”") == "apple daytheory"
    assert m.squad_normalise("Another theme") == "another theme"  # articles only as whole words


def test_exact_match_and_f1() -> None:
    assert m.exact_match("The Cat.", "cat") == 1.0
    assert m.exact_match("a cat sat", "cat") == 0.0
    # pred [cat, sat], ref [cat, sat, down]: P = 1, R = 2/3, F1 = 0.8
    assert m.token_f1("the cat sat", "a cat sat down") == pytest.approx(0.8)
    assert m.token_f1("dog", "cat") == 0.0
    # repeated tokens count once per occurrence: pred [a.., 11, 11], ref [11]: P = 1/2, R = 1, F1 = 2/3
    assert m.token_f1("11 11", "11") == pytest.approx(2 / 3)
    assert m.token_f1("", "") == 1.0


def test_key_facts_any_variant_case_and_whitespace() -> None:
    text = "Signed on 11 June\n2019 in KUALA  Lumpur [1]."
    assert m.fact_found(text, ["June 11, 2019", "11 june 2019"])
    assert m.key_fact_share(text, [["11 June 2019"], ["Malaysia", "kuala lumpur"]]) == 1.0
    assert m.key_fact_share(text, [["Tokyo"], ["kuala lumpur"]]) == 0.5
    assert m.key_fact_share(text, []) == 1.0


def test_citation_marks_are_stripped() -> None:
    assert m.strip_citation_marks("A holds [1]. B too [2, 3].") == "A holds. B too."


# ---- citations ------------------------------------------------------------------------------------------


def test_citation_precision() -> None:
    evidence = ["Trade reached USD 132.5 billion in 2024."]
    facts = [["3.5%"]]
    quotes = [
        "Trade reached USD 132.5\nbillion in 2024.",  # the evidence sentence
        "It was 3.5% of the total.",  # a key fact
        "Something else entirely.",
    ]
    assert m.citation_precision(quotes, evidence, facts) == pytest.approx(2 / 3)
    assert m.citation_precision([], evidence, facts) is None
    # A quote that is part of an evidence string (the chunker split it) supports it too.
    assert m.citation_precision(["Trade reached USD 132.5 billion"], evidence, []) == 1.0


def test_citation_recall() -> None:
    evidence = ["A one. B two.", "C three."]
    assert m.citation_recall(["A one.", "B two."], evidence) == 0.5  # quoted together, in order
    assert m.citation_recall(["C three.", "A one. B two."], evidence) == 1.0
    assert m.citation_recall([], evidence) == 0.0
    assert m.citation_fact_recall(["C three."], [["three"], ["four"]]) == 0.5


# ---- abstention and aggregation -------------------------------------------------------------------------


def test_abstention_precision_recall_by_hand() -> None:
    abstained = [True, True, False, False, True]
    answerable = [False, True, True, False, False]
    # TP = 2 (items 0, 4), FP = 1 (item 1), unanswerable = 3, answerable = 2.
    scores = m.abstention_scores(abstained, answerable)
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == pytest.approx(2 / 3)
    assert scores.false_abstention_rate == pytest.approx(1 / 2)
    assert scores.balanced_accuracy == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_abstention_undefined_parts_are_none() -> None:
    scores = m.abstention_scores([False, False], [True, True])
    assert scores.precision is None and scores.recall is None
    assert scores.false_abstention_rate == 0.0


def test_percentile_matches_numpy() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert m.percentile(values, 50) == 2.5
    assert m.percentile(values, 95) == pytest.approx(3.85)
    for q in (0, 10, 50, 90, 95, 100):
        assert m.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert m.percentile([], 50) is None


def test_mean_skips_undefined() -> None:
    assert m.mean([1.0, None, 0.0]) == 0.5
    assert m.mean([None]) is None


# ---- calibration ----------------------------------------------------------------------------------------


def test_folds_are_stable_and_stratified() -> None:
    ids = [f"q{i:03d}" for i in range(1, 21)]
    labels = [i % 4 != 0 for i in range(20)]  # 15 answerable, 5 not
    folds = m.stable_folds(ids, labels)
    assert folds == m.stable_folds(list(ids), list(labels))
    for label in (True, False):
        members = [f for f, lab in zip(folds, labels, strict=True) if lab is label]
        assert abs(members.count(0) - members.count(1)) <= 1


def test_best_threshold_prefers_balanced_accuracy_then_fewer_false_abstentions() -> None:
    answerable = np.array([True, True, False, False])
    decisions = np.array(
        [
            [False, False, False, False],  # abstains never: 0.5
            [True, False, True, True],  # recall 1, FAR 0.5: 0.75
            [False, False, True, False],  # recall 0.5, FAR 0: 0.75, fewer false abstentions
            [True, True, True, True],  # always: 0.5
        ]
    )
    everything = np.ones(4, dtype=bool)
    row, score = m.best_threshold(decisions, answerable, everything, np.zeros(4))
    assert (row, score) == (2, 0.75)
    # Fitted on the first and third question only, rows 1 and 2 tie fully; the nearer one wins.
    mask = np.array([True, False, True, False])
    assert m.best_threshold(decisions, answerable, mask, np.array([0, 0.2, 0.1, 0]))[0] == 2


def test_grid_and_calibration_summary() -> None:
    grid = m.grid_around({"a": 0.5, "b": 0.0}, 0.1, 25)
    assert len(grid) == 15 and {"a": 0.5, "b": 0.0} in grid  # a: 0.3 ... 0.7, b: 0.0 ... 0.2
    # Two thresholds: row 0 abstains on nothing, row 1 abstains exactly on the unanswerable questions.
    ids = ["q1", "q2", "q3", "q4"]
    answerable = np.array([True, False, True, False])
    decisions = np.array([[False] * 4, [False, True, False, True]])
    points = [{"t": 0.1}, {"t": 0.2}]
    summary = m.calibration_summary(decisions, answerable, ids, points, current=0)
    assert summary["held_out"]["thresholds"] == {"t": 0.2}
    assert summary["held_out"]["held_out_score"] == 1.0
    assert summary["cross_validation"]["current_mean_held_out_score"] == 0.5
    assert summary["full_set"] == {"thresholds": {"t": 0.2}, "in_sample_score": 1.0}
    assert summary["always_abstain"] == [] and summary["never_abstain"] == []


# ---- regression gate ------------------------------------------------------------------------------------


def test_failed_checks_say_by_how_much() -> None:
    scores = {"hit@5": 0.80, "false_abstention_rate": 0.25, "f1": None}
    failures = m.failed_checks(scores, {"hit@5": 0.85, "f1": 0.1}, {"false_abstention_rate": 0.2})
    assert failures == [
        "hit@5 = 0.800, 0.050 below the minimum 0.850",
        "f1 = not measured, not the minimum 0.100",
        "false_abstention_rate = 0.250, 0.050 above the maximum 0.200",
    ]
    assert m.failed_checks(scores, {"hit@5": 0.8}, {"false_abstention_rate": 0.25}) == []


def test_project_thresholds_name_known_metrics_and_are_not_zero() -> None:
    mins, maxes = load_limits(ROOT / "eval" / "thresholds.toml")
    assert mins and all(v > 0 for v in mins.values())
    assert all(0 < v < 1 for v in maxes.values())


def test_unknown_threshold_metric_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[min]\n"hit@50" = 0.5\n')
    with pytest.raises(ConfigError, match="hit@50"):
        load_limits(path)


def test_malformed_question_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "q001"}\n')
    with pytest.raises(ConfigError, match="line 1"):
        load_questions(path)


# ---- miss reasons ---------------------------------------------------------------------------------------


def _item(evidence: tuple[str, ...], facts: tuple[tuple[str, ...], ...]) -> EvalItem:
    return EvalItem("q1", "two_sentence", "Q?", (), True, "ref", facts, ("a.txt",), evidence)


def _answer(*quotes: str, abstained: bool = False) -> Answer:
    cites = tuple(Citation(n, "a.txt", "A", None, q, n, 1.0, 0, len(q), q) for n, q in enumerate(quotes, 1))
    text = " ".join(f"{q} [{c.n}]" for q, c in zip(quotes, cites, strict=True))
    return Answer("Q?", "Q?", text or NOT_FOUND, abstained, cites, reason="no sentence is close enough")


def test_miss_reasons_name_the_stage_that_failed() -> None:
    item = _item(("Signed in 2019.", "Worth 5 billion."), (("2019",), ("5 billion",)))
    at_1_and_7 = [
        frozenset({0}),
        frozenset(),
        frozenset(),
        frozenset(),
        frozenset(),
        frozenset(),
        frozenset({1}),
    ]
    assert miss_reason(item, _answer("Signed in 2019.", "Worth 5 billion."), at_1_and_7, 5) == ""
    assert miss_reason(item, _answer(abstained=True), at_1_and_7, 5) == (
        "abstained (no sentence is close enough); evidence at retrieval rank 1"
    )
    assert miss_reason(item, _answer("Signed in 2019."), at_1_and_7, 5) == (
        "missing 5 billion; partial: 1 of 2 evidence sentences not quoted (rank 7, below the top 5)"
    )
    assert miss_reason(item, _answer("Other."), at_1_and_7, 5) == (
        "missing 2019, 5 billion; selection: evidence at retrieval rank 1, but the answer quotes other sentences"
    )
    assert miss_reason(item, _answer("Other."), at_1_and_7[1:], 5).endswith(
        "retrieval: evidence at retrieval rank 6, the answer reads the top 5"
    )


# ---- end to end, with the real model and index --------------------------------------------------------

TINY = ("q001", "q028", "q055", "q064", "q071")  # single fact, multi-doc, follow-up, off-topic, near miss


@pytest.fixture
def tiny_questions(tmp_path: Path) -> Path:
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(line for line in lines if json.loads(line)["id"] in TINY) + "\n")
    return path


@pytest.mark.slow
def test_run_eval_writes_results_and_checks(
    tiny_questions: Path,
    tmp_path: Path,
    real_settings: Settings,
    real_qa: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from qa.engine import QA

    # A generator column too, with a server that is down: its answers are the extractive fallback, flagged.
    settings = real_settings.replace(openai_base_url="http://127.0.0.1:9/v1")
    qa = QA(settings, embedder=real_qa.embedder, store=real_qa.store)
    out = tmp_path / "results"
    assert (
        report_eval(run_eval(settings, tiny_questions, out, backend=Backend.OPENAI, qa=qa, calibration=True))
        == 0
    )
    for name in ("latest.json", "report.md", "modes.png"):
        assert (out / name).stat().st_size > 0
    assert len(list(out.glob("2*.json"))) == 1  # the timestamped copy
    result = json.loads((out / "latest.json").read_text())
    assert result["modes"] == ["extractive-hybrid", "extractive-dense", "extractive-bm25", "openai-hybrid"]
    assert result["fallbacks"]["openai-hybrid"]["count"] >= 1
    overall = result["summary"][MAIN]["overall"]
    assert set(overall) == set(METRICS)
    assert overall["hit@5"] == 1.0  # these three are easy to retrieve
    assert set(result["summary"][MAIN]["by_type"]) == {
        "single_fact",
        "multi_doc",
        "followup",
        "unanswerable_offtopic",
        "unanswerable_near_miss",
    }
    follow = next(r for r in result["questions"][MAIN] if r["id"] == "q055")
    assert "AHKFTA" in follow["query"]  # asked after its history, so the query was condensed
    assert result["calibration"]["current_matches_run"]
    assert "## Misses" in (out / "report.md").read_text()
    printed = capsys.readouterr().out
    assert "hit@5" in printed and "extractive fallback" in printed
    assert f"Report: {(out / 'report.md').resolve()}" in printed  # where to read it

    impossible = tmp_path / "impossible.toml"
    impossible.write_text('[min]\n"hit@5" = 1.01\n\n[max]\nfalse_abstention_rate = -0.5\n')
    code = report_eval(
        run_eval(
            real_settings,
            tiny_questions,
            tmp_path / "r2",
            check=True,
            quick=True,
            qa=real_qa,
            thresholds=impossible,
        )
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "hit@5 = 1.000, 0.010 below the minimum 1.010" in err
    assert "false_abstention_rate" in err
    assert json.loads((tmp_path / "r2" / "latest.json").read_text())["modes"] == [MAIN]
