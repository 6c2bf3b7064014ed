"""Summaries of whole documents (qa.summaries): written once by the model from the document's central
sentences, kept by the document's content, verified against each question that shows them.

An echoing generator stands in for the local model: it answers with the first sentence of the first passage
it is shown, cited, so its answer is supported whatever the passages are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.config import Backend, Settings
from qa.engine import QA, SummariesUnavailable
from qa.generation import GenerationError
from qa.indexing import build_index
from qa.summaries import SHELF_FILE, SummaryShelf, request_for
from qa.types import NOT_FOUND, Answer
from tests.conftest import FakeEmbedder

POSTER = "hk-asean-trade-imbalance-poster.md"
POSTER_TITLE = "Not as It Seems: The HK–ASEAN Trade Imbalance"


class EchoGenerator:
    """Replies with passage [1]'s first sentence and "[1]" (or with `reply`); keeps every prompt."""

    def __init__(self, reply: str = "") -> None:
        self.reply = reply
        self.prompts: list[list[dict[str, str]]] = []

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        self.prompts.append(messages)
        if self.reply:
            yield self.reply
            return
        passage = messages[-1]["content"].split("[1] ", 1)[1].split("\n", 2)[1]
        first = re.split(r"(?<=[.!?])\s", passage)[0]
        yield f"{first} [1]"


@pytest.fixture
def indexed(fake_settings: Settings, fake_embedder: FakeEmbedder) -> Settings:
    build_index(fake_settings, fake_embedder)
    return fake_settings


def _question_asked(prompt: list[dict[str, str]]) -> str:
    return prompt[-1]["content"].rsplit("Question: ", 1)[1]


def _ask(settings: Settings, embedder: FakeEmbedder, question: str) -> tuple[Answer, EchoGenerator]:
    """The auto answer to `question` from a new QA over the index, and the generator that stood in."""
    generator = EchoGenerator()
    return QA(settings, embedder=embedder, generator=generator).ask(question, backend=Backend.AUTO), generator


def test_a_whole_document_summary_is_written_once_from_that_document_and_kept(
    indexed: Settings, fake_embedder: FakeEmbedder
) -> None:
    first, generator = _ask(indexed, fake_embedder, "What is the poster about?")
    assert not first.abstained and first.backend == "auto"
    assert len(generator.prompts) == 1
    # The model is asked the fixed request, not the user's words, and reads the poster alone.
    assert _question_asked(generator.prompts[0]) == request_for(POSTER_TITLE, "research poster")
    assert {c.source for c in first.citations} == {POSTER}
    written = first.answer.split(" [1]")[0]
    assert written.strip("- ") in first.citations[0].quote  # cited to the exact sentence it restates
    # Asked another way, even by a new process over the same index: verified again, the model not asked.
    again = QA(indexed, embedder=fake_embedder, generator=generator)
    second = again.ask("Summarise the research poster.", backend=Backend.AUTO)
    assert len(generator.prompts) == 1
    assert second.answer.startswith(written) and second.citations[0].quote == first.citations[0].quote
    assert (indexed.index_dir / SHELF_FILE).is_file()


def test_an_edited_document_gets_a_new_summary(indexed: Settings, fake_embedder: FakeEmbedder) -> None:
    generator = EchoGenerator()
    QA(indexed, embedder=fake_embedder, generator=generator).ask(
        "What is the poster about?", backend=Backend.AUTO
    )
    poster = indexed.corpus_dir / POSTER
    poster.write_text(
        poster.read_text(encoding="utf-8") + "\n\nA late note on shipping volumes.\n", encoding="utf-8"
    )
    build_index(indexed, fake_embedder)
    QA(indexed, embedder=fake_embedder, generator=generator).ask(
        "What is the poster about?", backend=Backend.AUTO
    )
    assert len(generator.prompts) == 2


def test_a_part_or_a_topic_of_a_document_is_read_like_any_question(
    indexed: Settings, fake_embedder: FakeEmbedder
) -> None:
    generator = EchoGenerator()
    qa = QA(indexed, embedder=fake_embedder, generator=generator)
    for question in (
        "Summarise the discussion section of the poster.",
        "What does the poster say about technology?",
    ):
        qa.ask(question, backend=Backend.AUTO)
        assert _question_asked(generator.prompts[-1]) == question
    assert not (indexed.index_dir / SHELF_FILE).exists()


def test_summaries_can_be_turned_off(indexed: Settings, fake_embedder: FakeEmbedder) -> None:
    generator = EchoGenerator()
    qa = QA(indexed.replace(summary_prompt_tokens=0), embedder=fake_embedder, generator=generator)
    qa.ask("What is the poster about?", backend=Backend.AUTO)
    assert _question_asked(generator.prompts[0]) == "What is the poster about?"


def test_a_declined_summary_is_not_kept(indexed: Settings, fake_embedder: FakeEmbedder) -> None:
    generator = EchoGenerator(reply=NOT_FOUND)
    qa = QA(indexed, embedder=fake_embedder, generator=generator)
    assert qa.ask("What is the poster about?", backend=Backend.AUTO).abstained
    qa.ask("What is the poster about?", backend=Backend.AUTO)
    assert len(generator.prompts) == 2
    assert not (indexed.index_dir / SHELF_FILE).exists()


def test_an_unreadable_shelf_costs_only_a_new_summary(indexed: Settings, fake_embedder: FakeEmbedder) -> None:
    shelf = indexed.index_dir / SHELF_FILE
    shelf.write_text("{not json", encoding="utf-8")
    generator = EchoGenerator()
    answer = QA(indexed, embedder=fake_embedder, generator=generator).ask(
        "What is the poster about?", backend=Backend.AUTO
    )
    assert not answer.abstained and len(generator.prompts) == 1
    assert len(json.loads(shelf.read_text(encoding="utf-8"))["entries"]) == 1


def test_a_kept_summary_over_chunks_that_changed_is_written_again(tmp_path: Path) -> None:
    shelf = SummaryShelf(tmp_path / SHELF_FILE)
    (tmp_path / SHELF_FILE).write_text(
        json.dumps({"version": 1, "entries": {"k": {"text": "x [1]", "passages": [[7, [0]]]}}}),
        encoding="utf-8",
    )
    assert shelf.get("k", []) is None  # its chunk is not there: no reading, so the model writes it again
    assert shelf.get("missing", []) is None


class FailingOnce(EchoGenerator):
    """Fails on its second call, as a model that runs out of context on one long document would."""

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        if len(self.prompts) == 1:
            self.prompts.append(messages)
            raise GenerationError("the prompt does not fit")
        yield from super().stream(messages)


def test_summaries_written_ahead_serve_the_questions_without_the_model(
    indexed: Settings, fake_embedder: FakeEmbedder
) -> None:
    generator = FailingOnce()
    qa = QA(indexed, embedder=fake_embedder, generator=generator)
    reports: list[tuple[int, int, str, str]] = []
    assert qa.write_summaries(lambda *report: reports.append(report)) == 4  # 5 documents, one failed
    assert [r[0] for r in reports] == [1, 2, 3, 4, 5] and {r[1] for r in reports} == {5}
    assert sum("failed (the prompt does not fit)" in r[3] for r in reports) == 1
    assert qa.write_summaries(lambda *report: reports.append(report)) == 1  # only the failed one is left
    asked = len(generator.prompts)
    answer = qa.ask("What is the poster about?", backend=Backend.AUTO)
    assert not answer.abstained and len(generator.prompts) == asked


def test_summaries_ahead_need_the_local_model(
    indexed: Settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    qa = QA(indexed.replace(llm_model_dir=tmp_path / "no-models"), embedder=fake_embedder)
    with pytest.raises(SummariesUnavailable, match="need the local model"):
        qa.write_summaries(lambda *report: None)


def test_no_summary_is_written_of_a_document_that_lacks_the_subject_asked(
    indexed: Settings, fake_embedder: FakeEmbedder
) -> None:
    answer, generator = _ask(
        indexed, fake_embedder, "Summarise the article on the ASEAN-India trade agreement."
    )
    assert "India" in answer.reason or all("India" in _question_asked(p) for p in generator.prompts)
    assert not (indexed.index_dir / SHELF_FILE).exists()


def test_two_processes_keep_each_others_summaries(indexed: Settings, fake_embedder: FakeEmbedder) -> None:
    """An app running while `qa index --summaries` writes: neither overwrites what the other kept."""
    app_model = EchoGenerator()
    app = QA(indexed, embedder=fake_embedder, generator=app_model)
    app.ask("What is the poster about?", backend=Backend.AUTO)  # the app has read the shelf, and kept one
    ahead = QA(indexed, embedder=fake_embedder, generator=EchoGenerator())
    assert ahead.write_summaries(lambda *report: None) == 4  # the poster's was kept by the app
    entries = json.loads((indexed.index_dir / SHELF_FILE).read_text(encoding="utf-8"))["entries"]
    assert len(entries) == 5
    generator = EchoGenerator()
    later = QA(indexed, embedder=fake_embedder, generator=generator)
    later.ask("Summarise the news article about Hainan.", backend=Backend.AUTO)
    app.ask("What is the article on InvestHK about?", backend=Backend.AUTO)  # the app writes after the others
    assert len(json.loads((indexed.index_dir / SHELF_FILE).read_text(encoding="utf-8"))["entries"]) == 5
    assert generator.prompts == [] and len(app_model.prompts) == 1
