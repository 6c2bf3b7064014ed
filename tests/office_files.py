"""Small Office files, PDFs and zips made on the spot for the reader tests (python-docx, python-pptx,
openpyxl and Pillow write them; nothing is stored in the repository)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def make_docx(footnote: str = "") -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Trade Report"
    document.add_paragraph("Trade Report", style="Title")
    document.add_paragraph("An opening paragraph before any heading.")
    document.add_heading("Overview", 1)
    document.add_paragraph("Trade reached USD 132.5 billion in 2024.")
    document.add_paragraph("Customs co-operation", style="List Bullet")
    document.add_heading("Partners", 2)
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate(
        [["Country", "Year", "Trade"], ["Malaysia", "2024", "12.5 billion"], ["Japan", "2023", ""]]
    ):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_heading("Outlook", 1)
    document.add_paragraph("Growth is expected to continue.")
    buf = io.BytesIO()
    document.save(buf)
    raw = buf.getvalue()
    return add_footnote(raw, footnote) if footnote else raw


def add_footnote(raw: bytes, text: str) -> bytes:
    """python-docx cannot write footnotes: add a footnotes part (with separators) to the package by hand."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    notes = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:footnotes xmlns:w="{w}">'
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
        '<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p>'
        f'</w:footnote><w:footnote w:id="1"><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:footnote></w:footnotes>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/word/footnotes.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>',
                )
            if item.filename == "word/_rels/document.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdFoot" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    b'relationships/footnotes" Target="footnotes.xml"/></Relationships>',
                )
            dst.writestr(item, data)
        dst.writestr("word/footnotes.xml", notes)
    return out.getvalue()


def make_pptx(slides: int = 2) -> bytes:
    import pptx

    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Regional trade"
    first.placeholders[1].text = "FDI inflows amounted to USD 14.3 billion in 2024."
    first.notes_slide.notes_text_frame.text = "Mention the ECOTECH programme."
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Partners"
    table = second.shapes.add_table(2, 2, 0, 0, 100, 100).table
    for (r, c), value in {(0, 0): "Year", (0, 1): "Value", (1, 0): "2024", (1, 1): "5 million"}.items():
        table.cell(r, c).text = value
    for n in range(2, slides):
        extra = deck.slides.add_slide(deck.slide_layouts[1])
        extra.shapes.title.text = f"Extra {n}"
        extra.placeholders[1].text = f"Filler text number {n}."
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def make_xlsx(rows: int = 3) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Trade 2024"
    sheet.append(["Country", "Exports (USD bn)", None, "Note"])
    for n in range(rows):
        sheet.append([f"Country {n}", 10 + n + 0.5, None, "provisional" if n == 0 else None])
    sheet.append([])
    sheet.append(["Malaysia", 12.5, None, None])
    notes = book.create_sheet("Notes")
    notes.append(["Remark"])
    notes.append(["Figures are subject to revision."])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def scanned_pdf(text: str, pages: int = 1) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), 40)
    images = []
    for n in range(1, pages + 1):
        image = Image.new("L", (1654, 500), 255)
        ImageDraw.Draw(image).text((150, 200), f"{text} {n}.", font=font, fill=0)
        images.append(image)
    buf = io.BytesIO()
    images[0].save(buf, "PDF", resolution=200, save_all=True, append_images=images[1:])
    return buf.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()
