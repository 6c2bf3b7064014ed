"""Sentences -> chunks, with offsets back into the source document.

Worked example of the block rules (why a line break does or does not end a paragraph):

    "Overview\\nASEAN-Hong Kong, China (HKC) trade value reached ..."   -> "Overview" is a heading block
    "Alpha Lau,\\nmk the director-general of investment ..."             -> one sentence (line ends with ",")
    "... the Hong\\nKong Special Administrative Region ..." (PDF wrap)   -> one sentence (hard-wrapped file)
    "... chief executive of the HKSAR\\nThe governments of ..."          -> two paragraphs (a line per paragraph)

Sentences come from `sentencex` inside each block, so a sentence never spans two paragraphs and a wrapped
line never cuts a sentence in two. Chunks pack whole sentences up to the model's window (counted in the
model's own word pieces), overlap by `overlap_sentences`, and carry the title and nearest heading.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from sentencex import get_sentence_boundaries

from qa import tuning
from qa.corpus import Document
from qa.locators import Locus, covering, describe, ocr_confidence

if TYPE_CHECKING:
    from qa.config import Settings

# Counts word pieces for each text, without special tokens. The embedder provides the real one.
TokenCounter = Callable[[Sequence[str]], list[int]]

_LIST_MARKER = re.compile(r"^\s*(?:[-*•·–]|\d{1,3}[.)]|\(?[ivx]{1,5}\))\s+")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*\s*$")
_FUNCTION_WORD_END = re.compile(
    r"\b(the|a|an|of|and|or|to|in|for|with|on|by|at|from|as|that|which)\s*$", re.I
)
_SPECIAL_TOKENS = 2  # [CLS] and [SEP]
# Bibliography entries and figure captions are context, never answers.
_REFERENCE_MARK = re.compile(
    r"\(\d{4}(?:[-–]\d{2,4})?[a-z]?\)|\bRetrieved\b|\bAs cited in\b|https?://|\bwww\.|\bdoi:", re.I
)
# A figure's or photo's caption, or its credit ("Photo: Official Weibo account of ...", "Image: Reuters").
_CAPTION = re.compile(
    r"^\s*(?:fig(?:ure)?|table|chart|exhibit|source|(?:file )?photo|image)\.?\s*\d*[.:]", re.I
)
_TITLE_SMALL_WORDS = frozenset("a an and as at by for from in of on or the to vs via with".split())
# sentencex takes time quadratic in the length of its input when that holds full-width stops (Chinese,
# Japanese: 1 MB took minutes), so it is given one such sentence at a time.
_FULLWIDTH_STOP = re.compile(r"[。！？]+[」』”’）)]*")
_WORD_PIECE = re.compile(r"\S{1,50}")  # a "word" of a script without spaces is cut into pieces


@dataclass(frozen=True)
class Sentence:
    """One sentence (or heading) of a document, as an exact slice `doc.text[start:end]`."""

    start: int
    end: int
    text: str  # the slice with line breaks turned into spaces (same length, so offsets still hold)
    context: bool = False  # a heading or a fragment: it gives context but is not itself an answer


@dataclass(frozen=True)
class Chunk:
    """Consecutive sentences of one document that fit the embedding window together with their context."""

    doc_path: str
    title: str
    heading: str
    page: int | None
    start: int
    end: int
    sentences: tuple[Sentence, ...]
    # The pages, slides, rows or sections the chunk overlaps (qa.locators), with document offsets.
    loci: tuple[Locus, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    @property
    def prefix(self) -> str:
        return context_prefix(self.title, self.heading)

    def embed_text(self) -> str:
        """What the embedder and BM25 see: title and heading as context, then the sentences."""
        return self.prefix + self.text

    def locator(self, start: int | None = None, end: int | None = None) -> str:
        """Where text[start:end] of the document is ("page 3", "slide 2", "Sheet1, rows 4–6", a heading
        path); the whole chunk by default. A chunk from before locators knew only its page."""
        if not self.loci:
            return f"page {self.page}" if self.page else ""
        return describe(covering(self.loci, self.start if start is None else start, end or self.end))

    def ocr(self, start: int | None = None, end: int | None = None) -> float | None:
        """The OCR confidence of text[start:end] when it was recognised from an image, else None."""
        return ocr_confidence(covering(self.loci, self.start if start is None else start, end or self.end))

    def sentence_spans(self) -> list[tuple[int, int]]:
        """Character span of each sentence inside `embed_text()`."""
        spans = []
        pos = len(self.prefix)
        for s in self.sentences:
            spans.append((pos, pos + len(s.text)))
            pos += len(s.text) + 1
        return spans


def context_prefix(title: str, heading: str) -> str:
    if heading and heading.lower() != title.lower():
        return f"{title} — {heading}\n"
    return f"{title}\n"


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    heading: bool


def split_blocks(text: str) -> list[_Block]:
    """Group lines into paragraphs and headings (see the module docstring for the rules)."""
    blocks: list[_Block] = []
    lines: list[tuple[int, str]] = []
    pos = 0
    for line in text.split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    current: list[tuple[int, str]] = []
    wrapped = _is_hard_wrapped(lines)

    def flush() -> None:
        if current:
            start = current[0][0] + (len(current[0][1]) - len(current[0][1].lstrip()))
            end = current[-1][0] + len(current[-1][1].rstrip())
            if end > start:
                blocks.append(_Block(start, end, heading=len(current) == 1 and _is_heading(current[0][1])))
            current.clear()

    for i, (start, line) in enumerate(lines):
        if not line.strip():
            flush()
            continue
        current.append((start, line))
        nxt = lines[i + 1][1] if i + 1 < len(lines) else ""
        if not nxt.strip() or _ends_block(line, nxt, wrapped):
            flush()
    flush()
    return blocks


def _is_heading(line: str) -> bool:
    stripped = line.strip()
    if _MD_HEADING.match(stripped):
        return True
    if (
        _LIST_MARKER.match(stripped)
        or len(stripped) > tuning.HEADING_MAX_CHARS
        or len(stripped.split()) > tuning.HEADING_MAX_WORDS
    ):
        return False
    return not re.search(r"[.!?,;:…]\W*$", stripped) and stripped[:1].isupper()


def _ends_block(line: str, nxt: str, wrapped: bool) -> bool:
    if _LIST_MARKER.match(nxt) or _MD_HEADING.match(nxt) or _MD_HEADING.match(line):
        return True
    if _TERMINAL.search(line) or line.rstrip().endswith(":"):
        return True
    if _is_heading(line) and not nxt.lstrip()[:1].islower():
        return True
    if nxt.lstrip()[:1].islower() or line.rstrip().endswith((",", "-", "–", "(", "/", "&")):
        return False  # the sentence obviously goes on
    if _FUNCTION_WORD_END.search(line):
        return False
    # Otherwise it depends on the file: in hard-wrapped text (PDF extraction, e-mail) a long line without a
    # stop continues on the next line; where each line is a paragraph, a line break is a paragraph break.
    return not wrapped or len(line.strip()) < tuning.WRAPPED_SHORT_LINE


def _is_hard_wrapped(lines: list[tuple[int, str]]) -> bool:
    """Whether many lines end mid-sentence at a similar width: the signature of hard-wrapped text."""
    texts = [line.strip() for _, line in lines if line.strip()]
    if len(texts) < tuning.WRAPPED_MIN_LINES:
        return False
    open_ended = sum(
        1
        for t in texts
        if tuning.WRAPPED_MIN_WIDTH <= len(t) <= tuning.WRAPPED_MAX_WIDTH and not _TERMINAL.search(t)
    )
    return open_ended / len(texts) >= tuning.WRAPPED_SHARE


def heading_text(raw: str) -> str:
    """A heading as context: Markdown markers and emphasis removed."""
    return re.sub(r"[*_`#]+", "", raw).strip()


def split_sentences(doc: Document) -> list[Sentence]:
    """Every sentence and heading of a document, in order, with exact offsets."""
    sentences: list[Sentence] = []
    for block in split_blocks(doc.text):
        flat = doc.text[block.start : block.end].replace("\n", " ")
        if block.heading:
            sentences.append(Sentence(block.start, block.end, flat, context=True))
            continue
        spans: list[tuple[int, int]] = []
        cuts = [0, *(m.end() for m in _FULLWIDTH_STOP.finditer(flat)), len(flat)]
        bounds = [
            (lo + b["start_index"], lo + b["end_index"])
            for lo, hi in pairwise(cuts)
            if hi > lo
            for b in get_sentence_boundaries("en", flat[lo:hi])
        ]
        for start, end in bounds:
            piece = flat[start:end]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece.rstrip())
            if trail <= lead:
                continue
            span = (start + lead, start + trail)
            # The splitter also breaks before enumerations ("namely (i) ..., (ii) ..."); inside a paragraph
            # a sentence ends only at a stop, so a piece without one is glued to the next. (Only the tail is
            # looked at: a run of glued pieces can be long.)
            if spans and not _TERMINAL.search(flat[max(spans[-1][0], spans[-1][1] - 32) : spans[-1][1]]):
                spans[-1] = (spans[-1][0], span[1])
            else:
                spans.append(span)
        texts = [flat[a:b] for a, b in spans]
        reference = _is_reference_block(texts)
        for (a, b), text in zip(spans, texts, strict=True):
            context = reference or _is_fragment(text) or bool(_CAPTION.match(text)) or _is_caps_label(text)
            sentences.append(Sentence(block.start + a, block.start + b, text, context=context))
    return sentences


def _is_reference_block(texts: Sequence[str]) -> bool:
    """A paragraph of bibliography entries: at least one sentence with a citation record's marks (a year in
    parentheses, "Retrieved", a URL, "As cited in") and most sentences either such records or title-cased
    fragments ("Hong Kong - ASEAN Trade Relationship."). Quoting one as an answer says nothing."""
    marked = [bool(_REFERENCE_MARK.search(t)) for t in texts]
    if not any(marked):
        return False
    listing = sum(1 for t, m in zip(texts, marked, strict=True) if m or _is_title_like(t))
    return listing / len(texts) >= tuning.REFERENCE_SHARE


def _is_title_like(text: str) -> bool:
    """A short run of capitalised words with no verb-like lowercase words: a title, not a statement."""
    words = re.findall(r"[A-Za-z][\w'’-]*", text)
    if not words or len(words) > 14:
        return False
    lower = [w for w in words if w[0].islower() and w.lower() not in _TITLE_SMALL_WORDS]
    return len(lower) <= len(words) // 5


def _is_caps_label(text: str) -> bool:
    """A line in capitals with no full stop ("EXPORT DEPENDENCE ON HONG KONG: TOP 6 PARTNERS IN 2024"): a
    chart's caption or a heading, not a statement. (A capitalised sentence that ends with a stop, as a poster's
    key findings do, is one.)"""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < tuning.CAPS_LABEL_MIN_LETTERS or _TERMINAL.search(text):
        return False
    return sum(c.isupper() for c in letters) / len(letters) >= tuning.CAPS_LABEL_SHARE


def _is_fragment(text: str) -> bool:
    """List labels and captions ("- Customs Co-operation") carry context, not answers."""
    words = re.findall(r"\w+", text)
    return len(words) < 4 or (len(words) < 8 and not _TERMINAL.search(text))


def chunk_with_settings(doc: Document, count_tokens: TokenCounter, settings: Settings) -> list[Chunk]:
    """`chunk_document` with the chunker's settings (QA_MAX_CHUNK_TOKENS and the rest): how the index,
    and anything that must chunk as the index does, cuts a document."""
    return chunk_document(
        doc, count_tokens, settings.max_chunk_tokens, settings.overlap_sentences, settings.min_section_tokens
    )


def chunk_document(
    doc: Document,
    count_tokens: TokenCounter,
    max_tokens: int,
    overlap_sentences: int = 1,
    min_section_tokens: int = 48,
) -> list[Chunk]:
    """Pack a document's sentences into chunks that fit `max_tokens` word pieces including context."""
    sentences = split_sentences(doc)
    if not sentences:
        return []
    headings = [*sorted({heading_text(s.text) for s in sentences if s.context}), ""]
    prefix_tokens = dict(
        zip(headings, count_tokens([context_prefix(doc.title, h) for h in headings]), strict=True)
    )
    worst_prefix = max(prefix_tokens.values())
    body_budget = max_tokens - _SPECIAL_TOKENS - worst_prefix
    if body_budget < 8:
        raise ValueError(f"max_chunk_tokens={max_tokens} leaves no room after the title of {doc.path!r}")
    sentences = _split_long_sentences(sentences, count_tokens, body_budget)
    sizes = count_tokens([s.text for s in sentences])

    chunks: list[Chunk] = []
    current: list[int] = []  # indices into sentences
    heading = ""
    chunk_heading = ""

    def tokens(idx: list[int]) -> int:
        return sum(sizes[i] for i in idx)

    def emit() -> None:
        if any(not sentences[i].context for i in current) or (current and not chunks):
            first, last = sentences[current[0]], sentences[current[-1]]
            chunks.append(
                Chunk(
                    doc_path=doc.path,
                    title=doc.title,
                    heading=chunk_heading,
                    page=doc.page_at(first.start),
                    start=first.start,
                    end=last.end,
                    sentences=tuple(sentences[i] for i in current),
                    loci=doc.loci_between(first.start, last.end),
                )
            )

    for i, sentence in enumerate(sentences):
        is_heading = sentence.context and _looks_like_heading_line(sentence.text)
        if is_heading and current and tokens(current) >= min_section_tokens:
            emit()
            current = []
        if current and tokens([*current, i]) > body_budget:
            emit()
            keep = (
                [j for j in current[-overlap_sentences:] if not sentences[j].context]
                if overlap_sentences
                else []
            )
            current = keep if keep and tokens([*keep, i]) <= body_budget else []
        if not current:
            chunk_heading = heading
        if is_heading:
            heading = heading_text(sentence.text)
            if not current:
                chunk_heading = heading
        current.append(i)
    if current:
        emit()
    return chunks


def _looks_like_heading_line(text: str) -> bool:
    return _is_heading(text)


def _split_long_sentences(
    sentences: list[Sentence], count_tokens: TokenCounter, budget: int
) -> list[Sentence]:
    """Cut a sentence longer than the window at word boundaries (rare: tables, run-on lists)."""
    sizes = count_tokens([s.text for s in sentences])
    out: list[Sentence] = []
    for sentence, size in zip(sentences, sizes, strict=True):
        if size <= budget:
            out.append(sentence)
            continue
        words = list(_WORD_PIECE.finditer(sentence.text))
        word_sizes = count_tokens([w.group() for w in words])
        piece_start = 0
        used = 0
        for k, ws in enumerate(word_sizes):
            if used + ws > budget and k > piece_start:
                out.append(_slice(sentence, words[piece_start].start(), words[k - 1].end()))
                piece_start, used = k, 0
            used += ws
        out.append(_slice(sentence, words[piece_start].start(), words[-1].end()))
    return out


def _slice(sentence: Sentence, start: int, end: int) -> Sentence:
    return Sentence(sentence.start + start, sentence.start + end, sentence.text[start:end], sentence.context)
