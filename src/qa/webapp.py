"""Gradio UI: a thin adapter that turns a QA object's answers into chat messages and panels.

`build_app(qa)` takes a ready QA object (or any object with the same methods, see `QAService`), so the UI is
tested with a fake. `serve(settings)` is the edge: it loads the model once, brings the index up to date,
and launches. The pure parts (rendering an Answer to HTML, checking an upload's name) are plain functions.

Safety: every string that comes from a document, a file name or a user is escaped before it reaches an HTML
or Markdown component (`esc` for HTML, `chat_text` for the chat's Markdown), so a document holding
`<script>` or `<img onerror=...>` shows those characters and runs nothing.
"""

from __future__ import annotations

import contextlib
import html
import importlib
import os
import re
import shutil
import sys
import threading
import time
import unicodedata
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import gradio as gr
from gradio.events import api as gradio_api

from qa.answering import NOT_FOUND, Answer, StreamEvent
from qa.condense import Turn
from qa.config import Backend, RetrievalMode, Settings
from qa.corpus import SUPPORTED_SUFFIXES
from qa.questions import QuestionError

if TYPE_CHECKING:
    from qa.engine import DocumentInfo
    from qa.indexing import IndexSummary, SkipHandler

EXAMPLES = (
    "When did the AHKFTA enter into force?",
    "What was the value of ASEAN-Hong Kong, China trade in 2024?",
    "What did Hainan and the HKSAR sign?",
    "Who is visiting Tokyo and Seoul to promote Hong Kong?",
)
BACKEND_LABELS = {
    Backend.EXTRACTIVE: "Exact quotes (extractive)",
    Backend.OPENAI: "Generated (OpenAI-compatible)",
    Backend.TRANSFORMERS: "Generated (local model)",
}
MAX_TOP_K = 20
CONCURRENCY = 4  # answers computed at once; more requests wait in Gradio's queue
MAX_NAME_CHARS = 120
SCORE_HELP = "How well this sentence answers the question (0 to 1)"
SIMILARITY_HELP = "Cosine similarity of the passage to the question"
PLACEHOLDER = "**Ask about the documents.** Answers quote them and cite each source."
SOURCES_EMPTY = '<div class="qa-empty">Sources for an answer appear here.</div>'
INSPECTOR_EMPTY = '<div class="qa-empty">Ask a question to see what retrieval found.</div>'


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

    def rebuild(self, full: bool = False, on_skip: SkipHandler | None = None) -> IndexSummary: ...

    def reload_if_changed(self) -> bool: ...


# --- Rendering (pure) -------------------------------------------------------------------------------------


def esc(text: object) -> str:
    """Text for HTML: every <, >, &, and quote escaped."""
    return html.escape(str(text), quote=True)


_BRACKET = re.compile(r"[\[\]]")
_MARKER = re.compile(r"\\\[(\d{1,3})\\\](?![:(\[])")


def chat_text(text: str) -> str:
    """Text for the chat's Markdown: HTML escaped and link syntax defused; `[n]` citation markers kept."""
    escaped = _BRACKET.sub(lambda m: "\\" + m.group(), html.escape(text, quote=False))
    return _MARKER.sub(r"[\1]", escaped)


def where(source: str, page: int | None) -> str:
    return f"{source}, page {page}" if page else source


def highlight(passage: str, quote: str) -> str:
    """The passage as HTML with the quoted sentence(s) marked (the whole passage unmarked if not found)."""
    i = passage.find(quote) if quote else -1
    if i < 0:
        return esc(passage)
    j = i + len(quote)
    return f"{esc(passage[:i])}<mark>{esc(quote)}</mark>{esc(passage[j:])}"


def reply_markdown(answer: Answer) -> str:
    """The assistant's chat message for a finished answer."""
    parts: list[str] = []
    if answer.query != answer.question:
        parts.append(f"_Searched for: “{chat_text(answer.query)}”_")
    if answer.abstained:
        text = f"**{chat_text(answer.answer or NOT_FOUND)}**"
        if answer.related:
            text += " Possibly related passages are listed under Sources."
        parts.append(text)
    else:
        parts.append(chat_text(answer.answer))
    for sentence in answer.sentences:
        if not sentence.verified:
            reason = f" ({chat_text(sentence.reason)})" if sentence.reason else ""
            parts.append(f"⚠ _Not supported by the cited sources: {chat_text(sentence.text)}_{reason}")
    if answer.notice:
        parts.append(f"_Note: {chat_text(answer.notice)}_")
    return "\n\n".join(parts)


def _card(
    title: str, place: str, score: str, score_help: str, body: str, n: int | None = None, quote: str = ""
) -> str:
    """One source as a <details> card: number, title, file and score; the passage shows when opened."""
    number = f'<span class="qa-num">{n}</span>' if n is not None else ""
    teaser = f'<span class="qa-quote">{esc(quote)}</span>' if quote else ""
    data = f' data-n="{n}"' if n is not None else ""
    return (
        f'<details class="qa-source"{data}>'
        f'<summary>{number}<span class="qa-head"><span class="qa-title">{esc(title)}</span>'
        f'<span class="qa-meta-row"><span class="qa-file">{esc(place)}</span>'
        f'<span class="qa-score" title="{esc(score_help)}">{esc(score)}</span></span>{teaser}</span>'
        f'</summary><div class="qa-passage">{body}</div></details>'
    )


def sources_html(answer: Answer) -> str:
    """The sources panel: each citation with its document, place, score, and the quote inside its passage."""
    out = ['<div class="qa-sources">']
    if answer.query != answer.question:
        out.append(f'<p class="qa-searched">Searched for: <q>{esc(answer.query)}</q></p>')
    for c in answer.citations:
        out.append(
            _card(
                c.title,
                where(c.source, c.page),
                f"score {c.score:.2f}",
                SCORE_HELP,
                highlight(c.passage, c.quote),
                n=c.n,
                quote=c.quote,
            )
        )
    if answer.abstained:
        out.append(f'<p class="qa-abstain">{esc(NOT_FOUND)}</p>')
        if answer.reason:
            out.append(f'<p class="qa-reason">Why: {esc(answer.reason)}.</p>')
        if answer.related:
            out.append('<p class="qa-related-head">Possibly related passages</p>')
        for p in answer.related:
            out.append(
                _card(
                    p.title,
                    where(p.source, p.page),
                    f"similarity {p.score:.2f}",
                    SIMILARITY_HELP,
                    esc(p.text),
                )
            )
    elif not answer.citations:
        out.append('<p class="qa-empty">This answer cites no sources.</p>')
    out.append("</div>")
    return "".join(out)


def snippet(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _rank(rank: int | None) -> str:
    return str(rank) if rank is not None else "–"


def inspector_html(answer: Answer) -> str:
    """Every retrieved chunk with its dense and BM25 ranks, fused score and whether it was cited; timings."""
    cited: dict[int, list[int]] = {}
    for c in answer.citations:
        cited.setdefault(c.chunk_id, []).append(c.n)
    rows = []
    for i, h in enumerate(answer.hits, start=1):
        marks = cited.get(h.chunk_id)
        rows.append(
            f'<tr class="{"qa-cited" if marks else ""}"><td>{i}</td>'
            f'<td><span class="qa-title">{esc(h.chunk.title)}</span><br>'
            f'<span class="qa-file">{esc(where(h.chunk.doc_path, h.chunk.page))}</span>'
            f'<div class="qa-snippet">{esc(snippet(h.chunk.text))}</div></td>'
            f"<td>{_rank(h.dense_rank)}</td><td>{_rank(h.bm25_rank)}</td>"
            f"<td>{h.score:.4f}</td><td>{h.dense_score:.3f}</td>"
            f'<td class="qa-nowrap">{"yes " + " ".join(f"[{n}]" for n in marks) if marks else "no"}</td></tr>'
        )
    timings = " · ".join(f"{esc(k)} {v:.0f} ms" for k, v in answer.timings_ms.items())
    backend = esc(answer.backend) + (f" ({esc(answer.reason)})" if answer.reason else "")
    return (
        f'<div class="qa-inspector"><p class="qa-meta">Searched for: <q>{esc(answer.query)}</q>'
        f" · answerer: {backend} · {timings or 'no timings'}</p>"
        '<table class="qa-table"><thead><tr><th>#</th><th>Passage</th><th>Dense rank</th>'
        "<th>BM25 rank</th><th>Fused score</th><th>Cosine</th><th>Cited</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def documents_html(docs: Sequence[DocumentInfo]) -> str:
    """The indexed documents as a table."""
    if not docs:
        return '<div class="qa-empty">No documents are indexed yet: add some and rebuild the index.</div>'
    rows = "".join(
        f'<tr><td class="qa-title">{esc(d.title)}</td><td class="qa-file">{esc(d.path)}</td>'
        f"<td>{d.pages or '–'}</td><td>{d.chunks}</td>"
        f"<td>{time.strftime('%Y-%m-%d %H:%M', time.localtime(d.indexed_at))}</td></tr>"
        for d in docs
    )
    total = sum(d.chunks for d in docs)
    return (
        f'<p class="qa-meta">{len(docs)} documents, {total} chunks</p>'
        '<table class="qa-table qa-docs"><thead><tr><th>Title</th><th>File</th><th>Pages</th>'
        f"<th>Chunks</th><th>Indexed</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def upload_help(max_bytes: int) -> str:
    types = " ".join(sorted(SUPPORTED_SUFFIXES))
    return (
        f'<p class="qa-meta">Accepted: {esc(types)}, up to {max_bytes // 2**20} MB each. Files are saved in '
        "the corpus folder; a name already there gets a -2, -3 … suffix, so nothing is overwritten. "
        "Then click <b>Rebuild index</b>; the chat uses the new index at once.</p>"
    )


def status_html(lines: Sequence[str], kind: str = "info") -> str:
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return f'<ul class="qa-status qa-{esc(kind)}">{items}</ul>'


def summary_lines(summary: IndexSummary) -> list[str]:
    lines = [f"Index updated: {summary.describe()}."]
    lines += [f"Skipped {s.path}: {s.reason}" for s in summary.skipped]
    return lines


# --- Uploads ----------------------------------------------------------------------------------------------


class UploadRejected(ValueError):
    """An uploaded file cannot go into the corpus; the message says why and what to do."""


def upload_name(name: str, size: int, existing: Collection[str], max_bytes: int) -> str:
    """The file name under which an upload is saved in the corpus folder, or UploadRejected.

    Only the last path component is kept ("../../x.txt" and "/etc/x.txt" become "x.txt"); characters other
    than letters, digits, space, ".", "-" and "_" become "_". Hidden names, unsupported types, empty and
    oversized files are refused. A name already in the folder (compared case-insensitively) is never
    overwritten: the new file gets "-2", "-3", ... before its extension.
    """
    base = unicodedata.normalize("NFC", re.split(r"[\\/]", name)[-1])
    base = "".join(ch if ch.isalnum() or ch in " .-_" else "_" for ch in base).strip()
    if not base or base.strip(".") == "":
        raise UploadRejected(f"{name!r} has no file name.")
    if base.startswith("."):
        raise UploadRejected(f"{base!r} is a hidden file (its name starts with '.'); rename it.")
    stem, suffix = os.path.splitext(base)
    suffix = suffix.lower()
    allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadRejected(f"{base!r} is not a supported type: upload one of {allowed}.")
    stem = stem.strip(" .")[:MAX_NAME_CHARS].strip(" .")
    if not stem:
        raise UploadRejected(f"{name!r} has no file name before its extension.")
    if size <= 0:
        raise UploadRejected(f"{base!r} is empty.")
    if size > max_bytes:
        raise UploadRejected(
            f"{base!r} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. Split or shrink it."
        )
    taken = {n.casefold() for n in existing}
    candidate, n = stem + suffix, 2
    while candidate.casefold() in taken:
        candidate, n = f"{stem}-{n}{suffix}", n + 1
    return candidate


def save_upload(src: Path, name: str, corpus_dir: Path, max_bytes: int) -> str:
    """Copy an uploaded file into the top of the corpus folder under a safe new name; return that name."""
    root = corpus_dir.resolve()
    with src.open("rb") as fin:
        size = os.fstat(fin.fileno()).st_size
        for _attempt in range(3):
            target_name = upload_name(name, size, os.listdir(root), max_bytes)
            target = root / target_name
            if target.parent != root:  # upload_name keeps one component; checked again, writing is for good
                raise UploadRejected(f"{name!r} would be written outside the corpus folder.")
            try:
                fout = target.open("xb")  # "x": fails rather than replace a file
            except FileExistsError:
                continue  # another upload took the name since we listed the folder: pick the next free one
            try:
                with fout:
                    shutil.copyfileobj(fin, fout)
            except BaseException:
                target.unlink(missing_ok=True)  # ours: created by the open above
                raise
            return target_name
    raise UploadRejected(f"Could not find a free name for {name!r}; try again.")


# --- Per-session chat state -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One question and its answer as shown: the chat text, and the panels rendered for it."""

    question: str
    turn: Turn
    reply: str
    sources: str
    inspector: str


@dataclass(frozen=True)
class ChatState:
    """A browser session's conversation (kept in gr.State, so sessions never see each other's)."""

    exchanges: tuple[Exchange, ...] = ()

    def history(self) -> tuple[Turn, ...]:
        return tuple(e.turn for e in self.exchanges)

    def messages(self, pending: str | None = None, partial: str | None = None) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for e in self.exchanges:
            out.append({"role": "user", "content": chat_text(e.question)})
            out.append({"role": "assistant", "content": e.reply})
        if pending is not None:
            out.append({"role": "user", "content": chat_text(pending)})
            if partial:
                out.append({"role": "assistant", "content": partial})
        return out

    def panels(self) -> tuple[str, str]:
        if not self.exchanges:
            return SOURCES_EMPTY, INSPECTOR_EMPTY
        return self.exchanges[-1].sources, self.exchanges[-1].inspector


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
    if not question or not question.strip():
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
            elif event.delta:
                streamed += event.delta
                yield ("", state.messages(question, chat_text(streamed)), state, waiting, waiting)
    except QuestionError as exc:
        gr.Warning(esc(exc))  # toasts render HTML
        yield (question, state.messages(), state, *state.panels())
        return
    except Exception as exc:
        print(f"qa serve: answering {question!r} failed: {exc!r}", file=sys.stderr)
        gr.Warning(esc(f"Could not answer: {exc}"))
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

    app = gr.Blocks(title="Document Q&A", fill_width=False)
    with app:
        state = gr.State(ChatState())
        gr.HTML(
            '<div class="qa-header"><h1>Document Q&amp;A</h1><p>Answers quoted from your documents, '
            "every sentence cited to its source.</p></div>",
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
            for path in paths or []:
                src = Path(path)
                try:
                    name = save_upload(src, src.name, settings.corpus_dir, settings.max_file_bytes)
                except (UploadRejected, OSError) as exc:
                    problems.append(str(exc))
                else:
                    saved.append(f"Added {name} to the corpus.")
            if saved:
                saved.append("Click “Rebuild index” to make the new documents searchable.")
            return None, status_html(saved + problems, "error" if problems else "info")

        def rebuild_index(progress: gr.Progress = gr.Progress()) -> tuple[str, str]:  # noqa: B008
            progress(0.1, desc="Reading and embedding new or changed documents…")
            try:
                summary = qa.rebuild()  # skipped files are in the summary (and the server log)
            except Exception as exc:  # IndexBusy, CorpusMissing, a model error: say it, keep serving
                print(f"qa serve: rebuild failed: {exc!r}", file=sys.stderr)
                return documents_html(qa.documents()), status_html([f"Rebuild failed: {exc}"], "error")
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

        def ask(question: str) -> dict[str, Any]:
            """Answer one question; returns the same JSON object as `qa ask --json`."""
            try:
                return qa.ask(question).to_json()
            except QuestionError as exc:
                raise gr.Error(esc(exc)) from None

        gradio_api(ask, api_name="ask", concurrency_limit=CONCURRENCY, concurrency_id="answer")
    return app


def launch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `app.launch` (theme, CSS and limits live there since Gradio 6)."""
    return {
        "theme": gr.themes.Soft(
            primary_hue="indigo",
            neutral_hue="slate",
            font=["Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"],
        ),
        "css": CSS,
        "max_file_size": settings.max_file_bytes,
        "ssr_mode": False,
        "show_error": True,
        "footer_links": ["api"],
    }


def serve(settings: Settings, build: bool = True) -> None:
    """Load the model once, bring the index up to date (unless `build` is False), and serve the app."""
    from qa.embedding import SentenceTransformerEmbedder
    from qa.engine import QA
    from qa.indexing import build_index

    embedder = SentenceTransformerEmbedder(settings.model_path, settings.embed_batch_size)
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
        qa.ask("What is this about?")  # the model's first forward pass and first searches are slow
    except Exception as exc:  # the first real question will report it properly
        print(f"qa serve: warm-up question failed: {exc!r}", file=sys.stderr)
    # Gradio wraps every event in a matplotlib backend switch, which imports matplotlib (when installed).
    with contextlib.suppress(ImportError):
        importlib.import_module("matplotlib")


def main(argv: Sequence[str] | None = None) -> int:
    """`python app.py [options]`: the same as `qa serve [options]`."""
    from qa.cli import main as cli_main

    return cli_main(["serve", *(sys.argv[1:] if argv is None else argv)])


CSS = """
.gradio-container { max-width: 1320px !important; width: 100% !important; margin: 0 auto !important; }
.qa-header { padding: 4px 2px 2px; }
.qa-header h1 { font-size: 1.45rem; font-weight: 650; margin: 0; letter-spacing: -0.01em; }
.qa-header p { margin: 2px 0 0; color: var(--body-text-color-subdued); font-size: 0.95rem; }
.qa-panel-title { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.06em; margin: 6px 0 4px;
  color: var(--body-text-color-subdued); font-weight: 600; }
.qa-empty { color: var(--body-text-color-subdued); font-size: 0.92rem; padding: 12px 2px; }
.qa-sources { display: flex; flex-direction: column; gap: 10px; }
.qa-searched, .qa-meta, .qa-reason { color: var(--body-text-color-subdued); font-size: 0.85rem; margin: 0; }
.qa-abstain { font-weight: 600; margin: 0; }
.qa-related-head { font-weight: 600; font-size: 0.9rem; margin: 4px 0 0; }
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 10px;
  background: var(--background-fill-primary); overflow: hidden; }
.qa-source > summary { list-style: none; cursor: pointer; display: flex; gap: 10px; padding: 10px 12px;
  align-items: flex-start; }
.qa-source > summary::-webkit-details-marker { display: none; }
.qa-source[open] > summary { border-bottom: 1px solid var(--border-color-primary); }
.qa-num { flex: none; min-width: 1.6em; height: 1.6em; border-radius: 999px; display: inline-flex;
  align-items: center; justify-content: center; font-size: 0.8rem; font-weight: 650;
  background: var(--color-accent-soft); color: var(--color-accent); }
.qa-head { display: flex; flex-direction: column; gap: 2px; min-width: 0; flex: 1; }
.qa-score { flex: none; font-size: 0.75rem; font-variant-numeric: tabular-nums; padding: 1px 7px;
  border-radius: 999px; border: 1px solid var(--border-color-primary);
  color: var(--body-text-color-subdued); }
.qa-title { font-weight: 600; font-size: 0.93rem; }
.qa-meta-row { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between;
  gap: 4px 8px; }
.qa-file { font-family: var(--font-mono); font-size: 0.78rem; overflow-wrap: anywhere;
  color: var(--body-text-color-subdued); }
.qa-quote { font-size: 0.88rem; margin-top: 4px; border-left: 3px solid var(--color-accent);
  padding-left: 8px; color: var(--body-text-color); }
.qa-source[open] .qa-quote { display: none; }
.qa-passage { padding: 10px 14px 12px; font-size: 0.88rem; line-height: 1.55;
  color: var(--body-text-color-subdued); white-space: pre-wrap; }
.qa-passage mark { background: #fde68a; color: #111827; padding: 1px 2px; border-radius: 3px; }
.qa-table { width: 100%; border-collapse: collapse; font-size: 0.85rem; border: 0 !important; }
.qa-table th, .qa-table td { border: 0 !important; padding: 6px 8px; vertical-align: top;
  border-bottom: 1px solid var(--border-color-primary) !important; background: transparent; }
.qa-table tr { border: 0 !important; }
.qa-table th { text-align: left; font-weight: 600; white-space: nowrap; }
.qa-table .qa-nowrap { white-space: nowrap; }
.qa-snippet { font-size: 0.8rem; color: var(--body-text-color-subdued); margin-top: 2px; }
.qa-table tr.qa-cited td { background: var(--color-accent-soft); }
.qa-status { list-style: none; margin: 6px 0; padding: 8px 12px; border-radius: 8px; font-size: 0.9rem;
  background: var(--background-fill-secondary); }
.qa-status.qa-error { border-left: 3px solid #dc2626; }
.qa-status.qa-info { border-left: 3px solid var(--color-accent); }
"""
