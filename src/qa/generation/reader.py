"""Writing an answer with a generator, then verifying it -> Answer; any failure falls back to the extractive one.

Two flows share the streaming and the checks:

- `read` (the `auto` backend): the local model is shown only the sentences the extractive answerer scored
  best (and their neighbours). Its sentences that no passage supports are left out of the answer (kept in
  `Answer.sentences`, flagged); when none is left, or the model says the passages do not hold the answer,
  or gives that reply at least `settings.reader_doubt` probability before it writes (`Answer.doubt`), the
  answer is an abstention with the closest passages.
- `generate` (the `llamacpp`/`openai`/`transformers` modes): whole passages; unsupported sentences are kept
  but flagged, as before the reader existed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from qa import lexical
from qa.config import Backend, Settings
from qa.embedding import Embedder
from qa.generation.base import (
    Bounded,
    CountsTokens,
    GenerationBusy,
    GenerationError,
    Generator,
    Probed,
)
from qa.generation.prompts import (
    READER_SYSTEM_PROMPT,
    Focus,
    PromptPassage,
    build_messages,
    evidence_passages,
    fit_passages,
)
from qa.generation.quoting import with_quotes
from qa.generation.verify import is_not_found, lacks_a_value, split_answer, verify
from qa.retrieval import Hit
from qa.types import NOT_FOUND, Answer, AnswerSentence, StreamEvent, related_passages


def _fallback(extractive: Answer, notice: str) -> StreamEvent:
    return StreamEvent("", dataclasses.replace(extractive, notice=notice))


def _stream_text(
    generator: Generator,
    messages: list[dict[str, str]],
    parts: list[str],
    max_tokens: int | None = None,
    doubts: list[float] | None = None,
) -> Iterator[str]:
    # A generator that takes a token bound (llama.cpp) gets the reader's; the others use their own setting.
    # One that can be probed appends to `doubts` the probability that it opens with the not-found reply.
    if max_tokens is not None and doubts is not None and isinstance(generator, Probed):
        pieces = generator.stream_probed(messages, max_tokens, NOT_FOUND, doubts.append)
    elif max_tokens is not None and isinstance(generator, Bounded):
        pieces = generator.stream_bounded(messages, max_tokens)
    else:
        pieces = generator.stream(messages)
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
        body, citations, sentences = verify(
            text, passages, embedder, settings.verify_min_support, question=query
        )
        answer = Answer(question, query, body, False, citations, sentences=sentences)
    yield StreamEvent("", dataclasses.replace(answer, hits=tuple(hits), backend=backend))


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


@dataclass(frozen=True)
class Reading:
    """What the model wrote and the numbered passages it read: enough to verify it again without the model
    (a document's summary is written once and kept, `qa.summaries`)."""

    text: str
    passages: tuple[PromptPassage, ...]

    @property
    def answers(self) -> bool:
        """Whether the model wrote an answer (not nothing, not its "not found" reply)."""
        return bool(split_answer(self.text)) and not self.declines

    @property
    def declines(self) -> bool:
        """Whether the model replied that the passages do not hold the answer."""
        return is_not_found(self.text)


def reading_of(
    request: str, focus: Sequence[Focus], generator: Generator, settings: Settings, embedder: Embedder
) -> Reading:
    """What the model writes for `request` from `focus`, whole (not streamed, not verified): a reading kept
    ahead of any question (`qa index --summaries`). Raises GenerationError when the model fails."""
    passages, messages = reader_messages(request, focus, generator, settings, embedder)
    parts: list[str] = []
    for _ in _stream_text(generator, messages, parts, settings.reader_max_tokens):
        pass
    return Reading("".join(parts).strip(), tuple(passages))


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
    literal: bool = False,
    request: str = "",
    reuse: Reading | None = None,
    keep: Callable[[Reading], None] | None = None,
) -> Iterator[StreamEvent]:
    """The auto backend: the local model reads the best evidence sentences; its answer is verified.

    Yields the text as it streams, then the final Answer: the verified answer, an abstention, or (when the
    model is missing, busy or fails) the extractive answer with a one-line notice. `literal`: the extractive
    answer quotes sentences that match the question literally (the date an event question asks about), so
    the model's "not found" does not overrule it. `request`: what the model is asked, when not the query
    (the answer is verified as an answer to both: its words are the user's or the request's). `reuse`: an
    earlier reading to verify instead of asking the model; `keep` is given each new reading that is an answer.
    """
    asked = f"{query} {request}" if request else query
    if reuse is not None:
        yield from _conclude(question, query, asked, hits, reuse, [], settings, embedder, extractive, literal)
        return
    if generator is None:
        yield _fallback(
            extractive, f"{problem}; this answer quotes the documents instead." if problem else ""
        )
        return
    if not focus:
        yield StreamEvent("", extractive)
        return
    parts: list[str] = []
    doubts: list[float] = []
    try:
        passages, messages = reader_messages(request or query, focus, generator, settings, embedder)
        for piece in _stream_text(generator, messages, parts, settings.reader_max_tokens, doubts):
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
    reading = Reading("".join(parts).strip(), tuple(passages))
    if keep is not None and reading.answers:
        keep(reading)
    yield from _conclude(
        question, query, asked, hits, reading, doubts, settings, embedder, extractive, literal
    )


def _conclude(
    question: str,
    query: str,
    asked: str,
    hits: Sequence[Hit],
    reading: Reading,
    doubts: list[float],
    settings: Settings,
    embedder: Embedder,
    extractive: Answer,
    literal: bool,
) -> Iterator[StreamEvent]:
    """The reader's final Answer from what the model wrote: verified (as an answer to `asked`), an
    abstention, or the quote."""
    text, passages = reading.text, reading.passages
    declined = reading.declines
    quote_stands = literal and not extractive.abstained
    # The greedy answer says "not found" only when that reply is the likeliest opening; a model that gives
    # it a fair chance and answers anyway is guessing often enough (near misses: eval/README.md, "The
    # reader's doubt") that the doubt decides as well, at a level calibrated on held-out questions. Where
    # the quote stands whatever the model thinks, its doubt decides nothing and is not reported.
    doubt = doubts[0] if doubts and not quote_stands else None
    doubtful = doubt is not None and doubt >= settings.reader_doubt
    if declined or doubtful:
        if quote_stands:
            yield _fallback(extractive, "The local model found no answer; showing the sentences that match.")
            return
        # The model read the best evidence and says it does not hold the answer: abstain, even where the
        # extractive answerer found a similar sentence (near misses are its weakness).
        reason = (
            "the local model found no answer in the passages"
            if declined
            else f"the local model doubts the passages answer this ({doubt:.0%} likely to say not found)"
        )
        yield StreamEvent("", _abstention(question, query, hits, reason, doubt))
        return
    # A reply with no words (only passage numbers, "[1] [2]") is neither an answer nor a "not found": the
    # model failed to write, as it does now and then on a passage that plainly holds the answer (eval/README).
    # It is treated as an answer that cannot be checked: the quote when there is one.
    if reading.answers:
        body, citations, sentences = verify(
            text, passages, embedder, settings.verify_min_support, drop_unsupported=True, question=asked
        )
    else:
        body, citations, sentences = "", (), ()
    # Asked for a date, number or sum and writing one no passage has, the model shows it looked for the value
    # and did not find it: the quote's different date or number is then the near miss's trap ("When will the
    # 3.0 upgrade enter into force?" written as "11 June 2019", the quote "came into force in 2010").
    invented = not citations and not quote_stands and _invents_the_value(query, sentences, extractive.answer)
    if not citations and not extractive.abstained and not invented:
        # What the model wrote is not supported, but the documents hold a quotable answer: show it.
        notice = (
            "The local model's answer could not be checked against the documents; showing the quote."
            if reading.answers
            else "The local model wrote no answer; showing the sentences that match."
        )
        yield _fallback(dataclasses.replace(extractive, doubt=doubt), notice)
        return
    if not citations:
        reason = (
            "the local model gave a value the passages do not have"
            if invented
            else "no sentence of the local model's answer is supported by the passages"
            if reading.answers
            else "the local model wrote no answer and no sentence matches the question"
        )
        yield StreamEvent("", _abstention(question, query, hits, reason, doubt))
        return
    # A question that asks for a date, amount, count, name or place is answered by the sentence that gives
    # it; a why, how or what-happened question by what the cited sentence says, which a paraphrase may drop.
    # Not a document's summary (asked with a request of its own): it is a digest of many sentences, and
    # repeating the ones it cites only lengthens it (no summary gained a key fact by it).
    open_ended = asked == query and lexical.answer_type(query) in (
        lexical.AnswerType.OTHER,
        lexical.AnswerType.DEFINITION,
    )
    body, citations, sentences = with_quotes(body, citations, sentences, extractive, open_ended)
    answer = Answer(
        question,
        query,
        body,
        False,
        citations,
        hits=tuple(hits),
        sentences=sentences,
        backend=Backend.AUTO,
        doubt=doubt,
    )
    yield StreamEvent("", answer)


def _invents_the_value(query: str, sentences: Sequence[AnswerSentence], quote: str) -> bool:
    """Whether the question asks for a date, amount, sum or count and a written sentence failed
    verification for a number or date that its passages do not have, sharing no number (beyond the
    question's) with the quote. One that does misread the quote's value ("7th August 2023" for "20 August
    2023"), and the quote stands."""
    if lexical.answer_type(query) not in lexical.STRICT_TYPES:
        return False
    asked, quoted = lexical.numbers(query), lexical.numbers(quote)
    return any(
        not s.verified and lacks_a_value(s.reason) and not (lexical.numbers(s.text) - asked) & quoted
        for s in sentences
    )


def _abstention(
    question: str, query: str, hits: Sequence[Hit], reason: str, doubt: float | None = None
) -> Answer:
    return Answer(
        question,
        query,
        NOT_FOUND,
        True,
        related=related_passages(hits),
        hits=tuple(hits),
        reason=reason,
        backend=Backend.AUTO,
        doubt=doubt,
    )
