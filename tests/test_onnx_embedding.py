"""The ONNX Runtime backend against PyTorch: same tokens, near-identical vectors, late pooling, a checked cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.config import Settings
from qa.embedding import EmbeddingError
from qa.embedding.onnx import OnnxEmbedder, onnx_available
from qa.embedding.onnx_export import MANIFEST, ONNX_FILE, PROBE, cache_problem, probe_problem

needs_onnx = pytest.mark.skipif(
    not onnx_available(quantize=True), reason="onnxruntime/onnx not installed: run `make install`"
)

TEXTS = [
    "When did the AHKFTA enter into force?",
    "The ASEAN-Hong Kong, China Free Trade Agreement entered into force on 11 June 2019. "
    "It covers trade in goods and services. They were signed in 2017.",
    "  Hainan and the HKSAR signed a memorandum of understanding.  ",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def int8(cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder(Settings().model_path, cache)


@pytest.fixture(scope="module")
def fp32(cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder(Settings().model_path, cache, quantize=False)


@pytest.mark.slow
@needs_onnx
def test_fp32_export_matches_pytorch(fp32: OnnxEmbedder, torch_embedder: object) -> None:
    torch_vectors = torch_embedder.embed(TEXTS)  # type: ignore[attr-defined]
    vectors = fp32.embed(TEXTS)
    assert vectors.shape == torch_vectors.shape == (3, 384)
    assert np.allclose(vectors, torch_vectors, atol=1e-4)  # the traced graph handles any batch and length


@pytest.mark.slow
@needs_onnx
def test_int8_stays_close_and_is_named_apart(int8: OnnxEmbedder, torch_embedder: object) -> None:
    cosines = (int8.embed(TEXTS) * torch_embedder.embed(TEXTS)).sum(axis=1)  # type: ignore[attr-defined]
    assert cosines.min() > 0.97
    assert int8.name != torch_embedder.name  # type: ignore[attr-defined]  # indexes rebuild on a switch
    assert int8.name.endswith("-onnx-int8") and int8.dim == 384


@pytest.mark.slow
@needs_onnx
def test_late_pooling_and_token_counts_match_pytorch(fp32: OnnxEmbedder, torch_embedder: object) -> None:
    spans = [[(0, 37)], [(0, 84), (85, 128), (129, len(TEXTS[1]))], []]
    vectors, span_vectors = fp32.embed_with_spans(TEXTS, spans)
    ref_vectors, ref_spans = torch_embedder.embed_with_spans(TEXTS, spans)  # type: ignore[attr-defined]
    assert np.allclose(vectors, ref_vectors, atol=1e-4)
    for got, ref in zip(span_vectors, ref_spans, strict=True):
        assert got.shape == ref.shape
        assert np.allclose(got, ref, atol=1e-4)
    assert fp32.count_tokens(TEXTS) == torch_embedder.count_tokens(TEXTS)  # type: ignore[attr-defined]


@pytest.mark.slow
@needs_onnx
def test_export_is_cached(int8: OnnxEmbedder, cache: Path) -> None:
    (folder,) = [p for p in cache.iterdir() if p.name.endswith("-int8")]
    stamp = (folder / ONNX_FILE).stat().st_mtime_ns
    again = OnnxEmbedder(Settings().model_path, cache)
    assert (folder / ONNX_FILE).stat().st_mtime_ns == stamp
    assert np.allclose(again.embed(TEXTS[:1]), int8.embed(TEXTS[:1]))


def test_missing_model_folder_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="QA_MODEL"):
        OnnxEmbedder(str(tmp_path / "nope"), tmp_path)


@pytest.mark.slow
@needs_onnx
def test_the_backend_setting_switches_the_index_and_answers_stay_cited(tmp_path: Path) -> None:
    import shutil

    from qa.config import EmbedBackend
    from qa.embedding import make_embedder
    from qa.engine import QA
    from qa.indexing import build_index
    from tests.conftest import CORPUS

    shutil.copytree(CORPUS, tmp_path / "corpus")
    base = Settings.from_env(
        {"QA_EMBED_BACKEND": "onnx-int8"}, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index"
    )
    base = base.replace(cache_dir=tmp_path / "cache")
    assert base.embed_backend is EmbedBackend.ONNX_INT8
    embedder = make_embedder(base)
    assert isinstance(embedder, OnnxEmbedder) and embedder.name.endswith("-onnx-int8")
    first = build_index(base, embedder)
    assert first.rebuilt and first.chunks > 0

    answer = QA(base, embedder=embedder).ask("When did the AHKFTA enter into force?")
    assert not answer.abstained and "2019" in answer.answer and answer.citations

    # Back to PyTorch: the index was built by another embedder, so the next `qa index` rebuilds it.
    torch_settings = base.replace(embed_backend=EmbedBackend.TORCH)
    again = build_index(torch_settings, make_embedder(torch_settings))
    assert again.rebuilt and again.chunks == first.chunks


# --- The cache's checks -----------------------------------------------------------------------------------


def _fake_export(folder: Path, payload: bytes) -> None:
    import hashlib
    import json

    from qa.embedding.onnx_export import EXPORT_VERSION

    folder.mkdir(parents=True)
    (folder / ONNX_FILE).write_bytes(payload)
    manifest = {
        "export_version": EXPORT_VERSION,
        "onnx_bytes": len(payload),
        "onnx_sha256": hashlib.sha256(payload).hexdigest(),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def test_cache_is_checked_by_size_and_hash(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    _fake_export(folder, b"0123456789" * 100)
    assert cache_problem(folder) is None
    (folder / ONNX_FILE).write_bytes(b"0123456789" * 99)  # truncated
    assert "bytes" in (cache_problem(folder) or "")
    (folder / ONNX_FILE).write_bytes(b"0123456789" * 99 + b"X123456789")  # same size, one byte changed
    assert "sha256" in (cache_problem(folder) or "")
    (folder / MANIFEST).write_text("{not json", encoding="utf-8")
    assert "unreadable" in (cache_problem(folder) or "")


def test_an_export_of_another_recipe_version_is_not_used(tmp_path: Path) -> None:
    import json

    folder = tmp_path / "export"
    _fake_export(folder, b"model")
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    (folder / MANIFEST).write_text(json.dumps(manifest | {"export_version": -1}), encoding="utf-8")
    assert "version" in (cache_problem(folder) or "")


def test_probe_vector_tolerance() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=384).astype(np.float32)
    reference /= np.linalg.norm(reference)
    manifest = {"probe_vector": reference.tolist()}
    assert probe_problem(manifest, reference + 5e-5, quantize=False) is None
    assert "differs" in (probe_problem(manifest, reference + 1e-3, quantize=False) or "")
    blurred = reference + rng.normal(scale=0.005, size=384).astype(np.float32)
    assert probe_problem(manifest, blurred / np.linalg.norm(blurred), quantize=True) is None
    assert probe_problem(manifest, -reference, quantize=True) is not None
    assert "missing" in (probe_problem({}, reference, quantize=False) or "")
    assert "dimensions" in (probe_problem(manifest, reference[:10], quantize=False) or "")


@pytest.mark.slow
@needs_onnx
def test_a_damaged_export_is_made_again(fp32: OnnxEmbedder, torch_embedder: Any, tmp_path: Path) -> None:
    import json
    import shutil

    cache = tmp_path / "cache"
    folder = cache / fp32.folder.name
    shutil.copytree(fp32.folder, folder)
    messages: list[str] = []

    # Bytes changed in the middle of the weights (size unchanged): caught by the sha256, rebuilt.
    with (folder / ONNX_FILE).open("r+b") as fh:
        fh.seek((folder / ONNX_FILE).stat().st_size // 2)
        fh.write(b"\xff" * 64)
    embedder = OnnxEmbedder(Settings().model_path, cache, quantize=False, report=messages.append)
    assert any("sha256" in m and "making it again" in m for m in messages)
    assert cache_problem(folder) is None
    assert np.allclose(embedder.embed(TEXTS), torch_embedder.embed(TEXTS), atol=1e-4)

    # A manifest whose PyTorch probe vector no longer matches what the file computes: rebuilt too.
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    manifest["probe_vector"] = [-x for x in manifest["probe_vector"]]
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    messages.clear()
    OnnxEmbedder(Settings().model_path, cache, quantize=False, report=messages.append)
    assert any("probe differs" in m for m in messages)
    rebuilt = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert rebuilt["probe"] == PROBE and rebuilt["probe_max_abs_diff"] < 1e-4


@pytest.mark.slow
@needs_onnx
def test_an_intact_export_is_used_as_it_is(fp32: OnnxEmbedder) -> None:
    messages: list[str] = []
    stamp = (fp32.folder / ONNX_FILE).stat().st_mtime_ns
    OnnxEmbedder(Settings().model_path, fp32.folder.parent, quantize=False, report=messages.append)
    assert messages == [] and (fp32.folder / ONNX_FILE).stat().st_mtime_ns == stamp
