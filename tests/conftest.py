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
from qa.lexical import BM25_STOPWORDS, content_terms, stemmer
from qa.retrieval import CorpusStats, Hit
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


def make_chunk(path: str, title: str, texts: Sequence[str], offset: int = 100) -> Chunk:
    """A chunk whose sentences sit one space apart from `offset` of an imaginary document (by default after
    a 100-char preamble). The one chunk builder of the tests."""
    sentences, pos = [], offset
    for text in texts:
        sentences.append(Sentence(pos, pos + len(text), text))
        pos += len(text) + 1
    return Chunk(path, title, "", None, offset, pos - 1, tuple(sentences))


def numbered_chunk(i: int, sentences: int = 1) -> Chunk:
    """Chunk i of a synthetic index over three documents: a code of its own and one of seven topics."""
    text = f"Chunk {i} mentions topic{i % 7} and code X{i}."
    return make_chunk(f"doc{i % 3}.txt", "Title", (text,) * sentences, offset=0)


def make_hits(*chunks: Chunk) -> list[Hit]:
    return [Hit(i, c, 1 / (60 + i), i + 1, i + 1, 0.6, 3.0) for i, c in enumerate(chunks)]


def hybrid_hits(question: str, chunks: Sequence[Chunk], embedder: FakeEmbedder, top_k: int = 5) -> list[Hit]:
    """What retrieval would hand answering over an index of `chunks` (dense and BM25 top 30, fused by RRF,
    near-duplicates collapsed, each hit with its sentence vectors), computed here without an index, so
    answering is tested as the function of its hits it is. Chunk ids are positions in `chunks`."""
    import bm25s

    from qa.lexical import bm25_tokens
    from qa.retrieval import is_near_duplicate, rrf_fuse

    vector = embedder.embed([question])[0]
    cosines = embedder.embed([c.embed_text() for c in chunks]) @ vector
    dense = [int(i) for i in np.argsort(-cosines, kind="stable")[:30]]
    bm25 = bm25s.BM25()
    bm25.index(
        bm25s.tokenize(
            [c.embed_text() for c in chunks], stopwords=BM25_STOPWORDS, stemmer=stemmer(), show_progress=False
        ),
        show_progress=False,
    )
    found, scores = bm25.retrieve(
        bm25_tokens([question]), k=min(30, len(chunks)), show_progress=False, n_threads=1
    )
    lexical = {int(d): float(sc) for d, sc in zip(found[0], scores[0], strict=True) if sc > 0}
    out: list[Hit] = []
    for cid, score in rrf_fuse([dense, list(lexical)], k=60):
        chunk = chunks[cid]
        if any(is_near_duplicate(chunk, h.chunk) for h in out):
            continue
        _, sentence_vectors = embedder.embed_with_spans([chunk.embed_text()], [chunk.sentence_spans()])
        dense_rank = dense.index(cid) + 1 if cid in dense else None
        bm25_rank = list(lexical).index(cid) + 1 if cid in lexical else None
        hit = Hit(
            cid,
            chunk,
            score,
            dense_rank,
            bm25_rank,
            float(cosines[cid]),
            lexical.get(cid, 0.0),
            sentence_vectors[0],
        )
        out.append(hit)
        if len(out) >= top_k:
            break
    return out


def term_stats(chunks: Sequence[Chunk]) -> CorpusStats:
    """What an index over `chunks` would tell answering about its terms (as `VectorStore.term_frequencies`)."""
    df: dict[str, int] = {}
    for chunk in chunks:
        for term in set(content_terms(chunk.embed_text())):
            df[term] = df.get(term, 0) + 1
    return CorpusStats(len(chunks), df)


@pytest.fixture
def hits() -> list[Hit]:
    return make_hits(
        make_chunk("ahkfta.txt", "ASEAN-Hong Kong FTA", AGREEMENT),
        make_chunk("investment.txt", "Investment agreement", INVESTMENT),
    )


@pytest.fixture
def extractive() -> Answer:
    return Answer("q", "q", f"{AGREEMENT[0]} [1]", False, backend=Backend.EXTRACTIVE)


def ask_extractive(settings: Settings, question: str, top_k: int = 5) -> Answer:
    """The extractive answer over an index built with FakeEmbedder, every score gate open: what the
    answerer picks, not whether it dares (the fake vectors' cosines are lower than a real model's)."""
    from qa.answering import extractive_answer
    from qa.config import AbstainThresholds
    from qa.retrieval import for_answering, retrieve
    from qa.stores.faiss import Store

    embedder = FakeEmbedder()
    store = Store.load(settings.index_dir)
    vector = embedder.embed([question])[0]
    hits = retrieve(store, question, vector, top_k=top_k)
    retrieved = for_answering(store, question, question, vector, hits)
    gates_open = AbstainThresholds(min_confidence=0.0, min_chunk_cosine=0.0)
    return extractive_answer(question, question, retrieved, vector, gates_open, 3)
