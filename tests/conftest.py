"""Shared fixtures: a deterministic fake embedder for unit tests, and the real model on the real corpus."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# The suite tests the extractive answerer unless a test asks for another backend: `auto`, the product's
# default, would load the local model in every CLI and app test. Tests of auto pass it explicitly.
os.environ.setdefault("QA_BACKEND", "extractive")

from qa.chunking import Chunk, Sentence
from qa.config import Backend, Settings
from qa.embedding import Spans, normalise
from qa.retrieval import Hit
from qa.types import Answer

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
_TOKEN = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder:
    """Bag of hashed words: deterministic, instant, and similar texts get similar vectors.

    `calls` records every text it was asked to encode, so tests can prove what an index run re-embedded.
    """

    name = "fake-embedder"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        if not vec.any():
            vec[0] = 1.0
        return vec

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(np.stack([self._vector(t) for t in texts]))

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Spans], progress: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        self.calls.extend(texts)
        span_vectors = [self.embed([t[a:b] for a, b in s]) for t, s in zip(texts, spans, strict=True)]
        if progress is not None:
            progress(len(texts))
        return self.embed(texts), span_vectors

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_TOKEN.findall(t)) for t in texts]


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the real corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


@pytest.fixture
def fake_settings(tmp_path: Path, corpus_copy: Path) -> Settings:
    """Settings over a copy of the real corpus and a fresh index folder, for use with FakeEmbedder."""
    return Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "index", backend=Backend.EXTRACTIVE)


@pytest.fixture(scope="session")
def real_embedder() -> Iterator[object]:
    """The real all-MiniLM-L6-v2 as the default settings run it (fp32 ONNX), loaded once per test session."""
    from qa.embedding import make_embedder

    yield make_embedder(Settings())


@pytest.fixture(scope="session")
def torch_embedder() -> Iterator[object]:
    """The same model run by PyTorch (sentence-transformers): the reference the ONNX backend is checked against."""
    from qa.embedding.pytorch import SentenceTransformerEmbedder

    yield SentenceTransformerEmbedder(Settings().model_path)


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory, real_embedder: object) -> Settings:
    """The real corpus, indexed with the real model into a session-wide temporary folder."""
    from qa.indexing import build_index

    base = tmp_path_factory.mktemp("real")
    corpus = base / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=base / "index", backend=Backend.EXTRACTIVE)
    build_index(settings, real_embedder)  # type: ignore[arg-type]
    return settings


@pytest.fixture(scope="session")
def real_qa(real_settings: Settings, real_embedder: object) -> object:
    """A QA object over the real index with the real model (shared: loading the model takes seconds)."""
    from qa.engine import QA

    return QA(real_settings, embedder=real_embedder)  # type: ignore[arg-type]


# --- Retrieved passages for answer tests (generation, llamacpp) -------------------------------------------

AGREEMENT = (
    "The ASEAN-Hong Kong, China Free Trade Agreement entered into force on 11 June 2019.",
    "It covers trade in goods, trade in services and economic co-operation.",
    "Tariffs on most goods traded between the parties were removed by 2024.",
)
INVESTMENT = (
    "The investment agreement protects investors from Hong Kong and the ASEAN member states.",
    "Disputes between investors and governments can be taken to international arbitration.",
)


def make_chunk(path: str, title: str, texts: tuple[str, ...], offset: int = 100) -> Chunk:
    """A chunk whose sentences sit at known offsets of an imaginary document (after a 100-char preamble)."""
    sentences, pos = [], offset
    for text in texts:
        sentences.append(Sentence(pos, pos + len(text), text))
        pos += len(text) + 1
    return Chunk(path, title, "", None, offset, pos - 1, tuple(sentences))


def make_hits(*chunks: Chunk) -> list[Hit]:
    return [Hit(i, c, 1 / (60 + i), i + 1, i + 1, 0.6, 3.0) for i, c in enumerate(chunks)]


@pytest.fixture
def hits() -> list[Hit]:
    return make_hits(
        make_chunk("ahkfta.txt", "ASEAN-Hong Kong FTA", AGREEMENT),
        make_chunk("investment.txt", "Investment agreement", INVESTMENT),
    )


@pytest.fixture
def extractive() -> Answer:
    return Answer("q", "q", f"{AGREEMENT[0]} [1]", False, backend="extractive")


def ask_extractive(settings: Settings, question: str, top_k: int = 5) -> Answer:
    """The extractive answer over an index built with FakeEmbedder, every score gate open: what the
    answerer picks, not whether it dares (the fake vectors' cosines are lower than a real model's)."""
    from qa.answering import extractive_answer
    from qa.config import AbstainThresholds
    from qa.retrieval import retrieve
    from qa.stores.faiss import Store

    embedder = FakeEmbedder()
    store = Store.load(settings.index_dir)
    vector = embedder.embed([question])[0]
    hits = retrieve(store, question, vector, top_k=top_k)
    gates_open = AbstainThresholds(min_confidence=0.0, min_chunk_cosine=0.0)
    return extractive_answer(question, question, hits, store, vector, gates_open, 3)
