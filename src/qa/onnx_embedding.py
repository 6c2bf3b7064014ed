"""The same sentence-transformers model run by ONNX Runtime, int8-quantised: faster on the CPU, slightly blurred.

The ONNX file is made here, once, from the local weights (never downloaded): torch traces the transformer to
ONNX, and ONNX Runtime quantises its matrix products to int8 with one scale per output channel. It is cached
under `cache_dir/<model>-<hash of the weights>/`, so a changed model folder gets a fresh export.

Not the default: int8 is 2-3x faster but costs retrieval quality on our evaluation set (hit@5 equal, MRR@10
-1.4 points, key facts -3.7 points), and dynamic quantisation scales activations per batch, so a text's
vector depends on the texts it is batched with. The fp32 export gives PyTorch's vectors (to 1e-5) and only
saves framework overhead. `make bench` measures both.

Why not `SentenceTransformer(path, backend="onnx")`: that path needs `optimum-onnx`, which pins
transformers < 4.58 and would downgrade the rest of the project. The graph exported here outputs the token
embeddings, which late pooling needs anyway; mean pooling and normalisation are done in numpy, as
`sentence_transformers.models.Pooling` and `Normalize` do.

    embedder = OnnxEmbedder(default_model_path(), Path("~/.cache/qa").expanduser())
    embedder.embed(["When did the AHKFTA enter into force?"]).shape   # (1, 384)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.embedding import EmbeddingError, Progress, Spans, _pool_spans, normalise

ONNX_FILE = "model.onnx"
EXPORT_VERSION = 1  # bump when the export or quantisation recipe changes, so caches are remade
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_available() -> bool:
    """True when onnxruntime and onnx (for quantising) can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def model_fingerprint(model_path: Path) -> str:
    """A short hash of the files that define the model's outputs (weights, config, tokenizer)."""
    digest = hashlib.sha256(f"export-v{EXPORT_VERSION}".encode())
    for name in sorted(os.listdir(model_path)):
        path = model_path / name
        if path.is_file() and (name.endswith((".json", ".safetensors", ".bin", ".txt"))):
            digest.update(name.encode())
            digest.update(str(path.stat().st_size).encode())
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


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


def export_onnx(model_path: Path, dest: Path, quantize: bool = True) -> Path:
    """Export the transformer of `model_path` to ONNX (int8-quantised unless told not to); returns the file.

    Written to a temporary folder beside `dest` and moved into place, so a killed export leaves no
    half-written model that a later run would trust.
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        st = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        transformer: Any = st[0].auto_model
        transformer.eval()

        class TokenEmbeddings(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = transformer

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                out = self.model(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                )
                return out.last_hidden_state

        sample = st.tokenizer(
            ["a short text", "a slightly longer text to pad"], padding=True, return_tensors="pt"
        )
        axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "token_embeddings")}
        # The tracer warns about Python-side branches of the attention mask code; the exported graph is
        # checked against PyTorch over varying batch sizes and lengths (tests/test_onnx_embedding.py).
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                TokenEmbeddings(),
                tuple(sample[name] for name in _INPUTS),
                str(tmp / "fp32.onnx"),
                input_names=list(_INPUTS),
                output_names=["token_embeddings"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,  # the TorchScript exporter needs no onnxscript
            )
        # Per-channel weight scales keep cosine to the fp32 model at ~0.99 (one scale per tensor: ~0.95).
        # Only MatMul is quantised: that is where the time goes. Of five recipes tried, this one lost the
        # least retrieval quality on the evaluation set (still -1.4 points of MRR@10: see bench/results.md).
        if quantize:
            logging.disable(logging.WARNING)  # "consider pre-processing": shape inference fails on this graph
            try:
                quantize_dynamic(
                    str(tmp / "fp32.onnx"),
                    str(tmp / ONNX_FILE),
                    weight_type=QuantType.QUInt8,
                    per_channel=True,
                    op_types_to_quantize=["MatMul"],
                )
            finally:
                logging.disable(logging.NOTSET)
            (tmp / "fp32.onnx").unlink()
        else:
            (tmp / "fp32.onnx").rename(tmp / ONNX_FILE)
        for name in ("tokenizer.json", "sentence_bert_config.json"):
            if (model_path / name).is_file():
                shutil.copy2(model_path / name, tmp / name)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest / ONNX_FILE


class OnnxEmbedder:
    """An Embedder over the int8 ONNX export of a local sentence-transformers folder."""

    def __init__(
        self,
        model_path: str,
        cache_dir: Path,
        batch_size: int = 32,
        quantize: bool = True,
        threads: int = 0,
    ) -> None:
        path = Path(model_path)
        if not path.is_dir():
            raise EmbeddingError(
                f"Embedding model folder not found: {model_path}. Set QA_MODEL to a local sentence-transformers "
                "folder, or unset it to use the bundled all-MiniLM-L6-v2."
            )
        if not onnx_available():
            raise EmbeddingError(
                "The ONNX backend needs onnxruntime and onnx: run `pip install -e '.[onnx]'`, or set "
                "QA_EMBED_BACKEND=torch."
            )
        check_mean_pooling(path)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        base = path.name if path.name != "model" else path.parent.name
        variant = "int8" if quantize else "fp32"
        folder = cache_dir / f"{base}-{model_fingerprint(path)}-{variant}"
        onnx_file = folder / ONNX_FILE
        if not onnx_file.is_file():
            try:
                export_onnx(path, folder, quantize)
            except Exception as exc:  # torch and onnx raise many kinds; all mean "cannot export"
                raise EmbeddingError(
                    f"Cannot export {model_path} to ONNX in {folder} ({type(exc).__name__}: {exc}): "
                    "set QA_EMBED_BACKEND=torch."
                ) from exc
        options = ort.SessionOptions()
        # Idle pool threads sleep instead of spinning: in a server or beside PyTorch, spinning threads took
        # the cores other work needed (PyTorch beside a spinning session ran 5x slower).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
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
        self.name = f"{base}-onnx-{variant}"
        self.dim = int(self.session.get_outputs()[0].shape[-1] or 0) or self._probe_dim()
        self.batch_size = batch_size

    def _probe_dim(self) -> int:
        return int(self._forward(["dimension"])[0].shape[-1])

    def _forward(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Token vectors, attention mask and character offsets for one padded batch."""
        encodings = self._tokenizer.encode_batch(list(texts))
        feeds = {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }
        (tokens,) = self.session.run(["token_embeddings"], feeds)
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
        text_vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        span_vectors: list[np.ndarray] = [np.zeros((0, self.dim), dtype=np.float32)] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for begin in range(0, len(order), self.batch_size):
            batch = order[begin : begin + self.batch_size]
            tokens, mask, offsets = self._forward([texts[i] for i in batch])
            weights = mask[:, :, None].astype(np.float32)
            pooled = normalise((tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9))
            for row, i in enumerate(batch):
                text_vectors[i] = pooled[row]
                span_vectors[i] = _pool_spans(tokens[row], offsets[row], mask[row], spans[i], pooled[row])
            if progress is not None:
                progress(len(batch))
        return text_vectors, span_vectors
