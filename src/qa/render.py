"""Rendering (pure): an Answer, the indexed documents or an index summary as HTML or chat Markdown.

Safety: every string that comes from a document, a file name or a user is escaped before it reaches an HTML
or Markdown component (`esc` for HTML, `chat_text` for the chat's Markdown), so a document holding
`<script>` or `<img onerror=...>` shows those characters and runs nothing.

No Gradio here: `ChatState` (a session's conversation, as rendered) is plain data the UI keeps in gr.State.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.condense import Turn
from qa.corpus import SUPPORTED_SUFFIXES
from qa.types import NOT_FOUND, Answer

if TYPE_CHECKING:
    from qa.engine import DocumentInfo
    from qa.indexing import IndexSummary

SCORE_HELP = "How well this sentence answers the question (0 to 1)"
SIMILARITY_HELP = "Cosine similarity of the passage to the question"
SOURCES_EMPTY = '<div class="qa-empty">Sources for an answer appear here.</div>'
INSPECTOR_EMPTY = '<div class="qa-empty">Ask a question to see what retrieval found.</div>'


def esc(text: object) -> str:
    """Text for HTML: every <, >, &, and quote escaped."""
    return html.escape(str(text), quote=True)


_BRACKET = re.compile(r"[\[\]]")
_MARKER = re.compile(r"\\\[(\d{1,3})\\\](?![:(\[])")


def chat_text(text: str) -> str:
    """Text for the chat's Markdown: HTML escaped and link syntax defused; `[n]` citation markers kept."""
    escaped = _BRACKET.sub(lambda m: "\\" + m.group(), html.escape(text, quote=False))
    return _MARKER.sub(r"[\1]", escaped)


OCR_HELP = "Read from an image by OCR: check the quote against the original; the recogniser's confidence"


def where(source: str, locator: str) -> str:
    """A file and the place in it: "report.pdf, page 3", "deck.pptx, slide 2", "data.xlsx, Sales, rows 4–6"."""
    return f"{source}, {locator}" if locator else source


def ocr_badge(confidence: float | None) -> str:
    """A mark for text recognised from an image, so a reader knows the quote may hold OCR errors."""
    if confidence is None:
        return ""
    return f'<span class="qa-ocr" title="{esc(OCR_HELP)}">OCR {confidence:.0%}</span>'


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


DRAFT_NOTE = "_Quoted from the documents while the local model writes an answer…_"
SEARCHING_NOTE = "_Searching the documents; the local model is reading the closest passages…_"


def draft_markdown(draft: Answer) -> str:
    """The chat message shown while the reader works: the extractive answer, marked as a quote."""
    if draft.abstained:
        return SEARCHING_NOTE
    quoted = "\n".join(f"> {line}" for line in chat_text(draft.answer).splitlines())  # a list: every line
    return f"{DRAFT_NOTE}\n\n{quoted}"


def _card(
    title: str,
    place: str,
    score: str,
    score_help: str,
    body: str,
    n: int | None = None,
    quote: str = "",
    ocr: float | None = None,
) -> str:
    """One source as a <details> card: number, title, file and score; the passage shows when opened."""
    number = f'<span class="qa-num">{n}</span>' if n is not None else ""
    teaser = f'<span class="qa-quote">{esc(quote)}</span>' if quote else ""
    data = f' data-n="{n}"' if n is not None else ""
    return (
        f'<details class="qa-source"{data}>'
        f'<summary>{number}<span class="qa-head"><span class="qa-title">{esc(title)}</span>'
        f'<span class="qa-meta-row"><span class="qa-file">{esc(place)}</span>{ocr_badge(ocr)}'
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
                where(c.source, c.locator),
                f"score {c.score:.2f}",
                SCORE_HELP,
                highlight(c.passage, c.quote),
                n=c.n,
                quote=c.quote,
                ocr=c.ocr,
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
                    where(p.source, p.locator),
                    f"similarity {p.score:.2f}",
                    SIMILARITY_HELP,
                    esc(p.text),
                    ocr=p.ocr,
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
            f'<span class="qa-file">{esc(where(h.chunk.doc_path, h.chunk.locator()))}</span>'
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
    lines += [f"{'' if s.cut else 'Skipped '}{s.path}: {s.reason}" for s in summary.skipped]
    return lines


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
