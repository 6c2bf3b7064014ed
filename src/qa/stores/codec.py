"""A chunk as JSON: one record per chunk in FAISS's chunks.json and in each Milvus row."""

from __future__ import annotations

from typing import Any

from qa.chunking import Chunk, Sentence
from qa.locators import Locus


def chunk_to_json(cid: int, chunk: Chunk, sentence_row: int) -> dict[str, Any]:
    """`sentence_row`: where the chunk's sentence vectors start in the store's sentence matrix."""
    return {
        "id": cid,
        "doc": chunk.doc_path,
        "title": chunk.title,
        "heading": chunk.heading,
        "page": chunk.page,
        "start": chunk.start,
        "end": chunk.end,
        "sentence_row": sentence_row,
        "sentences": [[s.start, s.end, s.text, s.context] for s in chunk.sentences],
        "loci": [locus.to_json() for locus in chunk.loci],
    }


def chunk_from_json(rec: dict[str, Any]) -> Chunk:
    return Chunk(
        doc_path=rec["doc"],
        title=rec["title"],
        heading=rec["heading"],
        page=rec["page"],
        start=rec["start"],
        end=rec["end"],
        sentences=tuple(Sentence(int(a), int(b), str(t), bool(c)) for a, b, t, c in rec["sentences"]),
        loci=tuple(Locus.from_json(locus) for locus in rec.get("loci", ())),
    )
