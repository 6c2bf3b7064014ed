"""What a file says of itself (author, date) reaches its document card, where sources.toml does not say.

A user's folder rarely has a sources.toml: "Who wrote the report?" must be answerable from an Office file's
or PDF's properties, a web page's <meta> or a Markdown note's front matter, and what is only a template's or
a tool's leftover must not be shown as an author or a date.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest

from qa.cards import catalogue_sentence, names_maker
from qa.config import Backend, ReadLimits, Settings
from qa.corpus import Document, read_document
from qa.indexing import build_index
from qa.readers import read
from qa.readers.properties import CREATED, Properties, front_matter, html_properties, stamped, usable_author
from tests.conftest import FakeEmbedder, ask_extractive

WHEN = datetime(2019, 3, 12, 9, 30)


def _docx(author: str | None) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Harbour Dredging Review"
    if author is not None:
        document.core_properties.author = author
        document.core_properties.created = WHEN
    document.add_paragraph("The harbour channel was dredged to 14 metres in 2018.")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _pptx(author: str) -> bytes:
    import pptx

    deck = pptx.Presentation()
    deck.core_properties.author = author
    deck.core_properties.created = WHEN
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Port plans"
    slide.placeholders[1].text = "A second berth opens in 2026."
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def _xlsx(creator: str | None) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    if creator is not None:
        book.properties.creator = creator
        book.properties.created = WHEN
    book.active.append(["Year", "Tonnes"])
    book.active.append([2023, 1800000])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _pdf(author: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_author(author)
    pdf.set_creation_date(WHEN)
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="The harbour channel was dredged to 14 metres in 2018.")
    return bytes(pdf.output())


@pytest.mark.parametrize(
    ("suffix", "raw"),
    [
        (".docx", _docx("Maria Okafor")),
        (".pptx", _pptx("Maria Okafor")),
        (".xlsx", _xlsx("Maria Okafor")),
        (".pdf", _pdf("Maria Okafor")),
    ],
)
def test_office_files_and_pdfs_give_their_author_and_creation_date(suffix: str, raw: bytes) -> None:
    extract = read(suffix, raw, f"f{suffix}", ReadLimits())
    assert extract.properties == Properties("Maria Okafor", f"12 March 2019 ({CREATED})")


@pytest.mark.parametrize(
    ("suffix", "raw"),
    [
        (".docx", _docx(None)),  # python-docx's template: author "python-docx", created 23 December 2013
        (".docx", _docx("  ")),
        (".xlsx", _xlsx(None)),  # openpyxl writes itself as the creator
        (".pdf", _pdf("Administrator")),
    ],
)
def test_a_tool_or_placeholder_is_no_author_and_its_stamp_is_no_date(suffix: str, raw: bytes) -> None:
    assert read(suffix, raw, f"f{suffix}", ReadLimits()).properties == Properties()


def test_which_author_fields_name_someone() -> None:
    assert usable_author("  Jane   Doe ") == "Jane Doe"
    for nobody in ("", "user", "Microsoft Office User", "python-docx", "1234", "https://x.com/jane", None):
        assert usable_author(nobody) == ""
    assert stamped("", WHEN) == Properties()  # a stamp without an author is a template's or a converter's
    assert stamped("Jane Doe", None) == Properties("Jane Doe", "")


def test_a_web_page_names_its_author_and_publication_date_in_meta() -> None:
    meta = {"author": "Lena Park", "article:published_time": "2025-03-26T10:00:00+08:00"}
    assert html_properties(meta) == Properties("Lena Park", "26 March 2025")
    assert html_properties({"article:author": "https://news.example/lena"}) == Properties()
    assert html_properties({"date": "March 2025"}) == Properties("", "March 2025")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "---\ntitle: Notes\nauthor: Jane Doe\ndate: 2024-05-03\n---\n# Notes\n",
            Properties("Jane Doe", "3 May 2024"),
        ),
        ("---\nauthors: [Ann Lee, Bo Chan]\n---\nText.\n", Properties("Ann Lee and Bo Chan", "")),
        (
            "---\nauthor:\n  - Ann Lee\n  - Bo Chan\n  - Cy Diaz\n---\nText.\n",
            Properties("Ann Lee, Bo Chan, Cy Diaz", ""),
        ),
        ("# Notes\n\n---\nauthor: Jane Doe\n---\n", Properties()),  # a rule mid-text is no front matter
        ("---\nauthor: Jane Doe\nno closing line\n", Properties()),
    ],
)
def test_a_markdown_note_names_its_author_and_date_in_front_matter(text: str, expected: Properties) -> None:
    assert front_matter(text) == expected


def test_sources_toml_wins_over_the_file_and_the_file_fills_what_it_leaves_out(tmp_path: Path) -> None:
    (tmp_path / "review.docx").write_bytes(_docx("Maria Okafor"))
    entry = {"review.docx": {"kind": "engineering review", "date": "April 2019"}}
    doc = read_document(tmp_path / "review.docx", tmp_path, entry, 10**7)
    assert doc.origin == {"kind": "engineering review", "date": "April 2019", "author": "Maria Okafor"}
    overridden = {"review.docx": {"author": "Port Authority engineers"}}
    assert read_document(tmp_path / "review.docx", tmp_path, overridden, 10**7).origin["author"] == (
        "Port Authority engineers"
    )


def test_the_card_says_who_wrote_the_document_and_when() -> None:
    doc = Document("r.docx", "Harbour Dredging Review", "Text.", "x", origin={"author": "Maria Okafor"})
    assert catalogue_sentence(doc) == "“Harbour Dredging Review” is a document by Maria Okafor."
    assert names_maker(catalogue_sentence(doc)) is True
    assert names_maker("“Killed by Kindness” is a novel.") is None  # "by" in the title names no one
    assert names_maker("“T” is a news article, published by unknown (datelined Paris).") is False


def test_who_wrote_a_file_is_answered_from_its_properties(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "dredging.docx").write_bytes(_docx("Maria Okafor"))
    (corpus / "notes.md").write_text(
        "---\nauthor: Jane Doe\ndate: 2024-05-03\n---\n# Berth notes\n\nThe new berth opened in May.\n",
        encoding="utf-8",
    )
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", backend=Backend.EXTRACTIVE)
    build_index(settings, FakeEmbedder())
    answer = ask_extractive(settings, "Who wrote the Harbour Dredging Review?")
    assert not answer.abstained
    assert "by Maria Okafor" in answer.citations[0].quote
    when = ask_extractive(settings, "When were the berth notes written?")
    assert not when.abstained and "3 May 2024" in when.citations[0].quote
