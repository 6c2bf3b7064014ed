"""Finding and reading documents: formats, bad files, hidden files, symlinks, titles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.corpus import DocumentError, load_sources, read_document
from qa.walk import find_files


def _read(path: Path, corpus: Path, max_bytes: int = 10**7) -> str:
    return read_document(path, corpus, load_sources(corpus), max_bytes).text


def test_find_files_recurses_and_skips_hidden_unsupported_and_links(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "b.md").write_text("# B")
    (tmp_path / ".hidden.txt").write_text("secret")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "c.txt").write_text("no")
    (tmp_path / "image.gif").write_bytes(b"GIF89a")  # .png and .jpg are read (OCR), .gif is not
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)  # a symlink loop
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    found = sorted(p.relative_to(tmp_path).as_posix() for p in find_files(tmp_path))
    assert "a.txt" in found and "deep/er/b.md" in found
    assert not any(".hidden" in f or ".git" in f or f.endswith(".gif") or "dangling" in f for f in found)
    assert len(found) == len(set(os.path.realpath(tmp_path / f) for f in found))  # the loop adds no copies


def test_html_drops_scripts_and_styles_and_marks_headings(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text(
        "<html><head><title>T</title><style>body{color:red}</style></head><body><h2>Trade</h2>"
        "<p>Trade grew <b>fast</b>.</p><script>alert('x')</script></body></html>"
    )
    text = _read(page, tmp_path)
    assert "## Trade" in text and "Trade grew fast." in text
    assert "alert" not in text and "color:red" not in text


def test_pdf_keeps_page_numbers(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    for body in ("The first page talks about tariffs.", "The second page talks about investment."):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 10, body)
    path = tmp_path / "doc.pdf"
    pdf.output(str(path))
    doc = read_document(path, tmp_path, {}, 10**7)
    assert len(doc.page_starts) == 2
    assert doc.page_at(doc.text.index("investment")) == 2
    assert doc.page_at(doc.text.index("tariffs")) == 1


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("random.pdf", os.urandom(2000), "PDF"),
        ("random.txt", bytes(range(256)) * 8, "binary"),
        ("empty.txt", b"", "no text"),
        ("truncated.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "PDF"),
    ],
)
def test_unreadable_files_raise_with_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason):
        read_document(path, tmp_path, {}, 10**7)


def test_size_limit_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000)
    with pytest.raises(DocumentError, match="too large"):
        read_document(path, tmp_path, {}, max_bytes=100)


def test_latin1_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Café in São Paulo costs 5 €.".encode("cp1252"))
    assert "Café in São Paulo" in _read(path, tmp_path)


def test_titles_from_sources_heading_or_file_name(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text('["a.txt"]\ntitle = "Given Title"\npublisher = "Us"\n')
    (tmp_path / "a.txt").write_text("Body.")
    (tmp_path / "b.md").write_text("# **Heading Title**\n\nBody.")
    (tmp_path / "trade-report_2024.txt").write_text("Body.")
    sources = load_sources(tmp_path)
    a = read_document(tmp_path / "a.txt", tmp_path, sources, 10**6)
    assert a.title == "Given Title" and a.origin == {"publisher": "Us"}
    assert read_document(tmp_path / "b.md", tmp_path, sources, 10**6).title == "Heading Title"
    assert (
        read_document(tmp_path / "trade-report_2024.txt", tmp_path, sources, 10**6).title
        == "Trade report 2024"
    )


def test_real_corpus_has_metadata_for_every_document() -> None:
    corpus = Path(__file__).resolve().parents[1] / "corpus"
    sources = load_sources(corpus)
    files = [p.relative_to(corpus).as_posix() for p in find_files(corpus)]
    assert len(files) == 5
    for name in files:
        assert {"title", "kind", "date"} <= set(sources[name]), name
        assert {"author", "publisher"} & set(sources[name]), name  # who made it, or "unknown"
