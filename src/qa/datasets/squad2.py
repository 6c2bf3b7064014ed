"""SQuAD 2.0, open-book: every paragraph of the 8 articles in one corpus, each question asked of all of them.

One document per paragraph (titled with its article): the gold paragraph of a question is then exactly one
document, so "was it retrieved" has a yes-or-no answer, while the title still tells retrieval which article a
passage belongs to. A paragraph longer than the embedding window becomes several chunks, as any file would.

A question counts as answered correctly when a gold answer occurs, as whole words after SQuAD normalisation,
in the answer's text. The extractive answerer quotes whole sentences, so token F1 against the short gold spans
is low by construction; accuracy is the headline, F1 is reported for comparison with generative readers.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.datasets import scores as s
from qa.datasets import sweep
from qa.datasets.base import CorpusDoc, require_file
from qa.metrics import percentile, strip_citation_marks

if TYPE_CHECKING:
    from qa.engine import QA
    from qa.eval_types import Mode

FILE = "squad2/dev-v2.0-articles-1-8.json"
HIT_KS = (1, 3, 5)
MAX_FALSE_ABSTENTION = 0.10  # the bound on false abstention, for the threshold sweep
# Published on the full SQuAD 2.0 test set, with the gold paragraph given (reading comprehension, not open
# book): Rajpurkar, Jia and Liang (2018), Table 5.
PUBLISHED = {"DocQA + ELMo (best 2018 baseline), F1": 0.663, "human, F1": 0.895}


@dataclass(frozen=True)
class SquadItem:
    id: str
    question: str
    answers: tuple[str, ...]  # distinct gold answers; empty when unanswerable
    answerable: bool
    doc: str  # the gold paragraph's file in the corpus folder


def data_files(root: Path) -> list[Path]:
    return [require_file(root / FILE, "SQuAD 2.0 (articles 1-8 of the dev split)")]


def load(root: Path) -> tuple[list[CorpusDoc], list[SquadItem]]:
    """The paragraphs as documents and the questions, in file order."""
    path = data_files(root)[0]
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
        docs, items = [], []
        for article in articles:
            title = article["title"].replace("_", " ")
            slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
            for n, paragraph in enumerate(article["paragraphs"], start=1):
                doc = f"{slug}/p{n:03d}.txt"
                docs.append(CorpusDoc(doc, title, paragraph["context"]))
                for qa in paragraph["qas"]:
                    golds = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                    answerable = not qa.get("is_impossible", False)
                    items.append(SquadItem(qa["id"], qa["question"], golds, answerable, doc))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not in the SQuAD 2.0 format ({type(exc).__name__}: {exc})") from exc
    return docs, items


def ask_all(qa: QA, items: Sequence[SquadItem], mode: Mode) -> list[dict[str, Any]]:
    """Each question asked through `qa` in `mode`, scored; one record per question."""
    from tqdm import tqdm

    from qa.config import Backend
    from qa.evaluation import abstention_evidence, ask_timed

    records = []
    for item in tqdm(items, desc=f"squad2 {mode.name}", unit="q", disable=None):
        answer = ask_timed(qa, item.question, (), mode)
        # What the extractive answerer measured before deciding to abstain, for the threshold sweep.
        evidence = (
            dataclasses.asdict(abstention_evidence(qa, answer))
            if mode.backend is Backend.EXTRACTIVE
            else None
        )
        ranked = s.unique_in_order([h.chunk.doc_path for h in answer.hits])
        text = "" if answer.abstained else strip_citation_marks(answer.answer)
        cited = {c.source for c in answer.citations}
        records.append(
            {
                "id": item.id,
                "answerable": item.answerable,
                "abstained": answer.abstained,
                "gold_rank": ranked.index(item.doc) + 1 if item.doc in ranked else None,
                "cites_gold": item.doc in cited,
                "correct": item.answerable and s.contains_answer(text, item.answers),
                "f1": s.best_f1(text, item.answers) if item.answerable else None,
                "fell_back": not answer.abstained and answer.backend != mode.backend.value,
                "total_ms": round(answer.timings_ms.get("total", 0.0), 1),
                "got": answer.answer[:300],
                "reason": answer.reason,
                "doubt": answer.doubt,
                "evidence": evidence,
            }
        )
    return records


def retrieval_ranks(qa: QA, items: Sequence[SquadItem], mode: Any) -> list[int | None]:
    """Rank of the gold paragraph among the top_k documents for each answerable question (None: missed)."""
    from qa.retrieval import retrieve

    settings = qa.settings
    ranks: list[int | None] = []
    for item in (i for i in items if i.answerable):
        vector = qa.embedder.embed([item.question])[0]
        hits = retrieve(
            qa.store, item.question, vector, settings.top_k, settings.candidates, settings.rrf_k, mode
        )
        ranked = s.unique_in_order([h.chunk.doc_path for h in hits])
        ranks.append(ranked.index(item.doc) + 1 if item.doc in ranked else None)
    return ranks


def hit_estimates(ranks: Sequence[int | None]) -> dict[str, s.Estimate]:
    return {f"hit@{k}": s.share([r is not None and r <= k for r in ranks]) for k in HIT_KS}


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, s.Estimate]:
    """The headline metrics of one mode, each with its 95% interval and sample size."""
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    abstained = [r for r in records if r["abstained"]]
    answered = [r for r in answerable if not r["abstained"]]
    # The official SQuAD 2.0 score per question: an unanswerable one scores 1 when abstained on.
    official = [r["f1"] if r["answerable"] else float(r["abstained"]) for r in records]
    out = hit_estimates([r["gold_rank"] for r in answerable])
    out |= {
        "answer_accuracy": s.share([r["correct"] for r in answerable]),
        "accuracy_when_answered": s.share([r["correct"] for r in answered]),
        "token_f1": s.bootstrap_mean([r["f1"] for r in answerable]),
        "abstention_precision": s.share([not r["answerable"] for r in abstained]),
        "abstention_recall": s.share([r["abstained"] for r in unanswerable]),
        "false_abstention_rate": s.share([r["abstained"] for r in answerable]),
        "squad2_f1_all": s.bootstrap_mean(official),
    }
    return out


def losses(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Where answerable questions were lost, stage by stage (the first failing stage counts)."""
    out = {"correct": 0, "gold paragraph not retrieved": 0, "abstained, gold retrieved": 0}
    out |= {"answered from other paragraphs": 0, "gold cited, answer not in the quoted sentences": 0}
    for r in (r for r in records if r["answerable"]):
        if r["correct"]:
            out["correct"] += 1
        elif r["gold_rank"] is None:
            out["gold paragraph not retrieved"] += 1
        elif r["abstained"]:
            out["abstained, gold retrieved"] += 1
        elif not r["cites_gold"]:
            out["answered from other paragraphs"] += 1
        else:
            out["gold cited, answer not in the quoted sentences"] += 1
    return out


def latency(records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    times = [float(r["total_ms"]) for r in records]
    return {"total_p50_ms": percentile(times, 50), "total_p95_ms": percentile(times, 95)}


def run(qa: QA, items: Sequence[SquadItem], modes: Sequence[Mode], quick: bool) -> dict[str, Any]:
    """Every mode over the sample; retrieval-only hit@k for each retriever too (unless quick)."""
    from qa.config import RetrievalMode

    records = {mode.name: ask_all(qa, items, mode) for mode in modes}
    summary = {name: summarise(rs) for name, rs in records.items()}
    rows = [[name, *(summary[name][k].describe() for k in SUMMARY_ROWS)] for name in summary]
    n_ans = sum(i.answerable for i in items)
    sections = [
        {
            "title": "Answers and abstention (95% intervals)",
            "text": f"{len(items)} questions ({n_ans} answerable, {len(items) - n_ans} unanswerable). "
            "hit@k, accuracy, F1 and false abstention are over the answerable questions; abstention recall "
            "over the unanswerable ones; abstention precision over the abstentions; squad2_f1_all is the "
            "official per-question score (an abstention on an unanswerable question scores 1).",
            "header": ["mode", *SUMMARY_ROWS],
            "rows": rows,
        },
        {
            "title": "Where answerable questions were lost",
            "header": ["mode", *losses(records[modes[0].name])],
            "rows": [[name, *map(str, losses(rs).values())] for name, rs in records.items()],
        },
    ]
    if not quick:
        by_retriever = {
            m.value: hit_estimates(retrieval_ranks(qa, items, m))
            for m in (RetrievalMode.HYBRID, RetrievalMode.DENSE, RetrievalMode.BM25)
        }
        sections.append(
            {
                "title": f"Retrieval alone: the gold paragraph in the top k ({n_ans} answerable questions)",
                "header": ["retriever", *(f"hit@{k}" for k in HIT_KS)],
                "rows": [[r, *(e[f"hit@{k}"].describe() for k in HIT_KS)] for r, e in by_retriever.items()],
            }
        )
    swept = {}
    if not quick and "extractive-hybrid" in records:
        swept = sweep.sweep(records["extractive-hybrid"], qa.settings.abstain, MAX_FALSE_ABSTENTION)
        sections.append(sweep.section(swept))
    sections.append(
        {
            "title": "Published (not comparable: the gold paragraph is given, answers are short spans)",
            "header": ["system", "score"],
            "rows": [[name, f"{v:.3f}"] for name, v in PUBLISHED.items()],
        }
    )
    fallbacks = {name: sum(r["fell_back"] for r in rs) for name, rs in records.items()}
    return {
        "summary": {name: {k: e.to_json() for k, e in est.items()} for name, est in summary.items()},
        "latency": {name: latency(rs) for name, rs in records.items()},
        "fallbacks": fallbacks,
        "threshold_sweep": swept,
        "sections": sections,
        "chart": {name: {k: summary[name][k].to_json() for k in CHART} for name in summary},
        "gate": {f"{name}.{k}": e.value for name, est in summary.items() for k, e in est.items()},
        "records": records,
    }


SUMMARY_ROWS = (
    "hit@1",
    "hit@5",
    "answer_accuracy",
    "accuracy_when_answered",
    "token_f1",
    "abstention_precision",
    "abstention_recall",
    "false_abstention_rate",
    "squad2_f1_all",
)
CHART = (
    "hit@5",
    "answer_accuracy",
    "token_f1",
    "abstention_precision",
    "abstention_recall",
    "false_abstention_rate",
)
