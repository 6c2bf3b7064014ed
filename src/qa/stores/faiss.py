"""The FAISS store: chunk records, their vectors (FAISS), sentence vectors and BM25, all in memory, saved
as one generation folder of plain files (layout and atomic switch: `qa.stores.faiss_files`; which FAISS
index holds the vectors: `qa.stores.faiss_index`).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

import qa.stores.faiss_index as faiss_index
from qa.chunking import Chunk
from qa.config import RetrievalMode, VectorIndexPolicy
from qa.corpus import file_sha256
from qa.lexical import BM25_STOPWORDS, bm25_tokens, content_terms, stemmer
from qa.stores.base import Fused, fuse_here
from qa.stores.codec import chunk_from_json, chunk_to_json
from qa.stores.errors import IndexCorrupt, IndexMissing, IndexUnwritable
from qa.stores.faiss_files import (
    CURRENT,
    current_generation,
    fsync_tree,
    new_generation_name,
    remove_stale,
    switch_current,
    write_json,
)
from qa.stores.manifest import Manifest, manifest_file_record, manifest_from_file_record
from qa.walk import display_dir


class Store:
    """An open index: chunk records, their vectors (FAISS), sentence vectors and BM25, all in memory.

    The FAISS implementation of `qa.stores.base.VectorStore`. `index_dir`: where `save()` writes (the
    folder it was loaded from, or the one `qa.stores.new_store` was given)."""

    def __init__(
        self,
        manifest: Manifest,
        generation: str = "",
        policy: VectorIndexPolicy | None = None,
        index_dir: Path | None = None,
    ) -> None:
        self.manifest = manifest
        self.generation = generation
        self.policy = policy or VectorIndexPolicy()
        self.index_dir = index_dir
        self.chunks: dict[int, Chunk] = {}
        self.sentence_vectors: dict[int, np.ndarray] = {}
        # Exact search while small; `save` switches to IVF past policy.exact_max (see qa.stores.faiss_index).
        self.index: Any = faiss_index.new_flat(manifest.dim)
        self.bm25: Any = None
        self.bm25_ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self._term_df: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.chunks)

    def add(
        self, ids: list[int], chunks: list[Chunk], vectors: np.ndarray, sentence_vectors: list[np.ndarray]
    ) -> None:
        if not ids:
            return
        self.index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )
        for cid, chunk, svec in zip(ids, chunks, sentence_vectors, strict=True):
            self.chunks[cid] = chunk
            self.sentence_vectors[cid] = svec
        self.bm25 = None
        self._term_df = None

    def remove(self, ids: list[int]) -> None:
        if not ids:
            return
        self.index.remove_ids(np.asarray(ids, dtype=np.int64))
        for cid in ids:
            self.chunks.pop(cid, None)
            self.sentence_vectors.pop(cid, None)
        self.bm25 = None
        self._term_df = None

    def term_frequencies(self) -> dict[str, int]:
        """In how many chunks each stemmed content term occurs (computed once per loaded index)."""
        if self._term_df is None:
            df: dict[str, int] = {}
            for chunk in self.chunks.values():
                for term in set(content_terms(chunk.embed_text())):
                    df[term] = df.get(term, 0) + 1
            self._term_df = df
        return self._term_df

    def vector(self, chunk_id: int) -> np.ndarray:
        return np.asarray(self.index.reconstruct(int(chunk_id)), dtype=np.float32)

    def search(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k chunk ids by inner product (= cosine, vectors are normalised)."""
        if len(self) == 0:
            return []
        scores, ids = faiss_index.search(self.index, query_vector, k)
        return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i >= 0]

    def fused_search(
        self, query: str, query_vector: np.ndarray, k: int, rrf_k: int, mode: RetrievalMode
    ) -> Fused:
        """Dense and BM25 top-k fused with RRF (both indexes are in this process's memory)."""
        return fuse_here(self, query, query_vector, k, rrf_k, mode)

    def search_bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        """Top-k chunk ids by BM25; chunks sharing no term with the query are left out."""
        if self.bm25 is None:
            self._build_bm25()
        if self.bm25 is None or len(self.bm25_ids) == 0:
            return []
        tokens = bm25_tokens([query])
        if not tokens or not tokens[0]:
            return []
        k = min(k, len(self.bm25_ids))
        # n_threads=0 scores in this thread: 1 started a thread pool per query (0.8 ms of an 11 ms answer).
        docs, scores = self.bm25.retrieve(tokens, k=k, show_progress=False, n_threads=0)
        return [(int(self.bm25_ids[d]), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def _build_bm25(self) -> None:
        import bm25s

        ids = sorted(self.chunks)
        self.bm25_ids = np.asarray(ids, dtype=np.int64)
        if not ids:
            self.bm25 = None
            return
        corpus = bm25s.tokenize(
            [self.chunks[i].embed_text() for i in ids],
            stopwords=BM25_STOPWORDS,
            stemmer=stemmer(),
            show_progress=False,
        )
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        self.bm25 = retriever

    # ---- persistence -------------------------------------------------------------------------------------

    def save(self, index_dir: Path | None = None) -> str:
        """Write a new generation folder, then switch CURRENT to it atomically. Returns the generation.

        Into `index_dir` when given (a store built in memory, as tests and benchmarks do), else into the
        folder the store belongs to."""
        if index_dir is None:
            index_dir = self.index_dir
        if index_dir is None:
            raise ValueError("Store.save: this store was made without an index folder; pass one")
        index_dir.mkdir(parents=True, exist_ok=True)
        if self.bm25 is None:
            self._build_bm25()
        generation = new_generation_name()
        tmp = index_dir / generation
        try:
            tmp.mkdir()
            self._write(tmp)
        except BaseException as exc:  # a half-written generation is never left behind
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise IndexUnwritable(
                    f"Cannot write the index into {display_dir(index_dir)} ({exc.strerror or exc}); the "
                    "previous index is still in use. Free space or fix permissions, then run `qa index`."
                ) from exc
            raise
        previous = switch_current(index_dir, generation)
        self.generation = generation
        remove_stale(index_dir, keep={generation, previous or ""})
        return generation

    def _write(self, tmp: Path) -> None:
        """Every file of a generation into the empty folder `tmp`, fsynced, manifest.json last."""
        import faiss

        ids = sorted(self.chunks)
        rows: list[int] = []
        row = 0
        for cid in ids:
            rows.append(row)
            row += len(self.chunks[cid].sentences)
        sentence_matrix = (
            np.concatenate([self.sentence_vectors[cid] for cid in ids]).astype(np.float32)
            if ids
            else np.zeros((0, self.manifest.dim), dtype=np.float32)
        )
        records = [chunk_to_json(cid, self.chunks[cid], r) for cid, r in zip(ids, rows, strict=True)]
        self.index = faiss_index.fit(self.index, self.policy)  # exact or IVF by size; (re)trains IVF
        write_json(tmp / "chunks.json", records)
        np.save(tmp / "sentences.npy", sentence_matrix)
        faiss.write_index(self.index, str(tmp / "chunks.faiss"))
        if self.bm25 is not None:
            self.bm25.save(str(tmp / "bm25"))
            np.save(tmp / "bm25_ids.npy", self.bm25_ids)
        self.manifest.built_at = time.time()
        self.manifest.files = {
            p.relative_to(tmp).as_posix(): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        # last: its presence marks a complete folder
        write_json(tmp / "manifest.json", manifest_file_record(self.manifest))
        fsync_tree(tmp)

    @classmethod
    def load(cls, index_dir: Path, policy: VectorIndexPolicy | None = None) -> Store:
        """Open the live generation, or raise an IndexError_ that names the fix."""
        import bm25s
        import faiss

        generation = current_generation(index_dir)
        shown = display_dir(index_dir)
        if generation is None:
            if (index_dir / CURRENT).exists():
                raise IndexCorrupt(
                    f"{shown}{CURRENT} does not name a complete index (damaged, or its folder was "
                    "deleted): run `qa index --rebuild`."
                )
            raise IndexMissing(f"No index found in {shown}: run `qa index` to build it.")
        folder = index_dir / generation
        try:
            manifest = manifest_from_file_record(
                json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            )
            for name, digest in dict(manifest.files).items():
                if file_sha256(folder / name) != digest:
                    raise ValueError(f"{name} does not match the checksum in manifest.json")
            records = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
            sentence_matrix = np.load(folder / "sentences.npy")
            index = faiss.read_index(str(folder / "chunks.faiss"))
            store = cls(manifest, generation, policy, index_dir)
            store.index = index
            for rec in records:
                chunk = chunk_from_json(rec)
                row = int(rec["sentence_row"])
                store.chunks[int(rec["id"])] = chunk
                store.sentence_vectors[int(rec["id"])] = sentence_matrix[row : row + len(chunk.sentences)]
            if (folder / "bm25").is_dir():
                store.bm25 = bm25s.BM25.load(str(folder / "bm25"))
                store.bm25_ids = np.load(folder / "bm25_ids.npy")
                if _tokenised_otherwise(store.bm25):
                    store.bm25 = None  # rebuilt from the chunks on first use, and saved with the next save
        except (OSError, EOFError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            # An OSError's text (and some of numpy's and faiss's) holds the absolute path: say only its kind.
            detail = str(exc) if type(exc) in (ValueError, KeyError) else type(exc).__name__
            raise IndexCorrupt(
                f"The index in {shown}{generation} is damaged or incomplete ({detail}): "
                "run `qa index --rebuild`."
            ) from exc
        if index.ntotal != len(store.chunks) or sum(len(c.sentences) for c in store.chunks.values()) != len(
            sentence_matrix
        ):
            raise IndexCorrupt(
                f"The index in {shown}{generation} is inconsistent (vector counts differ): "
                "run `qa index --rebuild`."
            )
        return store


def _tokenised_otherwise(bm25: Any) -> bool:
    """Whether a saved BM25 index kept words that are stopwords now (saved by an older qa, with bm25s's
    33-word list): its lengths and frequencies would not match the queries', so it is rebuilt instead. A
    word that merely stems to a stopword's spelling only costs a needless rebuild in memory."""
    vocab = getattr(bm25, "vocab_dict", None) or {}
    return any(word in vocab for word in BM25_STOPWORDS)
