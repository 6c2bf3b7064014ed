"""Convert a corpus of text files into the other formats `qa` reads, to check that answers do not change.

    .docx         headings (Heading 1-3), bullet lists, paragraphs; the title in the core properties
    .pptx         a slide per paragraph, titled by the nearest heading
    text .pdf     one column, a page number in every footer (fpdf2, DejaVu Sans)
    two-col .pdf  A5, two columns, a running header and page numbers, words hyphenated at line ends
    scanned .pdf  each page drawn as a picture (Pillow, 200 dpi, a little blur and noise), no text layer;
                  the text drawn on each page is returned, to measure OCR's character error rate

Used by bench/formats.py (the full comparison) and tests/test_formats.py (one document per format).
"""

from __future__ import annotations

import random
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from qa.chunking import split_blocks
from qa.corpus import load_sources, read_document
from qa.walk import find_files

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT, BOLD = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
FORMATS = ("docx", "pptx", "pdf", "pdf-2col", "pdf-scanned")
SCAN_DPI = 200


@dataclass(frozen=True)
class Block:
    """A line of the source: a heading (level 1-3), a list item, or a paragraph (level 0)."""

    text: str
    level: int = 0
    bullet: bool = False


@dataclass(frozen=True)
class Source:
    name: str  # file name without extension
    title: str
    blocks: tuple[Block, ...]


def fonts_missing() -> str:
    """Why the PDF conversions cannot run here ("" when they can)."""
    missing = [str(p) for p in (FONT, BOLD) if not p.is_file()]
    return (
        f"DejaVu fonts missing ({', '.join(missing)}): apt-get install fonts-dejavu-core" if missing else ""
    )


def load_corpus(corpus: Path) -> list[Source]:
    """The corpus's documents as titled blocks (Markdown headings, list markers and emphasis read)."""
    sources = load_sources(corpus)
    out = []
    for path in find_files(corpus):
        doc = read_document(path, corpus, sources, 20 * 2**20)
        blocks = []
        # Paragraphs as the plain-text pipeline sees them (a wrapped line is not a paragraph of its own).
        for block in split_blocks(doc.text):
            line = re.sub(r"\*\*|__", "", doc.text[block.start : block.end].replace("\n", " ")).strip()
            line = re.sub(
                r"\\([\\`*_{}\[\]()#+\-.!$|])", r"\1", line
            )  # Markdown escapes, as a reader sees them
            if not line:
                continue
            heading = re.match(r"^(#{1,6})\s+(.*)$", line)
            bullet = re.match(r"^(?:[-*]|\d+[.)])\s+(?:·\s*)?(.*)$", line)
            if heading:
                blocks.append(Block(heading.group(2).strip(), min(len(heading.group(1)), 3)))
            elif bullet:
                blocks.append(Block(bullet.group(1).strip(), bullet=True))
            else:
                blocks.append(Block(line))
        out.append(Source(path.stem, doc.title, tuple(blocks)))
    return out


def write_docx(src: Source, path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = src.title
    for block in src.blocks:
        if block.level:
            document.add_heading(block.text, block.level)
        else:
            document.add_paragraph(block.text, style="List Bullet" if block.bullet else None)
    document.save(str(path))


def write_pptx(src: Source, path: Path) -> None:
    import pptx

    deck = pptx.Presentation()
    deck.core_properties.title = src.title
    heading = src.title
    for block in src.blocks:
        if block.level:
            heading = block.text
            continue
        slide = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
        slide.shapes.title.text = heading
        slide.placeholders[1].text = block.text
    deck.save(str(path))


def _soft_hyphens(text: str) -> str:
    """A soft hyphen inside long lowercase words: where fpdf2 breaks a line in one, it prints a hyphen."""
    return re.sub(r"\b([a-z]{5})([a-z]{5,})\b", "\\1\u00ad\\2", text)


def _pdf(header: str, footer: bool, page: str = "A4") -> Any:
    from fpdf import FPDF

    class Paper(FPDF):  # type: ignore[misc,unused-ignore]  # subclassing Any where fpdf2 ships no types
        def header(self) -> None:
            if header:
                self.set_font("DejaVu", size=7)
                self.cell(0, 5, header, align="C", new_x="LMARGIN", new_y="NEXT")
                self.ln(2)

        def footer(self) -> None:
            if footer:
                self.set_y(-12)
                self.set_font("DejaVu", size=8)
                self.cell(0, 5, f"Page {self.page_no()}", align="C")

    pdf = Paper(format=page)
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.add_font("DejaVu", "B", str(BOLD))
    return pdf


def write_pdf(src: Source, path: Path) -> None:
    pdf = _pdf("", footer=True)
    pdf.set_title(src.title)
    pdf.add_page()
    for block in src.blocks:
        pdf.set_font("DejaVu", "B" if block.level else "", 14 - 2 * block.level if block.level else 11)
        text = ("• " if block.bullet else "") + block.text
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.output(str(path))


def write_pdf_columns(src: Source, path: Path) -> None:
    pdf = _pdf("Regional Trade Review · Hong Kong and ASEAN", footer=True, page="A5")
    pdf.set_title(src.title)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 12)
    pdf.multi_cell(0, 6, src.title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    columns = pdf.text_columns(ncols=2, gutter=6, text_align="L")
    with columns:
        for block in src.blocks:
            pdf.set_font("DejaVu", "B" if block.level else "", 9 if block.level else 8)
            with columns.paragraph(bottom_margin=2) as paragraph:
                paragraph.write(("• " if block.bullet else "") + _soft_hyphens(block.text))
    pdf.output(str(path))


def write_pdf_scanned(src: Source, path: Path, seed: int = 0) -> list[str]:
    """Pages drawn as pictures and saved as an image-only PDF; returns the text drawn on each page."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    width, height, margin = int(8.27 * SCAN_DPI), int(11.69 * SCAN_DPI), int(0.9 * SCAN_DPI)
    body = ImageFont.truetype(str(FONT), round(11 * SCAN_DPI / 72))
    bold = ImageFont.truetype(str(BOLD), round(14 * SCAN_DPI / 72))
    rng = random.Random(seed)
    pages: list[Any] = []
    drawn: list[list[str]] = []
    y = height  # start a page at once

    def new_page() -> Any:
        nonlocal y
        page = Image.new("L", (width, height), 255)
        pages.append(page)
        drawn.append([])
        y = margin
        return ImageDraw.Draw(page)

    draw = new_page()
    ruler = ImageDraw.Draw(Image.new("L", (1, 1)))
    for block in src.blocks:
        font = bold if block.level else body
        text = ("• " if block.bullet else "") + block.text
        for line in _wrap(text, partial(ruler.textlength, font=font), width - 2 * margin):
            step = int(font.size * 1.45)
            if y + step > height - margin:
                draw = new_page()
            draw.text((margin, y), line, font=font, fill=0)
            drawn[-1].append(line)
            y += step
        y += int(body.size * 0.8)
    scans = []
    for page in pages:
        page = page.rotate(rng.uniform(-0.4, 0.4), fillcolor=255, resample=Image.Resampling.BICUBIC)
        page = page.filter(ImageFilter.GaussianBlur(0.6))
        noise = Image.effect_noise(page.size, 18)
        scans.append(Image.blend(page, noise, 0.08).convert("L"))
    scans[0].save(
        str(path), "PDF", resolution=SCAN_DPI, save_all=True, append_images=scans[1:], title=src.title
    )
    return [" ".join(lines) for lines in drawn]


def _wrap(text: str, measure: Callable[[str], float], width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and measure(trial) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    return [*lines, current] if current else lines


WRITERS: dict[str, tuple[str, Callable[[Source, Path], object]]] = {
    "docx": (".docx", write_docx),
    "pptx": (".pptx", write_pptx),
    "pdf": (".pdf", write_pdf),
    "pdf-2col": (".pdf", write_pdf_columns),
    "pdf-scanned": (".pdf", write_pdf_scanned),
}


def convert(corpus: Path, out: Path, fmt: str, only: Sequence[str] = ()) -> dict[str, list[str]]:
    """Write every document of `corpus` (or those named in `only`) to `out` in `fmt`.

    Returns, for the scanned format, the text drawn on each page by file name (empty otherwise).
    """
    suffix, write = WRITERS[fmt]
    out.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, list[str]] = {}
    for src in load_corpus(corpus):
        if only and src.name not in only:
            continue
        target = out / (src.name + suffix)
        result = write(src, target)
        if isinstance(result, list):
            drawn[target.name] = result
    return drawn


def copy_plain(corpus: Path, out: Path) -> None:
    """The baseline: the corpus as it is."""
    shutil.copytree(corpus, out, dirs_exist_ok=True)


def renamed(name: str, fmt: str) -> str:
    """A corpus file's name in the converted folder."""
    return Path(name).stem + WRITERS[fmt][0]


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions), row by row."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(truth: str, recognised: str) -> float:
    """Character error rate, whitespace runs counted as one space."""
    t, r = " ".join(truth.split()), " ".join(recognised.split())
    return levenshtein(t, r) / max(len(t), 1)
