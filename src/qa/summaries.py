"""A question about a whole document -> the local model's summary of it, written once and kept.

"What is the poster about?" and "Summarise the article on X" match no one sentence, and the reader's usual
prompt (the question's best sentences, `QA_READER_TOKENS`) holds too little of a document to summarise it.
For these (`Intent.whole`) the reader instead reads the document's most central sentences, chosen against
its title rather than the question (`selecting.select_summary`), within a larger budget
(`QA_SUMMARY_TOKENS`), and is given a fixed request that names no question:

    question ─ "Summarise the article on X" ┐
    question ─ "What is the article about?" ┴─> the article's summary: written by the model the first time,
                                               then read from summaries.json (keyed by the file's content)
                                               ─> verified as an answer to the question asked ─> Answer

So the text is the same whichever way the user asks, and it is kept with the passages it was written from,
under a key of the document's content hash and everything that shaped the prompt. Each time it is shown it
is verified again, sentence by sentence, as an answer to the question asked, like any reader answer. Only
the first question about a document waits for the model; an edited document gets a new key, and so a new
summary.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.answering import Analysis, query_terms, score_sentences
from qa.config import Settings
from qa.embedding import Embedder
from qa.retrieval import Hit, corpus_stats, document_hits
from qa.selecting import select_summary
from qa.stores import VectorStore
from qa.types import Answer, StreamEvent

if TYPE_CHECKING:
    from qa.generation import Focus, Generator
    from qa.generation.reader import Reading

log = logging.getLogger(__name__)

SUMMARY_VERSION = 1  # raise when what is kept, or how it is chosen, changes: every summary is written again
# What the model is asked: no question of the user's, so one text serves every way of asking.
SUMMARY_REQUEST = "What is the {kind} “{title}” about? Give its subject and its main points."
SUMMARY_FOCUS = 12  # central sentences read first; their neighbours fill what the budget leaves
SHELF_FILE = "summaries.json"  # in the index folder
SHELF_ENTRIES = 2000  # kept at most; the oldest go first


def summary_settings(settings: Settings) -> Settings:
    """The reader's settings for a summary: the larger budget, more sentences, and no doubt probe (a
    document always has something to summarise, so the model's "not found" opening decides nothing)."""
    return settings.replace(
        reader_prompt_tokens=settings.summary_prompt_tokens,
        reader_focus_sentences=SUMMARY_FOCUS,
        reader_neighbours=1,
        reader_max_tokens=settings.summary_max_tokens,
        max_answer_sentences=settings.summary_sentences,
        reader_doubt=1.0,
    )


def request_for(title: str, kind: str) -> str:
    """The fixed request for a document with this title, of this kind ("news article"; "document" when
    sources.toml does not say)."""
    return SUMMARY_REQUEST.format(title=title, kind=kind.split("(")[0].strip() or "document")


def summary_key(sha256: str, settings: Settings, request: str, system_prompt: str) -> str:
    """Everything that shapes the summary: the document's content, how it was cut into chunks, the model,
    the prompt and its budgets."""
    parts = [
        SUMMARY_VERSION,
        SUMMARY_FOCUS,
        sha256,
        settings.chunker_fingerprint(),
        settings.llm_path or settings.llm_model,
        system_prompt,
        request,
        settings.summary_prompt_tokens,
        settings.summary_sentences,
        settings.summary_max_tokens,
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def document_chunks(store: VectorStore, path: str, embedder: Embedder) -> tuple[list[Hit], np.ndarray]:
    """The document's chunks as hits, in document order, compared with its title; and the title's vector."""
    record = store.manifest.documents[path]
    title_vector = embedder.embed([record.title])[0]
    return document_hits(store, path, title_vector, (), len(record.chunk_ids)), title_vector


def central_focus(store: VectorStore, plan: Plan) -> list[Focus]:
    """The document's central sentences as the reader's focus, chosen against its title: the same for every
    question. Only a summary being written needs them; a kept one carries its passages."""
    from qa.generation import Focus

    title = store.manifest.documents[plan.path].title
    terms = query_terms(title, title, corpus_stats(store))
    candidates = score_sentences(plan.hits, title, plan.title_vector, terms)
    central = select_summary(candidates, terms, plan.path, SUMMARY_FOCUS)
    return [Focus(c.hit, c.index) for c in central]


class SummaryShelf:
    """Summaries kept in one JSON file: key -> the text and, per passage, its chunk's place in the document
    and the sentences it showed. Chunk ids change when the index is rebuilt; places in the document do not.
    Safe for the threads of one server; the file is read again when another process (`qa index
    --summaries` beside a running app) has changed it, so neither loses the other's summaries. A file that
    cannot be read or written only costs a new summary."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, Any] = {}
        self._stamp: int | None = None  # the file's mtime when it was last read or written; None: not yet

    def _load(self) -> dict[str, Any]:
        try:
            stamp = self.path.stat().st_mtime_ns
        except OSError:
            stamp = 0
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._entries = dict(data["entries"]) if data.get("version") == SUMMARY_VERSION else {}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                self._entries = {}
        return self._entries

    def get(self, key: str, hits: Sequence[Hit]) -> Reading | None:
        """The kept reading for `key` over the document's chunks `hits`, or None."""
        from qa.generation import PromptPassage
        from qa.generation.reader import Reading

        with self._lock:
            entry = self._load().get(key)
        if entry is None:
            return None
        try:
            passages = tuple(
                PromptPassage(n, hits[place], tuple(hits[place].chunk.sentences[i] for i in shown))
                for n, (place, shown) in enumerate(entry["passages"], start=1)
            )
            return Reading(str(entry["text"]), passages)
        except (IndexError, KeyError, TypeError, ValueError):
            return None  # the chunks are not what they were: write it again

    def put(self, key: str, reading: Reading, hits: Sequence[Hit]) -> None:
        places = {h.chunk_id: i for i, h in enumerate(hits)}
        passages = [
            [places[p.hit.chunk_id], [p.hit.chunk.sentences.index(s) for s in p.sentences]]
            for p in reading.passages
        ]
        with self._lock:
            entries = self._load()
            entries.pop(key, None)
            entries[key] = {"text": reading.text, "passages": passages}
            while len(entries) > SHELF_ENTRIES:
                del entries[next(iter(entries))]
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            try:
                tmp.write_text(json.dumps({"version": SUMMARY_VERSION, "entries": entries}), encoding="utf-8")
                os.replace(tmp, self.path)
                self._stamp = self.path.stat().st_mtime_ns
            except OSError as exc:
                log.warning("qa: could not keep a document summary (%s); it will be written again", exc)
                tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Plan:
    """A document's summary: the key it is kept under, what the model is asked, and the chunks it reads."""

    path: str
    key: str
    request: str
    hits: list[Hit]  # the document's chunks, in document order
    title_vector: np.ndarray


def plan(store: VectorStore, path: str, settings: Settings, embedder: Embedder) -> Plan:
    from qa.generation.prompts import READER_SYSTEM_PROMPT

    record = store.manifest.documents[path]
    request = request_for(record.title, str(record.origin.get("kind") or ""))
    key = summary_key(record.sha256, settings, request, READER_SYSTEM_PROMPT)
    hits, title_vector = document_chunks(store, path, embedder)
    return Plan(path, key, request, hits, title_vector)


def write_summary(
    store: VectorStore,
    path: str,
    settings: Settings,
    embedder: Embedder,
    shelf: SummaryShelf,
    generator: Generator,
) -> bool:
    """Write and keep the summary of one document ahead of any question (`qa index --summaries`); False
    when one is kept already or the model wrote no answer. Raises GenerationError when the model fails."""
    from qa.generation.reader import reading_of

    summary = plan(store, path, settings, embedder)
    if shelf.get(summary.key, summary.hits) is not None:
        return False
    focus = central_focus(store, summary)
    if not focus:
        return False
    reading = reading_of(summary.request, focus, generator, summary_settings(settings), embedder)
    if reading.answers:
        shelf.put(summary.key, reading, summary.hits)
    return reading.answers


def read_summary(
    question: str,
    query: str,
    analysis: Analysis,
    store: VectorStore,
    settings: Settings,
    embedder: Embedder,
    extractive: Answer,
    shelf: SummaryShelf,
    generator: Callable[[], tuple[Generator | None, str]],
) -> Iterator[StreamEvent]:
    """The auto reader's events for a question about the whole of `analysis.target`: its kept summary,
    verified against the question, or one written now (streamed, then kept)."""
    from qa.generation import read

    assert analysis.target is not None  # the caller asks only about a target document
    summary = plan(store, analysis.target, settings, embedder)
    kept = shelf.get(summary.key, summary.hits)
    model, problem = (None, "") if kept is not None else generator()
    yield from read(
        question,
        query,
        analysis.hits,
        [] if kept is not None else central_focus(store, summary),
        summary_settings(settings),
        embedder,
        extractive,
        model,
        problem,
        request=summary.request,
        reuse=kept,
        keep=lambda reading: shelf.put(summary.key, reading, summary.hits),
    )
