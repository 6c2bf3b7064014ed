"""Embedder protocol and the sentence-transformers implementation.

Sentence vectors come from the same forward pass as their chunk ("late pooling"): the token embeddings of
the chunk are mean-pooled over each sentence's span. That makes citation-grade sentence vectors nearly free
at index time (one model pass per chunk instead of one per chunk plus one per sentence), and each sentence
is read in the context of its neighbours, which resolves "They" and "the Agreements".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from qa.errors import QAError

if TYPE_CHECKING:
    from qa.config import Settings

Spans = Sequence[tuple[int, int]]
Progress = Callable[[int], None]
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


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any local sentence-transformers folder), on the CPU, offline."""

    def __init__(self, model_path: str, batch_size: int = 32) -> None:
        path = Path(model_path)
        if not path.is_dir():
            raise EmbeddingError(
                f"Embedding model folder not found: {model_path}. Set QA_MODEL to a local sentence-transformers "
                "folder, or unset it to use the bundled all-MiniLM-L6-v2."
            )
        import torch
        from sentence_transformers import SentenceTransformer

        self._torch = torch
        try:
            self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many kinds; all mean "not a usable model folder"
            raise EmbeddingError(f"Cannot load the embedding model from {model_path}: {exc}") from exc
        self.model.eval()
        self.name = path.name if path.name != "model" else path.parent.name
        self.dim = int(self.model.get_embedding_dimension() or 0)
        self.max_seq_length = int(self.model.max_seq_length or 256)
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # A query is a few milliseconds of work: on one thread it never waits at an OpenMP barrier for a
        # core another process holds. On a busy 2-core machine one query took p50 120 ms (p95 700) on two
        # threads and 20 ms (p95 35) on one; on an idle one, 14 vs 18 ms. Batches keep every core.
        few = len(texts) <= FEW_TEXTS
        previous = self._torch.get_num_threads()
        if few:
            self._torch.set_num_threads(1)
        try:
            vectors = self.model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        finally:
            if few:
                self._torch.set_num_threads(previous)
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.model.tokenizer(list(texts), add_special_tokens=False, truncation=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Spans], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        torch = self._torch
        text_vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        span_vectors: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32)] * len(texts)
        # Longest first and in length-sorted batches, as SentenceTransformer.encode does, to waste no padding.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        tokenizer = self.model.tokenizer
        for begin in range(0, len(order), self.batch_size):
            batch = order[begin : begin + self.batch_size]
            encoded = tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            offsets = encoded.pop("offset_mapping").numpy()
            with torch.inference_mode():
                out: dict[str, Any] = self.model.forward(dict(encoded))
            tokens = out["token_embeddings"].float().numpy()
            pooled = out["sentence_embedding"].float().numpy()
            mask = encoded["attention_mask"].numpy().astype(bool)
            for row, i in enumerate(batch):
                text_vectors[i] = pooled[row]
                span_vectors[i] = _pool_spans(tokens[row], offsets[row], mask[row], spans[i], pooled[row])
            if progress is not None:
                progress(len(batch))
        return text_vectors, span_vectors


def _pool_spans(
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


def model_identity(settings: Settings) -> tuple[str, int] | None:
    """(name, dim) of the embedder `make_embedder(settings)` would load, read from the model folder's
    config files; None when they do not say (then only loading the model tells).

    Only a model that ends in pooling (and normalisation) qualifies: a Dense layer changes the dimension.
    """
    from qa.config import EmbedBackend

    path = Path(settings.model_path)
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds[0] != "Transformer" or not set(kinds[1:]) <= {"Pooling", "Normalize"}:
            return None
        pooling = next(m for m in modules if m["type"].endswith("Pooling"))
        config = json.loads((path / pooling["path"] / "config.json").read_text(encoding="utf-8"))
        dim = int(config["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, StopIteration, IndexError, TypeError):
        return None
    base = path.name if path.name != "model" else path.parent.name
    if settings.embed_backend is EmbedBackend.TORCH:
        return base, dim
    return f"{base}-onnx-{'int8' if settings.embed_backend is EmbedBackend.ONNX_INT8 else 'fp32'}", dim


class LazyEmbedder:
    """An Embedder that loads its model on first use.

    `qa index` with nothing to embed (the common case: run on every `make run` and by `--watch`) then never
    imports torch or reads the weights: 8.6 s -> about 1 s. Name and dimension, which the index manifest is
    checked against, come from the model folder's config (`model_identity`), and are checked again against
    the loaded model.
    """

    def __init__(self, settings: Settings, name: str, dim: int) -> None:
        self.settings, self.name, self.dim = settings, name, dim
        self._model: Embedder | None = None

    def _loaded(self) -> Embedder:
        if self._model is None:
            model = make_embedder(self.settings)
            if (model.name, model.dim) != (self.name, self.dim):  # the config files misdescribed the model
                raise EmbeddingError(
                    f"The model folder {self.settings.model_path} describes {self.name} ({self.dim} dimensions) "
                    f"but loads as {model.name} ({model.dim}); check its modules.json and 1_Pooling/config.json."
                )
            self._model = model
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._loaded().embed(texts)

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Spans], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        return self._loaded().embed_with_spans(texts, spans, progress)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._loaded().count_tokens(texts)


def lazy_embedder(settings: Settings) -> Embedder:
    """`make_embedder(settings)`, loaded on first use where the folder's config names it; else loaded now."""
    identity = model_identity(settings)
    if identity is None:
        return make_embedder(settings)
    return LazyEmbedder(settings, *identity)


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for (settings.embed_backend), loaded once by the caller."""
    from qa.config import EmbedBackend

    if settings.embed_backend is EmbedBackend.TORCH:
        return SentenceTransformerEmbedder(settings.model_path, settings.embed_batch_size)
    from qa.onnx_embedding import OnnxEmbedder  # imports this module: only here, when asked for

    return OnnxEmbedder(
        settings.model_path,
        settings.cache_dir / "onnx",
        settings.embed_batch_size,
        quantize=settings.embed_backend is EmbedBackend.ONNX_INT8,
    )
