"""Vectors, chunk records, the BM25 index and the manifest on disk; atomic save, checked load.

Layout of an index folder:

    index/CURRENT            name of the live generation (replaced atomically with os.replace)
    index/gen-<stamp>/       manifest.json, chunks.json, chunks.faiss, sentences.npy, bm25/
    index/.lock              held by the one writer

A save writes a whole new generation folder, fsyncs it, then flips CURRENT. A reader that loaded the old
generation keeps answering from memory; a killed writer leaves only an orphan folder that the next writer
removes. The previous generation is kept so a reader that read CURRENT just before the flip can still open it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa import vector_index
from qa.chunking import Chunk, Sentence
from qa.config import RetrievalMode, VectorIndexPolicy
from qa.corpus import file_sha256
from qa.errors import QAError
from qa.lexical import BM25_STOPWORDS, content_terms, stemmer
from qa.locators import Locus
from qa.stores import Fused, fuse_here
from qa.walk import display_dir

FORMAT_VERSION = 1
CURRENT = "CURRENT"


class IndexError_(QAError):
    """Base for index problems; every message ends with the command that fixes it."""


class IndexMissing(IndexError_):
    pass


class IndexMismatch(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    pass


class IndexUnwritable(IndexError_):
    """The index folder cannot be written (permissions, a full disk); nothing was switched."""


@dataclass
class Manifest:
    """What the index was built with, and what it holds per document."""

    model: str
    dim: int
    chunker: dict[str, Any]
    format_version: int = FORMAT_VERSION
    next_id: int = 0
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    built_at: float = 0.0
    # sha256 of every other file of the generation: a load then refuses a damaged file, not only an
    # unparsable one (a flipped byte in a vector file parses fine and silently changes answers).
    files: dict[str, str] = field(default_factory=dict)

    def check_compatible(self, model: str, dim: int, chunker: dict[str, Any]) -> None:
        """Refuse an index built with another model, dimension or chunker; name the fix."""
        if self.format_version != FORMAT_VERSION:
            raise IndexMismatch(
                f"The index has format version {self.format_version}, this qa reads {FORMAT_VERSION}: "
                "run `qa index --rebuild`."
            )
        if self.model != model or self.dim != dim:
            raise IndexMismatch(
                f"The index was built with model {self.model!r} ({self.dim} dimensions) but the configured model "
                f"is {model!r} ({dim}): run `qa index --rebuild`."
            )
        if self.chunker != chunker:
            raise IndexMismatch(
                f"The index was built with chunker settings {self.chunker}, now {chunker}: run `qa index --rebuild`."
            )


class Store:
    """An open index: chunk records, their vectors (FAISS), sentence vectors and BM25, all in memory.

    The FAISS implementation of `qa.stores.VectorStore`."""

    def __init__(
        self, manifest: Manifest, generation: str = "", policy: VectorIndexPolicy | None = None
    ) -> None:
        self.manifest = manifest
        self.generation = generation
        self.policy = policy or VectorIndexPolicy()
        self.chunks: dict[int, Chunk] = {}
        self.sentence_vectors: dict[int, np.ndarray] = {}
        # Exact search while small; `save` switches to IVF past policy.exact_max (see qa.vector_index).
        self.index: Any = vector_index.new_flat(manifest.dim)
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
        scores, ids = vector_index.search(self.index, query_vector, k)
        return [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i >= 0]

    def fused_search(
        self, query: str, query_vector: np.ndarray, k: int, rrf_k: int, mode: RetrievalMode
    ) -> Fused:
        """Dense and BM25 top-k fused with RRF (both indexes are in this process's memory)."""
        return fuse_here(self, query, query_vector, k, rrf_k, mode)

    def search_bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        """Top-k chunk ids by BM25; chunks sharing no term with the query are left out."""
        import bm25s

        if self.bm25 is None:
            self._build_bm25()
        if self.bm25 is None or len(self.bm25_ids) == 0:
            return []
        tokens = bm25s.tokenize(
            [query], stopwords=BM25_STOPWORDS, stemmer=stemmer(), return_ids=False, show_progress=False
        )
        if not tokens or not tokens[0]:
            return []
        k = min(k, len(self.bm25_ids))
        docs, scores = self.bm25.retrieve(tokens, k=k, show_progress=False, n_threads=1)
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

    def save(self, index_dir: Path) -> str:
        """Write a new generation folder, then switch CURRENT to it atomically. Returns the generation."""
        index_dir.mkdir(parents=True, exist_ok=True)
        if self.bm25 is None:
            self._build_bm25()
        generation = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}-{os.getpid()}"
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
        pointer = index_dir / f".{CURRENT}.{os.getpid()}.tmp"
        pointer.write_text(generation + "\n", encoding="utf-8")
        _fsync_file(pointer)
        previous = current_generation(index_dir)
        os.replace(pointer, index_dir / CURRENT)
        _fsync_dir(index_dir)
        self.generation = generation
        _remove_stale(index_dir, keep={generation, previous or ""})
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
        records = [_chunk_to_json(cid, self.chunks[cid], r) for cid, r in zip(ids, rows, strict=True)]
        self.index = vector_index.fit(self.index, self.policy)  # exact or IVF by size; (re)trains IVF
        _write_json(tmp / "chunks.json", records)
        np.save(tmp / "sentences.npy", sentence_matrix)
        faiss.write_index(self.index, str(tmp / "chunks.faiss"))
        if self.bm25 is not None:
            self.bm25.save(str(tmp / "bm25"))
            np.save(tmp / "bm25_ids.npy", self.bm25_ids)
        self.manifest.built_at = time.time()
        self.manifest.files = {
            p.relative_to(tmp).as_posix(): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        record = asdict(self.manifest)
        record[MANIFEST_CHECKSUM] = manifest_digest(record)
        _write_json(tmp / "manifest.json", record)  # last: its presence marks a complete folder
        _fsync_tree(tmp)

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
            record = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            # Its own checksum: a flipped byte inside a string (a hash, a title) is still valid JSON.
            stored = record.pop(MANIFEST_CHECKSUM, None)
            if stored is not None and stored != manifest_digest(record):
                raise ValueError("manifest.json does not match its own checksum")
            manifest = Manifest(**record)
            for name, digest in dict(manifest.files).items():
                if file_sha256(folder / name) != digest:
                    raise ValueError(f"{name} does not match the checksum in manifest.json")
            records = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
            sentence_matrix = np.load(folder / "sentences.npy")
            index = faiss.read_index(str(folder / "chunks.faiss"))
            store = cls(manifest, generation, policy)
            store.index = index
            for rec in records:
                chunk = _chunk_from_json(rec)
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


def current_generation(index_dir: Path) -> str | None:
    """The live generation's folder name, or None when there is no complete index."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None  # no index, or a damaged pointer (Store.load tells them apart; a save replaces it)
    except OSError as exc:
        raise IndexCorrupt(
            f"Cannot read {display_dir(index_dir)}{CURRENT} ({exc.strerror}): run `qa index --rebuild`."
        ) from exc
    if not name or "/" in name or not (index_dir / name / "manifest.json").is_file():
        return None
    return name


def _chunk_to_json(cid: int, chunk: Chunk, sentence_row: int) -> dict[str, Any]:
    return {
        "id": cid,
        "doc": chunk.doc_path,
        "title": chunk.title,
        "heading": chunk.heading,
        "page": chunk.page,
        "start": chunk.start,
        "end": chunk.end,
        "sentence_row": sentence_row,
        "sentences": [[s.start, s.end, s.text, s.context] for s in chunk.sentences],
        "loci": [locus.to_json() for locus in chunk.loci],
    }


def _chunk_from_json(rec: dict[str, Any]) -> Chunk:
    return Chunk(
        doc_path=rec["doc"],
        title=rec["title"],
        heading=rec["heading"],
        page=rec["page"],
        start=rec["start"],
        end=rec["end"],
        sentences=tuple(Sentence(int(a), int(b), str(t), bool(c)) for a, b, t, c in rec["sentences"]),
        loci=tuple(Locus.from_json(locus) for locus in rec.get("loci", ())),
    )


MANIFEST_CHECKSUM = "manifest_sha256"  # manifest.json's checksum of its other fields (older ones have none)


def manifest_digest(record: dict[str, Any]) -> str:
    canonical = json.dumps(record, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    _fsync_file(path)


def _fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            _fsync_file(Path(root) / name)
        _fsync_dir(Path(root))


def prune(index_dir: Path) -> None:
    """Remove what killed writers left (partial folders, stale pointers), keeping the live generation and
    the one before it. For a writer (under the lock) that has nothing to save: a save prunes by itself."""
    live = current_generation(index_dir)
    if live is None:
        return
    older = sorted(
        p.name for p in index_dir.glob("gen-*") if p.name < live and (p / "manifest.json").is_file()
    )  # generation names sort by time
    _remove_stale(index_dir, keep={live, *older[-1:]})


def _remove_stale(index_dir: Path, keep: set[str]) -> None:
    """Drop generations other than the live and previous one (orphans of killed builds included)."""
    for entry in index_dir.iterdir():
        if entry.name.startswith("gen-") and entry.name not in keep and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{CURRENT}.") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)  # the pointer of a writer killed just before its switch
