"""The QA object: a loaded model and an open index, and `ask` over them.

It only wires the stages together (condense -> retrieve -> answer) and holds the state that is expensive to
load. The CLI and the app each build one at their edge and pass it around.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from qa import answering, selecting, summaries, tuning
from qa.condense import Turn, condense
from qa.config import Backend, RetrievalMode, Settings
from qa.embedding import Embedder, make_embedder
from qa.errors import QAError
from qa.indexing import IndexSummary, ProgressHandler, SkipHandler, build_index
from qa.questions import clean_question
from qa.retrieval import Hit, SideSearch, for_answering, retrieve
from qa.shapes import Shape
from qa.stores import IndexCorrupt, IndexMismatch, VectorStore, live_generation, open_store
from qa.types import Answer, StreamEvent

if TYPE_CHECKING:
    from qa.generation import Generator

log = logging.getLogger(__name__)


class SummariesUnavailable(QAError):
    """Document summaries were asked for ahead of time, but the local model cannot be used."""


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document, for listings."""

    path: str
    title: str
    chunks: int
    indexed_at: float
    pages: int | None


class QA:
    """Answers questions over one index. Thread-safe for concurrent `ask` calls.

    `generator`, when given, writes every generated answer (tests pass a fake); otherwise each backend's
    generator is made on first use and kept, so the local model is loaded once per process and shared
    by `auto` and `llamacpp`.
    """

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        store: VectorStore | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.settings = settings
        self.embedder: Embedder = embedder or make_embedder(settings)
        self._injected = generator
        self._generators: dict[Backend, Generator] = {}
        self._generators_lock = threading.Lock()
        self._store = store if store is not None else open_store(settings)
        self._store.manifest.check_compatible(
            self.embedder.name, self.embedder.dim, settings.chunker_fingerprint()
        )
        self._reload_lock = threading.Lock()
        self._refused = ""  # a newer generation that failed to open: not retried until CURRENT moves again
        # Document summaries the local model wrote, kept by the documents' content (qa.summaries).
        self._summaries = summaries.SummaryShelf(settings.index_dir / summaries.SHELF_FILE)

    @property
    def store(self) -> VectorStore:
        return self._store

    def generator(self, backend: Backend) -> tuple[Generator | None, str]:
        """(the backend's generator, "") or (None, why it cannot be made). Not cached when it fails: a
        model installed while the app runs is picked up by the next question."""
        if self._injected is not None:
            return self._injected, ""
        from qa import generation

        key = Backend.LLAMACPP if backend is Backend.AUTO else backend  # one local model for both
        with self._generators_lock:
            if key not in self._generators:
                try:
                    self._generators[key] = generation.make_generator(self.settings, key)
                except generation.GenerationError as exc:
                    return None, str(exc)
            return self._generators[key], ""

    def warm_reader(self) -> str:
        """Load the local model and read the reader's fixed prompt now (the app does it while it starts),
        so the first question does not pay for it. Returns why it could not, or ""."""
        from qa import generation

        generator, problem = self.generator(Backend.AUTO)
        if generator is None:
            return problem
        try:
            warm = getattr(generator, "warm", None)
            if warm is not None:
                warm(generation.build_messages("", [], self.settings.max_answer_sentences, _reader_prompt()))
        except generation.GenerationError as exc:
            return str(exc)
        return ""

    def side_search(self, mode: RetrievalMode | None = None) -> SideSearch:
        """Retrieval for one side of a comparison (`retrieval.side_hits`), as the question's own is done."""
        settings = self.settings

        def search(text: str) -> list[Hit]:
            vector = self.embedder.embed([text])[0]
            return retrieve(
                self._store,
                text,
                vector,
                tuning.COMPARISON_SIDE_HITS,
                settings.candidates,
                settings.rrf_k,
                mode or settings.retrieval_mode,
            )

        return search

    def write_summaries(self, report: Callable[[int, int, str, str], None]) -> int:
        """Write the summary of every indexed document that has none kept (`qa index --summaries`), so no
        question waits for one; `report(i, n, title, outcome)` after each. Returns how many were written.
        One document the model fails on is reported and skipped."""
        from qa import generation

        generator, problem = self.generator(Backend.AUTO)
        if generator is None:
            raise SummariesUnavailable(
                f"Cannot write document summaries: {problem}. They need the local model (make install)."
            )
        documents = self._store.manifest.documents
        written = 0
        for i, (path, record) in enumerate(documents.items(), start=1):
            started = time.perf_counter()
            try:
                wrote = summaries.write_summary(
                    self._store, path, self.settings, self.embedder, self._summaries, generator
                )
            except generation.GenerationError as exc:
                report(i, len(documents), record.title, f"failed ({exc})")
                continue
            written += wrote
            outcome = f"written in {time.perf_counter() - started:.0f} s" if wrote else "kept already"
            report(i, len(documents), record.title, outcome)
        return written

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
            DocumentInfo(path, d.title, len(d.chunk_ids), float(d.indexed_at), d.pages)
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
        found = for_answering(store, question, query, query_vector, hits, self.side_search(mode))
        analysis = answering.analyse(question, query, found, query_vector)
        extractive = answering.answer_from(
            question, query, hits, analysis, settings.abstain, settings.max_answer_sentences
        )
        answer = extractive
        streamed = False
        first_token: float | None = None
        events: Iterator[StreamEvent] = iter(())
        if backend is Backend.AUTO:
            # Shown at once, replaced when the reader finishes.
            yield StreamEvent("", draft=replace(extractive, notice=notice))
            # A question about a document answered from its catalogue entry needs no model to reword it.
            catalogued = analysis.intent.shape is Shape.DOCUMENT and not extractive.abstained
            if not catalogued and not (extractive.abstained and answering.hard_abstention(analysis.evidence)):
                events = self._read(question, query, analysis, extractive)
        elif backend is not Backend.EXTRACTIVE and not extractive.abstained:
            from qa import generation

            generator, problem = self.generator(backend)
            events = generation.generate(
                question, query, hits, backend, settings, self.embedder, extractive, generator, problem
            )
        for event in events:
            if event.answer is not None:
                answer = event.answer
            elif event.delta:
                if first_token is None:
                    first_token = time.perf_counter()
                streamed = True
                yield StreamEvent(event.delta)
        done = time.perf_counter()
        timings = {
            "retrieve": (retrieved - started) * 1000,
            "answer": (done - retrieved) * 1000,
            "total": (done - started) * 1000,
        }
        if first_token is not None:
            timings["first_token"] = (first_token - started) * 1000
        notes = " ".join(n for n in (notice, answer.notice) if n)
        answer = replace(answer, timings_ms=timings, notice=notes)
        # A UI renders the final Answer in place of the streamed text: a repaired or fallen-back answer differs.
        yield StreamEvent("" if streamed else answer.answer, answer)

    def _read(
        self,
        question: str,
        query: str,
        analysis: answering.Analysis,
        extractive: Answer,
    ) -> Iterator[StreamEvent]:
        """The auto reader's events over the extractive answerer's ranking of the sentences: the ones the
        extractive answer quotes first (a summary's central sentences, each side of a comparison), then the
        rest by score."""
        from qa import generation

        # A summary of the whole document, unless the extractive answerer found the subject the question
        # gives it missing from that document ("the article on the ASEAN-India agreement").
        whole = analysis.intent.whole and analysis.target and not extractive.abstained
        if whole and self.settings.summary_prompt_tokens:
            return summaries.read_summary(
                question,
                query,
                analysis,
                self._store,
                self.settings,
                self.embedder,
                extractive,
                self._summaries,
                lambda: self.generator(Backend.AUTO),
            )
        generator, problem = self.generator(Backend.AUTO)
        _, quoted = answering.chosen(analysis, self.settings.abstain, self.settings.max_answer_sentences)
        first = {(c.hit.chunk_id, c.index) for c in quoted}
        rest = [c for c in analysis.candidates if (c.hit.chunk_id, c.index) not in first]
        section = analysis.intent.section
        if section and quoted:
            # A question about a document's part (its method, its aim) is answered from that part alone:
            # the best-scoring sentences elsewhere are the ones its words meet by chance ("conducted market
            # research" in an internship report, for "How did they carry out their research?").
            rest = [c for c in rest if selecting.in_section(c, section)]
        ranked = [*quoted, *rest]
        focus = [generation.Focus(c.hit, c.index) for c in ranked]
        return generation.read(
            question,
            query,
            analysis.hits,
            focus,
            self.settings,
            self.embedder,
            extractive,
            generator,
            problem,
            literal=analysis.intent.shape is Shape.EVENT,  # the quotes write the date asked about
        )


def _reader_prompt() -> str:
    from qa.generation.prompts import READER_SYSTEM_PROMPT

    return READER_SYSTEM_PROMPT


def open_qa(settings: Settings, build: bool = True) -> QA:
    """The QA object a server holds: the embedder loaded once (shared by the index check and the answers)
    and the index brought up to date first, unless `build` is False."""
    embedder = make_embedder(settings)
    if build:
        summary = build_index(settings, embedder)
        log.info("qa serve: index: %s", summary.describe())
    return QA(settings, embedder=embedder)
