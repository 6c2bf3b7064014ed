"""The embedding model run by ONNX Runtime: the default backend (fp32), and an int8 variant.

fp32 gives PyTorch's vectors (largest difference of a component 2.3e-7; bench/onnx_equality.py measures it
on the evaluation corpus and NFCorpus) without importing torch, transformers or sentence-transformers, so a
command that answers starts in about a second instead of eight. int8 (`QA_EMBED_BACKEND=onnx-int8`) is 2-3x
faster again but costs retrieval quality on our evaluation set (hit@5 equal, MRR@10 -1.4 points, key facts
-3.7 points), and dynamic quantisation scales activations per batch, so a text's vector depends on the texts
it is batched with. `make bench` measures both.

The ONNX file is made once from the local weights and checked before every use (`qa.embedding.onnx_export`). The
graph outputs the token embeddings, which late pooling needs; mean pooling and normalisation are done in
numpy, as `sentence_transformers.models.Pooling` and `Normalize` do.

    embedder = OnnxEmbedder(default_model_path(), Path("~/.cache/qa/onnx").expanduser(), quantize=False)
    embedder.embed(["When did the AHKFTA enter into force?"]).shape   # (1, 384)
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from qa.embedding.base import EmbeddingError, Progress, Spans, late_pool, normalise
from qa.embedding.onnx_export import (
    ONNX_FILE,
    PROBE,
    Report,
    cache_folder,
    cache_problem,
    export_onnx,
    model_base_name,
    probe_problem,
    read_manifest,
    say,
)

log = logging.getLogger(__name__)


def onnx_available(quantize: bool = False) -> bool:
    """True when onnxruntime (and, to quantise, onnx) can be imported; looked up without importing them."""
    needed = ("onnxruntime", "onnx") if quantize else ("onnxruntime",)
    return all(importlib.util.find_spec(name) is not None for name in needed)


def check_mean_pooling(model_path: Path) -> None:
    """Refuse a model whose sentence vector is not the normalised mean of its token vectors."""
    try:
        modules = json.loads((model_path / "modules.json").read_text(encoding="utf-8"))
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((model_path / pooling_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, StopIteration, KeyError) as exc:
        raise EmbeddingError(
            f"{model_path} has no readable sentence-transformers pooling config ({exc}): "
            "set QA_EMBED_BACKEND=torch to run it with PyTorch."
        ) from exc
    normalised = any(m["type"].endswith("Normalize") for m in modules)
    if not pooling.get("pooling_mode_mean_tokens") or not normalised:
        raise EmbeddingError(
            f"The ONNX backend supports mean-pooled, normalised models only; {model_path} is not one: "
            "set QA_EMBED_BACKEND=torch."
        )


class OnnxEmbedder:
    """An Embedder over the ONNX export of a local sentence-transformers folder (fp32, or int8)."""

    def __init__(
        self,
        model_path: str,
        cache_dir: Path,
        batch_size: int = 32,
        quantize: bool = True,
        threads: int = 0,
        report: Report = say,
    ) -> None:
        path = Path(model_path)
        if not path.is_dir():
            raise EmbeddingError(
                f"Embedding model folder not found: {model_path}. Set QA_MODEL to a local sentence-transformers "
                "folder, or unset it to use the bundled all-MiniLM-L6-v2."
            )
        if not onnx_available(quantize):
            raise EmbeddingError(
                "The ONNX backend needs onnxruntime (and onnx for int8): run `make install`, or set "
                "QA_EMBED_BACKEND=torch."
            )
        check_mean_pooling(path)
        from tokenizers import Tokenizer

        self.quantize, self.threads = quantize, threads
        config = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_seq_length = int(config.get("max_seq_length") or 256)
        # Two tokenizers: counting needs no truncation, the model needs truncation and padding, and a
        # `tokenizers.Tokenizer` cannot switch safely while another thread uses it.
        self._counter = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_seq_length)
        self._tokenizer.enable_padding()
        self.batch_size = batch_size
        self.folder = cache_folder(path, cache_dir, quantize)
        self.session: Any = None
        self._load_checked(path, report)
        self.name = f"{model_base_name(path)}-onnx-{'int8' if quantize else 'fp32'}"
        self.dim = int(self._pooled(self.session, [PROBE]).shape[1])

    def _load_checked(self, model_path: Path, report: Report) -> None:
        """Open the cached export once it passes its checks; (re)make it when missing or damaged."""
        problem = self._problem()
        if problem is None:
            return
        if self.folder.exists():
            report(f"the ONNX export in {self.folder} cannot be used ({problem}); making it again")
        with FileLock(str(self.folder) + ".lock"):
            if self._problem() is not None:  # else another process made it while we waited for the lock
                try:
                    export_onnx(model_path, self.folder, self.quantize, report)
                except EmbeddingError:
                    raise
                except Exception as exc:  # torch and onnx raise many kinds; all mean "cannot export"
                    raise EmbeddingError(
                        f"Cannot export {model_path} to ONNX in {self.folder} ({type(exc).__name__}: {exc}): "
                        "set QA_EMBED_BACKEND=torch."
                    ) from exc
        problem = self._problem()
        if problem is not None:  # pragma: no cover - export_onnx checks the probe before keeping the file
            raise EmbeddingError(
                f"The ONNX export in {self.folder} fails its check ({problem}): set QA_EMBED_BACKEND=torch."
            )

    def _problem(self) -> str | None:
        """Why the cached export cannot be used; None (and `self.session` set) when it passes every check:
        its files against the manifest, then the probe text's vector against PyTorch's."""
        problem = cache_problem(self.folder)
        manifest = read_manifest(self.folder)
        if problem is not None or manifest is None:
            return problem or "no manifest"
        try:
            session = self._open()
        except Exception as exc:  # a damaged file fails to parse in many ways
            return f"{ONNX_FILE} does not open ({type(exc).__name__})"
        try:
            vector = self._pooled(session, [PROBE])[0]
        except Exception as exc:  # a graph that opens but does not run
            return f"the probe text does not run ({type(exc).__name__})"
        problem = probe_problem(manifest, vector, self.quantize)
        if problem is None:
            self.session = session
        return problem

    def _open(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Idle pool threads sleep instead of spinning: in a server or beside PyTorch, spinning threads took
        # the cores other work needed (PyTorch beside a spinning session ran 5x slower).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if self.threads:
            options.intra_op_num_threads = self.threads
        return ort.InferenceSession(str(self.folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])

    def _pooled(self, session: Any, texts: Sequence[str]) -> np.ndarray:
        tokens, mask, _ = self._forward(texts, session)
        return _mean_pool(tokens, mask)

    def _forward(
        self, texts: Sequence[str], session: Any = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Token vectors, attention mask and character offsets for one padded batch."""
        encodings = self._tokenizer.encode_batch(list(texts))
        feeds = {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }
        (tokens,) = (session or self.session).run(["token_embeddings"], feeds)
        offsets = np.asarray([e.offsets for e in encodings], dtype=np.int64)
        return np.asarray(tokens, dtype=np.float32), feeds["attention_mask"].astype(bool), offsets

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors, _ = self.embed_with_spans(texts, [()] * len(texts))
        return vectors

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Spans], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        def forward(batch: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            tokens, mask, offsets = self._forward(batch)
            return tokens, mask, offsets, _mean_pool(tokens, mask)

        return late_pool(texts, spans, self.dim, self.batch_size, forward, progress)


def _mean_pool(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling over the real tokens, then L2 normalisation."""
    weights = mask[:, :, None].astype(np.float32)
    return normalise((tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9))
