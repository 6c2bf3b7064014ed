"""Writing an answer with a generator, then verifying it -> Answer; any failure falls back to the extractive one.

Two flows share the streaming and the checks:

- `read` (the `auto` backend): the local model is shown only the sentences the extractive answerer scored
  best (and their neighbours). Its sentences that no passage supports are left out of the answer (kept in
  `Answer.sentences`, flagged); when none is left, or the model says the passages do not hold the answer,
  the answer is an abstention with the closest passages.
- `generate` (the `llamacpp`/`openai`/`transformers` modes): whole passages; unsupported sentences are kept
  but flagged, as before the reader existed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

from qa.config import Backend, Settings
from qa.embedding import Embedder
from qa.generation.base import Bounded, CountsTokens, GenerationBusy, GenerationError, Generator
from qa.generation.prompts import (
    READER_SYSTEM_PROMPT,
    Focus,
    PromptPassage,
    build_messages,
    evidence_passages,
    fit_passages,
)
from qa.generation.verify import is_not_found, split_answer, verify
from qa.retrieval import Hit
from qa.types import NOT_FOUND, Answer, StreamEvent, related_passages


def _fallback(extractive: Answer, notice: str) -> StreamEvent:
    return StreamEvent("", dataclasses.replace(extractive, notice=notice))


def _stream_text(
    generator: Generator, messages: list[dict[str, str]], parts: list[str], max_tokens: int | None = None
) -> Iterator[str]:
    # A generator that takes a token bound (llama.cpp) gets the reader's; the others use their own setting.
    pieces = (
        generator.stream_bounded(messages, max_tokens)
        if max_tokens is not None and isinstance(generator, Bounded)
        else generator.stream(messages)
    )
    for piece in pieces:
        if piece:
            parts.append(piece)
            yield piece


def generate(
    question: str,
    query: str,
    hits: Sequence[Hit],
    backend: Backend,
    settings: Settings,
    embedder: Embedder,
    extractive: Answer,
    generator: Generator | None,
    problem: str = "",
) -> Iterator[StreamEvent]:
    """Stream a generated answer from whole passages, then yield it verified; on failure, the extractive one.

    `generator` is None when it could not be made; `problem` then says why.
    """

    def fallback(reason: str) -> StreamEvent:
        return _fallback(
            extractive,
            f"The {backend.value} backend failed ({reason}); showing the extractive answer instead.",
        )

    if generator is None:
        yield fallback(problem or "no generator")
        return
    parts: list[str] = []
    try:
        if isinstance(generator, CountsTokens):
            framing = build_messages(query, [], settings.max_answer_sentences)
            passages = fit_passages(
                hits, generator.count_tokens, generator.passage_budget(framing, len(hits))
            )
        else:
            passages = fit_passages(hits, embedder.count_tokens, settings.llm_context_tokens)
        # The query, not the raw question: it is standalone (a follow-up carries its earlier subject).
        messages = build_messages(query, passages, settings.max_answer_sentences)
        for piece in _stream_text(generator, messages, parts):
            yield StreamEvent(piece)
    except GenerationError as exc:
        yield fallback(str(exc))
        return
    except Exception as exc:  # a backend bug must not break asking: report it and answer extractively
        yield fallback(f"{type(exc).__name__}: {exc}"[:200])
        return
    text = "".join(parts).strip()
    if not split_answer(text):
        yield fallback("it returned an empty answer")
        return
    if is_not_found(text):
        reason = f"the {backend.value} model found no answer in the passages"
        answer = Answer(question, query, NOT_FOUND, True, related=related_passages(hits), reason=reason)
    else:
        body, citations, sentences = verify(text, passages, embedder, settings.verify_min_support)
        answer = Answer(question, query, body, False, citations, sentences=sentences)
    yield StreamEvent("", dataclasses.replace(answer, hits=tuple(hits), backend=backend.value))


def reader_messages(
    query: str, focus: Sequence[Focus], generator: Generator, settings: Settings, embedder: Embedder
) -> tuple[list[PromptPassage], list[dict[str, str]]]:
    """The reader's passages and chat messages for a query, within settings.reader_prompt_tokens."""
    count = generator.count_tokens if isinstance(generator, CountsTokens) else embedder.count_tokens
    passages = evidence_passages(
        focus,
        count,
        settings.reader_prompt_tokens,
        settings.reader_focus_sentences,
        settings.reader_neighbours,
    )
    return passages, build_messages(query, passages, settings.max_answer_sentences, READER_SYSTEM_PROMPT)


def read(
    question: str,
    query: str,
    hits: Sequence[Hit],
    focus: Sequence[Focus],
    settings: Settings,
    embedder: Embedder,
    extractive: Answer,
    generator: Generator | None,
    problem: str = "",
) -> Iterator[StreamEvent]:
    """The auto backend: the local model reads the best evidence sentences; its answer is verified.

    Yields the text as it streams, then the final Answer: the verified answer, an abstention, or (when the
    model is missing, busy or fails) the extractive answer with a one-line notice.
    """
    if generator is None:
        yield _fallback(
            extractive, f"{problem}; this answer quotes the documents instead." if problem else ""
        )
        return
    if not focus:
        yield StreamEvent("", extractive)
        return
    parts: list[str] = []
    try:
        passages, messages = reader_messages(query, focus, generator, settings, embedder)
        for piece in _stream_text(generator, messages, parts, settings.reader_max_tokens):
            yield StreamEvent(piece)
    except GenerationBusy as exc:
        yield _fallback(extractive, f"{exc}; this answer quotes the documents instead.")
        return
    except GenerationError as exc:
        yield _fallback(
            extractive, f"The local model failed ({exc}); this answer quotes the documents instead."
        )
        return
    except Exception as exc:  # a backend bug must not break asking
        reason = f"{type(exc).__name__}: {exc}"[:200]
        yield _fallback(extractive, f"The local model failed ({reason}); this answer quotes the documents.")
        return
    text = "".join(parts).strip()
    if not split_answer(text) or is_not_found(text):
        reason = "the local model found no answer in the passages"
        yield StreamEvent("", _abstention(question, query, hits, reason))
        return
    body, citations, sentences = verify(
        text, passages, embedder, settings.verify_min_support, drop_unsupported=True
    )
    if not citations:
        reason = "no sentence of the local model's answer is supported by the passages"
        yield StreamEvent("", _abstention(question, query, hits, reason))
        return
    answer = Answer(
        question, query, body, False, citations, hits=tuple(hits), sentences=sentences, backend="auto"
    )
    yield StreamEvent("", answer)


def _abstention(question: str, query: str, hits: Sequence[Hit], reason: str) -> Answer:
    return Answer(
        question,
        query,
        NOT_FOUND,
        True,
        related=related_passages(hits),
        hits=tuple(hits),
        reason=reason,
        backend="auto",
    )
