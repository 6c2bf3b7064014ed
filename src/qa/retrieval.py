"""Dense (FAISS) + BM25 retrieval, fused with reciprocal rank fusion -> [Hit].

Dense search finds paraphrases; BM25 finds codes and numbers ("AHKFTA", "2019") that a small embedding model
blurs. RRF needs no score calibration between the two: each list contributes 1 / (rrf_k + rank).

Retrieval is the last stage that reads the index: `for_answering` hands answering everything it needs as
plain values (each hit's sentence vectors, the chunks a question's shape reads beyond the top k, the
index's term statistics), so the flow is one way: question -> query -> [Hit] -> Answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from qa import dates, shapes, tuning
from qa.cards import CARD_HEADING
from qa.chunking import Chunk
from qa.config import RetrievalMode
from qa.shapes import Intent, Shape
from qa.stores import VectorStore, rrf_fuse

__all__ = [
    "CorpusStats",
    "Hit",
    "Retrieved",
    "SideSearch",
    "corpus_stats",
    "document_hits",
    "for_answering",
    "is_near_duplicate",
    "lexical_hits",
    "retrieve",
    "rrf_fuse",
]


def _no_vectors() -> np.ndarray:
    return np.zeros((0, 0), dtype=np.float32)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with the evidence of how it was found."""

    chunk_id: int
    chunk: Chunk
    score: float  # fused RRF score (the ranking key)
    dense_rank: int | None  # 1-based, None when dense search did not return it
    bm25_rank: int | None
    dense_score: float  # cosine with the query (computed for every hit, so answers can compare them)
    bm25_score: float
    # One row per sentence of the chunk (stored at index time), which the extractive answerer scores; empty
    # for a hit made outside retrieval (a verifier's passages embed their own). Not compared: hits are equal
    # by what was found, and numpy arrays have no single truth value.
    sentence_vectors: np.ndarray = field(default_factory=_no_vectors, compare=False, repr=False)


def _sentence_vectors(store: VectorStore, chunk_id: int) -> np.ndarray:
    """A copy of a chunk's sentence vectors: the store's are a view into one matrix of the whole index, which
    an answer kept in a chat's history would otherwise hold in memory after a reload (a few KB per hit)."""
    return np.array(store.sentence_vectors[chunk_id])  # copied as it is stored: same dtype, same cosines


def read_beyond(store: VectorStore, chunk_id: int, query_vector: np.ndarray, bm25_score: float = 0.0) -> Hit:
    """A chunk read beyond the retrieved ones (a summary's document, an event's date, a comparison's side):
    ranked after every retrieved hit (fused score 0, no rank of its own), compared with the question."""
    cosine = float(store.vector(chunk_id) @ query_vector)
    chunk = store.chunks[chunk_id]
    return Hit(chunk_id, chunk, 0.0, None, None, cosine, bm25_score, _sentence_vectors(store, chunk_id))


def is_near_duplicate(a: Chunk, b: Chunk, threshold: float = 0.6) -> bool:
    """Two chunks of one document sharing most of their characters, or two identical texts anywhere."""
    if a.doc_path == b.doc_path:
        overlap = min(a.end, b.end) - max(a.start, b.start)
        shorter = min(a.end - a.start, b.end - b.start)
        if shorter > 0 and overlap / shorter >= threshold:
            return True
    return a.text.strip().lower() == b.text.strip().lower()


def retrieve(
    store: VectorStore,
    query: str,
    query_vector: np.ndarray,
    top_k: int,
    candidates: int = 30,
    rrf_k: int = 60,
    mode: RetrievalMode = RetrievalMode.HYBRID,
) -> list[Hit]:
    """The top_k fused hits for a query, near-duplicates collapsed."""
    if len(store) == 0:
        return []
    # The store fuses: the FAISS store in this process, the Milvus store in the engine (one hybrid search).
    fused = store.fused_search(query, query_vector, candidates, rrf_k, mode)
    hits: list[Hit] = []
    for cid, score in fused.ranking:
        chunk = store.chunks[cid]
        if any(is_near_duplicate(chunk, h.chunk) for h in hits):
            continue
        hits.append(
            Hit(
                chunk_id=cid,
                chunk=chunk,
                score=score,
                dense_rank=fused.dense_rank.get(cid),
                bm25_rank=fused.bm25_rank.get(cid),
                dense_score=float(store.vector(cid) @ query_vector),
                bm25_score=fused.bm25_score.get(cid, 0.0),
                sentence_vectors=_sentence_vectors(store, cid),
            )
        )
        if len(hits) >= top_k:
            break
    return hits


def document_hits(
    store: VectorStore,
    doc_path: str,
    query_vector: np.ndarray,
    have: Sequence[Hit],
    limit: int,
    only_card: bool = False,
) -> list[Hit]:
    """Chunks of one document that retrieval did not return, in document order, at most `limit`: what a
    summary of the whole document is chosen from (the five best chunks of a long document are not it).
    Ranked after every retrieved hit (score 0, no rank of their own). `only_card`: its document card alone,
    which a question about the document itself ("Who wrote it?") is answered from."""

    entry = store.manifest.documents.get(doc_path)
    if entry is None:
        return []
    taken = {h.chunk_id for h in have}
    out: list[Hit] = []
    for cid in entry.chunk_ids:
        if cid in taken or cid not in store.chunks:
            continue
        if only_card and store.chunks[cid].heading != CARD_HEADING:
            continue
        out.append(read_beyond(store, cid, query_vector))
        if len(out) >= limit:
            break
    return out


def lexical_hits(
    store: VectorStore,
    query: str,
    query_vector: np.ndarray,
    have: Sequence[Hit],
    keep: Callable[[Chunk], bool],
    depth: int,
    limit: int,
) -> list[Hit]:
    """BM25's top `depth` chunks that `keep` accepts and retrieval did not return, at most `limit`: for a
    question whose key is a literal ("What happened on 19 September 2025?"), which dense search cannot see
    and fusion can rank below the top k. Ranked after every retrieved hit."""
    taken = {h.chunk_id for h in have}
    out: list[Hit] = []
    for cid, score in store.search_bm25(query, depth):
        chunk = store.chunks.get(cid)
        if cid in taken or chunk is None or not keep(chunk):
            continue
        out.append(read_beyond(store, cid, query_vector, score))
        if len(out) >= limit:
            break
    return out


@dataclass(frozen=True)
class CorpusStats:
    """How rare each term is in the whole index, which weighs a query's terms (the rarer, the heavier) and
    tells a code no document contains from one the top k happen to miss."""

    chunks: int  # how many chunks the index holds
    document_frequency: Mapping[str, int]  # in how many chunks each stemmed content term occurs


def corpus_stats(store: VectorStore) -> CorpusStats:
    return CorpusStats(len(store), store.term_frequencies())


@dataclass(frozen=True)
class Retrieved:
    """What retrieval hands to answering for one question: plain values, no index."""

    hits: tuple[Hit, ...]  # the retrieved hits, then the chunks the question's shape reads beyond them
    stats: CorpusStats
    intent: Intent  # the question's shape (`shapes.intent_of`)
    target: str | None = None  # the document a SUMMARY or DOCUMENT question is about


# Retrieval for one side of a comparison: the side's text -> its best hits (the engine's, over the same index).
SideSearch = Callable[[str], Sequence[Hit]]


def side_hits(
    store: VectorStore,
    sides: Sequence[str],
    query_vector: np.ndarray,
    have: Sequence[Hit],
    search: SideSearch,
) -> list[Hit]:
    """The chunks each side of a comparison retrieves on its own that the question did not. The question
    reads closest to one side ("How does ASEAN's trade with Hong Kong, China compare with its trade with
    China in 2024?" retrieves the first side's figures five times over), so the other side's sentence can
    miss the top k. Ranked after every retrieved hit; compared with the question like the rest."""
    taken = {h.chunk_id for h in have}
    out: list[Hit] = []
    for side in sides:
        for hit in search(side):
            if hit.chunk_id in taken:
                continue
            taken.add(hit.chunk_id)
            out.append(read_beyond(store, hit.chunk_id, query_vector))
    return out


def _writes_the_day(intent: Intent) -> Callable[[Chunk], bool] | None:
    """Whether a chunk writes the day an EVENT question's date or a NARRATIVE question's named day ("over
    the weekend") is; None for a question that names no day."""
    if intent.shape is Shape.EVENT:
        return lambda chunk: any(dates.mentions(chunk.text, d) for d in intent.dates)
    if intent.shape is Shape.NARRATIVE and intent.times:
        day = re.compile(r"\b(?:" + "|".join(intent.times) + r")\b", re.IGNORECASE)
        return lambda chunk: bool(day.search(chunk.text))
    return None


def for_answering(
    store: VectorStore,
    question: str,
    query: str,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    side_search: SideSearch | None = None,
) -> Retrieved:
    """The retrieved hits, with what the question's shape reads beyond them, for the answerer.

    A question about a whole document also reads that document's chunks beyond the retrieved ones: its
    card for "Who wrote the poster?", and up to `tuning.SUMMARY_MAX_CHUNKS` of its chunks for a summary. An
    EVENT question reads the chunks BM25 finds that write its date; a COMPARISON or TWO_PART question, what
    `side_search` finds for each side."""
    intent = shapes.intent_of(question)
    target = None
    hits = list(hits)
    if intent.shape in (Shape.SUMMARY, Shape.DOCUMENT):
        ranked = [h.chunk.doc_path for h in hits]
        target = shapes.target_document(ranked, intent, store.manifest.documents)
        if target is not None:
            summary = intent.shape is Shape.SUMMARY
            limit = tuning.SUMMARY_MAX_CHUNKS if summary else 1
            hits += document_hits(store, target, query_vector, hits, limit, only_card=not summary)
    writes = _writes_the_day(intent)
    if writes is not None:
        depth, limit = tuning.EVENT_DEPTH, tuning.EVENT_EXTRA_HITS
        hits += lexical_hits(store, query, query_vector, hits, writes, depth, limit)
    if intent.shape in shapes.SIDED and side_search is not None:
        hits += side_hits(store, intent.sides, query_vector, hits, side_search)
    return Retrieved(tuple(hits), corpus_stats(store), intent, target)
