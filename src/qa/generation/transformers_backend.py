"""A local transformers causal LM (a model folder or a .gguf file), run on the CPU, streamed."""

from __future__ import annotations

import importlib.util
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.generation.base import GenerationError
from qa.generation.prompts import PLAIN_PROMPT


def load_causal_lm(path: str) -> tuple[Any, Any]:
    """The model and tokenizer at `path` (a folder or a .gguf file), CPU, offline."""
    source = Path(path)
    if not source.exists():
        raise GenerationError(f"{path} does not exist: set QA_LLM_PATH to a model folder or .gguf file")
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
    return model, tokenizer


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
        self._loaded: tuple[Any, Any] | None = None  # loading takes seconds: once per generator
        self._load_lock = threading.Lock()

    def model(self) -> tuple[Any, Any]:
        """The model and tokenizer, loaded on first use."""
        with self._load_lock:
            if self._loaded is None:
                self._loaded = load_causal_lm(self.path)
            return self._loaded

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        model, tokenizer = self.model()
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
