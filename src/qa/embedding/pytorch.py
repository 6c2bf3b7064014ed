"""The sentence-transformers (PyTorch) embedder: the reference the ONNX backend is checked against.

torch and sentence-transformers are imported when one is made, never by importing this package, so the
serving path (ONNX) starts without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.embedding.base import FEW_TEXTS, EmbeddingError, Progress, Spans, late_pool


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
        return late_pool(texts, spans, self.dim, self.batch_size, self._forward, progress)

    def _forward(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        encoded = self.model.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_seq_length,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = encoded.pop("offset_mapping").numpy()
        with self._torch.inference_mode():
            out: dict[str, Any] = self.model.forward(dict(encoded))
        tokens = out["token_embeddings"].float().numpy()
        pooled = out["sentence_embedding"].float().numpy()
        mask = encoded["attention_mask"].numpy().astype(bool)
        return tokens, mask, offsets, pooled
