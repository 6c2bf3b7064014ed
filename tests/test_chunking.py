"""Sentence-aware chunking: paragraphs, wrapped lines, token budget, overlap, offsets, context."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from qa.chunking import chunk_document, split_blocks, split_sentences
from qa.corpus import Document, load_sources, read_document
from tests.conftest import FakeEmbedder

count = FakeEmbedder().count_tokens


def _doc(text: str, title: str = "Doc") -> Document:
    return Document(path="d.txt", title=title, text=text, sha256="x")


def test_line_break_inside_a_paragraph_does_not_cut_a_sentence() -> None:
    doc = _doc(
        "Alpha Lau,\nmk the director-general, will visit Tokyo. She meets firms.\nNext paragraph here."
    )
    texts = [s.text for s in split_sentences(doc)]
    assert texts[0] == "Alpha Lau, mk the director-general, will visit Tokyo."
    assert texts[-1] == "Next paragraph here."


def test_hard_wrapped_text_is_joined_but_line_per_paragraph_text_is_not() -> None:
    wrapped = "\n".join(
        [
            "The agreement between the two parties was signed in the city of Hong",
            "Kong after long negotiations that lasted for many years and involved",
            "several rounds of talks between officials from both sides of the table",
            "and many experts. It entered into force two years later in June of",
            "that year, after ratification by every member of the group that had",
            "signed it and the completion of the necessary domestic procedures now.",
        ]
    )
    sentences = [s.text for s in split_sentences(_doc(wrapped))]
    assert sentences[0].startswith("The agreement") and "Hong Kong after" in sentences[0]
    caption = "A caption line without a stop at the end of it, about the photo\nThe article starts here."
    assert len(split_sentences(_doc(caption))) == 2


def test_headings_are_context_not_answers() -> None:
    doc = _doc("Overview\nTrade reached USD 1 billion in 2024.\n\n## Key Findings\n- Item one\n")
    sentences = split_sentences(doc)
    assert sentences[0].text == "Overview" and sentences[0].context
    assert not sentences[1].context
    assert any(s.text == "## Key Findings" and s.context for s in sentences)


def test_a_photo_caption_or_credit_is_context() -> None:
    doc = _doc(
        "The two governments sign the memorandum on March 26, 2025. Photo: Official account of the chief "
        "executive of the city\nImage: Reuters\nThe photographer said the image was taken at noon."
    )
    sentences = split_sentences(doc)
    assert [s.context for s in sentences] == [False, True, True, False]


def test_offsets_point_at_the_exact_source_text() -> None:
    corpus = Path(__file__).resolve().parents[1] / "corpus"
    sources = load_sources(corpus)
    for path in sorted(corpus.glob("*.txt")) + sorted(corpus.glob("*.md")):
        doc = read_document(path, corpus, sources, 10**7)
        for s in split_sentences(doc):
            assert doc.text[s.start : s.end].replace("\n", " ") == s.text
        for chunk in chunk_document(doc, count, max_tokens=96):
            assert doc.text[chunk.start : chunk.end].replace("\n", " ").startswith(chunk.sentences[0].text)
            for (a, b), sent in zip(chunk.sentence_spans(), chunk.sentences, strict=True):
                assert chunk.embed_text()[a:b] == sent.text


@pytest.mark.parametrize("max_tokens", [48, 96, 256])
def test_chunks_fit_the_window_and_overlap_by_one_sentence(max_tokens: int) -> None:
    sentences = [f"Sentence number {i} talks about trade item {i} in some detail here." for i in range(40)]
    doc = _doc(" ".join(sentences), title="Trade notes")
    chunks = chunk_document(doc, count, max_tokens=max_tokens, overlap_sentences=1)
    assert len(chunks) > 1
    for chunk in chunks:
        assert count([chunk.embed_text()])[0] + 2 <= max_tokens
        assert chunk.embed_text().startswith("Trade notes\n")
    for a, b in itertools.pairwise(chunks):
        assert a.sentences[-1] == b.sentences[0]  # one sentence of overlap
    covered = {s.text for c in chunks for s in c.sentences}
    assert covered == set(sentences)


def test_a_sentence_longer_than_the_window_is_split_at_words() -> None:
    doc = _doc(" ".join(f"word{i}" for i in range(300)) + ".")
    chunks = chunk_document(doc, count, max_tokens=64)
    assert all(count([c.embed_text()])[0] + 2 <= 64 for c in chunks)
    words_out = {w for c in chunks for s in c.sentences for w in s.text.split()}
    assert words_out == {f"word{i}" for i in range(299)} | {"word299."}


def test_chunks_carry_the_nearest_heading() -> None:
    body = " ".join(f"Filler sentence {i} about cooperation and trade in the region." for i in range(8))
    doc = _doc(f"Intro\n{body}\n\n## Investment\nThe investment agreement entered into force in 2019. {body}")
    chunks = chunk_document(doc, count, max_tokens=64, min_section_tokens=10)
    target = next(c for c in chunks if any("2019" in s.text for s in c.sentences))
    assert target.heading == "Investment"
    assert "Investment" in target.embed_text().split("\n")[0]


def test_blocks_split_on_blank_lines() -> None:
    assert len(split_blocks("One para.\n\nTwo para.")) == 2
