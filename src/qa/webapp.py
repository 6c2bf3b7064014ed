"""Gradio UI: a thin adapter that turns a QA object's answers into chat messages and panels.

`ChatUI(qa)` holds a ready QA object (or any object with the same methods, see `QAService`) and has one method
per event of the page (a question, an example, retry, undo, an upload, a rebuild, the /ask API); `build` lays out
the page (`qa.webapp_page`) and wires them, so each handler is tested alone with a fake. `serve(settings)` is the
edge: it loads the model once, brings the index up to date, and launches. The pure parts live beside it:
rendering an Answer to HTML or Markdown in `qa.render`, checking and saving an upload in `qa.uploads`; the
stylesheet is the package data file `webapp.css`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import qa.gradio_startup  # noqa: F401  # isort: skip -- before Gradio's first import, see there
import gradio as gr
from gradio.events import api as gradio_api

from qa.condense import Turn, history_from_json
from qa.config import Backend, ConfigError, RetrievalMode, Settings, parse_backend
from qa.errors import QAError
from qa.questions import QuestionError, printable
from qa.render import (
    ChatState,
    Exchange,
    chat_text,
    documents_html,
    draft_markdown,
    esc,
    inspector_html,
    reply_markdown,
    sources_html,
    status_html,
    summary_lines,
)
from qa.types import Answer, StreamEvent
from qa.uploads import UploadRejected, check_batch, save_upload
from qa.webapp_page import MAX_TOP_K, Page, layout
from qa.webapp_page import launch_options as launch_options  # where it was: tests and scripts import it here

if TYPE_CHECKING:
    from qa.engine import DocumentInfo
    from qa.indexing import IndexSummary, ProgressHandler, SkipHandler

log = logging.getLogger(__name__)
CONCURRENCY = 4  # answers computed at once; more requests wait in Gradio's queue


class QAService(Protocol):
    """What the UI needs of `qa.engine.QA`; tests pass a fake with these methods."""

    @property
    def settings(self) -> Settings: ...

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: Backend | None = None,
        top_k: int | None = None,
        mode: RetrievalMode | None = None,
    ) -> Iterator[StreamEvent]: ...

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: Backend | None = None,
        top_k: int | None = None,
        mode: RetrievalMode | None = None,
    ) -> Answer: ...

    def documents(self) -> list[DocumentInfo]: ...

    def rebuild(
        self,
        full: bool = False,
        on_skip: SkipHandler | None = None,
        on_progress: ProgressHandler | None = None,
    ) -> IndexSummary: ...

    def reload_if_changed(self) -> bool: ...


# --- Chat turns -------------------------------------------------------------------------------------------


ChatOutputs = tuple[Any, list[dict[str, str]], ChatState, str, str]


def parse_backend_choice(value: object, default: Backend) -> Backend:
    try:
        return Backend(str(value))
    except ValueError:
        return default


def chat_turn(
    qa: QAService, question: str, state: ChatState, backend: Backend, top_k: int
) -> Iterator[ChatOutputs]:
    """Answer a chat question, yielding (textbox, messages, state, sources, inspector) as text streams in."""
    question = printable(question or "")  # before anything echoes it (a lone surrogate broke the stream)
    if not question.strip():
        gr.Warning("Type a question about the documents first.")
        yield (question, state.messages(), state, *state.panels())
        return
    waiting = '<div class="qa-empty">Searching the documents…</div>'
    yield ("", state.messages(question), state, waiting, waiting)
    streamed = ""
    answer: Answer | None = None
    try:
        for event in qa.stream(question, state.history(), backend=backend, top_k=top_k):
            if event.answer is not None:
                answer = event.answer
            elif event.draft is not None and not streamed:
                # The quote is shown at once; the reader's streamed answer replaces it.
                yield ("", state.messages(question, draft_markdown(event.draft)), state, waiting, waiting)
            elif event.delta:
                streamed += event.delta
                yield ("", state.messages(question, chat_text(streamed)), state, waiting, waiting)
    except QuestionError as exc:
        gr.Warning(esc(exc))  # toasts render HTML
        yield (question, state.messages(), state, *state.panels())
        return
    except Exception as exc:
        log.warning("qa serve: answering %r failed: %r", question, exc)
        gr.Warning(esc(f"Could not answer: {visitor_message(exc)}"))
        yield (question, state.messages(), state, *state.panels())
        return
    if answer is None:  # pragma: no cover - QA.stream always ends with an answer
        raise gr.Error("The answerer returned nothing; please try again.")
    exchange = Exchange(
        question=question,
        turn=Turn(answer.question, answer.query, answer.answer),
        reply=reply_markdown(answer),
        sources=sources_html(answer),
        inspector=inspector_html(answer),
    )
    state = replace(state, exchanges=(*state.exchanges, exchange))
    yield ("", state.messages(), state, exchange.sources, exchange.inspector)


# --- The app ----------------------------------------------------------------------------------------------


class ChatUI:
    """The web chat over a ready QA object: one method per event of the page, wired by `build`.

    Each handler takes and returns plain values (the chat state is a `ChatState` value, never shared), so a
    test calls it alone with a fake QA object, as Gradio would.
    """

    def __init__(self, qa: QAService) -> None:
        self.qa = qa
        self.settings = qa.settings

    def _backend(self, mode: str) -> Backend:
        return parse_backend_choice(mode, self.settings.backend)

    # --- Chat -------------------------------------------------------------------------------------------

    def submit(self, text: str, st: ChatState, mode: str, k: float) -> Iterator[ChatOutputs]:
        """A typed question."""
        yield from chat_turn(self.qa, text, st, self._backend(mode), int(k))

    def pick_example(self, st: ChatState, mode: str, k: float, evt: gr.SelectData) -> Iterator[ChatOutputs]:
        """One of the example questions under the empty chat."""
        text = evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value)
        yield from chat_turn(self.qa, text, st, self._backend(mode), int(k))

    def retry(self, st: ChatState, mode: str, k: float) -> Iterator[ChatOutputs]:
        """The last question asked again (in the mode and top-k now chosen), in place of its answer."""
        if not st.exchanges:
            yield ("", st.messages(), st, *st.panels())
            return
        last = st.exchanges[-1]
        earlier = replace(st, exchanges=st.exchanges[:-1])
        yield from chat_turn(self.qa, last.question, earlier, self._backend(mode), int(k))

    def undo(self, st: ChatState) -> ChatOutputs:
        """The last exchange taken back; its question returns to the textbox."""
        if not st.exchanges:
            return ("", st.messages(), st, *st.panels())
        last = st.exchanges[-1]
        earlier = replace(st, exchanges=st.exchanges[:-1])
        return (last.question, earlier.messages(), earlier, *earlier.panels())

    def clear(self) -> ChatOutputs:
        """A new conversation."""
        empty = ChatState()
        return ("", [], empty, *empty.panels())

    def show_answer(self, st: ChatState, evt: gr.SelectData) -> tuple[str, str]:
        """The sources and inspector of the answer clicked in the conversation."""
        index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if isinstance(index, int) and 0 <= index // 2 < len(st.exchanges):
            chosen = st.exchanges[index // 2]
            return chosen.sources, chosen.inspector
        return st.panels()

    # --- Documents --------------------------------------------------------------------------------------

    def add_files(self, paths: list[str] | None) -> tuple[None, str]:
        """Uploaded files checked and copied into the corpus folder (the upload box is emptied)."""
        settings = self.settings
        saved: list[str] = []
        problems: list[str] = []
        try:
            sizes = [Path(path).stat().st_size for path in paths or []]
            check_batch(sizes, settings.corpus_dir, settings.max_upload_files, settings.upload_quota_bytes)
        except (UploadRejected, OSError) as exc:
            return None, status_html([visitor_message(exc)], "error")
        for path in paths or []:
            src = Path(path)
            try:
                name = save_upload(src, src.name, settings.corpus_dir, settings.max_file_bytes)
            except (UploadRejected, OSError) as exc:
                problems.append(visitor_message(exc))
            else:
                saved.append(f"Added {name} to the corpus.")
        if saved:
            saved.append("Click “Rebuild index” to make the new documents searchable.")
        return None, status_html(saved + problems, "error" if problems else "info")

    def rebuild_index(self, progress: gr.Progress = gr.Progress()) -> tuple[str, str]:  # noqa: B008
        """The index brought up to date with the corpus folder: the documents table and a summary."""
        progress(0.0, desc="Reading new or changed documents…")

        def embedding(done: int, total: int) -> None:
            progress((done, total), desc="Embedding chunks", unit="chunks")

        try:
            # Skipped files are in the summary (and the server log).
            summary = self.qa.rebuild(on_progress=embedding)
        except Exception as exc:  # IndexBusy, CorpusMissing, a model error: say it, keep serving
            log.warning("qa serve: rebuild failed: %r", exc)
            failed = f"Rebuild failed: {visitor_message(exc)}"
            return documents_html(self.qa.documents()), status_html([failed], "error")
        progress(1.0, desc="Done")
        kind = "error" if summary.skipped else "info"
        return documents_html(self.qa.documents()), status_html(summary_lines(summary), kind)

    def refresh_documents(self) -> str:
        """The documents table, after picking up an index built meanwhile (`qa index` run from a shell)."""
        self.qa.reload_if_changed()
        return documents_html(self.qa.documents())

    # --- The API ----------------------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        history: list[dict[str, str]] | None = None,
        mode: str | None = None,
        top_k: int | None = None,
    ) -> dict[str, Any]:
        """Answer one question, after earlier turns `history` ([{"question", "answer"}], optional), in
        answer mode `mode` (a backend name) with `top_k` passages; the same JSON object as `qa ask --json`."""
        try:
            backend = parse_backend(mode) if mode else None
            if top_k is not None and not 1 <= int(top_k) <= MAX_TOP_K:
                raise QuestionError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}.")
            turns = history_from_json(history)
            return self.qa.ask(
                question, turns, backend=backend, top_k=int(top_k) if top_k else None
            ).to_json()
        except (QuestionError, ConfigError) as exc:
            message = str(exc).replace(" (QA_BACKEND, --backend)", "")
            raise gr.Error(esc(message), print_exception=False) from None
        except Exception as exc:  # one line for the caller and the log, not a traceback
            log.warning("qa serve: /ask failed: %r", exc)
            raise gr.Error(esc(f"Could not answer: {visitor_message(exc)}"), print_exception=False) from None

    # --- Wiring -----------------------------------------------------------------------------------------

    def build(self) -> gr.Blocks:
        """The Blocks app. Launch it with `app.launch(**launch_options(settings))`."""
        # No telemetry, whatever the environment: Gradio's version check and usage reports are per Blocks.
        # Uploads land in Gradio's cache before `add_files` copies them: drop copies older than an hour, hourly.
        app = gr.Blocks(
            title=f"{self.settings.corpus_title} · Document Q&A",
            fill_width=False,
            analytics_enabled=False,
            delete_cache=(3600, 3600),
        )
        with app:
            page = layout(self.settings, documents_html(self.qa.documents()))
            self._wire(app, page)
        return app

    def _wire(self, app: gr.Blocks, page: Page) -> None:
        chat_outputs = [page.question, page.chatbot, page.state, page.sources, page.inspector]
        choices = [page.state, page.backend, page.top_k]
        chat_kwargs: dict[str, Any] = {
            "outputs": chat_outputs,
            "api_visibility": "private",
            "concurrency_limit": CONCURRENCY,
            "concurrency_id": "answer",
            "show_progress": "minimal",
            "show_progress_on": [page.chatbot],
        }
        quick: dict[str, Any] = {"api_visibility": "private", "queue": False}
        page.question.submit(self.submit, [page.question, *choices], **chat_kwargs)
        page.chatbot.example_select(self.pick_example, choices, **chat_kwargs)
        page.chatbot.retry(self.retry, choices, **chat_kwargs)
        page.chatbot.undo(self.undo, [page.state], outputs=chat_outputs, **quick)
        page.chatbot.clear(self.clear, None, outputs=chat_outputs, **quick)
        page.chatbot.select(self.show_answer, [page.state], [page.sources, page.inspector], **quick)

        page.upload.upload(
            self.add_files, [page.upload], [page.upload, page.status], api_visibility="private"
        )
        page.rebuild.click(
            self.rebuild_index,
            None,
            [page.documents, page.status],
            api_visibility="private",
            concurrency_id="rebuild",
        )
        page.refresh.click(self.refresh_documents, None, [page.documents], api_visibility="private")
        app.load(self.refresh_documents, None, [page.documents], api_visibility="private")
        gradio_api(self.ask, api_name="ask", concurrency_limit=CONCURRENCY, concurrency_id="answer")


def build_app(qa: QAService) -> gr.Blocks:
    """The Blocks app over a ready QA object (`ChatUI(qa).build()`)."""
    return ChatUI(qa).build()


def visitor_message(exc: BaseException) -> str:
    """What a visitor is told of an error: our own messages name the fix and hold no server paths; any
    other error's text may (an OSError's does), so it goes to the server log only."""
    if isinstance(exc, QAError) and exc.public:
        return str(exc)
    return f"an unexpected {type(exc).__name__}; the details are in the server log."


def serve(settings: Settings, build: bool = True, qa: QAService | None = None) -> None:
    """Serve the app over `qa`, or over `engine.open_qa(settings, build)`: the model loaded once and the
    index brought up to date (unless `build` is False)."""
    # Gradio's own checks read these too (huggingface_hub's when it is imported): off before either runs.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    if qa is None:
        from qa.engine import open_qa

        qa = open_qa(settings, build)
    app = ChatUI(qa).build()
    threading.Thread(target=_warm_up, args=(qa,), daemon=True).start()
    # Gradio reads GRADIO_SERVER_NAME and GRADIO_SERVER_PORT itself (default 127.0.0.1:7860).
    app.launch(**launch_options(settings))


def _warm_up(qa: QAService) -> None:
    """Pay first-call costs while the server starts rather than on the first question (about 1.5 s)."""
    try:
        # The embedder's first forward pass and first searches are slow; the extractive answerer alone, so
        # the local model is not kept busy by a question nobody asked.
        qa.ask("What is this about?", backend=Backend.EXTRACTIVE)
    except Exception as exc:  # the first real question will report it properly
        log.warning("qa serve: warm-up question failed: %r", exc)
    warm_reader = getattr(qa, "warm_reader", None)
    if warm_reader is not None and qa.settings.backend is Backend.AUTO:
        # Loading the local model (seconds) and reading its fixed prompt overlap the server's start.
        problem = warm_reader()
        if problem:
            log.warning("qa serve: answers will quote the documents: %s", problem)
