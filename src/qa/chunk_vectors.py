"""The vectors of a run's new chunks: kept from the index where the exact text was embedded before (a
renamed file, the untouched chunks of an edited one), embedded otherwise, with a progress bar or callback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.chunking import Chunk
from qa.embedding import Embedder
from qa.stores import VectorStore


@dataclass(frozen=True)
class ChunkVectors:
    """A chunk's vector and its sentences' vectors, as embedded (or kept from the index)."""

    chunk: np.ndarray
    sentences: np.ndarray


@dataclass(frozen=True)
class Embedded:
    """One row of `vectors` and one sentence matrix per chunk, in the order of the chunks given."""

    vectors: np.ndarray
    sentence_vectors: list[np.ndarray]


def reusable_vectors(store: VectorStore, documents: Sequence[str]) -> dict[str, ChunkVectors]:
    """Vectors of the indexed chunks of `documents` (about to be dropped), by exact text, so a rename or
    an untouched chunk of an edited file is not embedded again."""
    reusable: dict[str, ChunkVectors] = {}
    for rel in documents:
        for cid in store.manifest.documents[rel].chunk_ids:
            chunk = store.chunks.get(cid)
            if chunk is not None:
                reusable[chunk.embed_text()] = ChunkVectors(store.vector(cid), store.sentence_vectors[cid])
    return reusable


def embed_chunks(
    chunks: list[Chunk],
    embedder: Embedder,
    reusable: Mapping[str, ChunkVectors],
    show_progress: bool | None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Embedded:
    """Vectors for `chunks`: reused by exact text (and sentence count), the rest embedded. `on_progress`
    gets (embedded so far, to embed); `show_progress` None: a tqdm bar on a terminal, past 64 chunks."""
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    sentence_vectors: list[np.ndarray] = [np.zeros((0, embedder.dim), dtype=np.float32)] * len(chunks)
    todo: list[int] = []
    for i, chunk in enumerate(chunks):
        hit = reusable.get(chunk.embed_text())
        if hit is not None and len(hit.sentences) == len(chunk.sentences):
            vectors[i], sentence_vectors[i] = hit.chunk, hit.sentences
        else:
            todo.append(i)
    if not todo:
        return Embedded(vectors, sentence_vectors)
    if show_progress is None:
        show_progress = sys.stderr.isatty() and len(todo) > 64
    bar: Any = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="chunk", desc="embedding", file=sys.stderr)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if bar is not None:
            bar.update(n)
        if on_progress is not None:
            on_progress(done, len(todo))

    try:
        texts = [chunks[i].embed_text() for i in todo]
        spans = [chunks[i].sentence_spans() for i in todo]
        if on_progress is not None:
            on_progress(0, len(todo))
        new_vectors, new_sentence_vectors = embedder.embed_with_spans(texts, spans, advance)
    finally:
        if bar is not None:
            bar.close()
    for row, i in enumerate(todo):
        vectors[i] = new_vectors[row]
        sentence_vectors[i] = new_sentence_vectors[row]
    return Embedded(vectors, sentence_vectors)
