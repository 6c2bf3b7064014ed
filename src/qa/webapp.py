"""Gradio UI: a thin adapter that turns a QA object's answers into chat messages and panels.

`build_app(qa)` takes a ready QA object (or any object with the same methods, see `QAService`), so the UI is
tested with a fake. `serve(settings)` is the edge: it loads the model once, brings the index up to date,
and launches. The pure parts live beside it: rendering an Answer to HTML or Markdown in `qa.render`, checking
and saving an upload in `qa.uploads`; the stylesheet is the package data file `webapp.css`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.resources
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import gradio as gr
from gradio.events import api as gradio_api

from qa.condense import Turn, history_from_json
from qa.config import Backend, ConfigError, RetrievalMode, Settings, parse_backend
from qa.corpus import SUPPORTED_SUFFIXES
from qa.errors import QAError
from qa.questions import QuestionError, printable
from qa.render import (
    INSPECTOR_EMPTY,
    SOURCES_EMPTY,
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
    upload_help,
)
from qa.types import Answer, StreamEvent
from qa.uploads import UploadRejected, check_batch, save_upload

if TYPE_CHECKING:
    from qa.engine import DocumentInfo
    from qa.indexing import IndexSummary, ProgressHandler, SkipHandler

EXAMPLES = (
    "When did the AHKFTA enter into force?",
    "What was the value of ASEAN-Hong Kong, China trade in 2024?",
    "What did Hainan and the HKSAR sign?",
    "Who is visiting Tokyo and Seoul to promote Hong Kong?",
)
BACKEND_LABELS = {
    Backend.AUTO: "Written from the documents, verified (auto)",
    Backend.EXTRACTIVE: "Exact quotes (extractive)",
    Backend.OPENAI: "Generated (OpenAI-compatible)",
    Backend.TRANSFORMERS: "Generated (transformers model)",
    Backend.LLAMACPP: "Generated offline (llama.cpp)",
}
MAX_TOP_K = 20
CONCURRENCY = 4  # answers computed at once; more requests wait in Gradio's queue
PLACEHOLDER = "**Ask about the documents.** Answers quote them and cite each source."


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
        print(f"qa serve: answering {question!r} failed: {exc!r}", file=sys.stderr)
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


def build_app(qa: QAService) -> gr.Blocks:
    """The Blocks app over a ready QA object. Launch it with `app.launch(**launch_options(settings))`."""
    settings = qa.settings
    backend_choices = [(BACKEND_LABELS.get(b, b.value), b.value) for b in Backend]

    # No telemetry, whatever the environment: Gradio's version check and usage reports are per Blocks.
    # Uploads land in Gradio's cache before `add_files` copies them: drop copies older than an hour, hourly.
    app = gr.Blocks(
        title=f"{settings.corpus_title} · Document Q&A",
        fill_width=False,
        analytics_enabled=False,
        delete_cache=(3600, 3600),
    )
    with app:
        state = gr.State(ChatState())
        gr.HTML(
            f'<div class="qa-header"><h1>{esc(settings.corpus_title)}</h1><p>Document Q&amp;A: answers quoted '
            "from these documents, every sentence cited to its source.</p></div>",
            js_on_load=None,
        )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=420):
                        chatbot = gr.Chatbot(
                            label="Conversation",
                            show_label=False,
                            height=560,
                            elem_id="qa-chat",
                            buttons=["copy", "copy_all"],
                            feedback_options=None,
                            sanitize_html=True,
                            allow_tags=False,
                            latex_delimiters=[],
                            layout="bubble",
                            examples=[{"text": q} for q in EXAMPLES],
                            placeholder=PLACEHOLDER,
                        )
                        question = gr.Textbox(
                            placeholder="Ask a question, or a follow-up…",
                            show_label=False,
                            lines=1,
                            max_lines=4,
                            submit_btn="Ask",
                            elem_id="qa-question",
                            autofocus=True,
                        )
                        with gr.Row():
                            backend = gr.Dropdown(
                                backend_choices,
                                value=settings.backend.value,
                                label="Answer mode",
                                scale=2,
                                elem_id="qa-backend",
                            )
                            top_k = gr.Slider(
                                1,
                                MAX_TOP_K,
                                value=min(settings.top_k, MAX_TOP_K),
                                step=1,
                                label="Passages to retrieve (top-k)",
                                scale=2,
                                elem_id="qa-top-k",
                            )
                    with gr.Column(scale=2, min_width=320):
                        gr.HTML('<h3 class="qa-panel-title">Sources</h3>', js_on_load=None)
                        sources = gr.HTML(SOURCES_EMPTY, elem_id="qa-sources", js_on_load=None)
                with gr.Accordion("Retrieval inspector", open=False, elem_id="qa-inspector"):
                    inspector = gr.HTML(INSPECTOR_EMPTY, js_on_load=None)
            with gr.Tab("Documents", id="documents"):
                documents = gr.HTML(documents_html(qa.documents()), elem_id="qa-documents", js_on_load=None)
                with gr.Row():
                    upload = gr.File(
                        label="Add documents",
                        height=150,
                        file_count="multiple",
                        file_types=sorted(SUPPORTED_SUFFIXES),
                        elem_id="qa-upload",
                        scale=3,
                    )
                    with gr.Column(scale=1, min_width=200):
                        rebuild = gr.Button("Rebuild index", variant="primary", elem_id="qa-rebuild")
                        refresh = gr.Button("Refresh list", elem_id="qa-refresh")
                gr.HTML(upload_help(settings.max_file_bytes), js_on_load=None)
                status = gr.HTML("", elem_id="qa-status", js_on_load=None)

        chat_outputs = [question, chatbot, state, sources, inspector]

        def submit(text: str, st: ChatState, mode: str, k: float) -> Iterator[ChatOutputs]:
            yield from chat_turn(qa, text, st, parse_backend_choice(mode, settings.backend), int(k))

        def pick_example(st: ChatState, mode: str, k: float, evt: gr.SelectData) -> Iterator[ChatOutputs]:
            text = evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value)
            yield from chat_turn(qa, text, st, parse_backend_choice(mode, settings.backend), int(k))

        def retry(st: ChatState, mode: str, k: float) -> Iterator[ChatOutputs]:
            if not st.exchanges:
                yield ("", st.messages(), st, *st.panels())
                return
            last = st.exchanges[-1]
            earlier = replace(st, exchanges=st.exchanges[:-1])
            yield from chat_turn(
                qa, last.question, earlier, parse_backend_choice(mode, settings.backend), int(k)
            )

        def undo(st: ChatState) -> ChatOutputs:
            if not st.exchanges:
                return ("", st.messages(), st, *st.panels())
            last = st.exchanges[-1]
            earlier = replace(st, exchanges=st.exchanges[:-1])
            return (last.question, earlier.messages(), earlier, *earlier.panels())

        def clear() -> ChatOutputs:
            empty = ChatState()
            return ("", [], empty, *empty.panels())

        def show_answer(st: ChatState, evt: gr.SelectData) -> tuple[str, str]:
            index = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
            if isinstance(index, int) and 0 <= index // 2 < len(st.exchanges):
                chosen = st.exchanges[index // 2]
                return chosen.sources, chosen.inspector
            return st.panels()

        chat_kwargs: dict[str, Any] = {
            "outputs": chat_outputs,
            "api_visibility": "private",
            "concurrency_limit": CONCURRENCY,
            "concurrency_id": "answer",
            "show_progress": "minimal",
            "show_progress_on": [chatbot],
        }
        question.submit(submit, [question, state, backend, top_k], **chat_kwargs)
        chatbot.example_select(pick_example, [state, backend, top_k], **chat_kwargs)
        chatbot.retry(retry, [state, backend, top_k], **chat_kwargs)
        chatbot.undo(undo, [state], outputs=chat_outputs, api_visibility="private", queue=False)
        chatbot.clear(clear, None, outputs=chat_outputs, api_visibility="private", queue=False)
        chatbot.select(show_answer, [state], [sources, inspector], api_visibility="private", queue=False)

        def add_files(paths: list[str] | None) -> tuple[None, str]:
            saved: list[str] = []
            problems: list[str] = []
            try:
                sizes = [Path(path).stat().st_size for path in paths or []]
                check_batch(
                    sizes, settings.corpus_dir, settings.max_upload_files, settings.upload_quota_bytes
                )
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

        def rebuild_index(progress: gr.Progress = gr.Progress()) -> tuple[str, str]:  # noqa: B008
            progress(0.0, desc="Reading new or changed documents…")

            def embedding(done: int, total: int) -> None:
                progress((done, total), desc="Embedding chunks", unit="chunks")

            try:
                # Skipped files are in the summary (and the server log).
                summary = qa.rebuild(on_progress=embedding)
            except Exception as exc:  # IndexBusy, CorpusMissing, a model error: say it, keep serving
                print(f"qa serve: rebuild failed: {exc!r}", file=sys.stderr)
                failed = f"Rebuild failed: {visitor_message(exc)}"
                return documents_html(qa.documents()), status_html([failed], "error")
            progress(1.0, desc="Done")
            kind = "error" if summary.skipped else "info"
            return documents_html(qa.documents()), status_html(summary_lines(summary), kind)

        def refresh_documents() -> str:
            qa.reload_if_changed()  # picks up `qa index` run from a shell
            return documents_html(qa.documents())

        upload.upload(add_files, [upload], [upload, status], api_visibility="private")
        rebuild.click(
            rebuild_index, None, [documents, status], api_visibility="private", concurrency_id="rebuild"
        )
        refresh.click(refresh_documents, None, [documents], api_visibility="private")
        app.load(refresh_documents, None, [documents], api_visibility="private")

        def ask(
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
                return qa.ask(question, turns, backend=backend, top_k=int(top_k) if top_k else None).to_json()
            except (QuestionError, ConfigError) as exc:
                message = str(exc).replace(" (QA_BACKEND, --backend)", "")
                raise gr.Error(esc(message), print_exception=False) from None
            except Exception as exc:  # one line for the caller and the log, not a traceback
                print(f"qa serve: /ask failed: {exc!r}", file=sys.stderr)
                raise gr.Error(
                    esc(f"Could not answer: {visitor_message(exc)}"), print_exception=False
                ) from None

        gradio_api(ask, api_name="ask", concurrency_limit=CONCURRENCY, concurrency_id="answer")
    return app


def visitor_message(exc: BaseException) -> str:
    """What a visitor is told of an error: our own messages name the fix and hold no server paths; any
    other error's text may (an OSError's does), so it goes to the server log only."""
    if isinstance(exc, QAError) and exc.public:
        return str(exc)
    return f"an unexpected {type(exc).__name__}; the details are in the server log."


def launch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `app.launch` (theme, CSS and limits live there since Gradio 6)."""
    from starlette.middleware import Middleware

    from qa.guard import RequestGuard

    return {
        # Gradio builds its FastAPI app inside launch; middleware given here wraps every route.
        "app_kwargs": {"middleware": [Middleware(RequestGuard, allowed_hosts=settings.allowed_hosts)]},
        "theme": gr.themes.Soft(
            primary_hue="indigo",
            neutral_hue="slate",
            font=["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
        ),
        "css": load_css(),
        "max_file_size": settings.max_file_bytes,
        "ssr_mode": False,
        "show_error": True,
        "footer_links": ["api"],
    }


def serve(settings: Settings, build: bool = True) -> None:
    """Load the model once, bring the index up to date (unless `build` is False), and serve the app."""
    from qa.embedding import make_embedder
    from qa.engine import QA
    from qa.indexing import build_index

    # Gradio's own checks read these too (huggingface_hub's when it is imported): off before either runs.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    embedder = make_embedder(settings)
    if build:
        summary = build_index(settings, embedder)
        print(f"qa serve: index: {summary.describe()}", file=sys.stderr, flush=True)
    qa = QA(settings, embedder=embedder)
    app = build_app(qa)
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
        print(f"qa serve: warm-up question failed: {exc!r}", file=sys.stderr)
    warm_reader = getattr(qa, "warm_reader", None)
    if warm_reader is not None and qa.settings.backend is Backend.AUTO:
        # Loading the local model (seconds) and reading its fixed prompt overlap the server's start.
        problem = warm_reader()
        if problem:
            print(f"qa serve: answers will quote the documents: {problem}", file=sys.stderr, flush=True)
    # Gradio wraps every event in a matplotlib backend switch, which imports matplotlib (when installed).
    with contextlib.suppress(ImportError):
        importlib.import_module("matplotlib")


def load_css() -> str:
    """The app's stylesheet, shipped as package data beside this module."""
    return importlib.resources.files("qa").joinpath("webapp.css").read_text(encoding="utf-8")
