"""Document -> its card: one extra chunk per document that says what the document is.

Questions about a whole document ("What is the poster about?", "Who published the overview?") match no
single passage: the facts are in the file's metadata and its opening. The card puts them in one chunk,
retrieved, answered from and cited like any other:

    "Not as It Seems: The HK–ASEAN Trade Imbalance" is a research poster by Holden and Alison,
    dated 2025 (cites sources up to 2025).                                  <- the catalogue sentence
    A Qualitative Content Analysis of ... This poster presents ...          <- its lead sentences, verbatim

The catalogue sentence comes from `sources.toml`, else from what the file says of itself (an Office file's or
PDF's author and creation stamp, a page's <meta> author, a note's front matter), else the title alone. It is
not a slice of the file: its offsets are (0, 0) and the card's heading says what it is. The lead sentences
are exact slices.
"""

from __future__ import annotations

import re

from qa.chunking import Chunk, Sentence, TokenCounter, split_sentences
from qa.corpus import Document

CARD_HEADING = "Document card"
CARD_LEAD_SHARE = 0.6  # of the chunk window given to lead sentences after the catalogue sentence


# Where a catalogue quote comes from: not the file's text.
CATALOGUE_LOCATOR = "document card (sources.toml, file properties)"


def is_catalogue(chunk: Chunk, index: int) -> bool:
    """Whether sentence `index` of `chunk` is a card's catalogue sentence (not text of the file)."""
    return index == 0 and chunk.heading == CARD_HEADING


def catalogue_sentence(doc: Document) -> str:
    """One sentence from the document's metadata: title, kind, author, publisher and date, as far as known
    (sources.toml, else what the file says of itself: `qa.readers.properties`)."""
    origin = doc.origin
    # Not the file name: a renamed file keeps its card's vector (and nothing is embedded again).
    parts = [f"“{doc.title}” is a {origin.get('kind') or 'document'}"]
    if origin.get("author"):
        parts[0] += f" by {origin['author']}"
    if origin.get("publisher"):
        parts.append(f"published by {origin['publisher']}")
    if origin.get("date"):
        parts.append(f"dated {origin['date']}")
    return ", ".join(parts) + "."


_MAKER = re.compile(r"\bby (\S+)")


def names_maker(catalogue: str) -> bool | None:
    """Whether a catalogue sentence names who wrote or published the document: True, False when it says
    only "unknown" (sources.toml), None when it does not say (the text may still name the author)."""
    _, _, described = catalogue.partition("” is a ")  # after the title, which may hold "by" itself
    makers = _MAKER.findall(described)
    if not makers:
        return None
    return any(not m.lower().startswith("unknown") for m in makers)


def document_card(doc: Document, count_tokens: TokenCounter, max_tokens: int) -> Chunk | None:
    """The card chunk of a document, or None for a document with no text."""
    sentences = split_sentences(doc)
    if not sentences:
        return None
    meta = catalogue_sentence(doc)
    budget = int(max_tokens * CARD_LEAD_SHARE)
    lead: list[Sentence] = []
    used = 0
    texts = [s for s in sentences if not s.context][:12]
    for sentence, size in zip(texts, count_tokens([s.text for s in texts]), strict=True):
        if used + size > budget:
            break
        lead.append(sentence)
        used += size
    card = (Sentence(0, 0, meta), *lead)
    return Chunk(
        doc_path=doc.path,
        title=doc.title,
        heading=CARD_HEADING,
        page=None,
        # (0, 0): the card spans no stretch of the file, so retrieval never collapses it with the first
        # chunk as a near-duplicate (both may be worth showing).
        start=0,
        end=0,
        sentences=card,
    )
