"""The generator seam: the protocol every LLM backend implements, and the errors they raise.

A generator only rewords what the passages it is shown say; nothing it writes is trusted as is (see
`qa.generation.verify`). Any failure raises GenerationError, whose message is the short reason shown in the
notice when the answer falls back to the extractive one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from qa.errors import QAError


class GenerationError(RuntimeError):
    """A backend cannot produce an answer; the message is a short reason shown in the fallback notice."""


class GenerationBusy(QAError, GenerationError):
    """The shared model stayed busy with other questions for longer than the wait bound."""


class Generator(Protocol):
    """The one seam for LLM backends: chat messages in, text pieces out as they are produced."""

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]: ...


@runtime_checkable
class CountsTokens(Protocol):
    """A generator that can count prompt tokens in its own vocabulary (so prompts fit its context)."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def passage_budget(self, framing: list[dict[str, str]], n_passages: int) -> int: ...


@runtime_checkable
class Bounded(Protocol):
    """A generator that takes a per-call bound on the tokens it writes (the reader's is shorter)."""

    def stream_bounded(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]: ...


@runtime_checkable
class Probed(Protocol):
    """A bounded generator that also reports, before it writes, the probability that its answer opens with
    the first token of `opening` (the auto reader asks it for its "not found" reply: a graded doubt instead
    of the yes-or-no of the greedy answer)."""

    def stream_probed(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        opening: str,
        report: Callable[[float], None],
    ) -> Iterator[str]: ...


@runtime_checkable
class Warmable(Protocol):
    """A generator whose model can be loaded ahead of the first question (the app does it at start)."""

    def warm(self, messages: list[dict[str, str]]) -> None: ...


def delta(event: dict[str, Any]) -> str:
    """The text of one streamed chat-completions event (`choices[0].delta.content`)."""
    if "error" in event:  # some servers report a failure mid-stream as an event
        raise GenerationError(f"the server reported an error: {str(event['error'])[:200]}")
    choices = event.get("choices") or [{}]
    return str((choices[0].get("delta") or {}).get("content") or "")
