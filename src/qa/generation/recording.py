"""What a generator wrote, kept and served again: `qa eval --record FILE` and `qa eval --replay FILE`.

A live `auto` evaluation spends nearly all of its half hour in the model. A change to what happens after
the model writes (verification, the quotes shown beside the answer, the abstention rules) does not change
what it writes, so the run can be replayed from a recording in about a minute: every prompt whose messages
are the same gets the recorded text and the recorded probe, and a prompt that changed (a change to the
evidence, say) is sent to the model, so a replay is always the run the code would make, only faster.
The model is greedy, so what it writes for the same prompt is the same text; a replay of an unchanged
checkout reproduced a live run's 156 answers.

The file maps a digest of each prompt's messages to {"text": ..., "probe": [...]}, written whole after
each answer (atomically), so an interrupted run keeps what it had.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from qa.generation.base import Bounded, CountsTokens, GenerationError, Generator, Probed

log = logging.getLogger(__name__)


def prompt_key(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


class Recorded:
    """A generator whose answers are kept in `path` (`record`) or, when already there, served from it
    (`replay`: a prompt not in the file goes to the wrapped generator and is added)."""

    def __init__(self, inner: Generator, path: Path, replay: bool) -> None:
        self.inner, self.path, self.replay = inner, path, replay
        self._lock = threading.Lock()
        self._kept: dict[str, dict[str, Any]] = {}
        if replay:
            try:
                self._kept = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise GenerationError(f"cannot read the recording {path.name}: {exc}") from None
        self.served = 0  # answers served from the file
        self.asked = 0  # answers the wrapped generator wrote

    # ---- what the reader asks of a generator, passed through ---------------------------------------------

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        return self._answer(messages, lambda report: self.inner.stream(messages), None)

    def stream_bounded(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        def write(report: Callable[[float], None]) -> Iterator[str]:
            if isinstance(self.inner, Bounded):
                return self.inner.stream_bounded(messages, max_tokens)
            return self.inner.stream(messages)

        return self._answer(messages, write, None)

    def stream_probed(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        opening: str,
        report: Callable[[float], None],
    ) -> Iterator[str]:
        def write(report: Callable[[float], None]) -> Iterator[str]:
            if isinstance(self.inner, Probed):
                return self.inner.stream_probed(messages, max_tokens, opening, report)
            return self.inner.stream(messages)

        return self._answer(messages, write, report)

    # ---- keeping and serving -----------------------------------------------------------------------------

    def _answer(
        self,
        messages: list[dict[str, str]],
        write: Callable[[Callable[[float], None]], Iterator[str]],
        report: Callable[[float], None] | None,
    ) -> Iterator[str]:
        key = prompt_key(messages)
        with self._lock:
            kept = self._kept.get(key) if self.replay else None
        if kept is not None:
            self.served += 1
            if report is not None and kept["probe"]:
                report(kept["probe"][0])
            yield kept["text"]
            return
        probe: list[float] = []

        def keep_probe(probability: float) -> None:
            probe.append(probability)
            if report is not None:
                report(probability)

        parts: list[str] = []
        for piece in write(keep_probe):
            parts.append(piece)
            yield piece
        with self._lock:
            self.asked += 1
            self._kept[key] = {"text": "".join(parts), "probe": probe}
            _write_json(self.path, self._kept)
        if self.replay:  # what a replay did not replay, so its reader knows how much of the run is new
            log.info(
                "qa eval --replay: a prompt not in %s was answered by the model (%d so far)",
                self.path.name,
                self.asked,
            )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RecordedCounting(Recorded):
    """`Recorded` around a generator that counts its prompt tokens (llama.cpp): the count is passed on, so
    the evidence chosen for a prompt, and so the prompt, is the same as without the recording."""

    def __init__(self, inner: Generator, counter: CountsTokens, path: Path, replay: bool) -> None:
        super().__init__(inner, path, replay)
        self.counter = counter

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.counter.count_tokens(texts)

    def passage_budget(self, framing: list[dict[str, str]], n_passages: int) -> int:
        return self.counter.passage_budget(framing, n_passages)


def recorded(inner: Generator, path: Path, replay: bool) -> Recorded:
    """`inner`, its answers kept in `path` (or served from it, with `replay`)."""
    if isinstance(inner, CountsTokens):
        return RecordedCounting(inner, inner, path, replay)
    return Recorded(inner, path, replay)
