"""The ONNX Runtime backend against PyTorch: same tokens, near-identical vectors, late pooling, caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.embedding import EmbeddingError
from qa.onnx_embedding import ONNX_FILE, OnnxEmbedder, onnx_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not onnx_available(), reason="onnxruntime/onnx not installed: pip install -e '.[onnx]'"
    ),
]

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


def test_fp32_export_matches_pytorch(fp32: OnnxEmbedder, real_embedder: object) -> None:
    torch_vectors = real_embedder.embed(TEXTS)  # type: ignore[attr-defined]
    vectors = fp32.embed(TEXTS)
    assert vectors.shape == torch_vectors.shape == (3, 384)
    assert np.allclose(vectors, torch_vectors, atol=1e-4)  # the traced graph handles any batch and length


def test_int8_stays_close_and_is_named_apart(int8: OnnxEmbedder, real_embedder: object) -> None:
    cosines = (int8.embed(TEXTS) * real_embedder.embed(TEXTS)).sum(axis=1)  # type: ignore[attr-defined]
    assert cosines.min() > 0.97
    assert int8.name != real_embedder.name  # type: ignore[attr-defined]  # indexes rebuild on a switch
    assert int8.name.endswith("-onnx-int8") and int8.dim == 384


def test_late_pooling_and_token_counts_match_pytorch(fp32: OnnxEmbedder, real_embedder: object) -> None:
    spans = [[(0, 37)], [(0, 84), (85, 128), (129, len(TEXTS[1]))], []]
    vectors, span_vectors = fp32.embed_with_spans(TEXTS, spans)
    ref_vectors, ref_spans = real_embedder.embed_with_spans(TEXTS, spans)  # type: ignore[attr-defined]
    assert np.allclose(vectors, ref_vectors, atol=1e-4)
    for got, ref in zip(span_vectors, ref_spans, strict=True):
        assert got.shape == ref.shape
        assert np.allclose(got, ref, atol=1e-4)
    assert fp32.count_tokens(TEXTS) == real_embedder.count_tokens(TEXTS)  # type: ignore[attr-defined]


def test_export_is_cached(int8: OnnxEmbedder, cache: Path) -> None:
    (folder,) = [p for p in cache.iterdir() if p.name.endswith("-int8")]
    stamp = (folder / ONNX_FILE).stat().st_mtime_ns
    again = OnnxEmbedder(Settings().model_path, cache)
    assert (folder / ONNX_FILE).stat().st_mtime_ns == stamp
    assert np.allclose(again.embed(TEXTS[:1]), int8.embed(TEXTS[:1]))


def test_missing_model_folder_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingError, match="QA_MODEL"):
        OnnxEmbedder(str(tmp_path / "nope"), tmp_path)


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
