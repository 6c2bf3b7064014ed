"""The shared model's turns: a question waits only when its expected wait fits the bound, else is refused."""

from __future__ import annotations

import threading

import pytest

from qa.generation.base import GenerationBusy
from qa.generation.turns import Turns


class Answering:
    """Threads that each hold a turn until `release` is set, as questions being answered do."""

    def __init__(self, turns: Turns) -> None:
        self.turns, self.holding, self.release = turns, threading.Event(), threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        def answer() -> None:
            with self.turns.take():
                self.holding.set()
                self.release.wait(30)

        self.threads.append(threading.Thread(target=answer))
        self.threads[-1].start()

    def finish(self) -> None:
        self.release.set()
        for t in self.threads:
            t.join(30)
        assert not any(t.is_alive() for t in self.threads)


def test_a_free_model_is_taken_at_once_and_the_turn_is_timed() -> None:
    turns = Turns(wait_s=10)
    assert turns.turn_s is None and turns.expected_wait() == 0
    with turns.take():
        pass
    assert turns.turn_s is not None and turns.turn_s >= 0


def test_a_question_whose_wait_exceeds_the_bound_is_refused_at_once() -> None:
    turns = Turns(wait_s=10)
    turns.turn_s = 8.0  # recent answers took 8 s
    answering = Answering(turns)
    answering.start()
    answering.holding.wait(30)
    try:
        # One answer ahead: 8 s expected, within the 10 s bound, so a second question would wait ...
        assert 7.0 < turns.expected_wait() <= 8.0  # what is left of the answer being written
        answering.start()
        while turns.expected_wait() < 12.0:  # ... and now waits: what is left plus one more answer
            threading.Event().wait(0.01)
        # ... but a third would wait about 16 s: refused without waiting (the caller shows the quote).
        with pytest.raises(GenerationBusy, match="answering 2 other questions"), turns.take():
            pass
    finally:
        answering.finish()


def test_an_admitted_question_still_gives_up_after_the_bound() -> None:
    turns = Turns(wait_s=0.2)  # no turn timed yet: nothing predicts the wait, so the bound decides
    answering = Answering(turns)
    answering.start()
    answering.holding.wait(30)
    try:
        with pytest.raises(GenerationBusy, match=r"busy with other questions for 0\.2 s"), turns.take():
            pass
    finally:
        answering.finish()
