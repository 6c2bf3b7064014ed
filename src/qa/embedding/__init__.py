"""The embedding seam: the `Embedder` protocol (`base`), two backends and the factory that picks one.

    qa/embedding/base.py         the protocol, EmbeddingError, late pooling (shared by both backends)
    qa/embedding/pytorch.py      sentence-transformers on PyTorch (QA_EMBED_BACKEND=torch; the reference)
    qa/embedding/onnx.py         the same model on ONNX Runtime (the default; fp32, or int8)
    qa/embedding/onnx_export.py  making and checking the ONNX export it runs
    python -m qa.embedding       make (or check) the export now, as `make install` does

A backend is imported only when `make_embedder` is asked for it: importing this package loads neither torch
nor onnxruntime.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.embedding.base import FEW_TEXTS, Embedder, EmbeddingError, Progress, Spans, normalise, pool_spans

if TYPE_CHECKING:
    from qa.config import Settings

__all__ = [
    "FEW_TEXTS",
    "Embedder",
    "EmbeddingError",
    "LazyEmbedder",
    "Progress",
    "Spans",
    "lazy_embedder",
    "make_embedder",
    "model_identity",
    "normalise",
    "pool_spans",
]


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
        from qa.embedding.pytorch import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(settings.model_path, settings.embed_batch_size)
    from qa.embedding.onnx import OnnxEmbedder

    return OnnxEmbedder(
        settings.model_path,
        settings.cache_dir / "onnx",
        settings.embed_batch_size,
        quantize=settings.embed_backend is EmbedBackend.ONNX_INT8,
    )
