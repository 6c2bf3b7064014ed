"""Evaluation metrics as pure functions: retrieval ranks, answer text, citations, abstention, calibration.

Nothing here knows about models or files; `qa.evaluation` runs the system and feeds these the results.
Texts are compared whitespace-normalised and case-insensitively (`norm`), because evidence sentences keep
the source's line breaks while chunks and quotes join lines with spaces:

    norm("Alpha Lau,\\nmk the director-general") == norm("Alpha Lau, mk the  Director-General")
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import string
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation + "‘’“”–—…")
_CITATION_MARK = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


def norm(text: str) -> str:
    """Lower-case, with every run of whitespace collapsed to one space."""
    return " ".join(text.split()).lower()


def strip_citation_marks(answer: str) -> str:
    """The answer without its `[n]` markers: 'Signed in 2019 [1].' -> 'Signed in 2019.'"""
    return _CITATION_MARK.sub("", answer).strip()


# ---- retrieval ------------------------------------------------------------------------------------------


def evidence_in(text: str, evidence: Sequence[str]) -> frozenset[int]:
    """Indices of the evidence sentences that `text` contains."""
    haystack = norm(text)
    return frozenset(i for i, e in enumerate(evidence) if norm(e) in haystack)


def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    """1.0 when a relevant item is among the first k, else 0.0."""
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int = 10) -> float:
    """1 / rank of the first relevant item within the first k (0.0 when there is none)."""
    for rank, rel in enumerate(relevant[:k], start=1):
        if rel:
            return 1.0 / rank
    return 0.0


def novel_gains(found: Sequence[Collection[int]]) -> list[int]:
    """Per rank, 1 when the hit brings evidence no higher hit brought (overlapping chunks repeat sentences).

    >>> novel_gains([{0}, {0}, set(), {1}])
    [1, 0, 0, 1]
    """
    seen: set[int] = set()
    gains = []
    for items in found:
        new = set(items) - seen
        gains.append(1 if new else 0)
        seen |= new
    return gains


def ndcg_at_k(gains: Sequence[float], k: int, ideal_relevant: int) -> float:
    """nDCG@k with binary gains; the ideal ranking puts `ideal_relevant` relevant items first."""
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(k, ideal_relevant) + 1))
    if ideal == 0:
        return 0.0
    dcg = sum(g / math.log2(r + 1) for r, g in enumerate(gains[:k], start=1))
    return min(1.0, dcg / ideal)


def min_cover(sets: Sequence[Collection[int]]) -> int:
    """The fewest of `sets` whose union covers everything any of them holds (exact; evidence lists are short).

    >>> min_cover([{0}, {0, 1}, {2}, set()])
    2
    """
    distinct = list({frozenset(s) for s in sets if s})
    universe = frozenset().union(*distinct) if distinct else frozenset()
    for size in range(1, len(distinct) + 1):
        for combo in itertools.combinations(distinct, size):
            if frozenset().union(*combo) == universe:
                return size
    return 0


def evidence_recall(found: Sequence[Collection[int]], n_evidence: int, k: int) -> float:
    """Share of the evidence sentences held by the first k hits."""
    if n_evidence == 0:
        return 0.0
    covered = set().union(*found[:k]) if found[:k] else set()
    return len(covered) / n_evidence


# ---- answers --------------------------------------------------------------------------------------------


def squad_normalise(text: str) -> str:
    """SQuAD answer normalisation: lower-case, drop punctuation and articles, collapse whitespace."""
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    return 1.0 if squad_normalise(prediction) == squad_normalise(reference) else 0.0


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between the normalised prediction and reference."""
    pred = squad_normalise(prediction).split()
    ref = squad_normalise(reference).split()
    if not pred or not ref:
        return 1.0 if pred == ref else 0.0
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def fact_found(text: str, variants: Sequence[str]) -> bool:
    """Whether any accepted wording of a key fact occurs in the text."""
    haystack = norm(text)
    return any(norm(v) in haystack for v in variants)


def key_fact_share(text: str, key_facts: Sequence[Sequence[str]]) -> float:
    """Share of the key facts found in the text (1.0 when there are none to find)."""
    if not key_facts:
        return 1.0
    return sum(fact_found(text, f) for f in key_facts) / len(key_facts)


# ---- citations ------------------------------------------------------------------------------------------


def quote_supported(quote: str, evidence: Sequence[str], key_facts: Sequence[Sequence[str]]) -> bool:
    """A quote supports the answer when it holds an evidence sentence (or is part of one) or a key fact."""
    q = norm(quote)
    if any(norm(e) in q or (q and q in norm(e)) for e in evidence):
        return True
    return any(fact_found(quote, f) for f in key_facts)


def citation_precision(
    quotes: Sequence[str], evidence: Sequence[str], key_facts: Sequence[Sequence[str]]
) -> float | None:
    """Share of cited quotes that support the answer; None when nothing was cited."""
    if not quotes:
        return None
    return sum(quote_supported(q, evidence, key_facts) for q in quotes) / len(quotes)


def citation_recall(quotes: Sequence[str], evidence: Sequence[str]) -> float:
    """Share of the evidence sentences quoted in full by the citations (together, in order)."""
    if not evidence:
        return 0.0
    joined = norm(" ".join(quotes))
    return sum(norm(e) in joined for e in evidence) / len(evidence)


def citation_fact_recall(quotes: Sequence[str], key_facts: Sequence[Sequence[str]]) -> float:
    """Share of the key facts found in the cited quotes."""
    return key_fact_share(" ".join(quotes), key_facts) if key_facts else 0.0


# ---- abstention -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AbstentionScores:
    """Abstaining is the positive class; the gold positives are the unanswerable questions."""

    precision: float | None  # of the abstentions, the share on unanswerable questions
    recall: float | None  # of the unanswerable questions, the share abstained on
    false_abstention_rate: float | None  # of the answerable questions, the share abstained on
    balanced_accuracy: float | None  # mean of recall and (1 - false-abstention rate)


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> AbstentionScores:
    """Precision/recall of abstaining on unanswerable questions; None where a count is zero."""
    tp = sum(a and not ok for a, ok in zip(abstained, answerable, strict=True))
    fp = sum(a and ok for a, ok in zip(abstained, answerable, strict=True))
    positives = sum(not ok for ok in answerable)
    negatives = len(answerable) - positives
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / positives if positives else None
    far = fp / negatives if negatives else None
    balanced = (recall + 1 - far) / 2 if recall is not None and far is not None else None
    return AbstentionScores(precision, recall, far, balanced)


def unsupported_share(verified: Sequence[bool]) -> float | None:
    """Share of an answer's sentences that verification could not match to a passage; None without any.

    >>> unsupported_share([True, False, True, True])
    0.25
    """
    return sum(not v for v in verified) / len(verified) if verified else None


# ---- aggregation ----------------------------------------------------------------------------------------


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the defined values; None when there are none."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), linearly interpolated between ranks (numpy's "linear"), None for no values.

    >>> percentile([10, 20, 30, 40], 50)
    25.0
    """
    if not values:
        return None
    return float(np.percentile(values, q, method="linear"))


# ---- calibration ----------------------------------------------------------------------------------------


def stable_folds(ids: Sequence[str], labels: Sequence[bool]) -> list[int]:
    """Fold 0 or 1 per item: within each label, items ordered by a hash of their id alternate folds.

    Stable across runs and machines (sha256, not Python's salted hash), and each fold gets half of each label.
    """
    folds = [0] * len(ids)
    for label in (True, False):
        members = [i for i, lab in enumerate(labels) if lab is label]
        members.sort(key=lambda i: hashlib.sha256(ids[i].encode()).hexdigest())
        for position, i in enumerate(members):
            folds[i] = position % 2
    return folds


def best_threshold(
    decisions: np.ndarray,
    answerable: np.ndarray,
    mask: np.ndarray,
    distance: np.ndarray,
) -> tuple[int, float]:
    """The grid row whose abstentions (rows: settings, columns: questions) score best on the masked questions.

    Score is balanced accuracy; ties go to the lower false-abstention rate, then the smaller `distance`
    (e.g. from the current defaults, so an uninformative split changes nothing). Returns (row, score).
    """
    pos = mask & ~answerable
    neg = mask & answerable
    recall = decisions[:, pos].mean(axis=1) if pos.any() else np.zeros(len(decisions))
    far = decisions[:, neg].mean(axis=1) if neg.any() else np.zeros(len(decisions))
    balanced = (recall + 1 - far) / 2
    order = np.lexsort((distance, far, -np.round(balanced, 12)))
    best = int(order[0])
    return best, float(balanced[best])


def balanced_accuracy(abstained: np.ndarray, answerable: np.ndarray) -> float:
    """Mean of recall on unanswerable and 1 - false-abstention rate on answerable questions."""
    scores = abstention_scores(abstained.tolist(), answerable.tolist())
    return scores.balanced_accuracy if scores.balanced_accuracy is not None else 0.0


def held_out_fits(
    decisions: np.ndarray, answerable: np.ndarray, folds: np.ndarray, distance: np.ndarray, current: int
) -> list[dict[str, Any]]:
    """2-fold cross-validation: per fold, the row fitted on it and its score on the other fold.

    The first entry (fit on fold 0, scored on fold 1) is the single held-out split; the two together are the
    cross-validation. `current` is the row of the thresholds in use, scored on the same held-out fold.
    """
    out = []
    for k in (0, 1):
        fit, test = folds == k, folds != k
        row, fit_score = best_threshold(decisions, answerable, fit, distance)
        out.append(
            {
                "fit_on_fold": k,
                "row": row,
                "fit_score": fit_score,
                "held_out_score": balanced_accuracy(decisions[row, test], answerable[test]),
                "current_held_out_score": balanced_accuracy(decisions[current, test], answerable[test]),
            }
        )
    return out


def grid_around(current: dict[str, float], step: float, points: int) -> list[dict[str, float]]:
    """Every combination of values `step` apart around `current` (within 0..1), about `points` in all.

    >>> len(grid_around({"a": 0.5, "b": 0.0}, 0.1, 25))  # a: 0.3 ... 0.7, b: 0.0 ... 0.2
    15
    """
    half = max(1, round((points ** (1 / len(current)) - 1) / 2))
    axes = [
        [v for k in range(-half, half + 1) if 0 <= (v := round(value + k * step, 4)) <= 1]
        for value in current.values()
    ]
    return [dict(zip(current, values, strict=True)) for values in itertools.product(*axes)]


def calibration_summary(
    decisions: np.ndarray, answerable: np.ndarray, ids: Sequence[str], points: Sequence[Any], current: int
) -> dict[str, Any]:
    """Held-out split, 2-fold cross-validation and whole-set fit of the threshold grid (`points[row]`).

    `decisions[row, question]` says whether the answerer abstains with the thresholds of that row.
    """
    distance = np.array(
        [sum(abs(p[k] - points[current][k]) for k in points[current]) for p in points], dtype=float
    )
    folds = np.array(stable_folds(ids, answerable.tolist()))
    cv = held_out_fits(decisions, answerable, folds, distance, current)
    for fold in cv:
        fold["thresholds"] = points[fold.pop("row")]
    full, full_score = best_threshold(decisions, answerable, np.ones(len(ids), dtype=bool), distance)
    always: list[bool] = np.all(decisions, axis=0).tolist()
    ever: list[bool] = np.any(decisions, axis=0).tolist()
    return {
        "objective": "balanced accuracy of abstention: mean of recall on unanswerable questions and "
        "1 - false-abstention rate on answerable ones",
        "split": "stratified by answerable; within each group, questions ordered by sha256(id) alternate "
        "between fold 0 and fold 1",
        "grid_points": len(points),
        "fold_sizes": [int((folds == k).sum()) for k in (0, 1)],
        "current": points[current],
        "current_score_all": balanced_accuracy(decisions[current], answerable),
        # What no threshold in the grid changes: answerable questions abstained on at every point (an
        # explicit check fired), and unanswerable ones answered at every point.
        "always_abstain": [i for i, d, ok in zip(ids, always, answerable, strict=True) if d and ok],
        "never_abstain": [i for i, d, ok in zip(ids, ever, answerable, strict=True) if not d and not ok],
        "held_out": cv[0],
        "cross_validation": {
            "folds": cv,
            "mean_held_out_score": float(np.mean([f["held_out_score"] for f in cv])),
            "current_mean_held_out_score": float(np.mean([f["current_held_out_score"] for f in cv])),
        },
        "full_set": {"thresholds": points[full], "in_sample_score": full_score},
    }


# ---- regression gate ------------------------------------------------------------------------------------


def failed_checks(
    scores: Mapping[str, float | None], mins: Mapping[str, float], maxes: Mapping[str, float]
) -> list[str]:
    """One line per metric outside its limit, saying by how much.

    >>> failed_checks({"hit@5": 0.80}, {"hit@5": 0.85}, {})
    ['hit@5 = 0.800, 0.050 below the minimum 0.850']
    """
    failures = []
    for name, limit in mins.items():
        value = scores.get(name)
        if value is None or value < limit:
            got = "not measured, not" if value is None else f"{value:.3f}, {limit - value:.3f} below"
            failures.append(f"{name} = {got} the minimum {limit:.3f}")
    for name, limit in maxes.items():
        value = scores.get(name)
        if value is None or value > limit:
            got = "not measured, not" if value is None else f"{value:.3f}, {value - limit:.3f} above"
            failures.append(f"{name} = {got} the maximum {limit:.3f}")
    return failures
