"""`qa chat` and conversation requests: follow-ups, commands, Ctrl-C and Ctrl-D, piped input, JSON history."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from qa.answering import NOT_FOUND, Answer, Citation, Passage, StreamEvent
from qa.chat import Chat, request_from_line, run_chat
from qa.condense import Turn, condense, history_from_json
from qa.config import Backend, Settings
from qa.questions import QuestionError, clean_question
from qa.terminal import format_answer
from tests.conftest import CORPUS, ROOT

QUOTE = "The governments of Hainan and the HKSAR signed a memorandum of understanding on 26 March 2025."
PASSAGE = f"Photo: officials. {QUOTE} It covers five areas."


def cited(question: str, query: str, backend: Backend = Backend.EXTRACTIVE) -> Answer:
    citation = Citation(1, "hainan.txt", "Hainan MOU", None, QUOTE, 3, 0.8, 18, 18 + len(QUOTE), PASSAGE)
    return Answer(question, query, f"{QUOTE} [1]", False, citations=(citation,), backend=backend)


class FakeAsker:
    """Streams a scripted answer in pieces; records the history and backend each question came with."""

    def __init__(self) -> None:
        self._settings = Settings(corpus_name="Trade papers")
        self.calls: list[tuple[str, tuple[Turn, ...], Backend | None]] = []
        self.closed = False

    @property
    def settings(self) -> Settings:
        return self._settings

    def stream(
        self, question: str, history: Sequence[Turn] = (), backend: Backend | None = None
    ) -> Iterator[StreamEvent]:
        question, _ = clean_question(question, 2000)
        self.calls.append((question, tuple(history), backend))
        if "unknowable" in question:
            related = (Passage("hainan.txt", "Hainan MOU", None, PASSAGE, 3, 0.3),)
            answer = Answer(question, question, NOT_FOUND, True, related=related)
            yield StreamEvent(answer.answer, answer)
            return
        answer = cited(question, condense(question, history), backend or Backend.EXTRACTIVE)
        try:
            for word in answer.answer.split(" "):
                yield StreamEvent(word + " ")
            yield StreamEvent("", answer)
        except GeneratorExit:
            self.closed = True
            raise


def chat(asker: FakeAsker, interactive: bool = True) -> tuple[Chat, io.StringIO]:
    out = io.StringIO()
    return Chat(asker, out, interactive=interactive), out


def test_a_follow_up_is_asked_with_the_history_and_its_query_shown() -> None:
    asker = FakeAsker()
    session, out = chat(asker)
    session.handle("What did Hainan and the HKSAR sign?")
    session.handle("When was it signed?")
    (_, first_history, _), (_, second_history, _) = asker.calls
    assert first_history == () and [t.question for t in second_history] == [
        "What did Hainan and the HKSAR sign?"
    ]
    text = out.getvalue()
    assert "(searched for: When was it signed? Hainan HKSAR sign)" in text
    assert text.count("(searched for:") == 1  # not for the first question, which stands alone
    assert f"{QUOTE} [1]" in text  # streamed in pieces, printed whole
    assert "Sources:" in text and "[1] Hainan MOU (hainan.txt)" in text


def test_reset_forgets_the_conversation() -> None:
    asker = FakeAsker()
    session, out = chat(asker)
    session.handle("What did Hainan and the HKSAR sign?")
    session.handle("!reset")
    session.handle("When was it signed?")
    assert asker.calls[-1][1] == ()
    assert "(searched for:" not in out.getvalue()


def test_mode_switches_the_backend_from_the_config_choices() -> None:
    asker = FakeAsker()
    session, out = chat(asker)
    session.handle("!mode")
    assert all(b.value in out.getvalue() for b in Backend)  # every backend the config knows is offered
    session.handle("!mode LlamaCpp")
    session.handle("What did Hainan sign?")
    assert asker.calls[-1][2] is Backend.LLAMACPP
    session.handle("!mode nonsense")
    assert "Unknown backend 'nonsense'" in out.getvalue()
    assert session.backend is Backend.LLAMACPP


def test_sources_shows_a_passage_in_full_with_its_quote_marked() -> None:
    session, out = chat(FakeAsker())
    session.handle("!sources 1")
    assert "No answer yet" in out.getvalue()
    session.handle("What did Hainan sign?")
    session.handle("!sources 1")
    assert f"Photo: officials. »{QUOTE}« It covers five areas." in out.getvalue()
    session.handle("!sources 7")
    assert "from 1 to 1" in out.getvalue()
    session.handle("Something unknowable?")  # an abstention: its related passages are numbered instead
    session.handle("!sources 1")
    assert out.getvalue().rstrip().endswith(PASSAGE)


class InterruptedOut(io.StringIO):
    """A terminal where Ctrl-C is pressed while the answer's `at`-th piece is being printed."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.pieces = at, 0

    def write(self, text: str) -> int:
        if text.strip():
            self.pieces += 1
            if self.pieces == self.at:
                self.at = 0
                raise KeyboardInterrupt
        return super().write(text)


def test_ctrl_c_stops_the_answer_and_the_chat_goes_on() -> None:
    asker = FakeAsker()
    out = InterruptedOut(at=3)
    session = Chat(asker, out, interactive=True)
    session.handle("What did Hainan sign?")
    assert asker.closed  # the answer's generator was closed where it stood, not run to its end
    assert "(answer stopped)" in out.getvalue() and session.history == [] and session.last is None
    session.handle("What did Hainan sign?")
    assert len(session.history) == 1 and "Sources:" in out.getvalue()


def test_unknown_command_and_quit() -> None:
    session, out = chat(FakeAsker())
    assert session.handle("!frobnicate") is True
    assert "!help" in out.getvalue()
    assert session.handle("!quit") is False


def test_piped_chat_prints_what_qa_ask_prints_and_keeps_the_conversation() -> None:
    asker = FakeAsker()
    out = io.StringIO()
    status = run_chat(asker, io.StringIO("What did Hainan and the HKSAR sign?\n\nWhen was it signed?\n"), out)
    assert status == 0
    first = cited("What did Hainan and the HKSAR sign?", "What did Hainan and the HKSAR sign?")
    second = cited("When was it signed?", "When was it signed? Hainan HKSAR sign")
    assert out.getvalue() == format_answer(first) + "\n" + format_answer(second) + "\n"


def test_piped_chat_json_lines() -> None:
    out = io.StringIO()
    assert run_chat(FakeAsker(), io.StringIO("What did Hainan sign?\n"), out, as_json=True) == 0
    assert json.loads(out.getvalue())["citations"][0]["quote"] == QUOTE


def test_request_lines_plain_or_json_with_history() -> None:
    assert request_from_line("What is RCEP?\n") == ("What is RCEP?\n", ())
    line = json.dumps(
        {
            "question": "When was it signed?",
            "history": [{"question": "What did Hainan and the HKSAR sign?", "answer": "An MOU [1]"}],
        }
    )
    question, history = request_from_line(line)
    assert question == "When was it signed?"
    assert history == (
        Turn("What did Hainan and the HKSAR sign?", "What did Hainan and the HKSAR sign?", "An MOU [1]"),
    )
    for bad in ('{"question": 3}', "{not json", '{"question": "q", "history": "earlier"}'):
        with pytest.raises(QuestionError):
            request_from_line(bad)


def test_history_queries_are_rebuilt_turn_by_turn() -> None:
    turns = history_from_json(
        [
            {"question": "What did Hainan and the HKSAR sign?"},
            {"question": "When was it signed?", "answer": ""},
        ]
    )
    assert turns[1].query == "When was it signed? Hainan HKSAR sign"
    with pytest.raises(QuestionError, match="item 0"):
        history_from_json([{"answer": "no question"}])
    with pytest.raises(QuestionError, match="answer is not text"):
        history_from_json([{"question": "q", "answer": 5}])


# --- The real command -------------------------------------------------------------------------------------

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT / "src")}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    base = tmp_path_factory.mktemp("chat")
    shutil.copytree(CORPUS, base / "corpus")
    dirs = ["--corpus", str(base / "corpus"), "--index", str(base / "index")]
    subprocess.run([sys.executable, "-m", "qa.cli", "index", *dirs], check=True, env=ENV, capture_output=True)
    return dirs


def _qa(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


@pytest.mark.slow
def test_piped_qa_chat_matches_qa_ask(indexed: list[str]) -> None:
    question = "What did Hainan and the HKSAR sign?"
    chat_out = _qa("chat", *indexed, stdin=f"{question}\nWhen was it signed?\n")
    ask_out = _qa("ask", *indexed, question, stdin="")
    assert chat_out.returncode == ask_out.returncode == 0, chat_out.stderr
    assert chat_out.stdout.startswith(ask_out.stdout)  # the first answer exactly as `qa ask` prints it
    assert "(searched for: When was it signed? Hainan HKSAR sign)" in chat_out.stdout


@pytest.mark.slow
def test_ask_json_lines_carry_history(indexed: list[str]) -> None:
    first = json.loads(_qa("ask", "--json", *indexed, "What did Hainan and the HKSAR sign?", stdin="").stdout)
    follow = {
        "question": "When was it signed?",
        "history": [{"question": first["question"], "answer": first["answer"]}],
    }
    out = _qa("ask", "--json", *indexed, "-", stdin=json.dumps(follow) + "\nWhen was it signed?\n")
    with_history, alone = (json.loads(line) for line in out.stdout.splitlines())
    assert with_history["query"] == "When was it signed? Hainan HKSAR sign"
    assert with_history["citations"][0]["source"] == "hainan-hksar-mou.txt"
    assert alone["query"] == "When was it signed?"  # a plain line stays a question on its own


def _read_until(fd: int, marker: str, timeout: float = 120.0) -> str:
    seen, deadline = "", time.monotonic() + timeout
    while marker not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {marker!r} in {seen!r}")
        seen += os.read(fd, 4096).decode(errors="replace")
    return seen


@pytest.mark.slow
def test_interactive_chat_in_a_terminal(indexed: list[str], tmp_path: Path) -> None:
    history_file = tmp_path / "history"
    pid, fd = pty.fork()
    if pid == 0:  # the child: `qa chat` on a terminal
        # A shell starts a background job with SIGINT ignored, and an ignored signal stays ignored across exec
        # (Python then installs no KeyboardInterrupt handler): a terminal's Ctrl-C must reach the chat.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(
            sys.executable,
            [sys.executable, "-m", "qa.cli", "chat", *indexed, "--history-file", str(history_file)],
            ENV,
        )
    try:
        assert "!help" in _read_until(fd, "qa> ")
        os.write(fd, b"What did Hainan and the HKSAR sign?\r")
        answer = _read_until(fd, "qa> ")
        assert "Sources:" in answer and "hainan-hksar-mou.txt" in answer
        os.write(fd, b"When was it signed?\r")
        assert "(searched for: When was it signed? Hainan HKSAR sign)" in _read_until(fd, "qa> ")
        # Ctrl-C at the prompt: a fresh prompt, still chatting. It is sent once the line editor has echoed what
        # was typed, and a moment later: a SIGINT that lands between the prompt being drawn and Python's
        # readline waiting for a key is only acted on at the next key (the full suite, under load, once
        # waited 120 s for a prompt that a person would have got by typing on).
        os.write(fd, b"half a line")
        _read_until(fd, "half a line")
        time.sleep(0.5)
        os.write(fd, b"\x03")
        _read_until(fd, "qa> ")
        os.write(fd, b"!sources 1\r")
        assert "»" in _read_until(fd, "qa> ")
        os.write(fd, b"\x04")  # Ctrl-D leaves
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)
    assert "When was it signed?" in history_file.read_text()
