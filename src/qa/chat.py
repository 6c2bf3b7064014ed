"""`qa chat`: a conversation with the documents in the terminal, and the request lines of `qa ask -`.

    $ qa chat
    qa> What did Hainan and the HKSAR sign?
    ... the answer streams in, then its sources ...
    qa> When was it signed?
    (searched for: When was it signed? Hainan HKSAR sign)
    ...

Follow-ups are read against the earlier turns (`qa.condense`), and the query searched is shown when it
differs from the question. Lines starting with `!` are commands (`!help`). Ctrl-C stops an answer (or
clears the line) without leaving; Ctrl-D leaves. Typed lines are kept in a history file (readline).

When stdin is not a terminal (a pipe, a file), each line is a question of one conversation and the output is
exactly `qa ask`'s for it (`--json`: one JSON object per line), with no prompt or banner.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

from qa.condense import Turn, condense, history_from_json
from qa.config import Backend, ConfigError, Settings, parse_backend
from qa.questions import QuestionError
from qa.terminal import answer_footer, format_answer, passage_text, searched_line
from qa.types import Answer, StreamEvent

PROMPT = "qa> "
HISTORY_LINES = 1000
HELP = """Commands:
  !sources N   show source [N] of the last answer in full (its quote marked »like this«)
  !reset       forget the conversation: the next question stands alone
  !mode NAME   answer with another backend: {modes} (now: {mode})
  !help        this list
Ctrl-C stops an answer without leaving; Ctrl-D (or !quit) leaves."""


class Asker(Protocol):
    """What the chat needs of `qa.engine.QA`; tests pass a fake."""

    @property
    def settings(self) -> Settings: ...

    def stream(
        self, question: str, history: Sequence[Turn] = (), backend: Backend | None = None
    ) -> Iterator[StreamEvent]: ...


def request_from_line(line: str) -> tuple[str, tuple[Turn, ...]]:
    """A `qa ask -` input line: a plain question, or `{"question": ..., "history": [{"question", "answer"}]}`.

    QuestionError, naming the expected shape, for a JSON line that is not such an object.
    """
    text = line.strip()
    if not text.startswith("{"):
        return line, ()
    try:
        request = json.loads(text)
    except ValueError as exc:
        raise QuestionError(
            f'A line starting with {{ must be a JSON object {{"question": ..., "history": [...]}} ({exc}).'
        ) from None
    if not isinstance(request, dict) or not isinstance(request.get("question"), str):
        raise QuestionError('A JSON line needs a "question" string: {"question": "...", "history": [...]}.')
    return request["question"], history_from_json(request.get("history"))


@dataclass
class Chat:
    """One conversation: its turns, its answer mode, its last answer; `handle` takes each typed line."""

    qa: Asker
    out: TextIO
    interactive: bool = True
    as_json: bool = False
    backend: Backend | None = None
    history: list[Turn] = field(default_factory=list)
    last: Answer | None = None
    errors: int = 0

    def __post_init__(self) -> None:
        self.backend = self.backend or self.qa.settings.backend

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def handle(self, line: str) -> bool:
        """Answer a question or run a `!command`; False when the chat should end."""
        text = line.strip()
        if not text:
            return True
        if text.startswith("!"):
            return self.command(text[1:].split())
        self.ask(text)
        return True

    def command(self, words: list[str]) -> bool:
        name, args = (words[0].lower(), words[1:]) if words else ("help", [])
        modes = ", ".join(b.value for b in Backend)
        if name in ("quit", "exit"):
            return False
        if name == "reset":
            self.history.clear()
            self.last = None
            self.say("(conversation reset: the next question stands alone)")
        elif name == "mode":
            if not args:
                self.say(f"answer mode: {self.backend} (choose from {modes})")
            else:
                try:
                    self.backend = parse_backend(args[0])
                except ConfigError as exc:
                    self.fail(str(exc).replace("(QA_BACKEND, --backend) ", ""))
                else:
                    self.say(f"(answer mode: {self.backend})")
        elif name == "sources":
            self.show_source(args)
        elif name == "help":
            self.say(HELP.format(modes=modes, mode=self.backend))
        else:
            self.fail(f"Unknown command !{name}: type !help for the list.")
        return True

    def show_source(self, args: list[str]) -> None:
        if self.last is None:
            self.fail("No answer yet: ask a question first, then !sources N.")
            return
        count = len(self.last.citations) or len(self.last.related)
        shown = passage_text(self.last, int(args[0])) if len(args) == 1 and args[0].isdigit() else None
        if shown is None:
            self.fail(
                f"Give a source number from 1 to {count}: !sources N."
                if count
                else "That answer has no sources."
            )
        else:
            self.say(shown)

    def fail(self, message: str) -> None:
        self.errors += 1
        print(f"qa: {message}", file=sys.stderr if not self.interactive else self.out, flush=True)

    def ask(self, question: str) -> None:
        """Stream the answer (interactive) or print it as `qa ask` does; then remember the turn."""
        history = tuple(self.history)
        answer: Answer | None = None
        streamed = ""
        events = self.qa.stream(question, history, backend=self.backend)
        try:
            if self.interactive:
                searched = searched_line(question, condense(question, history))
                if searched:
                    self.say(searched)
            for event in events:
                if event.answer is not None:
                    answer = event.answer
                if event.delta and self.interactive:
                    streamed += event.delta
                    print(event.delta, end="", file=self.out, flush=True)
        except KeyboardInterrupt:
            close = getattr(events, "close", None)
            if close is not None:
                close()  # stops a generator backend where it is
            self.say("\n(answer stopped)" if self.interactive else "")
            return
        except QuestionError as exc:
            if self.as_json:  # as `qa ask --json -` reports a bad line
                self.errors += 1
                self.say(json.dumps({"question": question, "error": str(exc)}, ensure_ascii=False))
            else:
                self.fail(str(exc))
            return
        finally:
            if self.interactive and streamed:
                self.say()
        if answer is None:  # pragma: no cover - QA.stream always ends with an answer
            return
        self.last = answer
        self.history.append(Turn(answer.question, answer.query, answer.answer))
        if not self.interactive:
            self.say(
                json.dumps(answer.to_json(), ensure_ascii=False) if self.as_json else format_answer(answer)
            )
            return
        if streamed.strip() != answer.answer.strip():  # repaired or fallen back after streaming
            self.say("(as checked against the sources:)")
            self.say(answer.answer)
        for line in answer_footer(answer):
            self.say(line)
        self.say()


def run_chat(
    qa: Asker,
    stdin: TextIO,
    out: TextIO,
    history_file: Path | None = None,
    as_json: bool = False,
    documents: int | None = None,
) -> int:
    """`qa chat`'s loop: interactive on a terminal, one question per line otherwise. Exit status: 0, or 2
    when a line could not be answered (a bad command or question) in non-interactive mode."""
    interactive = stdin.isatty() and not as_json
    chat = Chat(qa, out, interactive=interactive, as_json=as_json)
    if not interactive:
        for line in stdin:
            if not chat.handle(line):
                break
        return 2 if chat.errors else 0
    read = _readline_input(history_file)
    settings = qa.settings
    held = f", {documents} documents" if documents is not None else ""
    chat.say(
        f"qa chat: {settings.corpus_title}{held}; answer mode {chat.backend}. "
        "Ask a question (follow-ups welcome); !help for commands, Ctrl-D to leave."
    )
    while True:
        try:
            line = read(PROMPT)
        except KeyboardInterrupt:  # at the prompt: a fresh line, as a shell does
            chat.say()
            continue
        except EOFError:
            chat.say()
            return 0
        if not chat.handle(line):
            return 0


def _readline_input(history_file: Path | None) -> Callable[[str], str]:
    """`input` with line editing and a history kept in `history_file` (saved after every line)."""
    try:
        import readline
    except ImportError:  # pragma: no cover - not on every platform
        return input
    readline.set_history_length(HISTORY_LINES)
    if history_file is not None and history_file.is_file():
        with contextlib.suppress(OSError):
            readline.read_history_file(history_file)

    def read(prompt: str) -> str:
        line = input(prompt)
        if history_file is not None and line.strip():
            with contextlib.suppress(OSError):  # a read-only home: the chat goes on without saving
                history_file.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(history_file)
        return line

    return read
