"""Metrics for the public sets, as pure functions: graded nDCG, recall, SQuAD answers, and 95% intervals.

nDCG follows trec_eval (what BEIR's published numbers use): the gain of a document is its graded relevance,
discounted by log2(rank + 1), over the ideal ordering of all judged documents:

    ranked = [a, x, b], qrels = {a: 2, b: 1, c: 1}
    DCG@3  = 2/log2(2) + 0 + 1/log2(4)            = 2.5
    IDCG@3 = 2/log2(2) + 1/log2(3) + 1/log2(4)    = 3.131
    nDCG@3 = 0.798
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.metrics import squad_normalise, token_f1

Z95 = 1.959964  # two-sided 95% normal quantile
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A measured share or mean with its 95% interval and the number of items behind it."""

    value: float
    low: float
    high: float
    n: int

    def to_json(self) -> dict[str, float | int]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}

    def describe(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


# ---- ranking ----------------------------------------------------------------------------------------------


def unique_in_order(items: Sequence[str]) -> list[str]:
    """Each item once, at its first (best) position: chunks ranked -> their documents ranked."""
    return list(dict.fromkeys(items))


def ndcg_graded(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """trec_eval nDCG@k with graded gains (see the module docstring); 0.0 for a query with no relevant doc."""
    ideal_gains = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    ideal = sum(g / math.log2(r + 1) for r, g in enumerate(ideal_gains, start=1))
    if ideal == 0:
        return 0.0
    dcg = sum(max(qrels.get(d, 0), 0) / math.log2(r + 1) for r, d in enumerate(ranked[:k], start=1))
    return dcg / ideal


def recall_at(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Share of the relevant (grade > 0) documents found in the first k."""
    relevant = {d for d, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def hit_within(ranked: Sequence[str], wanted: str | frozenset[str], k: int) -> bool:
    """Whether the wanted document (or one of a set of equivalent ones) is among the first k."""
    targets = {wanted} if isinstance(wanted, str) else wanted
    return any(d in targets for d in ranked[:k])


# ---- answers ----------------------------------------------------------------------------------------------


def contains_answer(text: str, golds: Sequence[str]) -> bool:
    """A gold answer occurs in the text as whole words, after SQuAD normalisation.

    >>> contains_answer("The Normans were in France.", ["France", "in France"])
    True
    >>> contains_answer("It was a part of it.", ["art"])
    False
    """
    haystack = f" {squad_normalise(text)} "
    return any(g and f" {g} " in haystack for g in (squad_normalise(a) for a in golds))


def best_f1(text: str, golds: Sequence[str]) -> float:
    """SQuAD token F1 against the closest gold answer (0.0 when there is none)."""
    return max((token_f1(text, g) for g in golds), default=0.0)


# ---- intervals --------------------------------------------------------------------------------------------


def wilson(successes: int, n: int, z: float = Z95) -> Estimate:
    """A share with its Wilson score interval (sound near 0 and 1, unlike the normal one).

    >>> e = wilson(81, 100); (round(e.low, 3), round(e.high, 3))
    (0.722, 0.875)
    """
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def share(flags: Sequence[bool]) -> Estimate:
    return wilson(sum(flags), len(flags))


def bootstrap_mean(values: Sequence[float], seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES) -> Estimate:
    """A mean with its 95% percentile-bootstrap interval (resampling the items, with a fixed seed)."""
    data = np.asarray(values, dtype=float)
    if len(data) == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Estimate(float(data.mean()), float(low), float(high), len(data))


def paired_difference(
    a: Sequence[float], b: Sequence[float], seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES
) -> Estimate:
    """Mean of a - b over the same items, with a paired bootstrap interval: is system a better than b?"""
    if len(a) != len(b):
        raise ValueError(f"paired_difference needs equal lengths, got {len(a)} and {len(b)}")
    return bootstrap_mean([x - y for x, y in zip(a, b, strict=True)], seed, resamples)
