"""The QA object: a loaded model and an open index, and `ask` over them.

It only wires the stages together (condense -> retrieve -> answer) and holds the state that is expensive to
load. The CLI and the app each build one at their edge and pass it around.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from qa import answering
from qa.answering import Answer, StreamEvent
from qa.condense import Turn, condense
from qa.config import Backend, RetrievalMode, Settings
from qa.embedding import Embedder, make_embedder
from qa.indexing import IndexSummary, ProgressHandler, SkipHandler, build_index
from qa.questions import clean_question
from qa.retrieval import retrieve
from qa.store import IndexCorrupt, IndexMismatch
from qa.stores import VectorStore, live_generation, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document, for listings."""

    path: str
    title: str
    chunks: int
    indexed_at: float
    pages: int | None


class QA:
    """Answers questions over one index. Thread-safe for concurrent `ask` calls."""

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, store: VectorStore | None = None
    ) -> None:
        self.settings = settings
        self.embedder: Embedder = embedder or make_embedder(settings)
        self._store = store if store is not None else open_store(settings)
        self._store.manifest.check_compatible(
            self.embedder.name, self.embedder.dim, settings.chunker_fingerprint()
        )
        self._reload_lock = threading.Lock()
        self._refused = ""  # a newer generation that failed to open: not retried until CURRENT moves again

    @property
    def store(self) -> VectorStore:
        return self._store

    def reload_if_changed(self) -> bool:
        """Pick up an index written since we loaded (by `qa index` in a shell, or the app's rebuild).

        A new generation that fails to open (damaged, or built for another model) is logged once and left
        alone: answers keep coming from the index in memory, and it is not re-read on every question."""
        generation = live_generation(self.settings)
        if generation is None or generation in (self._store.generation, self._refused):
            return False
        with self._reload_lock:
            if generation in (self._store.generation, self._refused):
                return False
            try:
                store = open_store(self.settings)
                store.manifest.check_compatible(
                    self.embedder.name, self.embedder.dim, self.settings.chunker_fingerprint()
                )
            except (IndexCorrupt, IndexMismatch) as exc:
                self._refused = generation
                log.warning("kept answering from the loaded index; the new one cannot be used: %s", exc)
                return False
            self._store = store  # one reference swap: concurrent asks keep the store they started with
        return True

    def rebuild(
        self,
        full: bool = False,
        on_skip: SkipHandler | None = None,
        on_progress: ProgressHandler | None = None,
    ) -> IndexSummary:
        """Incrementally update the index from the corpus folder, then switch to it."""
        summary = build_index(
            self.settings,
            self.embedder,
            rebuild=full,
            on_skip=on_skip,
            show_progress=False,
            on_progress=on_progress,
        )
        self.reload_if_changed()
        return summary

    def documents(self) -> list[DocumentInfo]:
        docs = self._store.manifest.documents
        return [
            DocumentInfo(path, d["title"], len(d["chunk_ids"]), float(d["indexed_at"]), d.get("pages"))
            for path, d in sorted(docs.items())
        ]

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: Backend | None = None,
        top_k: int | None = None,
        mode: RetrievalMode | None = None,
    ) -> Answer:
        """Answer one question (after earlier turns, if any). Raises QuestionError for an empty question."""
        final: Answer | None = None
        for event in self.stream(question, history, backend, top_k, mode):
            final = event.answer or final
        assert final is not None  # stream always ends with an answer
        return final

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: Backend | None = None,
        top_k: int | None = None,
        mode: RetrievalMode | None = None,
    ) -> Iterator[StreamEvent]:
        """Like `ask`, yielding text as it is produced; the last event carries the Answer."""
        started = time.perf_counter()
        settings = self.settings
        question, notice = clean_question(question, settings.max_question_chars)
        self.reload_if_changed()
        store = self._store
        query = condense(question, history)
        query_vector = self.embedder.embed([query])[0]
        hits = retrieve(
            store,
            query,
            query_vector,
            top_k or settings.top_k,
            settings.candidates,
            settings.rrf_k,
            mode or settings.retrieval_mode,
        )
        retrieved = time.perf_counter()
        backend = backend or settings.backend
        extractive = answering.extractive_answer(
            question, query, hits, store, query_vector, settings.abstain, settings.max_answer_sentences
        )
        answer = extractive
        streamed = False
        if backend is not Backend.EXTRACTIVE and not extractive.abstained:
            from qa import generation

            final: Answer | None = None
            for event in generation.generate(
                question, query, hits, backend, settings, self.embedder, extractive
            ):
                if event.answer is not None:
                    final = event.answer
                elif event.delta:
                    streamed = True
                    yield StreamEvent(event.delta)
            answer = final or extractive
        done = time.perf_counter()
        timings = {
            "retrieve": (retrieved - started) * 1000,
            "answer": (done - retrieved) * 1000,
            "total": (done - started) * 1000,
        }
        notes = " ".join(n for n in (notice, answer.notice) if n)
        answer = replace(answer, timings_ms=timings, notice=notes)
        # A UI renders the final Answer in place of the streamed text: a repaired or fallen-back answer differs.
        yield StreamEvent("" if streamed else answer.answer, answer)
