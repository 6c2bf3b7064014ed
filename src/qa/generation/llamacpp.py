"""A GGUF model run in this process by llama.cpp (llama-cpp-python), streamed; see `qa.llm_models`.

Reading the prompt is most of an answer's time on a CPU, so the generator never reads the same text twice:
the fixed system message (everything before the user's turn) is evaluated once and kept in llama.cpp's KV
cache; each question truncates the cache back to exactly that prefix and reads only its own part. Going back
to the same prefix every time also keeps answers independent of the question before (reusing the longest
common prefix with the previous prompt made the same question give different answers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from qa.generation.base import GenerationError
from qa.generation.prompts import MESSAGE_TOKENS, PASSAGE_TOKENS, PLAIN_PROMPT, SAFETY_TOKENS
from qa.generation.turns import Turns

_USER_SLOT = "\x00qa-user-turn\x00"  # marks where the user's text goes in the rendered chat template


class LlamaCppGenerator:
    """One llama.cpp model, loaded on first use and shared by every question (one at a time)."""

    def __init__(
        self,
        path: Path,
        n_ctx: int,
        n_threads: int,
        max_tokens: int,
        timeout_s: float,
        wait_s: float = 10.0,
        prompt_lookup: int = 0,
    ) -> None:
        self.path, self.n_ctx, self.n_threads = path, n_ctx, n_threads
        self.max_tokens, self.timeout_s, self.wait_s = max_tokens, timeout_s, wait_s
        self.prompt_lookup = prompt_lookup  # draft tokens for prompt-lookup decoding; 0 = off
        self._llama: Any = None
        self._load_lock = threading.Lock()
        self._turns = Turns(wait_s)  # one Llama is not safe to use from two threads
        self._prefix: tuple[int, ...] = ()  # the tokens whose KV state the model holds right now
        self._template: Any = None
        # (prompt tokens, of which the saved prefix) of the last question: what the benchmark reports.
        self.last_prompt: tuple[int, int] = (0, 0)

    # ---- loading --------------------------------------------------------------------------------------

    def model(self) -> Any:
        """The llama_cpp.Llama, loaded once (a few seconds); GenerationError when it cannot be."""
        with self._load_lock:
            if self._llama is None:
                from qa import llm_models

                try:
                    self._llama = llm_models.load_llama(
                        self.path, self.n_ctx, self.n_threads, self.prompt_lookup
                    )
                except llm_models.ModelError as exc:
                    raise GenerationError(str(exc)) from None
            return self._llama

    def warm(self, messages: list[dict[str, str]]) -> None:
        """Load the model and evaluate the system prefix of `messages`, so the first question is quick."""
        model = self.model()
        with self._turns.exclusive():
            prefix, _, _ = self._tokens(model, messages)
            self._restore(model, prefix)

    def close(self) -> None:
        with self._load_lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    # ---- prompt size ----------------------------------------------------------------------------------

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text in the model's own vocabulary, plus one for the space or newline joining it."""
        model = self.model()
        return [len(model.tokenize(t.encode(), add_bos=False, special=False)) + 1 for t in texts]

    def passage_budget(self, framing: list[dict[str, str]], n_passages: int) -> int:
        """Passage tokens that fit n_ctx beside the answer, the prompt without passages and their framing."""
        prompt = sum(self.count_tokens([m["content"] for m in framing])) + MESSAGE_TOKENS * len(framing)
        return self.n_ctx - self.max_tokens - prompt - PASSAGE_TOKENS * n_passages - SAFETY_TOKENS

    # ---- answering ------------------------------------------------------------------------------------

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        return self.stream_bounded(messages, self.max_tokens)

    def stream_bounded(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        """`stream`, writing at most `max_tokens` tokens."""
        return self._stream(messages, max_tokens, None)

    def stream_probed(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        opening: str,
        report: Callable[[float], None],
    ) -> Iterator[str]:
        """`stream_bounded`, first reporting the probability that the answer opens with `opening`'s first
        token (read from the logits the prompt leaves: no extra decoding)."""
        return self._stream(messages, max_tokens, (opening, report))

    def _stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        probe: tuple[str, Callable[[float], None]] | None,
    ) -> Iterator[str]:
        model = self.model()
        with self._turns.take():
            deadline = time.monotonic() + self.timeout_s
            prefix, suffix, stop = self._tokens(model, messages)
            if len(prefix) + len(suffix) + 1 >= self.n_ctx:
                raise GenerationError(f"the prompt does not fit the model's {self.n_ctx}-token context")
            self._restore(model, prefix)
            self.last_prompt = (len(prefix) + len(suffix), len(prefix))
            if probe is not None:
                # Reading the prompt here, not inside create_completion, leaves its last logits to look at;
                # create_completion then finds the whole prompt cached and samples from the same state.
                model.eval(suffix)
                opening, report = probe
                report(_opening_probability(model, opening))
            # Greedy: a grounded answer wants the likeliest wording. The timeout is checked as each token
            # arrives: reading the prompt cannot be interrupted.
            chunks = model.create_completion(
                prompt=[*prefix, *suffix],
                stream=True,
                temperature=0.0,
                max_tokens=max_tokens,
                stop=stop,
            )
            try:
                for chunk in chunks:
                    if time.monotonic() > deadline:
                        raise GenerationError(f"no complete answer within {self.timeout_s:g} s")
                    yield str(chunk["choices"][0].get("text") or "")
            finally:
                chunks.close()
                # What follows the prefix now is this question's: the next one truncates it again.

    def _restore(self, model: Any, prefix: tuple[int, ...]) -> None:
        """Leave exactly `prefix` in the model's KV cache, evaluating it only when it changed."""
        if prefix and prefix == self._prefix and model.n_tokens >= len(prefix):
            model.n_tokens = len(prefix)  # llama.cpp drops the cache beyond n_tokens on the next eval
            return
        model.reset()
        self._prefix = ()
        if prefix:
            model.eval(list(prefix))
            self._prefix = prefix

    def _tokens(
        self, model: Any, messages: list[dict[str, str]]
    ) -> tuple[tuple[int, ...], list[int], list[str]]:
        """(system prefix tokens, the rest of the prompt's tokens, stop strings) in the model's chat format.

        Only the template's own text is tokenized with special tokens: a document containing
        "<|im_start|>" must stay text, not open a turn of its own.
        """
        system = [m for m in messages if m["role"] == "system"]
        user = "\n\n".join(m["content"] for m in messages if m["role"] != "system")
        template = self._chat_template(model)
        if template is None:
            head = PLAIN_PROMPT.format(system=system[0]["content"] if system else "", user=_USER_SLOT)
            stop: list[str] = []
        else:
            rendered = template(messages=[*system, {"role": "user", "content": _USER_SLOT}])
            head, stop = rendered.prompt, [s for s in (rendered.stop or []) if s]
        before, after = head.split(_USER_SLOT, 1)
        prefix = tuple(model.tokenize(before.encode(), add_bos=template is None, special=True))
        rest = model.tokenize(user.encode(), add_bos=False, special=False)
        rest += model.tokenize(after.encode(), add_bos=False, special=True)
        return prefix, rest, stop

    def _chat_template(self, model: Any) -> Any:
        """The GGUF's own chat template as a llama-cpp-python formatter, or None for a plain prompt."""
        if self._template is None:
            source = (getattr(model, "metadata", None) or {}).get("tokenizer.chat_template")
            if not source:
                self._template = False
            else:
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                eos = model.token_eos()
                bos = model.token_bos()
                self._template = Jinja2ChatFormatter(
                    template=source,
                    eos_token=model.detokenize([eos], special=True).decode(errors="ignore")
                    if eos >= 0
                    else "",
                    bos_token=model.detokenize([bos], special=True).decode(errors="ignore")
                    if bos >= 0
                    else "",
                )
        return self._template or None


def _opening_probability(model: Any, opening: str) -> float:
    """The probability, after the prompt just evaluated, that the next token is `opening`'s first token."""
    import numpy as np

    first = model.tokenize(opening.encode(), add_bos=False, special=False)[:1]
    if not first:
        return 0.0
    logits = np.ctypeslib.as_array(model._ctx.get_logits_ith(-1), shape=(model.n_vocab(),))
    logits = logits.astype(np.float64)
    weights = np.exp(logits - logits.max())
    return float(weights[first[0]] / weights.sum())
