"""One shared model, one question at a time, and a bound on how long a question waits for its turn.

A local model on a laptop CPU writes one answer in 5-15 s and cannot write two at once. When twenty people
ask together, waiting in line would make the last one wait minutes for what the quote already says. So a
question is admitted only when its expected wait fits the bound:

    expected wait = what is left of the answer being written + questions in line x the recent answer time

and one that does not fit is refused at once (GenerationBusy: the caller shows the quote with a notice),
instead of after waiting the whole bound. A question that is admitted still gives up after the bound. The
answer time is a moving average of the turns actually taken, so a slower machine refuses sooner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from qa.generation.base import GenerationBusy

ANSWER_TIME_WEIGHT = 0.3  # weight of the newest turn in the moving average of turn times


class Turns:
    """Admission to a shared model: `with turns.take(): ...` holds it, or raises GenerationBusy."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self._model = threading.Lock()
        self._state = threading.Lock()
        self._waiting = 0
        self._busy = False
        self._since = 0.0  # when the answer being written started (time.monotonic)
        self.turn_s: float | None = None  # moving average of turn times; None until one has been taken

    def locked(self) -> bool:
        """Whether a question (or the start-up warm-up) holds the model now."""
        return self._model.locked()

    def expected_wait(self) -> float:
        """Seconds a question arriving now would wait (0 when the model is free or no turn was timed)."""
        with self._state:
            return self._expected()

    def _expected(self) -> float:
        turn = self.turn_s or 0.0
        left = max(0.0, turn - (time.monotonic() - self._since)) if self._busy else 0.0
        return left + self._waiting * turn

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the model however long it takes, untimed: loading it and reading the fixed prompt at start."""
        with self._model:
            yield

    @contextmanager
    def take(self) -> Iterator[None]:
        """A question's turn with the model: refused at once when the expected wait exceeds the bound."""
        with self._state:
            ahead = self._waiting + self._busy
            expected = self._expected()
            if ahead and expected > self.wait_s:
                raise GenerationBusy(
                    f"the local model is answering {ahead} other question{'s' * (ahead > 1)} "
                    f"(about {expected:.0f} s, more than the {self.wait_s:g} s wait bound)"
                )
            self._waiting += 1
        try:
            admitted = self._model.acquire(timeout=self.wait_s)
        finally:
            with self._state:
                self._waiting -= 1
                if admitted:
                    self._busy, self._since = True, time.monotonic()
        if not admitted:
            raise GenerationBusy(f"the local model was busy with other questions for {self.wait_s:g} s")
        started = time.monotonic()
        try:
            yield
        finally:
            took = time.monotonic() - started
            with self._state:
                previous = self.turn_s
                self.turn_s = (
                    took
                    if previous is None
                    else (1 - ANSWER_TIME_WEIGHT) * previous + ANSWER_TIME_WEIGHT * took
                )
                self._busy = False
            self._model.release()
