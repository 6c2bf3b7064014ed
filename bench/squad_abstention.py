"""Can anything the extractive answerer measures tell SQuAD 2.0's unanswerable questions from the others?

    .venv/bin/python bench/squad_abstention.py     # all 2,805 questions, about a minute once the index is built
                                                    # writes bench/squad_abstention.json and a section of
                                                    # bench/results.md ("## SQuAD 2.0 abstention signals")

The issue's floor for extractive answers is abstention recall >= 0.50 at false abstention <= 0.10; the
shipped thresholds give 0.206 at 0.085. Before tuning anything, this asks whether the signal is there at all.
For every question it records the abstention evidence the answerer computes (`qa.abstention.Evidence`) and a
few coverage measures it could compute as cheaply: the weighted share of the question's terms in the best
sentence's chunk, in the three best sentences' chunks, in the best sentence with its neighbours and in the
top-ranked chunk; the heaviest term missing from each; capitalised question words missing from the best
chunk; the cosine gap between the two best sentences. Then:

- each signal's ROC AUC alone (0.5 = no better than chance, either direction);
- a logistic regression over groups of them, fitted on one half of the questions (the same stable hash
  folds as the threshold sweep) with its threshold set for false abstention <= 0.10 on that half, scored on
  the other half, both ways round: what the best combination of these signals would honestly buy.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from common import ROOT
from serving import write_section
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from qa import lexical
from qa.config import Backend, Settings
from qa.datasets import squad2
from qa.datasets.base import data_root, fingerprint, prepare
from qa.embedding import make_embedder
from qa.engine import QA
from qa.evaluation import reanalysis
from qa.metrics import stable_folds
from qa.selecting import QueryTerms

RESULTS_JSON = ROOT / "bench" / "squad_abstention.json"
RESULTS_MD = ROOT / "bench" / "results.md"
SECTION = "## SQuAD 2.0 abstention signals"
MAX_FAR = 0.10
EVIDENCE = ["best_cosine", "best_coverage", "chunk_cosine", "passage_coverage", "missing_terms"]
_CAPITALISED = re.compile(r"\b[A-Z][\w'-]+")


def coverage(terms: QueryTerms, text: str) -> tuple[float, float]:
    """(weighted share of the query's terms in `text`, the heaviest missing term's share of the weight)."""
    present = set(lexical.content_terms(text))
    total = terms.total or 1.0
    missing = [w / total for t, w in terms.weights.items() if t not in present]
    return terms.coverage(present), max(missing, default=0.0)


def signals(qa: QA, question: str) -> tuple[dict[str, float], bool] | None:
    """The signals for one question, and whether the shipped answerer abstained; None when nothing scored."""
    answer = qa.ask(question, backend=Backend.EXTRACTIVE)
    analysis = reanalysis(qa, answer)
    candidates, terms = analysis.candidates, analysis.terms
    if not candidates or not answer.hits:
        return None
    e = analysis.evidence
    f: dict[str, float] = {k: float(v) for k, v in dataclasses.asdict(e).items() if k in EVIDENCE[:4]}
    f["missing_terms"] = float(len(e.missing_terms))
    best = candidates[0]
    near = " ".join({c.hit.chunk_id: c.hit.chunk.embed_text() for c in candidates[:3]}.values())
    sentences = best.hit.chunk.sentences
    window = " ".join(s.text for s in sentences[max(best.index - 1, 0) : best.index + 2])
    for name, text in (
        ("best_chunk", best.hit.chunk.embed_text()),
        ("near_chunks", near),
        ("window", window),
        ("top_chunk", answer.hits[0].chunk.embed_text()),
    ):
        f[f"{name}_coverage"], f[f"{name}_heaviest_missing"] = coverage(terms, text)
    chunk = best.hit.chunk.embed_text().lower()
    f["capitalised_missing"] = float(
        sum(1 for w in {w.lower() for w in _CAPITALISED.findall(question[1:])} if w not in chunk)
    )
    f["sentence_cosine_gap"] = best.cosine - (candidates[1].cosine if len(candidates) > 1 else 0.0)
    return f, answer.abstained


def held_out(x: np.ndarray, unanswerable: np.ndarray, folds: np.ndarray) -> list[dict[str, float]]:
    """Per fold: fit on the other half, threshold at false abstention <= MAX_FAR there, score this half."""
    scores = []
    for fold in (0, 1):
        train, test = folds != fold, folds == fold
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(x[train], unanswerable[train])
        p_train = model.predict_proba(x[train])[:, 1]
        p_test = model.predict_proba(x[test])[:, 1]
        answerable_scores = np.sort(p_train[~unanswerable[train]])[::-1]
        threshold = answerable_scores[int(MAX_FAR * len(answerable_scores))]
        scores.append(
            {
                "abstention_recall": round(float((p_test[unanswerable[test]] > threshold).mean()), 3),
                "false_abstention": round(float((p_test[~unanswerable[test]] > threshold).mean()), 3),
            }
        )
    return scores


def run() -> dict[str, Any]:
    started, load = time.perf_counter(), os.getloadavg()
    settings = Settings.from_env()
    embedder = make_embedder(settings)
    root = data_root()
    docs, items = squad2.load(root)
    where = settings.cache_dir / "datasets" / "squad2"
    prepared = prepare(settings, where, fingerprint(squad2.data_files(root)), docs, embedder)
    qa = QA(prepared.settings, embedder)
    rows, ids, unanswerable, abstained = [], [], [], []
    for item in items:
        got = signals(qa, item.question)
        if got is None:
            continue
        rows.append(got[0])
        ids.append(item.id)
        unanswerable.append(not item.answerable)
        abstained.append(got[1])
    names = list(rows[0])
    x = np.array([[r[n] for n in names] for r in rows])
    y, shipped = np.array(unanswerable), np.array(abstained)
    folds = np.array(stable_folds(ids, [not u for u in unanswerable]))
    auc = {
        n: round(float(max(a, 1 - a)), 3)
        for n, a in ((n, roc_auc_score(y, x[:, i])) for i, n in enumerate(names))
    }
    groups: dict[str, Sequence[str]] = {
        "the answerer's evidence": EVIDENCE,
        "+ best sentence's chunk": [*EVIDENCE, "best_chunk_coverage", "best_chunk_heaviest_missing"],
        "+ best sentence and neighbours": [*EVIDENCE, "window_coverage", "window_heaviest_missing"],
        "every signal": names,
    }
    fits = {g: held_out(x[:, [names.index(c) for c in cols]], y, folds) for g, cols in groups.items()}
    return {
        "measured": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "questions": len(rows),
        "unanswerable": int(y.sum()),
        "load_average_at_start": [round(v, 2) for v in load],
        "runtime_s": round(time.perf_counter() - started, 1),
        "shipped": {
            "abstention_recall": round(float(shipped[y].mean()), 3),
            "false_abstention": round(float(shipped[~y].mean()), 3),
        },
        "auc": auc,
        "held_out_fits": fits,
    }


def markdown(r: dict[str, Any]) -> str:
    lines = [
        SECTION,
        "",
        f"`bench/squad_abstention.py`, {r['measured']}: {r['questions']} SQuAD 2.0 questions "
        f"({r['unanswerable']} unanswerable), extractive, {r['runtime_s']} s. Shipped thresholds: abstention "
        f"recall {r['shipped']['abstention_recall']}, false abstention {r['shipped']['false_abstention']}.",
        "",
        "| signal | ROC AUC alone |",
        "|---|---:|",
        *[f"| {n} | {a} |" for n, a in sorted(r["auc"].items(), key=lambda kv: -kv[1])],
        "",
        f"Logistic regression, fitted on one half with false abstention <= {MAX_FAR} there, scored on the other "
        "(fold 0 / fold 1):",
        "",
        "| signals | abstention recall | false abstention |",
        "|---|---:|---:|",
        *[
            f"| {g} | {f[0]['abstention_recall']} / {f[1]['abstention_recall']} | "
            f"{f[0]['false_abstention']} / {f[1]['false_abstention']} |"
            for g, f in r["held_out_fits"].items()
        ],
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    result = run()
    RESULTS_JSON.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_section(RESULTS_MD, SECTION, markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
