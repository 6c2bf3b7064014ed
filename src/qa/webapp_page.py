"""The web app's page: its components, their ids and labels, its look (theme, stylesheet), and nothing they do.

`layout` is called inside a `gr.Blocks` context by `qa.webapp.ChatUI.build`, which wires the components it
returns to the UI's handlers. The element ids (`qa-chat`, `qa-question`, ...) are what the stylesheet and the
browser tests hold on to.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from typing import Any

import qa.gradio_startup  # noqa: F401  # isort: skip -- before Gradio's first import, see there
import gradio as gr

from qa.config import Backend, Settings
from qa.corpus import SUPPORTED_SUFFIXES
from qa.render import INSPECTOR_EMPTY, SOURCES_EMPTY, ChatState, esc, upload_help

EXAMPLES = (
    "When did the AHKFTA enter into force?",
    "What was the value of ASEAN-Hong Kong, China trade in 2024?",
    "What did Hainan and the HKSAR sign?",
    "Who is visiting Tokyo and Seoul to promote Hong Kong?",
)
BACKEND_LABELS = {
    Backend.AUTO: "Written, then verified (auto)",  # short: the dropdown shows it whole
    Backend.EXTRACTIVE: "Exact quotes (extractive)",
    Backend.OPENAI: "Generated (OpenAI-compatible)",
    Backend.TRANSFORMERS: "Generated (transformers model)",
    Backend.LLAMACPP: "Generated offline (llama.cpp)",
}
MAX_TOP_K = 20
PLACEHOLDER = "**Ask about the documents.** Answers quote them and cite each source."


@dataclass(frozen=True)
class Page:
    """The components the handlers read and write."""

    state: gr.State
    chatbot: gr.Chatbot
    question: gr.Textbox
    backend: gr.Dropdown
    top_k: gr.Slider
    sources: gr.HTML
    inspector: gr.HTML
    documents: gr.HTML
    upload: gr.File
    rebuild: gr.Button
    refresh: gr.Button
    status: gr.HTML


def layout(settings: Settings, documents: str) -> Page:
    """The Chat and Documents tabs, inside the current Blocks; `documents` is the first documents table."""
    backend_choices = [(BACKEND_LABELS.get(b, b.value), b.value) for b in Backend]
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
            documents_table = gr.HTML(documents, elem_id="qa-documents", js_on_load=None)
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
    return Page(
        state,
        chatbot,
        question,
        backend,
        top_k,
        sources,
        inspector,
        documents_table,
        upload,
        rebuild,
        refresh,
        status,
    )


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


def load_css() -> str:
    """The app's stylesheet, shipped as package data beside this module."""
    return importlib.resources.files("qa").joinpath("webapp.css").read_text(encoding="utf-8")
