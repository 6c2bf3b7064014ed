"""The readers of qa.readers, each on a small file made here: structure, locators, bounds and bad files."""

from __future__ import annotations

import dataclasses
import io
import shutil
import zipfile
from pathlib import Path

import pytest

from qa.config import ConfigError, ReadLimits, Settings
from qa.corpus import SUPPORTED_SUFFIXES, DocumentError, find_files, read_document
from qa.locators import Locus, LocusKind, covering, describe
from qa.readers import read
from qa.readers.base import Extract, hyphenated_words, unwrap
from qa.readers.pdf import Line, find_gutter, reading_order
from qa.readers.tables import cell_text, table_rows
from qa.uploads import upload_name
from tests.office_files import FONT, make_docx, make_pptx, make_xlsx, scanned_pdf, zipped

LIMITS = ReadLimits()
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
needs_font = pytest.mark.skipif(not FONT.is_file(), reason="DejaVu fonts not installed")


def block_at(extract: Extract, needle: str) -> tuple[str, str]:
    """The paragraph holding `needle` and the label of the place it is in."""
    start = extract.text.index(needle)
    block_start = extract.text.rfind("\n\n", 0, start) + 2 if "\n\n" in extract.text[:start] else 0
    block = extract.text[block_start:].split("\n\n", 1)[0]
    return block, describe(covering(extract.loci, start, start + len(needle)))


# ---- Word ------------------------------------------------------------------------------------------------


def test_docx_headings_lists_tables_and_footnotes_with_heading_paths() -> None:
    extract = read(".docx", make_docx("Source: ASEAN Secretariat, 2025."), "report.docx", LIMITS)
    assert extract.title == "Trade Report"
    assert block_at(extract, "132.5 billion") == ("Trade reached USD 132.5 billion in 2024.", "Overview")
    assert block_at(extract, "co-operation") == ("- Customs co-operation", "Overview")
    # A table row is a sentence with its header cells; an empty cell is left out.
    assert block_at(extract, "Malaysia") == (
        "Country: Malaysia; Year: 2024; Trade: 12.5 billion.",
        "Overview › Partners",
    )
    assert block_at(extract, "Japan")[0] == "Country: Japan; Year: 2023."
    # A new heading of level 1 ends the level-2 section.
    assert block_at(extract, "Growth")[1] == "Outlook"
    assert block_at(extract, "opening paragraph")[1] == ""  # before the first heading
    assert block_at(extract, "ASEAN Secretariat") == ("[1] Source: ASEAN Secretariat, 2025.", "Footnote 1")
    assert "## Partners" in extract.text  # headings in Markdown form, for the chunker


def test_docx_chunks_carry_the_heading_path_to_citations(tmp_path: Path) -> None:
    from qa.chunking import chunk_document
    from tests.conftest import FakeEmbedder

    (tmp_path / "report.docx").write_bytes(make_docx())
    doc = read_document(tmp_path / "report.docx", tmp_path, {}, 10**7)
    chunks = chunk_document(doc, FakeEmbedder().count_tokens, 64, 0, 0)
    holding = [c for c in chunks if "Malaysia" in c.text]
    assert holding
    sentence = next(s for s in holding[0].sentences if "Malaysia" in s.text)
    assert holding[0].locator(sentence.start, sentence.end) == "Overview › Partners"


# ---- PowerPoint ------------------------------------------------------------------------------------------


def test_pptx_one_unit_per_slide_with_title_body_table_and_notes() -> None:
    extract = read(".pptx", make_pptx(), "deck.pptx", LIMITS)
    assert extract.title == "Regional trade"
    assert block_at(extract, "14.3 billion") == (
        "FDI inflows amounted to USD 14.3 billion in 2024.",
        "slide 1",
    )
    assert block_at(extract, "ECOTECH") == ("Mention the ECOTECH programme.", "slide 1")
    assert block_at(extract, "5 million") == ("Year: 2024; Value: 5 million.", "slide 2")
    assert "## Partners" in extract.text
    assert [locus.number for locus in extract.loci] == [1, 2]


def test_pptx_slides_past_the_bound_are_cut_with_a_note() -> None:
    extract = read(".pptx", make_pptx(slides=5), "deck.pptx", dataclasses.replace(LIMITS, max_slides=3))
    assert [locus.number for locus in extract.loci] == [1, 2, 3]
    assert "Filler text number 3" not in extract.text
    assert any("first 3 of 5 slides" in note for note in extract.notes)


# ---- Spreadsheets ----------------------------------------------------------------------------------------


def test_xlsx_each_sheet_with_header_value_rows_and_row_locators() -> None:
    extract = read(".xlsx", make_xlsx(), "trade.xlsx", LIMITS)
    assert block_at(extract, "Malaysia") == (
        "Country: Malaysia; Exports (USD bn): 12.5.",
        "Trade 2024, row 6",
    )
    assert block_at(extract, "Country 0") == (
        "Country: Country 0; Exports (USD bn): 10.5; Note: provisional.",
        "Trade 2024, row 2",
    )
    assert block_at(extract, "revision")[1] == "Notes, row 2"
    # A quote over several rows is cited to the range.
    start = extract.text.index("Country 0")
    end = extract.text.index("Country 2") + 5
    assert describe(covering(extract.loci, start, end)) == "Trade 2024, rows 2–4"
    assert not extract.notes


def test_xlsx_rows_past_the_bound_are_cut_with_a_note_naming_the_setting() -> None:
    extract = read(".xlsx", make_xlsx(rows=30), "trade.xlsx", dataclasses.replace(LIMITS, max_sheet_rows=10))
    rows = [
        locus.number for locus in extract.loci if locus.kind is LocusKind.ROW and locus.scope == "Trade 2024"
    ]
    assert rows == list(range(2, 12))
    assert "Country 10" not in extract.text and "Malaysia" not in extract.text
    assert any("first 10 rows" in note and "QA_MAX_SHEET_ROWS" in note for note in extract.notes)


def test_max_sheet_rows_and_ocr_come_from_the_environment() -> None:
    settings = Settings.from_env({"QA_MAX_SHEET_ROWS": "7", "QA_OCR": "off"})
    assert settings.reading.max_sheet_rows == 7 and not settings.reading.ocr
    assert settings.chunker_fingerprint() != Settings().chunker_fingerprint()  # a change re-reads everything
    with pytest.raises(ConfigError, match="QA_OCR"):
        Settings.from_env({"QA_OCR": "maybe"})


def test_csv_rows_with_a_sniffed_delimiter_and_row_locators() -> None:
    raw = b"name;value;when\nalpha;1.5;2024-01-02\n;;\nbeta;2;\n"
    extract = read(".csv", raw, "data.csv", LIMITS)
    assert block_at(extract, "alpha") == ("name: alpha; value: 1.5; when: 2024-01-02.", "row 2")
    assert block_at(extract, "beta") == ("name: beta; value: 2.", "row 4")


def test_table_rows_without_a_header_row_are_joined_cells() -> None:
    assert table_rows([["2024", "12.5"], ["2023", "11"]]) == ["2024; 12.5.", "2023; 11."]
    assert table_rows([["Only one row", "here"]]) == ["Only one row; here."]
    assert cell_text(12.0) == "12" and cell_text(0.1 + 0.2) == "0.3" and cell_text(None) == ""


# ---- PDF -------------------------------------------------------------------------------------------------


def _line(text: str, x0: float, x1: float, top: float) -> Line:
    return Line(text, x0, x1, top, top + 10)


def test_reading_order_reads_the_left_column_before_the_right_between_full_width_lines() -> None:
    lines = [_line("Title across the page", 50, 550, 40)]
    lines += [_line(f"left {i}", 50, 290, 60 + 12 * i) for i in range(5)]
    lines += [_line(f"right {i}", 310, 550, 60 + 12 * i) for i in range(5)]
    lines += [_line("A wide figure caption below both columns", 50, 550, 130)]
    lines += [_line(f"lower left {i}", 50, 290, 150 + 12 * i) for i in range(2)]
    lines += [_line(f"lower right {i}", 310, 550, 150 + 12 * i) for i in range(2)]
    ordered, gutter = reading_order(lines, 600)
    assert gutter is not None and 290 <= gutter <= 310
    order = [line.text for line in ordered]
    assert order == [
        "Title across the page",
        *(f"left {i}" for i in range(5)),
        *(f"right {i}" for i in range(5)),
        "A wide figure caption below both columns",
        "lower left 0",
        "lower left 1",
        "lower right 0",
        "lower right 1",
    ]


def test_one_column_with_short_lines_is_not_split() -> None:
    lines = [_line(f"a full line of text number {i}", 50, 550, 60 + 12 * i) for i in range(8)]
    lines += [_line("short end.", 50, 200, 160)]
    assert find_gutter(lines, 600) is None


def test_wrapped_lines_are_joined_and_hyphens_at_line_ends_made_whole_unless_the_word_has_one() -> None:
    lines = ["the infor-", "mation flows and co-operation;", "the technical co-", "operation was new"]
    known = hyphenated_words(" ".join(lines))
    assert unwrap(lines, [False] * 4, known) == (
        "the information flows and co-operation; the technical co-operation was new"
    )
    assert unwrap(["Hong Kong-", "ASEAN trade"], [False, False]) == "Hong Kong- ASEAN trade"  # capital: kept
    # A short line (a heading) keeps its break, and so does a line before a list item.
    assert unwrap(["Overview", "Trade grew."], [True, False]) == "Overview\nTrade grew."
    assert unwrap(["Areas:", "- customs"], [False, False]) == "Areas:\n- customs"


@needs_font
def test_pdf_running_header_and_page_numbers_dropped_and_pages_kept(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A5")
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.set_font("DejaVu", size=10)
    for n in range(1, 4):
        pdf.add_page()
        pdf.set_y(8)
        pdf.cell(0, 5, "Quarterly Trade Bulletin", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(40)
        pdf.multi_cell(0, 6, f"Body of page {n} reports that exports grew by {n}.5 percent this quarter.")
        pdf.set_y(-15)
        pdf.cell(0, 5, f"Page {n} of 3", align="C")
    extract = read(".pdf", bytes(pdf.output()), "bulletin.pdf", LIMITS)
    assert "Bulletin" not in extract.text and "of 3" not in extract.text
    assert [locus.number for locus in extract.loci] == [1, 2, 3]
    assert block_at(extract, "2.5 percent")[1] == "page 2"


@needs_font
def test_a_sentence_running_over_a_page_break_stays_whole_and_cites_both_pages() -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.set_font("DejaVu", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "The first page ends. There is potential in the cultural and")
    pdf.add_page()
    pdf.multi_cell(0, 6, "creative industries, he said. A new paragraph starts here.")
    extract = read(".pdf", bytes(pdf.output()), "pages.pdf", LIMITS)
    assert "cultural and\ncreative industries" in extract.text
    start = extract.text.index("There is")
    end = extract.text.index("he said.") + len("he said.")
    assert describe(covering(extract.loci, start, end)) == "pages 1–2"
    assert block_at(extract, "A new paragraph")[1] == "page 2"


@needs_font
def test_pdf_password_protected_is_refused_with_the_reason(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.set_font("DejaVu", size=10)
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.cell(0, 5, "Secret text that must not be read.")
    with pytest.raises(DocumentError, match="password"):
        read(".pdf", bytes(pdf.output()), "locked.pdf", LIMITS)


def test_pdf_corrupt_is_refused_with_the_reason() -> None:
    with pytest.raises(DocumentError, match="corrupt or unreadable PDF"):
        read(".pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "broken.pdf", LIMITS)


@needs_font
@needs_tesseract
def test_scanned_pdf_pages_are_read_by_ocr_with_their_confidence() -> None:
    extract = read(
        ".pdf", scanned_pdf("The trade agreement entered into force on page", 2), "scan.pdf", LIMITS
    )
    assert [locus.number for locus in extract.loci] == [1, 2]
    assert all(locus.ocr is not None and 0.5 < locus.ocr <= 1 for locus in extract.loci)
    assert "agreement entered into force" in extract.text
    assert block_at(extract, "page 2")[1] == "page 2"


@needs_font
@needs_tesseract
def test_only_the_page_without_a_text_layer_is_ocred() -> None:
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("L", (1600, 300), 255)
    ImageDraw.Draw(picture).text(
        (40, 100), "A scanned annex about customs.", font=ImageFont.truetype(str(FONT), 60), fill=0
    )
    pdf = FPDF()
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.set_font("DejaVu", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "The first page has a text layer and says that exports grew.")
    pdf.add_page()
    pdf.image(picture, x=10, y=20, w=190)
    extract = read(".pdf", bytes(pdf.output()), "mixed.pdf", LIMITS)
    assert [(locus.number, locus.ocr is None) for locus in extract.loci] == [(1, True), (2, False)]
    assert block_at(extract, "exports grew")[1] == "page 1"
    assert block_at(extract, "customs")[1] == "page 2"


@needs_font
def test_scanned_pdf_with_ocr_off_is_skipped_naming_the_setting(tmp_path: Path) -> None:
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf("Nothing to see"))
    with pytest.raises(DocumentError, match=r"no text layer.*QA_OCR=off"):
        read_document(
            tmp_path / "scan.pdf", tmp_path, {}, 10**7, limits=dataclasses.replace(LIMITS, ocr=False)
        )


@needs_font
@needs_tesseract
def test_picture_of_a_page_is_read_by_ocr(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1400, 300), "white")
    ImageDraw.Draw(image).text(
        (40, 100), "Hainan and Hong Kong signed an MOU.", font=ImageFont.truetype(str(FONT), 48), fill="black"
    )
    buf = io.BytesIO()
    image.save(buf, "PNG")
    extract = read(".png", buf.getvalue(), "photo.png", LIMITS)
    assert "Hainan and Hong Kong signed an MOU" in extract.text
    assert extract.loci[0].kind is LocusKind.IMAGE and extract.loci[0].ocr is not None
    with pytest.raises(DocumentError, match="too large"):
        read(".png", buf.getvalue(), "photo.png", dataclasses.replace(LIMITS, max_image_pixels=1000))


# ---- Safety ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".xlsx"])
def test_zip_bombs_are_refused_before_parsing(suffix: str) -> None:
    limits = dataclasses.replace(LIMITS, max_unzipped_bytes=8 * 2**20)
    big = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\0" * (12 * 2**20)})
    assert len(big) < 100_000
    with pytest.raises(DocumentError, match="zip bomb"):
        read(suffix, big, "bomb" + suffix, limits)
    # Under the total, but one part inflating a thousandfold.
    dense = zipped({"[Content_Types].xml": b"<Types/>", "xl/sharedStrings.xml": b"a" * (4 * 2**20)})
    with pytest.raises(DocumentError, match="inflates"):
        read(suffix, dense, "bomb" + suffix, limits)


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".xlsx"])
def test_password_protected_and_malformed_office_files_are_refused(suffix: str) -> None:
    # An encrypted Office file is an OLE compound file, not a zip package.
    with pytest.raises(DocumentError, match="password-protected"):
        read(suffix, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "locked" + suffix, LIMITS)
    with pytest.raises(DocumentError, match=f"not a valid \\{suffix}"):
        read(suffix, b"PK\x03\x04 this is not really a zip", "broken" + suffix, LIMITS)
    with pytest.raises(DocumentError, match="not a readable"):
        read(suffix, zipped({"hello.txt": b"a zip, but no Office package inside"}), "empty" + suffix, LIMITS)


def test_an_external_entity_in_a_docx_is_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    raw = make_docx()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "word/document.xml":
                data = data.replace(
                    b"<w:document ",
                    f'<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]><w:document '.encode(),
                    1,
                ).replace(b"Growth is expected", b"Growth &x; is expected", 1)
            dst.writestr(item, data)
    try:
        extract = read(".docx", out.getvalue(), "xxe.docx", LIMITS)
    except DocumentError:
        return  # refusing the file is as good
    assert "TOP-SECRET" not in extract.text


# ---- Corpus, uploads, locators ---------------------------------------------------------------------------


def test_new_types_are_found_uploaded_and_read_through_the_corpus(tmp_path: Path) -> None:
    (tmp_path / "deck.pptx").write_bytes(make_pptx())
    (tmp_path / "sheet.xlsx").write_bytes(make_xlsx())
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "macro.docm").write_bytes(b"never read")
    names = [p.name for p in find_files(tmp_path)]
    assert names == ["data.csv", "deck.pptx", "sheet.xlsx"]
    for suffix in (".docx", ".pptx", ".xlsx", ".csv", ".png", ".jpg"):
        assert suffix in SUPPORTED_SUFFIXES
        assert upload_name("upload" + suffix, 10, [], 100) == "upload" + suffix
    doc = read_document(tmp_path / "sheet.xlsx", tmp_path, {}, 10**7)
    assert doc.title == "Sheet"  # from the file name, not the first sheet's name
    assert doc.page_at(0) is None and doc.loci


def test_locator_labels_for_ranges_and_mixed_places() -> None:
    pages = (Locus(0, LocusKind.PAGE, 3), Locus(100, LocusKind.PAGE, 4), Locus(200, LocusKind.PAGE, 6))
    assert describe(covering(pages, 10, 50)) == "page 3"
    assert describe(covering(pages, 90, 150)) == "pages 3–4"
    assert describe(covering(pages, 150, 250)) == "pages 4–6"
    sheet = (
        Locus(0, LocusKind.SHEET, 0, "Data"),
        Locus(10, LocusKind.ROW, 2, "Data"),
        Locus(40, LocusKind.ROW, 3, "Data"),
    )
    assert describe(covering(sheet, 0, 50)) == "Data, rows 2–3"
    sections = (Locus(0, LocusKind.SECTION, scope="A"), Locus(50, LocusKind.SECTION, scope="A › B"))
    assert describe(covering(sections, 40, 60)) == "A – A › B"
    assert Locus.from_json(pages[1].to_json()) == pages[1]
