"""The answer types every stage after retrieval speaks: what `ask` returns and what a UI renders.

They live apart from the answerers so that rendering, the CLI and generation can use them without importing
the extractive algorithm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from qa.config import Backend
from qa.retrieval import Hit

NOT_FOUND = "I could not find this in the documents."


@dataclass(frozen=True)
class Citation:
    """`[n]` in the answer: the exact source sentence(s) quoted, and where they are."""

    n: int
    source: str  # relative to the corpus folder
    title: str
    page: int | None
    quote: str
    chunk_id: int
    score: float
    start: int  # character offsets of the quote in the source document
    end: int
    passage: str  # the whole chunk, so a UI can show the quote in context
    locator: str = ""  # where the quote is: "page 3", "slide 2", "Sheet1, rows 4–6", a heading path
    ocr: float | None = None  # OCR confidence (0-1) when the quote was recognised from an image


@dataclass(frozen=True)
class Passage:
    """A retrieved passage shown as possibly related (when abstaining) or in the inspector."""

    source: str
    title: str
    page: int | None
    text: str
    chunk_id: int
    score: float
    locator: str = ""
    ocr: float | None = None


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of the answer and whether its citations support it (always true for extractive)."""

    text: str
    citations: tuple[int, ...]
    verified: bool = True
    reason: str = ""
    quoted: bool = False  # an exact quote added to a written answer (auto mode)


@dataclass(frozen=True)
class Answer:
    """What `ask` returns; `to_json` is the shape of `qa ask --json` and the app's /ask endpoint."""

    question: str
    query: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    related: tuple[Passage, ...] = ()
    hits: tuple[Hit, ...] = ()
    sentences: tuple[AnswerSentence, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    backend: Backend = Backend.EXTRACTIVE  # a StrEnum: `to_json` writes its value
    reason: str = ""  # why it abstained, or a note such as a backend fallback
    notice: str = ""
    # The auto reader's probability of replying "not found" before it wrote (None when no model read it).
    doubt: float | None = None

    @property
    def unsupported(self) -> tuple[str, ...]:
        return tuple(s.text for s in self.sentences if not s.verified)

    def to_json(self) -> dict[str, Any]:
        cited = {c.chunk_id for c in self.citations}
        return {
            "question": self.question,
            "query": self.query,
            "answer": self.answer,
            "abstained": self.abstained,
            "reason": self.reason,
            "backend": self.backend,
            "notice": self.notice,
            "doubt": None if self.doubt is None else round(self.doubt, 4),
            "citations": [
                {k: v for k, v in asdict(c).items() if k != "passage"} | {"passage": c.passage}
                for c in self.citations
            ],
            "related": [asdict(p) for p in self.related],
            "sentences": [asdict(s) for s in self.sentences],
            "unsupported": list(self.unsupported),
            "retrieved": [
                {
                    "chunk_id": h.chunk_id,
                    "source": h.chunk.doc_path,
                    "title": h.chunk.title,
                    "page": h.chunk.page,
                    "locator": h.chunk.locator(),
                    "dense_rank": h.dense_rank,
                    "bm25_rank": h.bm25_rank,
                    "fused_score": round(h.score, 6),
                    "dense_score": round(h.dense_score, 4),
                    "cited": h.chunk_id in cited,
                }
                for h in self.hits
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


@dataclass(frozen=True)
class StreamEvent:
    """A piece of an answer as it is produced; the last event carries the finished Answer.

    `draft` carries a quick answer to show while a better one is written (auto mode: the extractive quote
    while the local model reads); the text that streams after it replaces it.
    """

    delta: str
    answer: Answer | None = None
    draft: Answer | None = None


def related_passages(hits: Sequence[Hit], limit: int = 3) -> tuple[Passage, ...]:
    """The closest retrieved passages, shown beside an abstention."""
    return tuple(
        Passage(
            h.chunk.doc_path,
            h.chunk.title,
            h.chunk.page,
            h.chunk.text,
            h.chunk_id,
            round(h.dense_score, 4),
            h.chunk.locator(),
            h.chunk.ocr(),
        )
        for h in hits[:limit]
    )
