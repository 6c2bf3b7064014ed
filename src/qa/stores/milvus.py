"""The index in Milvus: the same seam as the FAISS store (`qa.stores.base.VectorStore`), held by the engine.

One generation is three collections, `<alias>_g<stamp>` (chunk vectors, records, BM25 text), `..._sentences`
(one row per sentence vector, keyed `chunk_id << 12 | n`) and `..._meta` (the manifest: one row for its
settings, one per document). `settings.milvus_collection` is an alias: a full rebuild fills a new generation,
then moves the alias (readers never see a half-built index); incremental runs write into the live one.
BM25 and RRF fusion run in the engine (a BM25 function over our own stemmed tokens, `hybrid_search` with
`RRFRanker`), so no process holds the corpus; records and vectors are fetched per hit and cached.
Connections, retries and the collections themselves: `qa.stores.milvus_client`.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from qa.chunking import Chunk
from qa.config import RetrievalMode, Settings
from qa.lexical import bm25_tokens, content_terms
from qa.stores.base import Fused, fuse_here
from qa.stores.codec import chunk_from_json, chunk_to_json
from qa.stores.errors import IndexCorrupt, IndexMissing
from qa.stores.manifest import DocumentRecord, Manifest
from qa.stores.milvus_client import (
    connect,
    create_collections,
    live_collection,
    manifest_row,
    prune,
    read,
    shown_target,
    unavailable,
)

_T = TypeVar("_T")

SENTENCE_BITS = 12  # at most 4096 sentences per chunk (a chunk holds at most 256 word pieces)
BATCH = 2000
CACHE = 4096
SEARCH_PARAMS = {"metric_type": "IP", "params": {"ef": 96}}


class MilvusStore:
    """An open Milvus generation; the Milvus implementation of `qa.stores.base.VectorStore`."""

    def __init__(self, client: Any, settings: Settings, manifest: Manifest, name: str, version: int) -> None:
        self.client, self.settings, self.manifest, self.name, self.version = (
            client, settings, manifest, name, version
        )  # fmt: skip
        self.count = 0
        self.live = version > 0  # False until a new generation's alias switch
        self._saved_docs: dict[str, str] = {}
        self._records: OrderedDict[int, tuple[Chunk, np.ndarray]] = OrderedDict()
        self.chunks: Mapping[int, Chunk] = _Lazy(lambda cid: self._record(cid)[0], self._ids, len)
        self.sentence_vectors: Mapping[int, np.ndarray] = _Lazy(self._sentences, self._ids, len)
        self._df: Mapping[str, int] = _Lazy(self._document_frequency)

    @property
    def generation(self) -> str:
        return f"{self.name}/{self.version}"

    def __len__(self) -> int:
        return self.count

    @classmethod
    def create(cls, settings: Settings, manifest: Manifest) -> MilvusStore:
        """Empty collections for a new generation; not visible to readers until `save` moves the alias."""
        client = connect(settings)
        name = f"{settings.milvus_collection}_g{time.strftime('%Y%m%d%H%M%S')}{time.time_ns() % 10**9:09d}"
        create_collections(client, name, manifest.dim)
        return cls(client, settings, manifest, name, 0)

    @classmethod
    def load(cls, settings: Settings, writing: bool = False) -> MilvusStore:
        """Open the generation the alias points to, or raise an IndexError_ that names the fix.

        A writer (`qa index`) first repairs what a killed incremental run left: chunks it inserted but never
        recorded are dropped; if it also removed some, the counts differ and IndexCorrupt makes `qa index`
        rebuild. Readers skip this: a writer may be mid-run."""
        client = connect(settings)
        with unavailable(settings):
            return cls._load(client, settings, writing)

    @classmethod
    def _load(cls, client: Any, settings: Settings, writing: bool) -> MilvusStore:
        name = live_collection(client, settings.milvus_collection)
        if name is None:
            raise IndexMissing(
                f"No index in Milvus collection {settings.milvus_collection!r} at {shown_target(settings)}: "
                "run `qa index` to build it."
            )
        for suffix in ("", "_sentences", "_meta"):
            client.load_collection(name + suffix)
        head = manifest_row(client, name)
        docs: dict[str, DocumentRecord] = {}
        saved: dict[str, str] = {}
        it = client.query_iterator(
            name + "_meta", batch_size=1000, filter='id like "doc:%"', output_fields=["value"]
        )
        while rows := it.next():
            for row in rows:
                entry = json.loads(row["value"])
                saved[entry["path"]] = row["value"]
                docs[entry.pop("path")] = DocumentRecord.from_json(
                    {**entry, "chunk_ids": _from_ranges(entry["chunk_ids"])}
                )
        it.close()
        version = int(head.pop("version"))
        store = cls(client, settings, Manifest(**head, documents=docs), name, version)
        store._saved_docs = saved
        if writing:
            client.delete(name, filter=f"id >= {store.manifest.next_id}")
            client.delete(name + "_sentences", filter=f"id >= {store.manifest.next_id << SENTENCE_BITS}")
        store.count = int(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])
        if writing and store.count != sum(len(d.chunk_ids) for d in docs.values()):
            raise IndexCorrupt(
                f"The Milvus collection {name} does not match its manifest (an update was interrupted): "
                "run `qa index --rebuild`."
            )
        return store

    # ---- writes: straight into the collections ------------------------------------------------------------

    def add(
        self, ids: list[int], chunks: list[Chunk], vectors: np.ndarray, sentence_vectors: list[np.ndarray]
    ) -> None:
        if not ids:
            return
        texts = [c.embed_text() for c in chunks]
        tokens = bm25_tokens(texts)
        rows, sentence_rows = [], []
        for cid, chunk, vec, svec, toks, text in zip(
            ids, chunks, vectors, sentence_vectors, tokens, texts, strict=True
        ):
            if len(svec) >= 1 << SENTENCE_BITS:
                raise ValueError(
                    f"chunk {cid} has {len(svec)} sentences; the Milvus store keeps at most 4095"
                )
            record = json.dumps(chunk_to_json(cid, chunk, 0), ensure_ascii=False)
            terms = " ".join(content_terms(text))
            rows.append(
                {
                    "id": cid,
                    "vector": vec.tolist(),
                    "record": record,
                    "bm25_text": " ".join(toks),
                    "terms": terms,
                }
            )
            sentence_rows += [
                {"id": (cid << SENTENCE_BITS) | n, "vector": v.tolist(), "value": str(cid)}
                for n, v in enumerate(svec)
            ]
        for name, data in ((self.name, rows), (self.name + "_sentences", sentence_rows)):
            for start in range(0, len(data), BATCH):
                self.client.insert(name, data[start : start + BATCH])
        self.count += len(ids)

    def remove(self, ids: list[int]) -> None:
        if not ids:
            return
        self.client.delete(self.name, ids=[int(i) for i in ids])
        for start in range(0, len(ids), BATCH):
            owners = ", ".join(f'"{int(cid)}"' for cid in ids[start : start + BATCH])
            self.client.delete(self.name + "_sentences", filter=f"value in [{owners}]")
        for cid in ids:
            self._records.pop(cid, None)
        self.count -= len(ids)

    def save(self) -> str:
        """Write the manifest; for a new generation, then move the alias to it."""
        self.manifest.built_at, self.manifest.files = time.time(), {}
        docs = {
            path: json.dumps({**entry.to_json(), "path": path, "chunk_ids": _to_ranges(entry.chunk_ids)})
            for path, entry in self.manifest.documents.items()
        }
        meta = self.name + "_meta"
        changed = [
            {"id": f"doc:{_key(p)}", "vector": [1.0, 0.0], "value": v}
            for p, v in docs.items()
            if self._saved_docs.get(p) != v
        ]
        for start in range(0, len(changed), BATCH):
            self.client.upsert(meta, changed[start : start + BATCH])
        gone = [f"doc:{_key(p)}" for p in self._saved_docs if p not in docs]
        if gone:
            self.client.delete(meta, ids=gone)
        head = {k: v for k, v in self.manifest.to_json().items() if k != "documents"}
        self.version += 1
        head_row = {
            "id": "manifest",
            "vector": [1.0, 0.0],
            "value": json.dumps({**head, "version": self.version}),
        }
        self.client.upsert(meta, [head_row])
        self._saved_docs = docs
        if not self.live:  # a new generation: flush, then the one atomic step readers can see
            for suffix in ("", "_sentences", "_meta"):
                self.client.flush(self.name + suffix)
            alias = self.settings.milvus_collection
            if live_collection(self.client, alias) is None:
                self.client.create_alias(self.name, alias)
            else:
                self.client.alter_alias(self.name, alias)
            self.live = True
            prune(self.settings)
        return self.generation

    # ---- reads ---------------------------------------------------------------------------------------------

    def vector(self, chunk_id: int) -> np.ndarray:
        return self._record(chunk_id)[1]

    def search(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self.count == 0:
            return []
        found = self._read(lambda: self.client.search(
            self.name, [query_vector.tolist()], anns_field="vector", limit=k, search_params=SEARCH_PARAMS,
            output_fields=["record", "vector"],
        ))  # fmt: skip
        return self._hits(found[0])

    def search_bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        text = _bm25_query(query)
        if not text or self.count == 0:
            return []
        found = self._read(lambda: self.client.search(
            self.name, [text], anns_field="sparse", limit=k, search_params={"metric_type": "BM25"},
            output_fields=["record", "vector"],
        ))  # fmt: skip
        return [(cid, abs(score)) for cid, score in self._hits(found[0])]  # Lite reports -BM25 as a distance

    def fused_search(
        self, query: str, query_vector: np.ndarray, k: int, rrf_k: int, mode: RetrievalMode
    ) -> Fused:
        """Hybrid: one `hybrid_search`, fused by the engine's RRFRanker (it reports no per-route ranks)."""
        text = _bm25_query(query)
        if mode is not RetrievalMode.HYBRID or not text or self.count == 0:
            return fuse_here(self, query, query_vector, k, rrf_k, mode)
        from pymilvus import AnnSearchRequest, RRFRanker

        routes = [
            AnnSearchRequest([query_vector.tolist()], "vector", SEARCH_PARAMS, k),
            AnnSearchRequest([text], "sparse", {"metric_type": "BM25"}, k),
        ]
        found = self._read(
            lambda: self.client.hybrid_search(
                self.name, routes, ranker=RRFRanker(rrf_k), limit=2 * k, output_fields=["record", "vector"]
            )
        )
        return Fused(self._hits(found[0]))

    def term_frequencies(self) -> Mapping[str, int]:
        """Chunk counts per stemmed term, asked of the engine term by term (text_match) and cached."""
        return self._df

    def _read(self, call: Callable[[], _T]) -> _T:
        return read(self.settings, self.client, self.name, call)

    def _ids(self) -> Iterator[int]:
        return iter(sorted(cid for d in self.manifest.documents.values() for cid in d.chunk_ids))

    def _document_frequency(self, term: str) -> int:
        parts = [p for p in "".join(c if c.isalnum() else " " for c in term).split() if p]
        if not parts:
            return 0
        expr = " and ".join(f"text_match(terms, '{p}')" for p in parts)
        rows = self._read(lambda: self.client.query(self.name, filter=expr, output_fields=["count(*)"]))
        return int(rows[0]["count(*)"])

    def _hits(self, found: Any) -> list[tuple[int, float]]:
        out = []
        for hit in found:
            entity = hit["entity"]
            self._remember(int(hit["id"]), entity["record"], entity["vector"])
            out.append((int(hit["id"]), float(hit["distance"])))
        return out

    def _remember(self, cid: int, record: str, vector: list[float]) -> tuple[Chunk, np.ndarray]:
        value = (chunk_from_json(json.loads(record)), np.asarray(vector, dtype=np.float32))
        self._records[cid] = value
        if len(self._records) > CACHE:
            self._records.popitem(last=False)
        return value

    def _record(self, cid: int) -> tuple[Chunk, np.ndarray]:
        if cid in self._records:
            return self._records[cid]
        rows = self._read(
            lambda: self.client.get(self.name, ids=[int(cid)], output_fields=["record", "vector"])
        )
        if not rows:
            raise KeyError(cid)
        return self._remember(cid, rows[0]["record"], rows[0]["vector"])

    def _sentences(self, cid: int) -> np.ndarray:
        rows = self._read(
            lambda: self.client.query(
                self.name + "_sentences", filter=f'value == "{int(cid)}"', output_fields=["id", "vector"]
            )
        )
        if not rows:
            self._record(cid)  # raises KeyError for an unknown chunk
        rows = sorted(rows, key=lambda r: int(r["id"]))
        return np.asarray([r["vector"] for r in rows], dtype=np.float32).reshape(len(rows), self.manifest.dim)


class _Lazy(Mapping[Any, Any]):
    """A read-only mapping that fetches values from the engine on demand (never the whole collection);
    without `keys` it iterates what it has fetched so far."""

    def __init__(self, fetch: Any, keys: Any = None, size: Any = None) -> None:
        self.fetch, self.keys_, self.size = fetch, keys, size
        self.cache: dict[Any, Any] = {}

    def __getitem__(self, key: Any) -> Any:
        if key not in self.cache:
            self.cache[key] = self.fetch(key)
            if len(self.cache) > CACHE:
                self.cache.pop(next(iter(self.cache)))
        return self.cache[key]

    def __iter__(self) -> Iterator[Any]:
        return self.keys_() if self.keys_ else iter(list(self.cache))

    def __len__(self) -> int:
        return sum(1 for _ in self) if self.keys_ else len(self.cache)


def _bm25_query(query: str) -> str:
    tokens = bm25_tokens([query])
    return " ".join(tokens[0]) if tokens else ""


def _key(path: str) -> str:
    import hashlib

    return hashlib.sha1(path.encode()).hexdigest()


def _to_ranges(ids: Sequence[int]) -> list[list[int]]:
    """[3, 4, 5, 9] -> [[3, 6], [9, 10]]: a document's chunk ids are consecutive, so this stays small."""
    out: list[list[int]] = []
    for i in ids:
        if out and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1])
    return out


def _from_ranges(ranges: list[list[int]]) -> list[int]:
    return [i for a, b in ranges for i in range(a, b)]
