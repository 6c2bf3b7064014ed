"""Each event handler of the web app (qa.webapp.ChatUI) alone, with the fake QA object: no server, no model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from qa.config import Backend, Settings
from qa.render import INSPECTOR_EMPTY, SOURCES_EMPTY, ChatState, reply_markdown
from qa.webapp import ChatUI
from tests.test_webapp import FakeQA, make_answer

QUESTION = "When did the AHKFTA enter into force?"


@pytest.fixture
def ui(fake_settings: Settings) -> ChatUI:
    return ChatUI(FakeQA(fake_settings))


def fake(ui: ChatUI) -> FakeQA:
    qa = ui.qa
    assert isinstance(qa, FakeQA)
    return qa


def answered(ui: ChatUI, question: str = QUESTION) -> ChatState:
    """The state after one answered question."""
    *_, (_, _, state, _, _) = ui.submit(question, ChatState(), "extractive", 5)
    return state


def select(index: Any, value: Any) -> gr.SelectData:
    return gr.SelectData(None, {"index": index, "value": value})


def test_submit_reads_the_mode_and_top_k_of_the_controls(ui: ChatUI) -> None:
    *_, (textbox, messages, state, sources, _) = ui.submit(QUESTION, ChatState(), "extractive", 3.0)
    assert textbox == "" and len(state.exchanges) == 1 and "<mark>" in sources
    assert messages[-1]["content"] == reply_markdown(make_answer(QUESTION))
    assert fake(ui).calls[-1] == (QUESTION, (), Backend.EXTRACTIVE, 3)
    list(ui.submit(QUESTION, ChatState(), "no such mode", 2))
    assert fake(ui).calls[-1][2] == ui.settings.backend  # an unknown choice falls back to the default


def test_an_example_is_asked_as_if_typed(ui: ChatUI) -> None:
    *_, (_, _, state, _, _) = ui.pick_example(ChatState(), "extractive", 5, select(0, {"text": QUESTION}))
    assert fake(ui).calls[-1][0] == QUESTION and len(state.exchanges) == 1
    list(ui.pick_example(ChatState(), "extractive", 5, select(1, "What did Hainan sign?")))
    assert fake(ui).calls[-1][0] == "What did Hainan sign?"


def test_retry_asks_the_last_question_again_in_place_of_its_answer(ui: ChatUI) -> None:
    state = answered(ui, "And the AHKIA?")
    *_, (_, messages, again, _, _) = ui.retry(state, "extractive", 4)
    assert fake(ui).calls[-1] == ("And the AHKIA?", (), Backend.EXTRACTIVE, 4)  # without its own turn
    assert len(again.exchanges) == 1 and len(messages) == 2
    empty = list(ui.retry(ChatState(), "extractive", 4))
    assert empty == [("", [], ChatState(), SOURCES_EMPTY, INSPECTOR_EMPTY)]
    assert len(fake(ui).calls) == 2  # nothing to retry: nothing asked


def test_undo_takes_the_last_exchange_back_and_returns_its_question(ui: ChatUI) -> None:
    state = answered(ui)
    textbox, messages, earlier, sources, inspector = ui.undo(state)
    assert (textbox, messages, earlier) == (QUESTION, [], ChatState())
    assert (sources, inspector) == (SOURCES_EMPTY, INSPECTOR_EMPTY)
    assert ui.undo(ChatState()) == ("", [], ChatState(), SOURCES_EMPTY, INSPECTOR_EMPTY)


def test_clear_starts_a_new_conversation(ui: ChatUI) -> None:
    assert ui.clear() == ("", [], ChatState(), SOURCES_EMPTY, INSPECTOR_EMPTY)


def test_clicking_an_answer_shows_its_own_panels(ui: ChatUI) -> None:
    first = answered(ui)
    *_, (_, _, both, _, _) = ui.submit("And the AHKIA?", first, "extractive", 5)
    one, two = both.exchanges
    assert ui.show_answer(both, select(1, "")) == (one.sources, one.inspector)  # message 1: first answer
    assert ui.show_answer(both, select([3, 0], "")) == (two.sources, two.inspector)
    assert ui.show_answer(both, select(9, "")) == both.panels()  # out of range: the latest's


def test_uploads_are_saved_into_the_corpus_and_say_to_rebuild(ui: ChatUI, tmp_path: Path) -> None:
    src = tmp_path / "incoming" / "notes.txt"
    src.parent.mkdir()
    src.write_text("The harbour opened in 1999.\n", encoding="utf-8")
    bad = src.with_name("tool.exe")
    bad.write_bytes(b"MZ")
    box, status = ui.add_files([str(src), str(bad)])
    assert box is None  # the upload box is emptied
    assert "Added notes.txt to the corpus." in status and "Rebuild index" in status
    assert "not a supported type" in status
    assert (ui.settings.corpus_dir / "notes.txt").read_text(encoding="utf-8") == src.read_text()
    assert not (ui.settings.corpus_dir / "tool.exe").exists()
    assert ui.add_files(None)[1] == ui.add_files([])[1]  # nothing uploaded: nothing said to do


def test_rebuild_reports_progress_and_the_summary(ui: ChatUI) -> None:
    seen: list[tuple[Any, str]] = []

    def progress(value: Any, desc: str = "", **_: Any) -> None:
        seen.append((value, desc))

    documents, status = ui.rebuild_index(progress=progress)  # type: ignore[arg-type]
    assert fake(ui).rebuilds == 1
    assert "overview.txt" in documents and "<img" not in documents  # titles escaped
    assert "Index updated: 1 added" in status
    assert seen[0][0] == 0.0 and ((40, 40), "Embedding chunks") in seen and seen[-1] == (1.0, "Done")


def test_refresh_reloads_the_index_and_lists_the_documents(ui: ChatUI) -> None:
    reloaded: list[bool] = []

    def reload_if_changed() -> bool:
        reloaded.append(True)
        return True

    fake(ui).reload_if_changed = reload_if_changed  # type: ignore[method-assign]
    assert "overview.txt" in ui.refresh_documents() and reloaded == [True]


def test_the_ask_api_answers_with_the_json_of_qa_ask(ui: ChatUI) -> None:
    result = ui.ask(
        QUESTION, [{"question": "What is the AHKFTA?", "answer": "A trade agreement."}], "extractive", 2
    )
    assert result == make_answer(QUESTION, result["query"]).to_json()
    question, history, backend, top_k = fake(ui).calls[-1]
    assert (question, backend, top_k) == (QUESTION, Backend.EXTRACTIVE, 2)
    assert [t.question for t in history] == ["What is the AHKFTA?"]
    ui.ask(QUESTION)
    assert fake(ui).calls[-1][2:] == (None, None)  # the server's defaults


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None, "telepathy", None), ": choose one of auto, extractive"),
        ((None, None, 0), "top_k must be between 1 and 20, got 0."),
        (([{"answer": "no question"}], None, None), "history must be a list"),
    ],
)
def test_the_ask_api_refuses_bad_arguments_by_name(ui: ChatUI, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(gr.Error) as caught:
        ui.ask(QUESTION, *args)
    assert message in str(caught.value.message)
    assert fake(ui).calls == []


def test_the_ask_api_hides_unexpected_errors_from_the_caller(ui: ChatUI) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError(2, "No such file", "/srv/secret/path")

    fake(ui).ask = broken  # type: ignore[method-assign]
    with pytest.raises(gr.Error) as caught:
        ui.ask(QUESTION)
    assert "an unexpected FileNotFoundError" in str(caught.value.message) and "/srv" not in str(
        caught.value.message
    )


def test_build_wires_every_handler_under_its_name(ui: ChatUI) -> None:
    names = {getattr(fn, "name", "") for fn in ui.build().fns.values()}
    assert names >= {
        "submit",
        "pick_example",
        "retry",
        "undo",
        "clear",
        "show_answer",
        "add_files",
        "rebuild_index",
        "refresh_documents",
        "ask",
    }
