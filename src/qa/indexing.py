"""Diff the corpus against the manifest, embed what changed, write the store.

Only added or changed files are read and embedded; removed files' vectors are dropped; unchanged files are
not opened (size and mtime match) or only hashed (touched but identical). A renamed file costs no model
time: chunks whose exact text was embedded before reuse their old vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from qa.cards import document_card
from qa.chunking import Chunk, chunk_document
from qa.config import Settings
from qa.corpus import (
    PART,
    SOURCES_FILE,
    DocumentError,
    Skipped,
    check_size,
    file_sha256,
    load_sources,
    read_document,
    relative_name,
)
from qa.embedding import Embedder
from qa.errors import QAError
from qa.store import IndexCorrupt, IndexMismatch, IndexMissing, IndexUnwritable, Manifest
from qa.stores import VectorStore, new_store, open_store, prune
from qa.walk import display_dir, scan_corpus

log = logging.getLogger(__name__)

SkipHandler = Callable[[Skipped], None]
# (chunks embedded so far, chunks to embed): for a UI's progress bar; the CLI draws its own with tqdm.
ProgressHandler = Callable[[int, int], None]


class IndexBusy(QAError, RuntimeError):
    """Another writer holds the index lock."""


class CorpusMissing(QAError, FileNotFoundError):
    """The corpus folder does not exist."""


class CorpusUnreadable(CorpusMissing):
    """The corpus folder exists but cannot be listed; the index is left as it was."""


@dataclass(frozen=True)
class IndexSummary:
    """What one `qa index` run did. `to_json` gives exactly the keys the CLI promises."""

    added: int
    updated: int
    removed: int
    unchanged: int
    chunks: int
    seconds: float
    skipped: tuple[Skipped, ...] = field(default=())
    rebuilt: bool = False
    generation: str = ""
    # `--dry-run`: the files that would be added, updated and removed (nothing was embedded or written).
    plan: dict[str, tuple[str, ...]] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
        }
        if self.plan is not None:
            out |= {"dry_run": True, "rebuild": self.rebuilt} | {k: list(v) for k, v in self.plan.items()}
        return out

    def describe(self) -> str:
        if self.plan is not None:
            lines = [
                f"dry run: would add {self.added}, update {self.updated}, remove {self.removed} "
                f"({self.unchanged} unchanged)"
                + ("; the whole index would be rebuilt" if self.rebuilt else "")
            ]
            lines += [
                f"  {verb} {path}"
                for verb, key in (("+", "add"), ("~", "update"), ("-", "remove"))
                for path in self.plan[key]
            ]
            return "\n".join([*lines, "nothing was embedded or written"])
        return (
            f"{self.added} added, {self.updated} updated, {self.removed} removed, {self.unchanged} unchanged; "
            f"{self.chunks} chunks in the index ({self.seconds:.2f} s)"
        )


def build_index(
    settings: Settings,
    embedder: Embedder,
    rebuild: bool = False,
    on_skip: SkipHandler | None = None,
    show_progress: bool | None = None,
    on_progress: ProgressHandler | None = None,
    dry_run: bool = False,
) -> IndexSummary:
    """Bring the index in `settings.index_dir` in step with `settings.corpus_dir` (or, with `dry_run`, say
    what that would change: files are read and hashed, nothing is embedded or written)."""
    started = time.perf_counter()
    corpus_dir = settings.corpus_dir
    if not corpus_dir.is_dir():
        raise CorpusMissing(
            f"Corpus folder not found: {display_dir(corpus_dir)}. Create it and add documents, or pass "
            "--corpus DIR."
        )
    lock = FileLock(str(settings.index_dir / ".lock"))
    try:
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
    except Timeout:
        raise IndexBusy(
            f"Another `qa index` is updating the index folder {display_dir(settings.index_dir)} right now; "
            "wait for it to finish and run again."
        ) from None
    except OSError as exc:
        raise IndexUnwritable(
            f"Cannot write the index folder {display_dir(settings.index_dir)} ({exc.strerror}): fix its "
            "permissions, or pass --index DIR (QA_INDEX)."
        ) from None
    try:
        return _build_locked(
            settings, embedder, rebuild, on_skip or _print_skip, show_progress, on_progress, started, dry_run
        )
    finally:
        lock.release()


def _build_locked(
    settings: Settings,
    embedder: Embedder,
    rebuild: bool,
    on_skip: SkipHandler,
    show_progress: bool | None,
    on_progress: ProgressHandler | None,
    started: float,
    dry_run: bool = False,
) -> IndexSummary:
    chunker = settings.chunker_fingerprint()
    store = None if rebuild else _open_previous(settings, embedder, chunker)
    rebuilt = store is None
    if store is None:
        store = new_store(settings, Manifest(model=embedder.name, dim=embedder.dim, chunker=chunker))
    manifest = store.manifest
    skipped: list[Skipped] = []

    def skip(entry: Skipped) -> None:
        skipped.append(entry)
        on_skip(entry)

    try:
        scan = scan_corpus(settings.corpus_dir)
    except DocumentError as exc:  # listing nothing is not "everything was removed": change nothing
        raise CorpusUnreadable(
            f"Cannot read the corpus folder {display_dir(settings.corpus_dir)}: {exc}. Fix its permissions "
            "and run `qa index` again; the index was left as it was."
        ) from None
    sources_known = True
    try:
        sources = load_sources(settings.corpus_dir)
    except DocumentError as exc:  # a typo in the metadata file must not stop the build: report it, go on
        sources, sources_known = {}, False
        skip(Skipped(SOURCES_FILE, str(exc)))
    for entry in scan.skipped:
        skip(entry)
    seen: set[str] = set()
    for folder in scan.unreadable:  # its documents are kept as they were indexed, not taken for removed
        kept = [p for p in manifest.documents if p.startswith(folder)]
        seen.update(kept)
        kept_note = f"its {len(kept)} indexed documents are kept as they were. " if kept else ""
        skip(Skipped(folder, f"cannot read this folder; {kept_note}Fix its permissions to index it."))

    changed: list[tuple[str, Any]] = []  # (relative path, Document)
    unchanged = 0
    for path in scan.files:
        rel = relative_name(path, settings.corpus_dir)
        seen.add(rel)
        old = manifest.documents.get(rel)
        # With the metadata file unreadable, an unchanged document keeps the title it was indexed with.
        meta_hash = _meta_hash(sources.get(rel, {})) if sources_known or not old else old["meta"]
        try:
            stat = path.stat()
            if (
                old
                and old["size"] == stat.st_size
                and old["mtime_ns"] == stat.st_mtime_ns
                and old["meta"] == meta_hash
            ):
                unchanged += 1
                continue
            # Before hashing: a file over the limit is never read, however large.
            check_size(stat.st_size, settings.max_file_bytes)
            digest = file_sha256(path)
            if old and old["sha256"] == digest and old["meta"] == meta_hash:
                old["mtime_ns"] = (
                    stat.st_mtime_ns
                )  # touched, not changed: remember, so we skip hashing next time
                unchanged += 1
                continue
            doc = read_document(
                path, settings.corpus_dir, sources, settings.max_file_bytes, digest, settings.reading
            )
        except (DocumentError, OSError) as exc:
            # An OSError's own text holds the absolute path; the relative one is already in the report.
            reason = str(exc) if isinstance(exc, DocumentError) else f"cannot read ({exc.strerror or exc})"
            skip(Skipped(rel, reason))
            continue
        if not sources_known:
            meta_hash = _meta_hash({})  # read without its metadata: say so, so a fixed file is applied
        for note in doc.notes:  # indexed, but not whole (a bound of ReadLimits, pages OCR could not read)
            skip(Skipped(rel, f"{PART} {note}", cut=True))
        changed.append((rel, (doc, stat.st_size, stat.st_mtime_ns, meta_hash)))

    removed_paths = [p for p in manifest.documents if p not in seen or p in dict(changed)]
    added = sum(1 for rel, _ in changed if rel not in manifest.documents)
    updated = len(changed) - added
    removed = sum(1 for p in manifest.documents if p not in seen)
    if dry_run:
        plan = {
            "add": tuple(rel for rel, _ in changed if rel not in manifest.documents),
            "update": tuple(rel for rel, _ in changed if rel in manifest.documents),
            "remove": tuple(p for p in manifest.documents if p not in seen),
        }
        return IndexSummary(
            added,
            updated,
            removed,
            unchanged,
            len(store),
            time.perf_counter() - started,
            tuple(skipped),
            rebuilt,
            plan=plan,
        )

    # Vectors of chunks about to be dropped, by exact text, so a rename or an untouched chunk of an edited
    # file is not embedded again.
    reusable: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    old_ids: list[int] = []
    for rel in removed_paths:
        for cid in manifest.documents[rel]["chunk_ids"]:
            chunk = store.chunks.get(cid)
            if chunk is not None:
                reusable[chunk.embed_text()] = (store.vector(cid), store.sentence_vectors[cid])
            old_ids.append(cid)
        del manifest.documents[rel]

    new_chunks: list[Chunk] = []
    owners: list[str] = []
    doc_info: dict[str, dict[str, Any]] = {}
    for rel, (doc, size, mtime_ns, meta_hash) in changed:
        chunks = chunk_document(
            doc,
            embedder.count_tokens,
            settings.max_chunk_tokens,
            settings.overlap_sentences,
            settings.min_section_tokens,
        )
        card = document_card(doc, embedder.count_tokens, settings.max_chunk_tokens)
        limit = settings.reading.document_chunks - (card is not None)  # the card is embedded too
        if len(chunks) > limit:
            said = f"only its first {limit:,} of {len(chunks):,} chunks are indexed (QA_MAX_DOCUMENT_CHUNKS)"
            skip(Skipped(rel, f"{PART} {said}", cut=True))
            chunks = chunks[:limit]
        if card is not None:
            chunks.append(card)
        new_chunks.extend(chunks)
        owners.extend([rel] * len(chunks))
        doc_info[rel] = {
            "sha256": doc.sha256,
            "size": size,
            "mtime_ns": mtime_ns,
            "meta": meta_hash,
            "title": doc.title,
            "origin": doc.origin,
            "pages": len(doc.page_starts) or None,
            "chunk_ids": [],
            "indexed_at": time.time(),
        }

    vectors, sentence_vectors = _embed(new_chunks, embedder, reusable, show_progress, on_progress)
    store.remove(old_ids)
    ids = list(range(manifest.next_id, manifest.next_id + len(new_chunks)))
    manifest.next_id += len(new_chunks)
    for cid, rel in zip(ids, owners, strict=True):
        doc_info[rel]["chunk_ids"].append(cid)
    store.add(ids, new_chunks, vectors, sentence_vectors)
    manifest.documents.update(doc_info)

    generation = ""
    if rebuilt or changed or removed_paths:
        generation = store.save(settings.index_dir)
    else:
        prune(settings)  # a run killed after its switch, or before it, left folders behind
    return IndexSummary(
        added=added,
        updated=updated,
        removed=removed,
        unchanged=unchanged,
        chunks=len(store),
        seconds=time.perf_counter() - started,
        skipped=tuple(skipped),
        rebuilt=rebuilt,
        generation=generation,
    )


def _open_previous(settings: Settings, embedder: Embedder, chunker: dict[str, Any]) -> VectorStore | None:
    """The current index if it can be extended; None means start from scratch (with the reason on stderr)."""
    try:
        store = open_store(settings, writing=True)
        store.manifest.check_compatible(embedder.name, embedder.dim, chunker)
    except IndexMissing:
        return None
    except (IndexMismatch, IndexCorrupt) as exc:
        log.warning("qa index: rebuilding everything: %s", exc)
        return None
    return store


def _embed(
    chunks: list[Chunk],
    embedder: Embedder,
    reusable: dict[str, tuple[np.ndarray, np.ndarray]],
    show_progress: bool | None,
    on_progress: ProgressHandler | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    sentence_vectors: list[np.ndarray] = [np.zeros((0, embedder.dim), dtype=np.float32)] * len(chunks)
    todo: list[int] = []
    for i, chunk in enumerate(chunks):
        hit = reusable.get(chunk.embed_text())
        if hit is not None and len(hit[1]) == len(chunk.sentences):
            vectors[i], sentence_vectors[i] = hit
        else:
            todo.append(i)
    if not todo:
        return vectors, sentence_vectors
    if show_progress is None:
        show_progress = sys.stderr.isatty() and len(todo) > 64
    bar: Any = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="chunk", desc="embedding", file=sys.stderr)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if bar is not None:
            bar.update(n)
        if on_progress is not None:
            on_progress(done, len(todo))

    try:
        texts = [chunks[i].embed_text() for i in todo]
        spans = [chunks[i].sentence_spans() for i in todo]
        if on_progress is not None:
            on_progress(0, len(todo))
        new_vectors, new_sentence_vectors = embedder.embed_with_spans(texts, spans, advance)
    finally:
        if bar is not None:
            bar.close()
    for row, i in enumerate(todo):
        vectors[i] = new_vectors[row]
        sentence_vectors[i] = new_sentence_vectors[row]
    return vectors, sentence_vectors


def _meta_hash(entry: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:16]


def _print_skip(skip: Skipped) -> None:
    # A cut document's reason starts with PART ("part not indexed:"), which says it was indexed in part.
    log.warning("qa index: %s%s: %s", "" if skip.cut else "skipped ", skip.path, skip.reason)
