"""The corpus converted to each format (bench/convert_formats.py), indexed alone: the same answer, cited to
the page, slide or heading path, in the answer, the JSON, the CLI text and the sources panel.

The full comparison over the whole evaluation set is bench/formats.py; this is its quick form, with the
fake embedder, one or two documents per format and one question each.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bench.convert_formats import FORMATS, cer, convert, fonts_missing, load_corpus, write_pdf_scanned
from qa.answering import Answer, extractive_answer
from qa.config import AbstainThresholds, Backend, Settings
from qa.corpus import read_document
from qa.indexing import build_index
from qa.render import sources_html
from qa.retrieval import retrieve
from qa.store import Store
from qa.terminal import format_answer
from tests.conftest import CORPUS, FakeEmbedder
from tests.office_files import make_xlsx

OPEN = AbstainThresholds(min_confidence=0.0, min_chunk_cosine=0.0)  # the fake embedder's cosines are low
OVERVIEW = "asean-hong-kong-china-relations-overview"
POSTER = "hk-asean-trade-imbalance-poster"
# (documents converted, question, key fact, where the citation must point)
CASES = {
    "docx": (
        [POSTER],
        "What was Hong Kong's bilateral trade with ASEAN valued at in 2024?",
        "HK$1,033.9 billion",  # the Markdown source writes HK\\$: the converter writes what a reader sees
        r"^Not as It Seems.* › INTRODUCTION \(SDG17\) \+ MOTIVATION$",
    ),
    "pptx": (
        [OVERVIEW, POSTER],
        "When did the AHKFTA and AHKIA enter into force?",
        "11 and 17 June 2019",
        r"^slide \d+$",
    ),
    "pdf": (
        [OVERVIEW, POSTER],
        "When did the AHKFTA and AHKIA enter into force?",
        "11 and 17 June 2019",
        r"^page 1$",
    ),
    "pdf-2col": (
        [OVERVIEW, POSTER],
        "When did the AHKFTA and AHKIA enter into force?",
        "11 and 17 June 2019",
        r"^page 1$",
    ),
    "pdf-scanned": (
        [OVERVIEW],
        "When did the AHKFTA and AHKIA enter into force?",
        "11 and 17 June 2019",
        r"^page 1$",
    ),
}


def ask(settings: Settings, question: str) -> Answer:
    embedder = FakeEmbedder()
    store = Store.load(settings.index_dir)
    vector = embedder.embed([question])[0]
    hits = retrieve(store, question, vector, top_k=5)
    return extractive_answer(question, question, hits, store, vector, OPEN, 3)


@pytest.mark.skipif(bool(fonts_missing()), reason="DejaVu fonts are needed to draw the PDFs")
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_gives_the_same_answer_cited_where_a_person_looks(fmt: str, tmp_path: Path) -> None:
    if fmt == "pdf-scanned" and shutil.which("tesseract") is None:
        pytest.skip("tesseract-ocr not installed")
    names, question, fact, where = CASES[fmt]
    folder = tmp_path / fmt
    convert(CORPUS, folder, fmt, only=names)
    settings = Settings(backend=Backend.EXTRACTIVE, corpus_dir=folder, index_dir=tmp_path / "index")
    summary = build_index(settings, FakeEmbedder())
    assert summary.added == len(names) and not summary.skipped

    answer = ask(settings, question)
    assert not answer.abstained and fact in answer.answer
    cited = next(c for c in answer.citations if fact in c.quote)
    assert re.match(where, cited.locator), cited.locator
    # The quote is the document's own text at the cited offsets.
    doc = read_document(folder / cited.source, folder, {}, settings.max_file_bytes)
    assert doc.text[cited.start : cited.end].replace("\n", " ") == cited.quote
    # The locator reaches every place a person reads it.
    assert answer.to_json()["citations"][0]["locator"] == answer.citations[0].locator
    assert f"({cited.source}, {cited.locator})" in format_answer(answer)
    panel = sources_html(answer)
    assert f"{cited.source}, {cited.locator}" in panel
    if fmt == "pdf-scanned":
        assert cited.ocr is not None and 0 < cited.ocr <= 1
        assert 'class="qa-ocr"' in panel and "[OCR text, confidence" in format_answer(answer)
    else:
        assert cited.ocr is None and 'class="qa-ocr"' not in panel


def test_a_spreadsheet_answer_is_cited_to_its_sheet_and_row(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "trade.xlsx").write_bytes(make_xlsx())
    settings = Settings(backend=Backend.EXTRACTIVE, corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, FakeEmbedder())
    answer = ask(settings, "What were Malaysia's exports in USD bn?")
    assert "12.5" in answer.answer
    assert answer.citations[0].locator == "Trade 2024, row 6"


def test_rows_past_the_bound_are_reported_when_indexing(tmp_path: Path) -> None:
    from dataclasses import replace

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "trade.xlsx").write_bytes(make_xlsx(rows=30))
    settings = Settings(backend=Backend.EXTRACTIVE, corpus_dir=corpus, index_dir=tmp_path / "index")
    settings = replace(settings, reading=replace(settings.reading, max_sheet_rows=5))
    notes: list[str] = []
    summary = build_index(settings, FakeEmbedder(), on_skip=lambda s: notes.append(f"{s.path}: {s.reason}"))
    assert summary.added == 1 and summary.chunks > 0
    assert any(n.startswith("trade.xlsx: part not indexed") and "QA_MAX_SHEET_ROWS" in n for n in notes)


@pytest.mark.skipif(bool(fonts_missing()), reason="DejaVu fonts are needed to draw the pages")
@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_ocr_character_error_rate_on_a_drawn_page_is_small(tmp_path: Path) -> None:
    source = next(s for s in load_corpus(CORPUS) if s.name == "hainan-hksar-mou")
    drawn = write_pdf_scanned(source, tmp_path / "scan.pdf")
    doc = read_document(tmp_path / "scan.pdf", tmp_path, {}, 10**8)
    first = doc.text[: doc.loci[1].start] if len(doc.loci) > 1 else doc.text
    # Clean, 11-point DejaVu Sans at 200 dpi with a little blur: Tesseract gets nearly every character.
    assert cer(drawn[0], first) < 0.02


def test_cer_counts_edits() -> None:
    assert cer("abcd", "abcd") == 0 and cer("abcd", "abxd") == 0.25 and cer("ab  cd", "ab cd") == 0
