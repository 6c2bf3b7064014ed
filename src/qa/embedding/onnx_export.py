"""Making and checking the ONNX export of the embedding model (the ONNX backend's cache; see qa.embedding.onnx).

The export is made here, once, from the local weights (never downloaded), by `make install`
(`python -m qa.embedding`) or else by the first command that needs it, and cached in

    <cache_dir>/<model>-<fingerprint of the model folder>-<fp32|int8>/
        model.onnx      the transformer, tracing token embeddings out (late pooling needs them)
        export.json     how it was made, model.onnx's size and sha256, and PyTorch's vector for a probe text

A changed model folder has another fingerprint, so it gets a fresh export. Before use the runtime checks the
file against export.json (size; sha256, re-hashed whenever the file's size or mtime differs from the last
check) and runs the probe text, comparing its vector with PyTorch's; anything amiss and the export is made
again. Only making it needs torch; using it does not.

Why our own export and not sentence-transformers' (`SentenceTransformer(path, backend="onnx")` and
`export_optimized_onnx_model`): that path runs through `optimum-onnx`, whose only release (0.1.0) pins
transformers < 4.58 and would downgrade the project's transformers 5; and loading it still builds a
`SentenceTransformer`, which imports torch and transformers, the very start-up cost the ONNX backend removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa.embedding.base import EmbeddingError, normalise

ONNX_FILE = "model.onnx"
MANIFEST = "export.json"
EXPORT_VERSION = 2  # bump when the export or quantisation recipe changes, so caches are remade
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBE = "The ASEAN-Hong Kong, China Free Trade Agreement entered into force on 11 June 2019."
# How close the export's probe vector must be to PyTorch's. fp32: largest difference of one component
# (measured at most 2.3e-7; bench/onnx_equality.py); int8 rounds weights, so only the direction is checked.
FP32_MAX_ABS_DIFF = 1e-4
INT8_MIN_COSINE = 0.97

Report = Callable[[str], None]
log = logging.getLogger(__name__)


def say(message: str) -> None:
    """Progress of a one-time export, logged (the CLI shows it on stderr: it takes tens of seconds, and the
    user should know why)."""
    log.info("qa: %s", message)


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


def model_base_name(model_path: Path) -> str:
    return model_path.name if model_path.name != "model" else model_path.parent.name


def cache_folder(model_path: Path, cache_dir: Path, quantize: bool) -> Path:
    """Where the export of this model folder (as it is now) lives."""
    variant = "int8" if quantize else "fp32"
    return cache_dir / f"{model_base_name(model_path)}-{model_fingerprint(model_path)}-{variant}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if isinstance(manifest, dict):
            return manifest
    return None


def cache_problem(folder: Path) -> str | None:
    """Why the export in `folder` cannot be used as it is (None when its files are intact).

    The sha256 is trusted from a stamp (size and mtime of the file when it was last hashed) so that a
    start does not re-read 90 MB; a changed file gets re-hashed. The probe vector is checked separately,
    by the runtime, on every load.
    """
    manifest = read_manifest(folder)
    onnx_file = folder / ONNX_FILE
    if manifest is None:
        return f"{MANIFEST} is missing or unreadable"
    if manifest.get("export_version") != EXPORT_VERSION:
        return f"it was made by export version {manifest.get('export_version')}, not {EXPORT_VERSION}"
    if not onnx_file.is_file():
        return f"{ONNX_FILE} is missing"
    stat = onnx_file.stat()
    if stat.st_size != manifest.get("onnx_bytes"):
        return f"{ONNX_FILE} is {stat.st_size:,} bytes, not {manifest.get('onnx_bytes'):,}"
    stamp_file = folder / f"{ONNX_FILE}.verified"
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": manifest.get("onnx_sha256")}
    with contextlib.suppress(OSError, ValueError):
        if json.loads(stamp_file.read_text(encoding="utf-8")) == stamp:
            return None
    if _sha256(onnx_file) != manifest.get("onnx_sha256"):
        return f"{ONNX_FILE}'s sha256 does not match {MANIFEST}"
    with contextlib.suppress(OSError):  # a read-only cache: hash again next time
        stamp_file.write_text(json.dumps(stamp), encoding="utf-8")
    return None


def probe_problem(manifest: dict[str, Any], vector: np.ndarray, quantize: bool) -> str | None:
    """Why the export's probe vector disagrees with PyTorch's (None when it agrees within tolerance)."""
    try:
        expected = np.asarray(manifest["probe_vector"], dtype=np.float32)
    except (KeyError, TypeError, ValueError):
        return "the probe vector is missing from the manifest"
    if expected.shape != vector.shape:
        return f"the probe vector has {vector.shape[-1]} dimensions, PyTorch's {expected.shape[-1]}"
    if quantize:
        cosine = float(expected @ vector)
        return (
            None if cosine >= INT8_MIN_COSINE else f"probe cosine to PyTorch {cosine:.4f} < {INT8_MIN_COSINE}"
        )
    diff = float(np.abs(expected - vector).max())
    return (
        None
        if diff <= FP32_MAX_ABS_DIFF
        else f"probe differs from PyTorch by {diff:.2e} > {FP32_MAX_ABS_DIFF}"
    )


def onnx_probe(onnx_file: Path, tokenizer_file: Path, max_length: int) -> np.ndarray:
    """The probe text's mean-pooled, normalised vector from an ONNX file (what the runtime computes)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(max_length)
    tokenizer.no_padding()  # the model's tokenizer.json may pad to a fixed length
    encoding = tokenizer.encode(PROBE)
    feeds = {
        "input_ids": np.asarray([encoding.ids], dtype=np.int64),
        "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
        "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64),
    }
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (tokens,) = session.run(["token_embeddings"], feeds)
    vector: np.ndarray = normalise(np.asarray(tokens, dtype=np.float32).mean(axis=1))[0]
    return vector


def export_onnx(model_path: Path, dest: Path, quantize: bool = True, report: Report = say) -> Path:
    """Export the transformer of `model_path` to ONNX in `dest` (int8 unless told not to); returns the file.

    Checked before it is kept: the probe text's vector must match PyTorch's (EmbeddingError otherwise).
    Written to a temporary folder beside `dest` and moved into place, so a killed export leaves no
    half-written model that a later run would trust.
    """
    started = time.perf_counter()
    report(f"exporting the embedding model to ONNX ({'int8' if quantize else 'fp32'}), once, into {dest}")
    report("  1/4 loading the PyTorch model")
    import torch
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

        report("  2/4 tracing the transformer to ONNX")
        sample = st.tokenizer(
            ["a short text", "a slightly longer text to pad"], padding=True, return_tensors="pt"
        )
        axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "token_embeddings")}
        # The tracer warns about Python-side branches of the attention mask code; the exported graph is
        # checked against PyTorch over varying batch sizes and lengths (tests/test_onnx_embedding.py).
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                TokenEmbeddings(),
                tuple(sample[name] for name in INPUTS),
                str(tmp / "fp32.onnx"),
                input_names=list(INPUTS),
                output_names=["token_embeddings"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,  # the TorchScript exporter needs no onnxscript
            )
        report(
            "  3/4 " + ("quantising the matrix products to int8" if quantize else "no quantisation (fp32)")
        )
        if quantize:
            _quantize(tmp / "fp32.onnx", tmp / ONNX_FILE)
            (tmp / "fp32.onnx").unlink()
        else:
            (tmp / "fp32.onnx").rename(tmp / ONNX_FILE)
        for name in ("tokenizer.json", "sentence_bert_config.json"):
            if (model_path / name).is_file():
                shutil.copy2(model_path / name, tmp / name)
        report("  4/4 checking a probe sentence's vector against PyTorch's")
        reference = np.asarray(st.encode([PROBE], normalize_embeddings=True, convert_to_numpy=True))[0]
        manifest: dict[str, Any] = {
            "export_version": EXPORT_VERSION,
            "model": str(model_path),
            "fingerprint": model_fingerprint(model_path),
            "variant": "int8" if quantize else "fp32",
            "onnx_bytes": (tmp / ONNX_FILE).stat().st_size,
            "onnx_sha256": _sha256(tmp / ONNX_FILE),
            "probe": PROBE,
            "probe_vector": [float(x) for x in reference.astype(np.float32)],
        }
        got = onnx_probe(tmp / ONNX_FILE, model_path / "tokenizer.json", int(st.max_seq_length or 256))
        problem = probe_problem(manifest, got, quantize)
        if problem:
            raise EmbeddingError(
                f"The ONNX export of {model_path} is wrong ({problem}): set QA_EMBED_BACKEND=torch."
            )
        manifest["probe_max_abs_diff"] = float(np.abs(got - reference).max())
        (tmp / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(f"ONNX export done in {time.perf_counter() - started:.0f} s")
    return dest / ONNX_FILE


def _quantize(source: Path, target: Path) -> None:
    """Per-channel weight scales keep cosine to the fp32 model at ~0.99 (one scale per tensor: ~0.95).

    Only MatMul is quantised: that is where the time goes. Of five recipes tried, this one lost the least
    retrieval quality on the evaluation set (still -1.4 points of MRR@10: see bench/results.md).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # "consider pre-processing": shape inference fails on this graph
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QUInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
    finally:
        logging.disable(logging.NOTSET)
