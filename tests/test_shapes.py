"""Answer shapes: summaries, questions about a document, comparisons and events, on a folder made up here.

The folder is not the project's corpus: three invented documents with their own kinds, headings and dates,
so the shapes are shown to work from the wording of questions and the structure of documents, not from
anything about the five seed documents.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import dates, shapes
from qa.answering import Answer, Candidate
from qa.config import Backend, Settings
from qa.indexing import build_index
from qa.shapes import Shape
from qa.stores import DocumentRecord
from tests.conftest import FakeEmbedder, ask_extractive

REPORT = """# Water Use in Northfield, 2023

This report reviews how the town of Northfield used water during 2023.

## Methods

Meter readings from 4,200 households were collected every month by the utility.
Each reading was checked against the billing records before analysis.

## Key findings

- Household water use fell by 12 percent compared with 2022.
- Leaks in the old eastern mains caused most of the losses.
- Garden watering peaked in July and August.

## References

Smith, J. (2021). Municipal Water Systems. Retrieved 3 May 2022.
"""

NEWS = """Northfield harbour handled 1.8 million tonnes of cargo in 2023, the port authority said on Friday.
The harbour opened a new container berth on 4 March 2024, doubling its capacity for large ships.
Officials expect traffic to grow as the regional rail link reaches the docks next year.
Local fishermen complained that the construction had closed part of the old quay for months.
"""

AIRPORT = """Northfield airport carried 950,000 passengers in 2023, a record for the small regional field.
Its cargo terminal handled 12,000 tonnes of freight in 2023, mostly medical supplies and electronics.
The airport plans a longer runway, which the council will debate in the autumn.
"""

SOURCES = """
["water-report.md"]
title = "Water Use in Northfield, 2023"
kind = "annual report"
publisher = "Northfield Water Utility"
date = "2024"

["harbour-news.txt"]
title = "New berth doubles Northfield harbour capacity"
kind = "news article"
publisher = "unknown"
date = "March 2024"

["airport-news.txt"]
title = "Northfield airport has a record year"
kind = "news article"
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("shapes")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in (
        ("water-report.md", REPORT),
        ("harbour-news.txt", NEWS),
        ("airport-news.txt", AIRPORT),
        ("sources.toml", SOURCES),
    ):
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", backend=Backend.EXTRACTIVE)
    build_index(settings, FakeEmbedder())
    return settings


def ask(settings: Settings, question: str) -> Answer:
    return ask_extractive(settings, question, top_k=3)


def sources(answer: Answer) -> set[str]:
    return {Path(c.source).name for c in answer.citations}


@pytest.mark.parametrize(
    ("question", "shape"),
    [
        ("What is the report about?", Shape.SUMMARY),
        ("Summarise the article on the harbour.", Shape.SUMMARY),
        ("Give me the main points of the news story about the berth.", Shape.SUMMARY),
        ("What does the report say about leaks?", Shape.SUMMARY),
        ("Who wrote the report?", Shape.DOCUMENT),
        ("Which newspaper published the article on the airport?", Shape.DOCUMENT),
        ("When was the water report published?", Shape.DOCUMENT),
        ("How does the harbour's cargo compare with the airport's?", Shape.COMPARISON),
        ("What is the difference between the harbour and the airport?", Shape.COMPARISON),
        ("What happened on 4 March 2024?", Shape.EVENT),
        ("What happened in May 2024?", Shape.EVENT),
        # A year that ends a name names the event: what happened at it, not in that year.
        ("What took place at the Northfield Harbour Festival 2023?", Shape.NARRATIVE),
        ("What took place in July 2023?", Shape.EVENT),
        ("How much cargo did the harbour handle in 2023, and what does the airport plan?", Shape.TWO_PART),
        ("Where and when did the berth open?", Shape.FACT),  # two asks of one thing: one question
        ("How much cargo did the harbour handle in 2023?", Shape.FACT),
        ("When did the berth open?", Shape.FACT),
    ],
)
def test_the_shape_comes_from_the_wording(question: str, shape: Shape) -> None:
    assert shapes.intent_of(question).shape is shape


@pytest.mark.parametrize(
    ("question", "whole"),
    [
        ("What is the report about?", True),
        ("Summarise the article on the harbour.", True),
        ("Give me the main points of the news story about the berth.", True),
        ("What does this report say?", True),
        ("Summarise it.", True),
        # A part of the document, or what it says on one topic: read from the sentences that match.
        ("Summarise the discussion section of the report.", False),
        ("What are the main findings of the report?", False),
        ("What does the report say about leaks?", False),
        # No document named or pointed at: a summary of a topic, across documents.
        ("Give me a summary of the leaks in Northfield.", False),
    ],
)
def test_a_summary_of_a_whole_document_is_told_from_one_of_a_part(question: str, whole: bool) -> None:
    intent = shapes.intent_of(question)
    assert intent.shape is Shape.SUMMARY and intent.whole is whole


def test_comparison_sides_and_event_dates() -> None:
    assert shapes.intent_of("How does the harbour's cargo compare with the airport's?").sides == (
        "the harbour's cargo",
        "the airport's",
    )
    # "compare with" right after the verb is not "Compare X with Y": X is the subject before it.
    assert shapes.intent_of("How does the harbour's cargo compare with its cargo in 2020?").sides == (
        "the harbour's cargo",
        "its cargo in 2020",
    )
    assert shapes.intent_of("Compare the harbour with the airport.").sides == ("the harbour", "the airport")
    assert shapes.intent_of("What happened on March 4, 2024?").dates == ((2024, 3, 4),)
    assert dates.dates_in("on 7-10 March 2013 and in May 2025, then 2010") == {
        *((2013, 3, day) for day in (7, 8, 9, 10)),  # each day of the range
        (2025, 5, None),
        (2010, None, None),
    }
    assert dates.mentions("It came into force on 1 January 2010.", (2010, None, None))
    assert not dates.mentions("It came into force on 1 January 2010.", (2010, 2, None))


def test_the_target_document_is_the_best_ranked_of_the_kind_named() -> None:
    documents = {
        "harbour-news.txt": DocumentRecord((), title="New berth", origin={"kind": "news article"}),
        "water-report.md": DocumentRecord(
            (), title="Water Use in Northfield, 2023", origin={"kind": "annual report"}
        ),
        "airport-news.txt": DocumentRecord((), title="Record year", origin={"kind": "news article"}),
    }
    ranked = ["harbour-news.txt", "airport-news.txt", "water-report.md"]  # the hits' documents, best first
    report = shapes.intent_of("What is the report about?")
    assert shapes.target_document(ranked, report, documents) == "water-report.md"
    article = shapes.intent_of("Summarise the news article.")
    assert shapes.target_document(ranked, article, documents) == "harbour-news.txt"
    # A kind no retrieved document is: any indexed one of that kind; none at all: the best-ranked document.
    assert shapes.target_document(ranked[:2], report, documents) == "water-report.md"
    poster = shapes.intent_of("What is the poster about?")
    assert shapes.target_document(ranked, poster, documents) == "harbour-news.txt"
    assert shapes.target_document([], poster, documents) is None


def test_a_summary_quotes_the_named_document_and_its_findings(folder: Settings) -> None:
    answer = ask(folder, "What is the report about?")
    assert not answer.abstained
    assert sources(answer) == {"water-report.md"}  # the kind named ("report") picks the document
    assert len(answer.citations) >= 2
    # A heading that announces a summary ("Key findings") outweighs method details and references.
    assert any("12 percent" in c.quote or "Leaks" in c.quote for c in answer.citations)
    assert not any("Retrieved" in c.quote for c in answer.citations)


def test_a_summary_of_a_subject_no_document_has_is_refused(folder: Settings) -> None:
    answer = ask(folder, "Summarise the report on volcanoes.")
    assert answer.abstained and "volcano" in answer.reason


def test_who_made_a_document_comes_from_its_catalogue_entry(folder: Settings) -> None:
    answer = ask(folder, "Who wrote the report?")
    assert not answer.abstained and "Northfield Water Utility" in answer.citations[0].quote
    # sources.toml says the article's publisher is unknown: no other sentence stands in for it.
    unknown = ask(folder, "Who wrote the news article about the harbour berth?")
    assert unknown.abstained and "unknown" in unknown.reason


def test_an_event_is_answered_by_the_sentence_with_its_date(folder: Settings) -> None:
    answer = ask(folder, "What happened on 4 March 2024?")
    assert not answer.abstained and "container berth" in answer.citations[0].quote
    # "March" and "2023" are both in the folder, never together: a near miss, refused.
    missed = ask(folder, "What happened in March 2023?")
    assert missed.abstained and "date" in missed.reason


def test_a_comparison_quotes_both_sides(folder: Settings) -> None:
    answer = ask(folder, "How did the harbour's cargo compare with the airport's cargo in 2023?")
    assert not answer.abstained
    assert sources(answer) == {"harbour-news.txt", "airport-news.txt"}


def test_two_questions_asked_as_one_are_each_answered(folder: Settings) -> None:
    question = "How much cargo did the harbour handle in 2023, and what does the airport plan?"
    assert shapes.intent_of(question).sides == (
        "How much cargo did the harbour handle in 2023",
        "what does the airport plan",
    )
    answer = ask(folder, question)
    assert not answer.abstained
    quotes = " ".join(c.quote for c in answer.citations)
    assert "1.8 million tonnes" in quotes and "longer runway" in quotes


def test_a_comparison_adds_the_side_the_best_sentences_leave_out() -> None:
    from qa.answering import Candidate, QueryTerms, select_sentences
    from qa.sides import select_comparison
    from tests.conftest import make_chunk, make_hits

    texts = (
        "The harbour handled 1.8 million tonnes of cargo in 2023.",
        "The harbour cargo came mostly from bulk grain ships.",
        "The airport cargo terminal handled 12,000 tonnes.",
    )
    (hit,) = make_hits(make_chunk("news.txt", "News", texts))
    vectors = FakeEmbedder().embed(list(texts))
    # Side B ("airport") weighs little in the query, so covering it gains less than MIN_EXTRA_GAIN.
    terms = QueryTerms({"harbour": 3.0, "cargo": 3.0, "airport": 0.2})
    cands = [
        Candidate(1, hit, i, 0.5, 0.5, True, score, vectors[i], frozenset(words))
        for i, (score, words) in enumerate(
            ((0.9, {"harbour", "cargo"}), (0.8, {"harbour", "cargo"}), (0.7, {"airport", "cargo"}))
        )
    ]
    assert [c.index for c in select_sentences(cands, terms)] == [0]
    picked = select_comparison(
        cands, select_sentences(cands, terms), ("the harbour's cargo", "the airport's")
    )
    assert [c.index for c in picked] == [0, 2]


def test_a_side_named_inside_the_other_sides_name_is_still_quoted() -> None:
    """ "Port Royal, Jamaica" against "Jamaica": a sentence about the first mentions the second's name only
    inside the first's, and does not answer for it."""
    from qa.answering import Candidate, QueryTerms, select_sentences
    from qa.sides import select_comparison
    from tests.conftest import make_chunk, make_hits

    texts = (
        "Trade with Port Royal, Jamaica reached 5 billion dollars in 2024.",
        "Trade with Jamaica as a whole reached 40 billion dollars in 2024.",
    )
    (hit,) = make_hits(make_chunk("news.txt", "News", texts))
    vectors = FakeEmbedder().embed(list(texts))
    terms = QueryTerms({"trade": 1.0, "port": 3.0, "royal": 3.0, "jamaica": 1.0, "2024": 1.0})
    cands = [
        Candidate(1, hit, i, 0.5, 0.5, True, score, vectors[i], frozenset(words))
        for i, (score, words) in enumerate(
            (
                (0.9, {"trade", "port", "royal", "jamaica", "reach", "5", "billion", "dollar", "2024"}),
                (0.7, {"trade", "jamaica", "whole", "reach", "40", "billion", "dollar", "2024"}),
            )
        )
    ]
    fact = select_sentences(cands, terms)
    assert [c.index for c in fact] == [0]
    sides = ("trade with Port Royal, Jamaica", "its trade with Jamaica in 2024")
    assert [c.index for c in select_comparison(cands, fact, sides)] == [0, 1]


def _scored(
    texts: tuple[str, ...], scores: tuple[float, ...], words: tuple[set[str], ...]
) -> list[Candidate]:
    """Scored sentences of one chunk, best first, as the extractive answerer hands them to side selection."""
    from tests.conftest import make_chunk, make_hits

    (hit,) = make_hits(make_chunk("news.txt", "News", texts))
    vectors = FakeEmbedder().embed(list(texts))
    cands = (
        Candidate(1, hit, i, 0.5, 0.5, True, score, vectors[i], frozenset(w))
        for i, (score, w) in enumerate(zip(scores, words, strict=True))
    )
    return sorted(cands, key=lambda c: -c.score)


def test_a_relation_compared_both_ways_quotes_each_partys_view() -> None:
    """ "Port Royal's importance to the League" against "the League's importance to Port Royal": the sides
    share every word, so the sentence told from each second party's side answers it ("the League's 9th
    partner"), initials included ("PR's largest")."""
    from qa.sides import mirrored_views, select_comparison

    texts = (
        "Port Royal and the League signed a trade agreement in 2019.",
        "Trade between Port Royal and the League grew by 4% in 2024.",
        "The League has been PR's largest trading partner since 2010.",
        "Port Royal was only the League's 9th trading partner in 2024.",
    )
    cands = _scored(texts, (0.9, 0.8, 0.7, 0.6), ({"port", "royal", "leagu"},) * 4)
    intent = shapes.intent_of(
        "How does Port Royal's importance to the League compare with the League's importance to Port Royal?"
    )
    assert intent.shape is Shape.COMPARISON and len(mirrored_views(intent.sides)) == 2
    assert [c.index for c in select_comparison(cands, cands[:1], intent.sides)] == [0, 3, 2]
    # Two different relations, or two different parties, are not one relation both ways.
    assert not mirrored_views(("Port Royal's trade with the League", "the League's trade with Eastwick"))
    assert not mirrored_views(("Port Royal's exports", "the League's exports"))


MEETINGS = """# The Harbour Board

The Harbour Board oversees the port and meets once a year.

## Meetings

- 1st Harbour Board meeting, 6 May 2016, held in Lindholm
- 2nd Harbour Board meeting, 9 June 2017, held in Eastwick
- 3rd Harbour Board meeting, 3 July 2019, held in Marsden
- 4th Harbour Board meeting, 28 August 2020, held online

The board's minutes are published a month after each meeting.

The board will hold a public hearing on the harbour plan in June. During the hearing, residents will present
their objections to the new quay. The board will then vote on the plan before the summer recess.

Our new deep-water berth opened to container ships this morning. It doubles what the port can handle.
— Harbour Board (@harbourboard) 14 March 2025
"""


def _one_document(tmp_path_factory: pytest.TempPathFactory, name: str, text: str) -> Settings:
    """Settings for an index (FakeEmbedder) of a corpus of one document."""
    root = tmp_path_factory.mktemp(name.split(".")[0])
    (root / "corpus").mkdir()
    (root / "corpus" / name).write_text(text, encoding="utf-8")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", backend=Backend.EXTRACTIVE)
    build_index(settings, FakeEmbedder())
    return settings


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _one_document(tmp_path_factory, "board.md", MEETINGS)


def test_a_question_that_fits_every_line_of_a_list_gets_the_list(listed: Settings) -> None:
    answer = ask(listed, "Where have the Harbour Board meetings been held?")
    assert not answer.abstained
    quotes = " ".join(c.quote for c in answer.citations)
    assert all(place in quotes for place in ("Lindholm", "Eastwick", "Marsden", "online"))
    # The list is one quote of consecutive lines, the exact source text, shown one line per item.
    (listing,) = [c for c in answer.citations if "Lindholm" in c.quote]
    assert MEETINGS[listing.start : listing.end].replace("\n", " ") == listing.quote
    assert "\n- 2nd Harbour Board meeting, 9 June 2017, held in Eastwick\n" in answer.answer
    # A question that names one line gets that line.
    one = ask(listed, "Where was the 3rd Harbour Board meeting held?")
    quotes = " ".join(c.quote for c in one.citations)
    assert "Marsden" in quotes and "Lindholm" not in quotes and "Eastwick" not in quotes


def test_an_attribution_line_dates_the_post_above_it(listed: Settings) -> None:
    """An embedded post's date is on the line under it ("— Name (@handle) 14 March 2025"), not in its
    sentences: it dates them for "What happened on ...?"."""
    answer = ask(listed, "What happened on 14 March 2025?")
    assert not answer.abstained
    assert "deep-water berth" in " ".join(c.quote for c in answer.citations)


@pytest.mark.parametrize(
    ("question", "sides"),
    [
        (
            "How many Japanese and South Korean companies were operating in Hong Kong in 2024?",
            (
                "How many Japanese companies were operating in Hong Kong in 2024",
                "How many South Korean companies were operating in Hong Kong in 2024",
            ),
        ),
        (
            "How is the cargo of 2023 reported in the annual report and in the news article?",
            (
                "How is the cargo of 2023 reported in the annual report",
                "How is the cargo of 2023 reported in the news article",
            ),
        ),
        ("The French and Indian War was the aspect of what conflict?", None),  # two names, then a verb
        ("What did Hong Kong and ASEAN sign in 2017?", None),  # one thing both did
        ("Where and when was it held?", None),
    ],
)
def test_two_groups_or_two_places_asked_as_one(question: str, sides: tuple[str, str] | None) -> None:
    intent = shapes.intent_of(question)
    assert (intent.sides if intent.shape is Shape.TWO_PART else None) == sides


def test_each_side_gets_its_best_sentence_even_beside_the_other_sides() -> None:
    """Two sentences of one chunk, one per group, have sentence vectors pooled in the same context that read
    as near duplicates: the second group's sentence is still added, and a sentence of the fact selection that
    merely names a side does not stand in for that side's best one."""
    from qa.answering import Candidate
    from qa.sides import select_comparison
    from tests.conftest import make_chunk, make_hits

    texts = (
        "More than 1,400 Japanese companies were operating in the city in 2024.",
        "The number of South Korean companies reached 160 in 2024.",
        "Japan and South Korea were top trading partners.",
    )
    (hit,) = make_hits(make_chunk("news.txt", "News", texts))
    same = FakeEmbedder().embed([texts[0]])[0]
    words = (
        {"japanes", "compani", "oper", "citi", "2024"},
        {"south", "korean", "compani", "reach", "2024"},
        {"japan", "south", "korea", "top", "trade", "partner"},
    )
    cands = [
        Candidate(1, hit, i, 0.5, 0.5, True, score, same, frozenset(w))
        for i, (score, w) in enumerate(zip((0.9, 0.8, 0.6), words, strict=True))
    ]
    sides = shapes.intent_of("How many Japanese and South Korean companies operated in the city?").sides
    fact = [cands[0], cands[2]]  # the FACT selection took the third for the word "south"
    assert [c.index for c in select_comparison(cands, fact, sides)] == [0, 2, 1]


def test_what_will_happen_is_told_by_the_sentences_after_the_one_that_announces_it(listed: Settings) -> None:
    assert shapes.intent_of("What will happen during the public hearing?").shape is Shape.NARRATIVE
    assert shapes.intent_of("What happened on 14 March 2025?").shape is Shape.EVENT
    answer = ask(listed, "What will happen during the public hearing?")
    assert not answer.abstained
    quotes = " ".join(c.quote for c in answer.citations)
    assert "public hearing" in quotes and "residents will present" in quotes


SECTIONED = """# Port Authority annual review

The port handled more cargo than ever in 2024, and the authority expects growth to continue next year.
Most of the growth came from container traffic through the new eastern berth.

## Safety at the port

The authority recorded 14 safety incidents in 2024, down from 22 the year before.
New lighting on the quays and a training course for crane drivers were introduced in March.

## Finances

Revenue rose to 80 million dollars, mainly from container fees.
"""


def test_a_summary_of_what_a_document_says_on_a_topic_quotes_the_section_that_names_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "review.md").write_text(SECTIONED, encoding="utf-8")
    settings = Settings(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", backend=Backend.EXTRACTIVE
    )
    build_index(settings, FakeEmbedder())
    answer = ask(settings, "What does the report say about safety at the port?")
    assert not answer.abstained
    quotes = " ".join(c.quote for c in answer.citations)
    assert "14 safety incidents" in quotes and "crane drivers" in quotes
    assert "container fees" not in quotes and "container traffic" not in quotes


@pytest.mark.parametrize(
    ("question", "sides", "measured"),
    [
        (
            "In 2023, did the harbour handle more cargo than the airport?",
            ("the harbour handle", "the airport"),
            False,
        ),
        (
            "Was the harbour's cargo larger than the airport's?",
            ("the harbour's cargo", "the airport's"),
            True,
        ),
        (
            "Which is bigger, the harbour's cargo or the airport's?",
            ("the harbour's cargo", "the airport's"),
            True,
        ),
        ("Is the harbour more important than the airport?", ("the harbour", "the airport"), False),
        # A thing asked for, not two compared (SQuAD's wh-questions with "than").
        ("What marine engines were less efficient than steam turbines?", None, False),
        ("In which case was it held that provisions are clear, unconditional, or national?", None, False),
    ],
)
def test_a_comparative_asked_yes_or_no_or_as_a_choice_compares(
    question: str, sides: tuple[str, str] | None, measured: bool
) -> None:
    intent = shapes.intent_of(question)
    assert (intent.sides if intent.shape is Shape.COMPARISON else None) == sides
    assert intent.measured is measured


def test_a_comparison_of_amounts_quotes_a_figure_for_each_side() -> None:
    """A sentence that names a side without a figure ("Japan is a major partner") does not answer "Was X
    larger than Y?"; the side's sentence with an amount does, even when it scores lower."""
    from qa.sides import select_comparison

    texts = (
        "Japan and Korea are major partners of the harbour in 2024.",
        "The harbour handled 1.8 million tonnes of cargo in 2024.",
        "Cargo through the airport reached 12,000 tonnes in 2024.",
        "The airport is a regional field.",
    )
    words = (
        {"japan", "korea", "major", "partner", "harbour", "2024"},
        {"harbour", "handl", "million", "tonn", "cargo", "2024"},
        {"cargo", "airport", "reach", "tonn", "2024"},
        {"airport", "region", "field"},
    )
    cands = _scored(texts, (0.9, 0.8, 0.6, 0.7), words)
    intent = shapes.intent_of("In 2024, was the harbour's cargo larger than the airport's?")
    assert intent.measured
    picked = select_comparison(cands, [cands[0]], intent.sides, intent.measured)
    assert [c.index for c in picked] == [1, 2]
    # Not by amount: the first sentence naming each side, as before.
    assert [c.index for c in select_comparison(cands, [cands[0]], intent.sides)] == [0, 3]


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("How was the water study carried out?", "method"),
        ("What methods did the authors of the report use?", "method"),
        ("How did they conduct the research?", "method"),
        ("What is the aim of the study?", "aim"),
        ("Why did the students do this research?", "aim"),
        # Not a document's part: how a thing works, or a method the text is about.
        ("How do steam turbines work?", None),
        ("What method is used to assess the amount of resources a problem needs?", None),
        ("How does the poster's account compare with the overview's?", None),
        ("How many households did the survey cover?", None),
    ],
)
def test_a_question_about_how_or_why_a_study_was_done_asks_for_its_section(
    question: str, section: str | None
) -> None:
    intent = shapes.intent_of(question)
    assert (sorted(intent.section)[-1][:4] if intent.section else None) == (
        {"method": "proc", "aim": "rati"}[section] if section else None
    )
    assert (intent.shape is Shape.SUMMARY) is (section is not None)


def test_how_a_study_was_done_is_answered_from_its_methods_section(folder: Settings) -> None:
    answer = ask(folder, "How was the water study carried out?")
    assert not answer.abstained
    quotes = " ".join(c.quote for c in answer.citations)
    assert "Meter readings from 4,200 households" in quotes and "billing records" in quotes
    assert "12 percent" not in quotes and "Leaks" not in quotes


def test_what_happened_on_a_named_day_reads_the_chunks_that_write_it(tmp_path: Path) -> None:
    """ "Over the weekend" is this question's date: the chunk that writes it is read beyond the top k."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "summit.txt").write_text(
        "Leaders signed the port agreement in Lindholm on Tuesday.\n\n"
        "The signing in Lindholm was the third this year, officials in Lindholm said.\n",
        encoding="utf-8",
    )
    (corpus / "talks.txt").write_text(
        "Over the weekend, negotiators met in Lindholm and agreed to extend a truce.\n", encoding="utf-8"
    )
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", backend=Backend.EXTRACTIVE)
    build_index(settings, FakeEmbedder())
    question = "What happened in Lindholm over the weekend before the signing?"
    assert shapes.intent_of(question).times == ("weekend",)
    answer = ask_extractive(settings, question, top_k=1)
    assert any("truce" in hit.chunk.text for hit in answer.hits)


SURVEY = """# Harbour Survey 2024

The survey asked 300 residents what they think of the harbour plan.

## Findings

The survey's authors identify recurring themes in what residents wrote about the harbour, such as noise.

Across the 300 answers to the survey, several themes are found again and again:

- Noise from the new quay at night
  - Residents near the quay report trucks after midnight.
- Jobs for young people
  - Many hope the port will hire locally.
- Traffic on the coast road
- Cleaner water in the bay

The board will publish its response in May.
"""


@pytest.fixture(scope="module")
def surveyed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _one_document(tmp_path_factory, "survey.md", SURVEY)


@pytest.mark.parametrize(
    ("question", "items"),
    [
        ("What recurring themes did the survey find?", "theme"),
        ("Which areas does the agreement cover?", "area"),
        ("What are the main sectors of the economy?", "sector"),
        ("Which countries were involved in the war?", "countri"),
        ("What was the value of trade in 2024?", ""),
        ("What is the status of the deal?", ""),  # singular, though it ends in s
        ("What does the article say?", ""),
    ],
)
def test_the_plural_noun_a_question_asks_for(question: str, items: str) -> None:
    assert shapes.asked_items(question) == items


def test_a_question_for_named_items_gets_the_list_that_introduces_them(surveyed: Settings) -> None:
    """The sentence that best matches the question only talks about the themes; the list a sentence
    introduces as "several themes" holds them, past a blank line and sub-items."""
    answer = ask(surveyed, "What recurring themes did the survey find in what residents wrote?")
    assert not answer.abstained
    quotes = " ".join(c.quote for c in answer.citations)
    assert all(theme in quotes for theme in ("Noise", "Jobs", "Traffic", "Cleaner water"))
    assert "identify recurring themes" not in quotes
    (listing,) = answer.citations
    assert SURVEY[listing.start : listing.end].replace("\n", " ") == listing.quote
    assert "\n- Jobs for young people\n" in answer.answer
    assert "publish its response" not in answer.answer  # the paragraph after the list ends it
