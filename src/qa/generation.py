"""Optional LLM backends, and checking their citations -> Answer.

A generator only rewords what the retrieved passages say, so nothing it writes is trusted as is: every
sentence of its answer is checked against the passages it cites (`verify`). A sentence is supported by a
passage when

    max cosine(sentence, passage sentences) >= settings.verify_min_support     it says the same thing
    and every number, name and acronym of the sentence occurs in the passage   nothing was invented
    and the passage negates if the sentence does                              nothing was turned round

A wrong or missing `[n]` is moved to the passage that best supports the sentence; a sentence that no passage
supports is kept but flagged (`AnswerSentence.verified=False`). Any backend failure falls back to the
extractive answer with a notice, so asking never fails because a model server is down.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sentencex import segment

from qa import lexical
from qa.answering import NOT_FOUND, Answer, AnswerSentence, Citation, StreamEvent, related_passages
from qa.chunking import Sentence, TokenCounter
from qa.config import Backend, Settings
from qa.embedding import Embedder
from qa.retrieval import Hit

# The prompt, as data. {max_sentences} comes from settings.max_answer_sentences.
SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages you are given. "
    "Write a short answer of at most {max_sentences} sentences. "
    # Without this line Qwen2.5 1.5B answered 17 of 63 evaluation questions with a bare "[1]".
    "Answer in complete sentences that state the facts asked for; never reply with only a passage number. "
    "End every sentence with the number of the passage that supports it in square brackets, like [1]. "
    "Do not add anything that the passages do not say. "
    f'If the passages do not contain the answer, reply exactly "{NOT_FOUND}"'
)
USER_PROMPT = "Passages:\n\n{passages}\n\nQuestion: {question}"
PASSAGE_TEMPLATE = "[{n}] {title}\n{text}"
PLAIN_PROMPT = "{system}\n\n{user}\n\nAnswer:"  # for a model whose tokenizer has no chat template
# Passage tokens sent to the model, in the embedder's word pieces (close enough to any LLM's tokens).
QUOTE_SPAN = 3  # a quote joins its best sentences when they lie this close together, else takes the best one

# The llamacpp backend counts passages in its own tokens; these cover what the count of their texts misses.
MESSAGE_TOKENS = 8  # chat-template markers around each message
PASSAGE_TOKENS = 8  # "[n] ", the newline after the title and the blank line between passages
SAFETY_TOKENS = 32

MIN_CLAIM_TERMS = 2  # content words a sentence needs before a passage can be said to support it

# Models refer to the prompt's passages in words: "According to passage [1], X." keeps X and its [1];
# "This information is found in passage [2]." says nothing about the world and is dropped.
_META_PREFIX = re.compile(
    r"^(?:according to|as (?:stated|mentioned|noted|shown) in|based on) (?:the )?passages?(?: in)?\s*,?\s*",
    re.I,
)
_META_SENTENCE = re.compile(
    r"^(?:this|the|that) (?:information|answer|fact|figure)s? (?:is|are|was|can be) (?:found|stated|given|"
    r"supported|mentioned|provided) (?:in|by) (?:the )?passages?\W*$",
    re.I,
)
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")


class GenerationError(RuntimeError):
    """A backend cannot produce an answer; the message is a short reason shown in the fallback notice."""


class Generator(Protocol):
    """The one seam for LLM backends: chat messages in, text pieces out as they are produced."""

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]: ...


@dataclass(frozen=True)
class PromptPassage:
    """A hit as numbered in the prompt: the whole sentences of its chunk that fit the token budget."""

    n: int
    hit: Hit
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class Support:
    """How well one passage supports one answer sentence."""

    cosine: float
    best: int  # index of the passage's closest sentence in its chunk
    missing: tuple[str, ...]  # numbers and names of the answer sentence the passage does not contain

    def holds(self, min_support: float) -> bool:
        return self.cosine >= min_support and not self.missing


class OpenAIGenerator:
    """Any OpenAI-compatible chat-completions server (Ollama, llama.cpp server, vLLM, OpenAI), streamed."""

    def __init__(self, base_url: str, model: str, api_key: str, timeout_s: float, max_tokens: int) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key, self.timeout_s, self.max_tokens = model, api_key, timeout_s, max_tokens

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        import httpx

        body = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "temperature": 0,  # a grounded answer wants the likeliest wording, not variety
            "max_tokens": self.max_tokens,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            with httpx.stream("POST", self.url, json=body, headers=headers, timeout=self.timeout_s) as reply:
                if reply.is_error:
                    reply.read()
                    raise GenerationError(f"HTTP {reply.status_code} from {self.url}: {reply.text[:200]}")
                for line in reply.iter_lines():
                    if not line.startswith("data:"):
                        continue  # SSE comments, keep-alives and blank separators
                    data = line[len("data:") :].strip()
                    if data == "[DONE]":
                        return
                    yield _delta(json.loads(data))
        except httpx.ConnectError:
            raise GenerationError(f"cannot connect to {self.url}") from None
        except httpx.TimeoutException:
            raise GenerationError(f"no reply from {self.url} within {self.timeout_s:g} s") from None
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            raise GenerationError(f"{type(exc).__name__}: {exc}"[:200]) from exc


def _delta(event: dict[str, Any]) -> str:
    """The text of one streamed chat-completions event (`choices[0].delta.content`)."""
    if "error" in event:  # some servers report a failure mid-stream as an event
        raise GenerationError(f"the server reported an error: {str(event['error'])[:200]}")
    choices = event.get("choices") or [{}]
    return str((choices[0].get("delta") or {}).get("content") or "")


_MODELS: dict[str, tuple[Any, Any]] = {}  # path -> (model, tokenizer): loading takes seconds, do it once
_MODELS_LOCK = threading.Lock()


def load_causal_lm(path: str) -> tuple[Any, Any]:
    """The model and tokenizer at `path` (a folder or a .gguf file), loaded once per process, CPU, offline."""
    with _MODELS_LOCK:
        if path not in _MODELS:
            source = Path(path)
            if not source.exists():
                raise GenerationError(
                    f"{path} does not exist: set QA_LLM_PATH to a model folder or .gguf file"
                )
            kwargs: dict[str, Any] = {"local_files_only": True}
            if source.suffix.lower() == ".gguf":
                missing = [m for m in ("gguf", "accelerate") if importlib.util.find_spec(m) is None]
                if missing:
                    raise GenerationError(f"loading a GGUF file needs `pip install {' '.join(missing)}`")
                source, kwargs["gguf_file"] = source.parent, source.name
            import transformers

            auto_model: Any = transformers.AutoModelForCausalLM  # Any: its stubs confuse mypy
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(str(source), **kwargs)
                model = auto_model.from_pretrained(str(source), **kwargs).to("cpu").eval()
            except Exception as exc:  # OSError, ValueError, KeyError...: all mean "not a usable model"
                raise GenerationError(f"cannot load a causal LM from {path}: {exc}"[:300]) from exc
            _MODELS[path] = (model, tokenizer)
        return _MODELS[path]


def prompt_text(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """The messages in the model's own chat format, or a plain prompt for a base model without one."""
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    by_role = {m["role"]: m["content"] for m in messages}
    return PLAIN_PROMPT.format(system=by_role.get("system", ""), user=by_role.get("user", ""))


class TransformersGenerator:
    """A local transformers causal LM; generation runs in a thread and streams through a queue."""

    def __init__(self, path: str, max_new_tokens: int, timeout_s: float) -> None:
        self.path, self.max_new_tokens, self.timeout_s = path, max_new_tokens, timeout_s

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        model, tokenizer = load_causal_lm(self.path)
        from transformers import TextIteratorStreamer

        templated = bool(getattr(tokenizer, "chat_template", None))
        # A chat template writes its own BOS; adding special tokens again would double it.
        inputs = tokenizer(
            prompt_text(tokenizer, messages), return_tensors="pt", add_special_tokens=not templated
        )
        streamer: Any = TextIteratorStreamer(
            tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self.timeout_s
        )
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        failure: list[BaseException] = []

        def run() -> None:
            try:
                model.generate(
                    input_ids=inputs["input_ids"],
                    attention_mask=inputs["attention_mask"],
                    streamer=streamer,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=pad,
                )
            except Exception as exc:  # reported to the caller below; the thread must still end the stream
                failure.append(exc)
                streamer.end()

        # If the caller stops reading early, the thread still runs to max_new_tokens and then ends.
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield from streamer
        except queue.Empty:
            raise GenerationError(f"no output within {self.timeout_s:g} s") from None
        thread.join()
        if failure:
            raise GenerationError(f"generation failed: {failure[0]}"[:300]) from failure[0]


class LlamaCppGenerator:
    """A GGUF model run in this process by llama.cpp (llama-cpp-python), streamed; see `qa.llm_models`."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int, max_tokens: int, timeout_s: float) -> None:
        self.path, self.n_ctx, self.n_threads = path, n_ctx, n_threads
        self.max_tokens, self.timeout_s = max_tokens, timeout_s

    def _model(self) -> tuple[Any, threading.Lock]:
        from qa import llm_models

        try:
            return llm_models.load_llama(self.path, self.n_ctx, self.n_threads)
        except llm_models.ModelError as exc:
            raise GenerationError(str(exc)) from None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text in the model's own vocabulary, plus one for the space or newline joining it."""
        model, _ = self._model()
        return [len(model.tokenize(t.encode(), add_bos=False, special=False)) + 1 for t in texts]

    def passage_budget(self, framing: list[dict[str, str]], n_passages: int) -> int:
        """Passage tokens that fit n_ctx beside the answer, the prompt without passages and their framing."""
        prompt = sum(self.count_tokens([m["content"] for m in framing])) + MESSAGE_TOKENS * len(framing)
        return self.n_ctx - self.max_tokens - prompt - PASSAGE_TOKENS * n_passages - SAFETY_TOKENS

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        model, lock = self._model()
        deadline = time.monotonic() + self.timeout_s
        if not lock.acquire(timeout=self.timeout_s):
            raise GenerationError(f"the model was busy with other questions for {self.timeout_s:g} s")
        try:
            # Forget the previous prompt: llama.cpp would reuse its matching prefix, and the answer would then
            # depend on what was asked before (the same question gave a sentence after a fresh start and a
            # bare "[1]" after another question). Re-reading the shared system prompt costs ~100 tokens.
            model.reset()
            # Greedy: a grounded answer wants the likeliest wording. The timeout is checked as each token
            # arrives: reading the prompt cannot be interrupted (5-40 s for 1,200 tokens on 2 busy cores).
            chunks = model.create_chat_completion(
                messages=messages, stream=True, temperature=0.0, max_tokens=self.max_tokens
            )
            try:
                for chunk in chunks:
                    if time.monotonic() > deadline:
                        raise GenerationError(f"no complete answer within {self.timeout_s:g} s")
                    yield _delta(chunk)  # llama-cpp-python streams OpenAI-shaped events
            finally:
                chunks.close()
        finally:
            lock.release()


def make_generator(settings: Settings, backend: Backend) -> Generator:
    """The generator for a backend; GenerationError names the setting to set when one is missing."""
    if backend is Backend.OPENAI:
        for value, env in (
            (settings.openai_base_url, "QA_OPENAI_BASE_URL"),
            (settings.openai_model, "QA_OPENAI_MODEL"),
        ):
            if not value.strip():
                raise GenerationError(f"{env} is not set")
        return OpenAIGenerator(
            settings.openai_base_url,
            settings.openai_model,
            settings.openai_api_key,
            settings.llm_timeout_s,
            settings.llm_max_new_tokens,
        )
    if backend is Backend.TRANSFORMERS:
        if not settings.llm_path.strip():
            raise GenerationError("no model set: set QA_LLM_PATH to a model folder or .gguf file")
        return TransformersGenerator(settings.llm_path, settings.llm_max_new_tokens, settings.llm_timeout_s)
    if backend is Backend.LLAMACPP:
        from qa import llm_models

        try:
            path, n_ctx = llm_models.model_path(settings), llm_models.context_size(settings)
        except llm_models.ModelError as exc:
            raise GenerationError(str(exc)) from None
        return LlamaCppGenerator(
            path, n_ctx, settings.llm_threads, settings.llm_max_new_tokens, settings.llm_timeout_s
        )
    raise ValueError(f"The {backend.value} backend does not use a generator.")


def prompt_budget(
    generator: Generator, query: str, n_passages: int, settings: Settings, embedder: Embedder
) -> tuple[TokenCounter, int]:
    """How to count passage tokens and how many fit: in the model's own tokens where the generator has them."""
    if isinstance(generator, LlamaCppGenerator):
        framing = build_messages(query, [], settings.max_answer_sentences)
        return generator.count_tokens, generator.passage_budget(framing, n_passages)
    return embedder.count_tokens, settings.llm_context_tokens


def fit_passages(hits: Sequence[Hit], count_tokens: TokenCounter, budget: int) -> list[PromptPassage]:
    """Hits numbered 1..n with whole sentences only, dropped from the end of the lowest-ranked first.

    The top passage keeps at least its first sentence even over budget: a prompt without it is useless.
    """
    sizes = [count_tokens([h.chunk.title, *(s.text for s in h.chunk.sentences)]) for h in hits]
    kept = [len(h.chunk.sentences) for h in hits]
    total = sum(sum(s) for s in sizes)
    rank = len(hits) - 1
    while total > budget and rank >= 0:
        if kept[rank] <= (1 if rank == 0 else 0):
            rank -= 1
            continue
        total -= sizes[rank][kept[rank]]  # sizes[rank][0] is the title, so this is the last kept sentence
        kept[rank] -= 1
        if kept[rank] == 0:
            total -= sizes[rank][0]
    fitted = [(h, h.chunk.sentences[:k]) for h, k in zip(hits, kept, strict=True) if k]
    return [PromptPassage(n, h, s) for n, (h, s) in enumerate(fitted, start=1)]


def build_messages(
    question: str, passages: Sequence[PromptPassage], max_sentences: int
) -> list[dict[str, str]]:
    """System and user messages asking for a short answer from the numbered passages only."""
    blocks = "\n\n".join(
        PASSAGE_TEMPLATE.format(n=p.n, title=p.hit.chunk.title, text=" ".join(s.text for s in p.sentences))
        for p in passages
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT.format(max_sentences=max_sentences)},
        {"role": "user", "content": USER_PROMPT.format(passages=blocks, question=question)},
    ]


def split_answer(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """(sentence without markers, the [n] it cites) for each sentence; a leading marker joins the one before."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for line in text.splitlines():  # models write lists one item per line, with no full stop
        for piece in segment("en", _BULLET.sub("", line)):
            cited = tuple(int(n) for m in _MARKER.finditer(piece) for n in m.group(1).split(","))
            clean = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", piece)).strip()
            if _META_SENTENCE.match(clean):
                continue
            clean = _META_PREFIX.sub("", clean)
            clean = clean[:1].upper() + clean[1:]
            if not re.search(r"\w", clean):
                if out and cited:
                    out[-1] = (out[-1][0], out[-1][1] + cited)
                continue
            out.append((clean, cited))
    return out


def support(sentence: str, vector: np.ndarray, hit: Hit, sentence_vectors: np.ndarray) -> Support:
    """How well one passage supports one answer sentence (see the module docstring)."""
    cosines = sentence_vectors @ vector
    best = int(np.argmax(cosines))
    passage = hit.chunk.embed_text()
    passage_lower = passage.lower()
    missing = [f"the number {n}" for n in sorted(lexical.numbers(sentence) - lexical.numbers(passage))]
    named = lexical.names(sentence) | lexical.acronyms(sentence)
    # One-word names too ("based in Mumbai" against a passage that says Delhi), unless part of a longer one.
    named |= {w for w in lexical.capitalised_words(sentence) if not any(w in n.split() for n in named)}
    missing += [
        f"the name {name}"
        for name in sorted(named)
        if name.strip("-&").lower() not in passage_lower  # "ASEAN-Hong Kong" yields the acronym "ASEAN-"
    ]
    # A sentence that says "not" is not supported by a passage that never does: similarity cannot see it.
    if lexical.negates(sentence) and not lexical.negates(passage):
        missing.append("a negation")
    return Support(float(cosines[best]), best, tuple(missing))


def unsupported_reason(supports: dict[int, Support], cited: Sequence[int], min_support: float) -> str:
    """Why no passage supports a sentence, judged on the passages it cites (all of them if it cites none)."""
    judged = [supports[n] for n in cited] or list(supports.values())
    if not judged:
        return "no passage supports it"
    closest = max(judged, key=lambda s: s.cosine)
    if closest.cosine >= min_support and closest.missing:
        items = " and ".join(closest.missing)
        return f"{items} {'is' if len(closest.missing) == 1 else 'are'} not in its passages"
    return "no cited passage supports it" if cited else "no passage supports it"


@dataclass(frozen=True)
class Checked:
    """One answer sentence after verification: the prompt passages that support it, or why none does."""

    text: str
    cited: tuple[int, ...]  # prompt numbers; empty when unsupported
    supports: dict[int, Support]
    reason: str


def too_short_to_check(sentence: str) -> bool:
    """A sentence with fewer than MIN_CLAIM_TERMS content words and no number states too little to check.

    Similarity alone would pass it: "HACKED [1]" is close to an injected passage sentence that contains the
    word, and "Yes [1]" to almost anything. A claim has to say something a passage can be held to.
    """
    return len(set(lexical.content_terms(sentence))) < MIN_CLAIM_TERMS and not lexical.numbers(sentence)


def check_sentence(
    sentence: str, markers: Sequence[int], supports: dict[int, Support], min_support: float
) -> Checked:
    """Keep the cited passages that support the sentence; else repair to the best one; else flag it."""
    cited = tuple(dict.fromkeys(n for n in markers if n in supports))
    if too_short_to_check(sentence):
        return Checked(sentence, (), supports, "too short to check against a passage")
    keep = tuple(n for n in cited if supports[n].holds(min_support))
    if not keep:
        holding = [n for n in supports if supports[n].holds(min_support)]
        keep = (max(holding, key=lambda n: supports[n].cosine),) if holding else ()
    # An unsupported sentence keeps no marker: a citation would vouch for what its passage does not say.
    return Checked(sentence, keep, supports, "" if keep else unsupported_reason(supports, cited, min_support))


def verify(
    text: str, passages: Sequence[PromptPassage], embedder: Embedder, min_support: float
) -> tuple[str, tuple[Citation, ...], tuple[AnswerSentence, ...]]:
    """Answer text with checked markers renumbered 1..m in order of first use, its citations and sentences."""
    parsed = split_answer(text)
    vectors = embedder.embed([s for s, _ in parsed])
    by_n = {p.n: p for p in passages}
    passage_vectors = {p.n: embedder.embed([s.text for s in p.hit.chunk.sentences]) for p in passages}
    checked = [
        check_sentence(
            sentence,
            markers,
            {n: support(sentence, vector, p.hit, passage_vectors[n]) for n, p in by_n.items()},
            min_support,
        )
        for (sentence, markers), vector in zip(parsed, vectors, strict=True)
    ]
    renumber: dict[int, int] = {}  # prompt number -> answer number
    for c in checked:
        for n in c.cited:
            renumber.setdefault(n, len(renumber) + 1)
    sentences = tuple(
        AnswerSentence(c.text, tuple(renumber[n] for n in c.cited), not c.reason, c.reason) for c in checked
    )
    answer = " ".join(
        s.text + (" " + "".join(f"[{n}]" for n in s.citations) if s.citations else "") for s in sentences
    )
    citations = tuple(
        _citation(renumber[n], by_n[n].hit, [c.supports[n] for c in checked if n in c.cited])
        for n in renumber
    )
    return answer, citations, sentences


def _citation(number: int, hit: Hit, supports: Sequence[Support]) -> Citation:
    """The passage sentence(s) that best support the answer sentences citing it, quoted exactly."""
    chunk = hit.chunk
    best = max(supports, key=lambda s: s.cosine)
    indices = sorted({s.best for s in supports})
    span = chunk.sentences[indices[0] : indices[-1] + 1]
    # Too far apart for one readable quote, or split by more than one character (a blank line) so that
    # joining them with a space would not be the source text: keep the best.
    if indices[-1] - indices[0] >= QUOTE_SPAN or any(b.start != a.end + 1 for a, b in pairwise(span)):
        indices = [best.best]
    quoted = chunk.sentences[indices[0] : indices[-1] + 1]
    return Citation(
        n=number,
        source=chunk.doc_path,
        title=chunk.title,
        page=chunk.page,
        quote=" ".join(s.text for s in quoted),
        chunk_id=hit.chunk_id,
        score=round(best.cosine, 4),
        start=quoted[0].start,
        end=quoted[-1].end,
        passage=chunk.text,
    )


def is_not_found(text: str) -> bool:
    """The model's "not in the documents" reply, allowing markers, quotes and trailing words."""
    plain = _MARKER.sub("", text).strip().strip("\"'“”").lower()
    return plain.startswith(NOT_FOUND.lower().rstrip("."))


def generate(
    question: str,
    query: str,
    hits: Sequence[Hit],
    backend: Backend,
    settings: Settings,
    embedder: Embedder,
    extractive: Answer,
) -> Iterator[StreamEvent]:
    """Stream a generated answer, then yield it verified; on any backend failure, the extractive one."""

    def fallback(reason: str) -> StreamEvent:
        notice = f"The {backend.value} backend failed ({reason}); showing the extractive answer instead."
        return StreamEvent("", dataclasses.replace(extractive, notice=notice))

    parts: list[str] = []
    try:
        generator = make_generator(settings, backend)
        passages = fit_passages(hits, *prompt_budget(generator, query, len(hits), settings, embedder))
        # The query, not the raw question: it is standalone (a follow-up carries its earlier subject).
        messages = build_messages(query, passages, settings.max_answer_sentences)
        for delta in generator.stream(messages):
            if delta:
                parts.append(delta)
                yield StreamEvent(delta)
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
