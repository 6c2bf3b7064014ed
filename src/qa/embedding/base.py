"""What every embedder shares: the protocol, its error, and late pooling's arithmetic.

Sentence vectors come from the same forward pass as their chunk ("late pooling"): the token embeddings of
the chunk are mean-pooled over each sentence's span. That makes citation-grade sentence vectors nearly free
at index time (one model pass per chunk instead of one per chunk plus one per sentence), and each sentence
is read in the context of its neighbours, which resolves "They" and "the Agreements". Both backends
(`qa.embedding.pytorch`, `qa.embedding.onnx`) pool with `pool_spans`, so their vectors agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from qa.errors import QAError

Spans = Sequence[tuple[int, int]]
Progress = Callable[[int], None]
# One padded batch through the model: (token vectors, attention mask, character offsets, text vectors).
Forward = Callable[[list[str]], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
FEW_TEXTS = 8  # `embed` of this many texts or fewer (a query) runs on one thread


class Embedder(Protocol):
    """The one seam for embedding models. Vectors are float32 and L2-normalised (inner product = cosine)."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text."""
        ...

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Spans], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One vector per text, and one vector per character span of each text (pooled from the same pass)."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without special tokens: the unit the chunker budgets in."""
        ...


class EmbeddingError(QAError, RuntimeError):
    """The model cannot be loaded; the message says which setting to fix."""


def pool_spans(
    tokens: np.ndarray, offsets: np.ndarray, mask: np.ndarray, spans: Spans, fallback: np.ndarray
) -> np.ndarray:
    """Mean of the token vectors whose characters fall in each span, L2-normalised.

    Special tokens have offset (0, 0) and are left out; a span cut off by truncation gets the whole
    text's vector rather than nothing.
    """
    if not spans:
        return np.zeros((0, tokens.shape[1]), dtype=np.float32)
    starts, ends = offsets[:, 0], offsets[:, 1]
    real = mask & (ends > starts)
    span_arr = np.asarray(spans, dtype=np.int64)
    member = (starts[None, :] < span_arr[:, 1:2]) & (ends[None, :] > span_arr[:, 0:1]) & real[None, :]
    counts = member.sum(axis=1, keepdims=True)
    sums = member.astype(np.float32) @ tokens
    vectors: np.ndarray = np.where(counts > 0, sums / np.maximum(counts, 1), fallback[None, :])
    return normalise(vectors.astype(np.float32))


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


def late_pool(
    texts: Sequence[str],
    spans: Sequence[Spans],
    dim: int,
    batch_size: int,
    forward: Forward,
    progress: Progress | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """`Embedder.embed_with_spans` over any backend's `forward`: a vector per text and per span of it."""
    text_vectors = np.zeros((len(texts), dim), dtype=np.float32)
    span_vectors: list[np.ndarray] = [np.zeros((0, dim), dtype=np.float32)] * len(texts)
    # Longest first and in length-sorted batches, as SentenceTransformer.encode does, to waste no padding.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for begin in range(0, len(order), batch_size):
        batch = order[begin : begin + batch_size]
        tokens, mask, offsets, pooled = forward([texts[i] for i in batch])
        for row, i in enumerate(batch):
            text_vectors[i] = pooled[row]
            span_vectors[i] = pool_spans(tokens[row], offsets[row], mask[row], spans[i], pooled[row])
        if progress is not None:
            progress(len(batch))
    return text_vectors, span_vectors
