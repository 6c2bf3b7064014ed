"""The auto backend: evidence selection, the reader flow, abstention, fallbacks, cards and list quotes.

A scripted generator stands in for the local model and the FakeEmbedder for the real one, so these run in
well under a second each; the real model's behaviour is measured by `qa eval --backend auto` instead.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from qa import generation
from qa.answering import Candidate, compose
from qa.cards import CARD_HEADING, catalogue_sentence, document_card
from qa.chunking import Sentence, split_sentences
from qa.config import Backend, Settings
from qa.corpus import Document
from qa.engine import QA
from qa.generation import Focus, GenerationBusy, GenerationError
from qa.indexing import build_index
from qa.retrieval import Hit
from qa.types import NOT_FOUND, Answer, AnswerSentence, Citation
from tests.conftest import AGREEMENT, FakeEmbedder, make_chunk, make_hits

SUPPORTED = "The ASEAN-Hong Kong, China Free Trade Agreement entered into force on 11 June 2019 [1]."
INVENTED = "About 4,000 companies used the agreement in its first year [1]."


class ScriptedGenerator:
    """Streams `reply` word by word; keeps every prompt; raises `error` instead when set."""

    def __init__(self, reply: str = SUPPORTED, error: Exception | None = None) -> None:
        self.reply, self.error = reply, error
        self.prompts: list[list[dict[str, str]]] = []

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        self.prompts.append(messages)
        if self.error is not None:
            raise self.error
        yield from re.findall(r"\S+\s*", self.reply)


class DoubtingGenerator(ScriptedGenerator):
    """A scripted generator that can be probed: it reports `doubt` as the probability of its opening."""

    def __init__(self, reply: str = SUPPORTED, doubt: float = 0.0) -> None:
        super().__init__(reply)
        self.doubt = doubt
        self.openings: list[str] = []

    def stream_probed(
        self, messages: list[dict[str, str]], max_tokens: int, opening: str, report: Callable[[float], None]
    ) -> Iterator[str]:
        self.openings.append(opening)
        report(self.doubt)
        return self.stream(messages)


def read(
    hits: list[Hit],
    extractive: Answer,
    generator: generation.Generator | None,
    focus: list[Focus] | None = None,
    settings: Settings | None = None,
) -> Answer:
    focus = focus if focus is not None else [Focus(h, i) for h in hits for i in range(len(h.chunk.sentences))]
    events = list(
        generation.read(
            "q?", "q?", hits, focus, settings or Settings(), FakeEmbedder(), extractive, generator, "no model"
        )
    )
    final = events[-1].answer
    assert final is not None and all(e.answer is None for e in events[:-1])
    return final


# --- which sentences the model is shown ---------------------------------------------------------------------


def test_evidence_is_the_best_sentences_then_their_neighbours_within_the_budget() -> None:
    a = make_chunk("a.txt", "A", tuple(f"Sentence a{i} is here." for i in range(10)))
    b = make_chunk("b.txt", "B", tuple(f"Sentence b{i} is here." for i in range(4)))
    hit_a, hit_b = make_hits(a, b)
    focus = [Focus(hit_a, 4), Focus(hit_b, 0), Focus(hit_a, 9)]
    count = FakeEmbedder().count_tokens
    per = count(["Sentence a0 is here."])[0]
    title = count(["A"])[0] + generation.prompts.PASSAGE_TOKENS

    passages = generation.evidence_passages(focus, count, 2 * title + 6 * per, max_focus=3, neighbours=1)
    assert [(p.hit.chunk.doc_path, [s.text[9:11] for s in p.sentences]) for p in passages] == [
        ("a.txt", ["a3", "a4", "a5", "a9"]),  # a9's neighbour a8 comes after b0's b1: out of budget
        ("b.txt", ["b0", "b1"]),
    ]
    # The best sentence is kept even when nothing fits.
    assert [len(p.sentences) for p in generation.evidence_passages(focus, count, 1, 3, 1)] == [1]


def test_a_sentence_that_introduces_a_list_brings_its_items() -> None:
    intro = "The programme covers these areas:"
    items = ("- Customs", "- Logistics", "- E-commerce")
    chunk = make_chunk("a.txt", "A", ("It started in 2020.", intro, *items, "It ends in 2025."))
    sentences = tuple(
        Sentence(s.start, s.end, s.text, context=s.text.startswith("-")) for s in chunk.sentences
    )
    (hit,) = make_hits(type(chunk)(**{**chunk.__dict__, "sentences": sentences}))
    passages = generation.evidence_passages([Focus(hit, 1)], FakeEmbedder().count_tokens, 500, 3, 0)
    assert [s.text for s in passages[0].sentences] == [intro, *items]


def test_a_list_of_full_sentences_comes_before_the_neighbours() -> None:
    """Items that are sentences of their own (not short context lines) are the list too, and the list takes
    the budget before the neighbours of the other best sentences do."""
    intro = "Several themes are found reappearing consistently:"
    items = (
        "- ASEAN is portrayed as a field yet to be explored by firms.",
        "- The city is portrayed as delivering benefits to its partners.",
    )
    texts = ("The method was content analysis.", "It used 19 documents.", intro, *items)
    (hit,) = make_hits(make_chunk("a.txt", "A", texts))
    count = FakeEmbedder().count_tokens
    title = count(["A"])[0] + generation.prompts.PASSAGE_TOKENS
    budget = title + sum(count([t])[0] for t in (texts[0], intro, *items))
    passages = generation.evidence_passages([Focus(hit, 0), Focus(hit, 2)], count, budget, 3, 1)
    assert [s.text for s in passages[0].sentences] == [texts[0], intro, *items]


# --- the reader flow ---------------------------------------------------------------------------------------


def test_a_verified_answer_cites_the_sentence_it_came_from(hits: list[Hit], extractive: Answer) -> None:
    generator = ScriptedGenerator()
    answer = read(hits, extractive, generator)
    assert answer.backend == "auto" and not answer.abstained and not answer.notice
    assert answer.answer == f"{AGREEMENT[0]} [1]"  # markers move after the full stop
    assert answer.citations[0].quote == AGREEMENT[0]
    system, user = generator.prompts[0]
    assert "reply exactly" in system["content"] and NOT_FOUND in system["content"]
    assert AGREEMENT[0] in user["content"] and "Question: q?" in user["content"]


def test_the_answer_is_verified_as_an_answer_to_its_question(hits: list[Hit], extractive: Answer) -> None:
    # "bilateral pact" and "take effect" are the question's words, not the passage's: an answer may repeat
    # them. Checked on its own, the sentence has three content words the passage lacks and is left out.
    question = "When did the ASEAN-Hong Kong, China bilateral pact take effect?"
    reply = "The ASEAN-Hong Kong, China bilateral pact took effect on 11 June 2019 [1]."
    focus = [Focus(h, i) for h in hits for i in range(len(h.chunk.sentences))]

    def answer_to(query: str) -> Answer:
        events = generation.read(
            query, query, hits, focus, Settings(), FakeEmbedder(), extractive, ScriptedGenerator(reply)
        )
        final = list(events)[-1].answer
        assert final is not None
        return final

    asked = answer_to(question)
    assert asked.backend == "auto" and asked.answer.startswith("The ASEAN-Hong Kong, China bilateral pact")
    assert asked.citations[0].quote == AGREEMENT[0]
    unasked = answer_to("q?")
    assert unasked.notice.startswith("The local model's answer could not be checked")  # the quote instead
    assert unasked.answer == extractive.answer


def test_unsupported_sentences_are_left_out_of_the_answer(hits: list[Hit], extractive: Answer) -> None:
    answer = read(hits, extractive, ScriptedGenerator(f"{SUPPORTED} {INVENTED}"))
    assert answer.answer == f"{AGREEMENT[0]} [1]"
    left_out = [s for s in answer.sentences if not s.verified]
    assert len(left_out) == 1 and "4,000" in left_out[0].text and left_out[0].citations == ()


def test_an_answer_with_no_supported_sentence_is_an_abstention(hits: list[Hit], extractive: Answer) -> None:
    nothing = dataclasses.replace(extractive, answer=NOT_FOUND, abstained=True)
    answer = read(hits, nothing, ScriptedGenerator(INVENTED))
    assert answer.abstained and answer.answer == NOT_FOUND and not answer.citations
    assert answer.related and "no sentence" in answer.reason
    assert answer.sentences == ()  # an abstention shows no warnings, only the closest passages


def test_an_unsupported_answer_gives_way_to_the_quote_when_there_is_one(
    hits: list[Hit], extractive: Answer
) -> None:
    answer = read(hits, extractive, ScriptedGenerator(INVENTED))
    assert answer.answer == extractive.answer and "could not be checked" in answer.notice


def test_a_value_the_passages_lack_is_an_abstention_for_a_question_asking_for_it(
    hits: list[Hit], extractive: Answer
) -> None:
    """Asked "When ...?", the model wrote a date no passage has: it looked for the value and did not find
    it, so the quote (some other date) is not shown. A question that asks for no value keeps the quote."""
    wrong = "The agreement entered into force on 9 May 2031 [1]."
    when = "When did the agreement enter into force?"
    focus = [Focus(h, i) for h in hits for i in range(len(h.chunk.sentences))]
    events = generation.read(
        when, when, hits, focus, Settings(), FakeEmbedder(), extractive, ScriptedGenerator(wrong)
    )
    final = list(events)[-1].answer
    assert final is not None and final.abstained
    assert final.reason == "the local model gave a value the passages do not have"
    answer = read(hits, extractive, ScriptedGenerator(wrong))  # "q?" asks for no value
    assert not answer.abstained and answer.answer == extractive.answer
    # "12 June 2019" against the quote's "11 June 2019" misreads the quote's value: the quote stands.
    misread = "The agreement entered into force on 12 June 2019 [1]."
    events = generation.read(
        when, when, hits, focus, Settings(), FakeEmbedder(), extractive, ScriptedGenerator(misread)
    )
    final = list(events)[-1].answer
    assert final is not None and not final.abstained and final.answer == extractive.answer


def test_quotes_that_add_facts_follow_the_written_answer(hits: list[Hit]) -> None:
    quote = Citation(1, "ahkfta.txt", "A", None, AGREEMENT[2], 0, 1.0, 0, 1, " ".join(AGREEMENT))
    extractive = Answer(
        "q", "q", f"{AGREEMENT[2]} [1]", False, (quote,), sentences=(AnswerSentence(AGREEMENT[2], (1,)),)
    )
    answer = read(hits, extractive, ScriptedGenerator())
    assert answer.answer == f"{AGREEMENT[0]} [1] “{AGREEMENT[2]}” [2]"  # 2024 is not in the written answer
    assert [c.n for c in answer.citations] == [1, 2] and answer.sentences[-1].quoted
    same = dataclasses.replace(quote, quote=AGREEMENT[0])
    answer = read(hits, dataclasses.replace(extractive, citations=(same,)), ScriptedGenerator())
    assert answer.answer == f"{AGREEMENT[0]} [1]"  # a quote the answer already says is not repeated
    # The answer cites the quote's sentence but leaves out its date: the quote is shown, under its number.
    terse = "The ASEAN-Hong Kong, China Free Trade Agreement entered into force [1]."
    answer = read(hits, dataclasses.replace(extractive, citations=(same,)), ScriptedGenerator(terse))
    assert answer.answer == f"{terse[:-5]}. [1] “{AGREEMENT[0]}” [1]"
    assert len(answer.citations) == 1 and answer.sentences[-1].quoted
    # A question for a date, number or name is answered by the sentence that gives it: no second telling.
    when = "When did the agreement enter into force?"
    events = generation.read(
        when,
        when,
        hits,
        [Focus(h, i) for h in hits for i in range(len(h.chunk.sentences))],
        Settings(),
        FakeEmbedder(),
        dataclasses.replace(extractive, citations=(same,)),
        ScriptedGenerator(terse),
    )
    final = list(events)[-1].answer
    assert final is not None and final.answer == f"{terse[:-5]}. [1]"


def test_not_found_from_the_model_is_an_abstention(hits: list[Hit], extractive: Answer) -> None:
    answer = read(hits, extractive, ScriptedGenerator(NOT_FOUND))
    assert answer.abstained and answer.reason == "the local model found no answer in the passages"


def test_a_reply_that_gives_the_value_as_unknown_is_an_abstention(
    hits: list[Hit], extractive: Answer
) -> None:
    """ "The article was published by unknown news outlet. [1]" is the model's "not found" in other words;
    a sentence that gives a fact beside such a one is an answer, and verified as one."""
    answer = read(
        hits, extractive, ScriptedGenerator("The article was published by unknown news outlet. [1]")
    )
    assert answer.abstained and answer.reason == "the local model found no answer in the passages"
    unclear = "The date is not specified in the passages. Who signed it remains unclear. [1]"
    assert read(hits, extractive, ScriptedGenerator(unclear)).abstained
    mixed = f"{AGREEMENT[0]} [1] The exact venue is not specified. [1]"
    assert not read(hits, extractive, ScriptedGenerator(mixed)).abstained


def test_a_reply_of_passage_numbers_only_is_not_a_not_found(hits: list[Hit], extractive: Answer) -> None:
    """The model sometimes writes only "[1] [2]" from passages that hold the answer: no words, no "not
    found". The quote stands (an abstention only where there is none)."""
    answer = read(hits, extractive, ScriptedGenerator("[1] [2]"))
    assert not answer.abstained and answer.answer == extractive.answer
    assert answer.notice == "The local model wrote no answer; showing the sentences that match."
    nothing = dataclasses.replace(extractive, answer=NOT_FOUND, abstained=True)
    answer = read(hits, nothing, ScriptedGenerator("[1] [2]"))
    assert answer.abstained and answer.reason.startswith("the local model wrote no answer")


def test_a_doubting_model_abstains_even_when_it_writes_an_answer(hits: list[Hit], extractive: Answer) -> None:
    """The probability it gave the not-found reply decides too: at or over the setting, no answer."""
    settings = Settings(reader_doubt=0.4)
    doubting = DoubtingGenerator(SUPPORTED, doubt=0.45)
    answer = read(hits, extractive, doubting, settings=settings)
    assert doubting.openings == [NOT_FOUND]
    assert answer.abstained and answer.answer == NOT_FOUND and answer.related
    assert "doubts" in answer.reason and "45%" in answer.reason and answer.doubt == 0.45

    sure = read(hits, extractive, DoubtingGenerator(SUPPORTED, doubt=0.35), settings=settings)
    assert not sure.abstained and sure.answer == f"{AGREEMENT[0]} [1]" and sure.doubt == 0.35
    assert sure.to_json()["doubt"] == 0.35
    off = read(
        hits, extractive, DoubtingGenerator(SUPPORTED, doubt=0.99), settings=Settings(reader_doubt=1.0)
    )
    assert not off.abstained  # 1 turns the check off: only a written "not found" abstains


def test_a_generator_that_cannot_be_probed_is_judged_by_what_it_writes(
    hits: list[Hit], extractive: Answer
) -> None:
    answer = read(hits, extractive, ScriptedGenerator(), settings=Settings(reader_doubt=0.0))
    assert not answer.abstained and answer.doubt is None


@pytest.mark.parametrize(
    ("generator", "notice"),
    [
        (None, "no model; this answer quotes the documents instead."),
        (ScriptedGenerator(error=GenerationBusy("busy for 10 s")), "busy for 10 s; this answer quotes"),
        (ScriptedGenerator(error=GenerationError("no complete answer within 60 s")), "local model failed"),
        (ScriptedGenerator(error=RuntimeError("bug")), "RuntimeError: bug"),
    ],
)
def test_without_a_working_model_the_extractive_answer_stands_with_a_notice(
    hits: list[Hit], extractive: Answer, generator: ScriptedGenerator | None, notice: str
) -> None:
    answer = read(hits, extractive, generator)
    assert answer.answer == extractive.answer and answer.backend == "extractive"
    assert notice in answer.notice


# --- through the engine ------------------------------------------------------------------------------------


@pytest.fixture
def indexed(fake_settings: Settings, fake_embedder: FakeEmbedder) -> Settings:
    build_index(fake_settings, fake_embedder)
    return fake_settings


def test_auto_shows_the_quote_first_then_the_verified_answer(
    indexed: Settings, fake_embedder: FakeEmbedder
) -> None:
    qa = QA(indexed, embedder=fake_embedder, generator=ScriptedGenerator(NOT_FOUND))
    events = list(qa.stream("When did the AHKFTA enter into force?", backend=Backend.AUTO))
    assert events[0].draft is not None and events[0].draft.backend == "extractive"
    assert not events[0].draft.abstained and "2019" in events[0].draft.answer
    final = events[-1].answer
    assert final is not None and final.abstained and final.backend == "auto"
    assert "first_token" in final.timings_ms


def test_a_dated_event_keeps_its_quote_when_the_model_finds_nothing(
    indexed: Settings, fake_embedder: FakeEmbedder
) -> None:
    """The quote writes the date the question asks about: the model's "not found" does not overrule it."""
    qa = QA(indexed, embedder=fake_embedder, generator=ScriptedGenerator(NOT_FOUND))
    answer = qa.ask("What happened on 19 September 2025?", backend=Backend.AUTO)
    assert not answer.abstained and answer.backend == "extractive"
    assert "19 September 2025" in answer.citations[0].quote and "found no answer" in answer.notice


def test_a_dated_event_keeps_its_quote_when_the_model_doubts_it(
    indexed: Settings, fake_embedder: FakeEmbedder
) -> None:
    qa = QA(indexed.replace(reader_doubt=0.3), embedder=fake_embedder, generator=DoubtingGenerator(doubt=0.9))
    answer = qa.ask("What happened on 19 September 2025?", backend=Backend.AUTO)
    assert not answer.abstained and "19 September 2025" in answer.citations[0].quote
    assert answer.doubt is None  # it decided nothing


def test_a_question_about_a_document_is_answered_from_its_card_without_the_model(
    indexed: Settings, fake_embedder: FakeEmbedder
) -> None:
    generator = ScriptedGenerator(SUPPORTED)
    qa = QA(indexed, embedder=fake_embedder, generator=generator)
    answer = qa.ask("Who wrote the poster?", backend=Backend.AUTO)
    assert not answer.abstained and "Holden and Alison" in answer.citations[0].quote
    assert generator.prompts == []


def test_a_question_naming_what_no_document_has_never_reaches_the_model(
    indexed: Settings, fake_embedder: FakeEmbedder
) -> None:
    generator = ScriptedGenerator(SUPPORTED)
    qa = QA(indexed, embedder=fake_embedder, generator=generator)
    answer = qa.ask("What did the AHKFTA change in 1987?", backend=Backend.AUTO)
    assert answer.abstained and "1987" in answer.reason
    assert generator.prompts == []


def test_the_default_backend_is_auto_and_one_local_model_serves_auto_and_llamacpp(
    indexed: Settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    assert Settings().backend is Backend.AUTO
    settings = indexed.replace(llm_model_dir=tmp_path / "no-models")
    qa = QA(settings, embedder=fake_embedder)
    generator, problem = qa.generator(Backend.AUTO)
    assert generator is None and "not installed" in problem and str(tmp_path) not in problem
    answer = qa.ask("When did the AHKFTA enter into force?", backend=Backend.AUTO)
    assert not answer.abstained and answer.backend == "extractive"
    assert "quotes the documents" in answer.notice


def test_one_generator_is_shared_by_concurrent_questions(
    indexed: Settings, fake_embedder: FakeEmbedder
) -> None:
    generator = ScriptedGenerator()
    qa = QA(indexed, embedder=fake_embedder, generator=generator)
    answers: list[Answer] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                qa.ask("When did the AHKFTA enter into force?", backend=Backend.AUTO)
            )
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 4 and len(generator.prompts) == 4


# --- document cards and what is never quoted ----------------------------------------------------------------


def test_every_document_gets_a_card_with_its_catalogue_entry_and_lead(
    indexed: Settings, fake_embedder: FakeEmbedder
) -> None:
    qa = QA(indexed, embedder=fake_embedder)
    cards = [c for c in qa.store.chunks.values() if c.heading == CARD_HEADING]
    assert len(cards) == len(qa.documents())
    poster = next(c for c in cards if c.doc_path == "hk-asean-trade-imbalance-poster.md")
    assert "is a research poster by Holden and Alison" in poster.sentences[0].text
    assert len(poster.sentences) > 1 and not any(s.context for s in poster.sentences)


def test_a_card_quotes_the_lead_sentences_exactly() -> None:
    text = "# Title\n\nThe first sentence. The second one.\n\nA later paragraph."
    doc = Document("d.md", "Title", text, "x", origin={"kind": "report", "publisher": "Acme"})
    card = document_card(doc, FakeEmbedder().count_tokens, 256)
    assert card is not None
    assert card.sentences[0].text == catalogue_sentence(doc) == "“Title” is a report, published by Acme."
    for s in card.sentences[1:]:
        assert text[s.start : s.end] == s.text


def test_bibliography_entries_and_captions_are_never_answers() -> None:
    text = (
        "Trade fell by 5% in 2024 as demand weakened.\n\n"
        "FIGURE 1. HONG KONG'S TRADE WITH ASEAN\n\n"
        "EXPORT DEPENDENCE ON HONG KONG: TOP 6 PARTNERS IN 2024\n\n"
        "- HONG KONG RELIES MORE ON ASEAN THAN VICE VERSA.\n\n"
        "Hong Kong Census and Statistics Department. (2024). Hong Kong - ASEAN Trade Relationship. "
        "As cited in HKTDC Research, 2024.\n\n"
        "Smith, J. (2021). Trade Flows in Asia. Retrieved from https://example.org/trade"
    )
    sentences = split_sentences(Document("p.md", "P", text, "x"))
    answers = [s.text for s in sentences if not s.context]
    # A line in capitals is a caption unless it ends with a stop, as a poster's key findings do.
    assert answers == [
        "Trade fell by 5% in 2024 as demand weakened.",
        "- HONG KONG RELIES MORE ON ASEAN THAN VICE VERSA.",
    ]


def test_a_quote_that_answers_the_sentence_before_it_carries_that_sentence() -> None:
    """ "In response, ..." says what was done; the sentence before says why: a why-question needs both."""
    texts = ("Exports fell in 2023.", "Tariffs rose in May.", "In response, the city cut fees.", "Done.")
    (hit,) = make_hits(make_chunk("a.txt", "A", texts))
    cand = Candidate(1, hit, 2, 0.9, 1.0, True, 1.0, np.zeros(4, dtype=np.float32), frozenset())
    _, citations, _ = compose([cand])
    assert citations[0].quote == "Tariffs rose in May. In response, the city cut fees."
    alone = Candidate(1, hit, 1, 0.9, 1.0, True, 1.0, np.zeros(4, dtype=np.float32), frozenset())
    assert compose([alone])[1][0].quote == "Tariffs rose in May."  # a sentence that stands alone, alone


def test_a_quote_that_adds_a_point_carries_the_point_before_it() -> None:
    """ "Additionally, ..." is the argument's second point; the sentence before it is the first."""
    texts = ("Tech is no edge.", "Singapore is a hub.", "Additionally, Grab serves the region.", "Done.")
    (hit,) = make_hits(make_chunk("a.txt", "A", texts))
    cand = Candidate(1, hit, 2, 0.9, 1.0, True, 1.0, np.zeros(4, dtype=np.float32), frozenset())
    assert compose([cand])[1][0].quote == "Singapore is a hub. Additionally, Grab serves the region."


def test_a_quote_that_introduces_a_list_carries_the_list() -> None:
    texts = ("It started in 2020.", "Completed projects are as follows:", "- Customs", "- Logistics", "Done.")
    chunk = make_chunk("a.txt", "A", texts)
    # List lines are context, one line break apart (make_chunk leaves one character between sentences).
    sentences = tuple(
        Sentence(x.start, x.end, x.text, context=x.text.startswith("-")) for x in chunk.sentences
    )
    (hit,) = make_hits(type(chunk)(**{**chunk.__dict__, "sentences": sentences}))
    vector = np.zeros(4, dtype=np.float32)
    cand = Candidate(1, hit, 1, 0.9, 1.0, True, 1.0, vector, frozenset())
    text, citations, _ = compose([cand])
    assert citations[0].quote == "Completed projects are as follows: - Customs - Logistics"
    assert text.endswith("- Logistics [1]")


def test_a_recorded_reading_is_served_again_and_a_new_prompt_goes_to_the_model(
    tmp_path: Path, hits: list[Hit], extractive: Answer, caplog: pytest.LogCaptureFixture
) -> None:
    from qa.generation.recording import recorded

    path = tmp_path / "recording.json"
    live = read(hits, extractive, recorded(DoubtingGenerator(doubt=0.05), path, replay=False))
    assert json.loads(path.read_text())  # kept as it was written

    class Mute(DoubtingGenerator):
        def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
            raise AssertionError("a recorded prompt must not reach the model")

    replayed = recorded(Mute(), path, replay=True)
    again = read(hits, extractive, replayed)
    assert (again.answer, again.doubt, again.citations) == (live.answer, live.doubt, live.citations)
    assert (replayed.served, replayed.asked) == (1, 0)
    # Another prompt (here: other evidence) is answered by the model, and added to the file.
    other = recorded(DoubtingGenerator(f"{SUPPORTED} {INVENTED}", doubt=0.3), path, replay=True)
    with caplog.at_level("INFO", logger="qa"):
        read(hits, extractive, other, focus=[Focus(hits[0], 0)])
    assert (other.served, other.asked) == (0, 1) and len(json.loads(path.read_text())) == 2
    assert "a prompt not in recording.json was answered by the model (1 so far)" in caplog.text


STUDY = """# Water Use in Northfield, 2023

This report reviews how the town of Northfield used water during 2023. The town has grown quickly, and
its reservoirs are old. Summer droughts have become more common in the region. The council asked the
utility to find out where the water goes. The utility's answer follows, section by section.

## Methods

Meter readings from 4,200 households were collected every month by the utility.
Each reading was checked against the billing records before analysis.

## Key findings

- Household water use fell by 12 percent compared with 2022.
- Leaks in the old eastern mains caused most of the losses.
"""

INTERNSHIP = """Internship notes

I conducted market research for the events team and carried out interviews with guests.
The research on partners was carried out in teams of three.
"""


def test_a_question_about_how_a_study_was_done_shows_the_model_its_methods_alone(tmp_path: Path) -> None:
    """The best-scoring sentences elsewhere are the ones its words meet by chance ("carried out research" in
    an internship note); the model reads the methods section and nothing else."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "water-study.md").write_text(STUDY, encoding="utf-8")
    (corpus / "internship.txt").write_text(INTERNSHIP, encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", backend=Backend.AUTO)
    build_index(settings, FakeEmbedder())
    generator = ScriptedGenerator("Meter readings from 4,200 households were collected every month [1].")
    QA(settings, embedder=FakeEmbedder(), generator=generator).ask(
        "How was the water study carried out?", backend=Backend.AUTO
    )
    (messages,) = generator.prompts
    shown = messages[-1]["content"]
    assert "Meter readings from 4,200 households" in shown and "billing records" in shown
    assert "market research" not in shown and "12 percent" not in shown
