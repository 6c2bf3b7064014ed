"""The Gradio adapter: rendering and escaping, upload names, chat with a fake QA, and /ask under load."""

from __future__ import annotations

import socket
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from qa.condense import Turn
from qa.config import Backend, RetrievalMode, Settings
from qa.corpus import Skipped
from qa.engine import DocumentInfo
from qa.indexing import IndexSummary, ProgressHandler, SkipHandler
from qa.questions import clean_question
from qa.render import (
    DRAFT_NOTE,
    ChatState,
    chat_text,
    documents_html,
    highlight,
    inspector_html,
    reply_markdown,
    sources_html,
    summary_lines,
)
from qa.retrieval import Hit
from qa.types import NOT_FOUND, Answer, AnswerSentence, Citation, Passage, StreamEvent
from qa.uploads import UploadRejected, save_upload, upload_name
from qa.webapp import build_app, chat_turn, launch_options
from tests.conftest import make_chunk

# Gradio's queue calls a pandas API that pandas 3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*(no_silent_downcasting|copy keyword is deprecated)")
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
MB = 1024 * 1024


def _sentences(text: str) -> list[str]:
    return [part if part.endswith(".") else part + "." for part in text.split(". ")]


def make_answer(
    question: str = "When did the AHKFTA enter into force?",
    query: str | None = None,
    quote: str = "The AHKFTA entered into force on 11 June 2019.",
    title: str = "Trade overview",
    source: str = "overview.txt",
) -> Answer:
    passage = f"Talks began in 2014. {quote} Trade grew."
    chunk = make_chunk(source, title, _sentences(passage), offset=0)
    other = make_chunk("hainan.txt", "Hainan MOU", ["Hainan and the HKSAR signed an MOU."], offset=0)
    citation = Citation(1, source, title, 3, quote, 7, 0.7461, 21, 21 + len(quote), passage, locator="page 3")
    hits = (Hit(7, chunk, 0.0325, 1, 2, 0.71, 4.2), Hit(9, other, 0.0161, None, 1, 0.22, 5.0))
    return Answer(
        question=question,
        query=query or question,
        answer=f"{quote} [1]",
        abstained=False,
        citations=(citation,),
        hits=hits,
        sentences=(AnswerSentence(quote, (1,)),),
        timings_ms={"retrieve": 12.4, "answer": 3.1, "total": 15.5},
    )


def make_abstention(question: str = "Who won the 1998 World Cup?") -> Answer:
    related = (Passage("overview.txt", "Trade overview", None, "ASEAN and HKC trade grew.", 7, 0.31),)
    return Answer(question, question, NOT_FOUND, True, related=related, reason="nothing relevant")


class FakeQA:
    """Answers from a script; records what the UI asked, so tests can check history and settings."""

    def __init__(self, settings: Settings, deltas: Sequence[str] = ()) -> None:
        self._settings = settings
        self.deltas = list(deltas)
        self.draft: Answer | None = None  # auto mode: the extractive quote shown first
        self.calls: list[tuple[str, tuple[Turn, ...], Backend | None, int | None]] = []
        self.rebuilds = 0
        self.docs = [DocumentInfo("overview.txt", f"Overview {XSS_IMG}", 4, 1.7e9, None)]

    @property
    def settings(self) -> Settings:
        return self._settings

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: Backend | None = None,
        top_k: int | None = None,
        mode: RetrievalMode | None = None,
    ) -> Iterator[StreamEvent]:
        question, _ = clean_question(question, 2000)
        self.calls.append((question, tuple(history), backend, top_k))
        query = f"{history[-1].query} {question}" if history else question
        if self.draft is not None:
            yield StreamEvent("", draft=self.draft)
        for delta in self.deltas:
            yield StreamEvent(delta)
        yield StreamEvent("" if self.deltas else "x", make_answer(question, query))

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        backend: Backend | None = None,
        top_k: int | None = None,
        mode: RetrievalMode | None = None,
    ) -> Answer:
        *_, last = self.stream(question, history, backend, top_k, mode)
        assert last.answer is not None
        return last.answer

    def documents(self) -> list[DocumentInfo]:
        return list(self.docs)

    def rebuild(
        self,
        full: bool = False,
        on_skip: SkipHandler | None = None,
        on_progress: ProgressHandler | None = None,
    ) -> IndexSummary:
        self.rebuilds += 1
        if on_progress is not None:
            on_progress(40, 40)
        return IndexSummary(1, 0, 0, 5, 40, 0.5)

    def reload_if_changed(self) -> bool:
        return False


@pytest.fixture
def fake_qa(fake_settings: Settings) -> FakeQA:
    return FakeQA(fake_settings)


# --- Rendering and escaping -------------------------------------------------------------------------------


def test_sources_panel_shows_number_title_file_page_score_and_highlighted_quote() -> None:
    html = sources_html(make_answer())
    assert 'class="qa-num">1<' in html
    assert "Trade overview" in html
    assert "overview.txt, page 3" in html
    assert "score 0.75" in html
    assert (
        "Talks began in 2014. <mark>The AHKFTA entered into force on 11 June 2019.</mark> Trade grew." in html
    )
    assert "Searched for" not in html  # the question was searched as asked


def test_sources_panel_shows_the_searched_query_of_a_follow_up() -> None:
    answer = make_answer("And the AHKIA?", query="When did the AHKFTA enter into force? the AHKIA")
    assert "Searched for: <q>When did the AHKFTA enter into force? the AHKIA</q>" in sources_html(answer)
    assert "_Searched for: “When did the AHKFTA enter into force? the AHKIA”_" in reply_markdown(answer)


def test_abstention_is_shown_as_such_with_related_passages() -> None:
    answer = make_abstention()
    assert reply_markdown(answer).startswith(f"**{NOT_FOUND}**")
    html = sources_html(answer)
    assert NOT_FOUND in html
    assert "Possibly related passages" in html
    assert "ASEAN and HKC trade grew." in html


def test_document_text_titles_and_names_are_escaped_everywhere() -> None:
    quote = f"The tag {XSS_SCRIPT} greets & {XSS_IMG} waves."
    answer = make_answer(
        question=f"What is {XSS_IMG}?",
        query=f"What is {XSS_SCRIPT}?",
        quote=quote,
        title=f"Title {XSS_IMG}",
        source=f"x{XSS_SCRIPT}.txt",
    )
    rendered = [sources_html(answer), inspector_html(answer), reply_markdown(answer)]
    rendered.append(documents_html([DocumentInfo(f"{XSS_IMG}.txt", f"T {XSS_SCRIPT}", 1, 0.0, None)]))
    rendered += [m["content"] for m in ChatState().messages(pending=f"Q {XSS_IMG}")]
    for html in rendered:
        assert "<script" not in html and "<img" not in html, html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered[0]
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered[0]
    assert 'data-n="1"' in rendered[0]  # our own markup is intact


def test_chat_text_defuses_markdown_links_but_keeps_citation_markers() -> None:
    text = chat_text("See [here](javascript:alert(1)) and ![x](http://e/x.png) <b>hi</b> [1] [12]")
    assert "See \\[here\\](javascript:alert(1))" in text  # escaped brackets: text, not a link
    assert "!\\[x\\](http" in text
    assert "&lt;b&gt;hi&lt;/b&gt;" in text
    assert text.endswith("[1] [12]")
    assert chat_text("[1]: http://evil.example") == "\\[1\\]: http://evil.example"


def test_highlight_marks_the_quote_inside_its_passage_or_shows_the_passage_plainly() -> None:
    assert highlight("A <b>. B.", "B.") == "A &lt;b&gt;. <mark>B.</mark>"
    assert highlight("A. B.", "C.") == "A. B."


def test_inspector_lists_every_hit_with_ranks_fused_score_cited_and_timings() -> None:
    html = inspector_html(make_answer())
    assert html.count("<tr class=") == 2
    assert "<td>1</td><td>2</td><td>0.0325</td>" in html
    assert "<td>–</td><td>1</td><td>0.0161</td>" in html  # not found by dense search
    assert "yes [1]" in html and ">no</td>" in html
    assert "retrieve 12 ms" in html and "total 16 ms" in html


def test_reply_shows_notices_and_unsupported_sentences() -> None:
    answer = replace(
        make_answer(),
        notice="The openai backend is not configured; answered extractively.",
        sentences=(AnswerSentence("Made up.", (1,), verified=False, reason="no support"),),
    )
    text = reply_markdown(answer)
    assert "_Note: The openai backend is not configured; answered extractively._" in text
    assert "Not supported by the cited sources: Made up." in text


def test_documents_table_and_rebuild_summary() -> None:
    docs = [DocumentInfo("report.pdf", "Annual report", 12, 1.7e9, 30)]
    html = documents_html(docs)
    assert "1 documents, 12 chunks" in html and "Annual report" in html and "<td>30</td>" in html
    assert "No documents are indexed yet" in documents_html([])
    summary = IndexSummary(1, 0, 0, 5, 40, 0.5, skipped=(Skipped("bad.pdf", "corrupt or unreadable PDF"),))
    lines = summary_lines(summary)
    assert lines[0].startswith("Index updated: 1 added, 0 updated, 0 removed, 5 unchanged; 40 chunks")
    assert lines[1] == "Skipped bad.pdf: corrupt or unreadable PDF"


# --- Chat loop --------------------------------------------------------------------------------------------


def run_turn(qa: FakeQA, question: str, state: ChatState, top_k: int = 5) -> list[Any]:
    return list(chat_turn(qa, question, state, Backend.EXTRACTIVE, top_k))


def test_auto_shows_the_quote_marked_as_such_until_the_reader_writes(fake_qa: FakeQA) -> None:
    fake_qa.draft = make_answer("q", "q")
    fake_qa.deltas = ["Written ", "answer [1]."]
    outputs = list(chat_turn(fake_qa, "When did the AHKFTA enter into force?", ChatState(), Backend.AUTO, 5))
    shown = [o[1][-1]["content"] for o in outputs if len(o[1]) == 2]
    assert shown[0].startswith(DRAFT_NOTE) and "11 June 2019" in shown[0]
    assert shown[1].strip() == "Written" and DRAFT_NOTE not in shown[-1]  # replaced as soon as text streams


def test_a_quoted_list_stays_inside_the_draft_quote() -> None:
    from dataclasses import replace

    from qa.render import draft_markdown

    listed = replace(make_answer(), answer="Held in:\n- Bangkok, 2019\n- Vientiane, 2016 [1]")
    shown = draft_markdown(listed)
    assert shown.startswith(DRAFT_NOTE)
    assert shown.splitlines()[-3:] == ["> Held in:", "> - Bangkok, 2019", "> - Vientiane, 2016 [1]"]


def test_chat_turn_answers_and_passes_history_for_follow_ups(fake_qa: FakeQA) -> None:
    outputs = run_turn(fake_qa, "When did the AHKFTA enter into force?", ChatState(), top_k=3)
    textbox, messages, state, sources, inspector = outputs[-1]
    assert textbox == ""
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert "[1]" in messages[1]["content"]
    assert "<mark>" in sources and "qa-table" in inspector
    assert fake_qa.calls[-1] == ("When did the AHKFTA enter into force?", (), Backend.EXTRACTIVE, 3)

    *_, (_, messages, state2, sources, _) = run_turn(fake_qa, "And the AHKIA?", state)
    assert fake_qa.calls[1][1] == (state.exchanges[0].turn,)
    assert "Searched for" in messages[-1]["content"] and "Searched for" in sources
    assert len(state2.exchanges) == 2 and len(state.exchanges) == 1  # states are values, never shared


def test_chat_turn_streams_generated_text_before_the_final_answer(fake_settings: Settings) -> None:
    qa = FakeQA(fake_settings, deltas=["The AHKFTA ", "entered into force ", "<b>in 2019</b>."])
    outputs = run_turn(qa, "When?", ChatState())
    partials = [o[1][-1]["content"] for o in outputs[1:-1]]
    assert partials == [
        "The AHKFTA ",
        "The AHKFTA entered into force ",
        "The AHKFTA entered into force &lt;b&gt;in 2019&lt;/b&gt;.",
    ]
    # The finished answer replaces the streamed text (a repaired or fallen-back answer may differ).
    assert outputs[-1][1][-1]["content"] == reply_markdown(make_answer("When?"))


def test_empty_question_asks_nothing(fake_qa: FakeQA) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outputs = run_turn(fake_qa, "   ", ChatState())
    assert fake_qa.calls == []
    assert outputs[-1][2] == ChatState()
    assert any("Type a question" in str(w.message) for w in caught)


def test_build_app_takes_a_fake_qa(fake_qa: FakeQA) -> None:
    app = build_app(fake_qa)
    assert any(fn.api_name == "ask" for fn in app.fns.values())


def test_title_and_header_name_the_corpus(fake_qa: FakeQA, tmp_path: Path) -> None:
    fake_qa._settings = replace(fake_qa.settings, corpus_dir=tmp_path / "asean_trade-notes")
    assert build_app(fake_qa).title == "Asean trade notes · Document Q&A"  # the folder's name by default
    fake_qa._settings = replace(fake_qa.settings, corpus_name=f"Trade {XSS_SCRIPT}")
    app = build_app(fake_qa)
    assert app.title == f"Trade {XSS_SCRIPT} · Document Q&A"  # a page title is text, not markup
    header = next(str(v) for b in app.blocks.values() if "qa-header" in str(v := getattr(b, "value", "")))
    assert "<h1>Trade &lt;script&gt;alert(1)&lt;/script&gt;</h1>" in header


# --- Uploads ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notes.txt", "notes.txt"),
        ("Report 2025.PDF", "Report 2025.pdf"),
        ("../../x.txt", "x.txt"),
        ("/etc/passwd.md", "passwd.md"),
        ("C:\\Users\\me\\page.html", "page.html"),
        ("a<b>:c?.txt", "a_b__c_.txt"),
        ("nul\x00byte.txt", "nul_byte.txt"),
    ],
)
def test_upload_name_keeps_only_a_safe_last_component(name: str, expected: str) -> None:
    assert upload_name(name, 100, [], 20 * MB) == expected


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [
        (".hidden.txt", 100, "hidden"),
        ("../.env.md", 100, "hidden"),
        ("..", 100, "no file name"),
        ("", 100, "no file name"),
        ("setup.exe", 100, "not a supported type"),
        ("notes.txt.sh", 100, "not a supported type"),
        ("noextension", 100, "not a supported type"),
        (" .txt", 100, "hidden"),
        ("big.pdf", 20 * MB + 1, "the limit is"),
        ("empty.txt", 0, "empty"),
    ],
)
def test_upload_name_refuses_what_cannot_be_indexed(name: str, size: int, message: str) -> None:
    with pytest.raises(UploadRejected, match=message):
        upload_name(name, size, [], 20 * MB)


def test_upload_name_never_overwrites_an_existing_name() -> None:
    assert upload_name("x.txt", 1, ["x.txt"], MB) == "x-2.txt"
    assert upload_name("X.TXT", 1, ["x.txt", "x-2.txt"], MB) == "X-3.txt"


def test_save_upload_writes_inside_the_corpus_only(tmp_path: Path) -> None:
    corpus = tmp_path / "deep" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "x.txt").write_text("original")
    src = tmp_path / "upload.bin"
    src.write_text("new text")
    assert save_upload(src, "../../x.txt", corpus, MB) == "x-2.txt"
    assert (corpus / "x.txt").read_text() == "original"
    assert (corpus / "x-2.txt").read_text() == "new text"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "upload.bin"]
    with pytest.raises(UploadRejected):
        save_upload(src, "x.exe", corpus, MB)


# --- The running app with the real model ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def app_url(real_qa: Any) -> Iterator[str]:
    app = build_app(real_qa)
    app.launch(
        **launch_options(real_qa.settings),
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
    )
    try:
        yield str(app.local_url)
    finally:
        app.close()


@pytest.mark.slow
def test_ask_endpoint_serves_20_concurrent_clients(app_url: str, real_qa: Any) -> None:
    from gradio_client import Client

    questions = [
        "When did the AHKFTA enter into force?",
        "What was the value of ASEAN-Hong Kong, China trade in 2024?",
        "What did Hainan and the HKSAR sign?",
        "How much FDI flowed from Hong Kong, China into ASEAN in 2024?",
    ]

    def call(i: int) -> tuple[dict[str, Any], float]:
        client = Client(app_url, verbose=False)
        started = time.perf_counter()
        result = client.predict(questions[i % len(questions)], api_name="/ask")
        return result, time.perf_counter() - started

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(call, range(20)))
    for i, (result, _) in enumerate(results):
        assert result["question"] == questions[i % len(questions)]
        assert result["citations"], result
        assert "[1]" in result["answer"]
        assert set(result) >= {"query", "abstained", "retrieved", "timings_ms"}
    expected = real_qa.ask(questions[0]).to_json()
    assert results[0][0]["answer"] == expected["answer"]  # the same object as `qa ask --json`


@pytest.mark.slow
def test_ask_endpoint_takes_a_history_a_mode_and_top_k(app_url: str) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    first = client.predict("What did Hainan and the HKSAR sign?", api_name="/ask")
    history = [{"question": first["question"], "answer": first["answer"]}]
    follow = client.predict("When was it signed?", history, "extractive", 2, api_name="/ask")
    assert follow["query"] == "When was it signed? Hainan HKSAR sign"  # read as a follow-up
    assert follow["citations"][0]["source"] == "hainan-hksar-mou.txt" and "2025" in follow["answer"]
    assert follow["backend"] == "extractive" and len(follow["retrieved"]) == 2
    alone = client.predict("When was it signed?", api_name="/ask")  # no history: the question on its own
    assert alone["query"] == "When was it signed?"
    with pytest.raises(AppError, match="choose one of auto, extractive"):
        client.predict("What is RCEP?", None, "telepathy", None, api_name="/ask")
    with pytest.raises(AppError, match="top_k must be between 1 and"):
        client.predict("What is RCEP?", None, None, 0, api_name="/ask")
    with pytest.raises(AppError, match="history must be a list"):
        client.predict("What is RCEP?", [{"answer": "no question"}], api_name="/ask")


@pytest.mark.slow
def test_ask_endpoint_refuses_an_empty_question_clearly(app_url: str) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="The question is empty"):
        Client(app_url, verbose=False).predict("   ", api_name="/ask")
