"""Diff the corpus against the manifest, embed what changed, write the store.

Only added or changed files are read and embedded; removed files' vectors are dropped; unchanged files are
not opened (size and mtime match) or only hashed (touched but identical). A renamed file costs no model
time: chunks whose exact text was embedded before reuse their old vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from filelock import FileLock, Timeout

from qa.cards import document_card
from qa.chunk_vectors import Embedded, embed_chunks, reusable_vectors
from qa.chunking import Chunk, chunk_with_settings
from qa.config import Settings
from qa.corpus import (
    PART,
    SOURCES_FILE,
    Document,
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
from qa.stores import (
    DocumentRecord,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    IndexUnwritable,
    Manifest,
    VectorStore,
    new_store,
    open_store,
    prune,
)
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
    """diff -> plan -> chunk -> reuse vectors (embed the rest) -> apply. Nothing reaches the live index
    before the last step's save: a run that fails or is killed earlier leaves the previous index in use."""
    chunker = settings.chunker_fingerprint()
    store = None if rebuild else _open_previous(settings, embedder, chunker)
    rebuilt = store is None
    if store is None:
        store = new_store(settings, Manifest(model=embedder.name, dim=embedder.dim, chunker=chunker))
    skipped: list[Skipped] = []

    def skip(entry: Skipped) -> None:
        skipped.append(entry)
        on_skip(entry)

    diff = diff_corpus(settings, store.manifest, skip)
    plan = plan_changes(store.manifest, diff)

    def summary(generation: str = "", dry: bool = False) -> IndexSummary:
        counts = (len(plan.add), len(plan.update), len(plan.remove), diff.unchanged, len(store))
        seconds = time.perf_counter() - started
        paths = {"add": plan.add, "update": plan.update, "remove": plan.remove} if dry else None
        return IndexSummary(*counts, seconds, tuple(skipped), rebuilt, generation, paths)

    if dry_run:
        return summary(dry=True)
    chunked = [chunk_changed(settings, embedder, change, skip) for change in diff.changed]
    reusable = reusable_vectors(store, plan.drop)
    new_chunks = [chunk for doc in chunked for chunk in doc.chunks]
    embedded = embed_chunks(new_chunks, embedder, reusable, show_progress, on_progress)
    apply_changes(store, diff, plan, chunked, embedded)
    if rebuilt or diff.changed or plan.drop:
        return summary(store.save())
    prune(settings)  # a run killed after its switch, or before it, left folders behind
    return summary()


# ---- the steps, each handing the next a typed record -------------------------------------------------------


@dataclass(frozen=True)
class ChangedDocument:
    """A corpus file to (re)index: its text, and what its manifest record will say about the file."""

    rel: str
    doc: Document
    size: int
    mtime_ns: int
    meta: str  # the hash of its sources.toml entry


@dataclass(frozen=True)
class CorpusDiff:
    """The corpus against the manifest."""

    changed: tuple[ChangedDocument, ...]  # added or edited, in scan order
    unchanged: int
    seen: frozenset[str]  # every path the scan found, and the indexed ones of folders it could not read
    touched: Mapping[str, DocumentRecord]  # same content, new mtime: remembered so it is not hashed again


@dataclass(frozen=True)
class Plan:
    """What the run changes, by path; `drop`: the documents whose chunks go (removed and updated ones)."""

    add: tuple[str, ...]
    update: tuple[str, ...]
    remove: tuple[str, ...]
    drop: tuple[str, ...]


@dataclass(frozen=True)
class ChunkedDocument:
    """A changed document cut into the chunks to index (its document card last, if it has one)."""

    change: ChangedDocument
    chunks: tuple[Chunk, ...]
    indexed_at: float

    def record(self, chunk_ids: tuple[int, ...]) -> DocumentRecord:
        doc = self.change.doc
        return DocumentRecord(
            chunk_ids=chunk_ids,
            sha256=doc.sha256,
            size=self.change.size,
            mtime_ns=self.change.mtime_ns,
            meta=self.change.meta,
            title=doc.title,
            origin=doc.origin,
            pages=len(doc.page_starts) or None,
            indexed_at=self.indexed_at,
        )


def diff_corpus(settings: Settings, manifest: Manifest, skip: SkipHandler) -> CorpusDiff:
    """Read what changed: files whose size, mtime and metadata match the manifest are not opened, touched
    ones are only hashed; added and edited ones are read. Unreadable files and folders are reported."""
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

    changed: list[ChangedDocument] = []
    touched: dict[str, DocumentRecord] = {}
    unchanged = 0
    for path in scan.files:
        rel = relative_name(path, settings.corpus_dir)
        seen.add(rel)
        old = manifest.documents.get(rel)
        # With the metadata file unreadable, an unchanged document keeps the title it was indexed with.
        meta_hash = _meta_hash(sources.get(rel, {})) if sources_known or not old else old.meta
        try:
            stat = path.stat()
            if old and (old.size, old.mtime_ns, old.meta) == (stat.st_size, stat.st_mtime_ns, meta_hash):
                unchanged += 1
                continue
            # Before hashing: a file over the limit is never read, however large.
            check_size(stat.st_size, settings.max_file_bytes)
            digest = file_sha256(path)
            if old and old.sha256 == digest and old.meta == meta_hash:
                # Touched, not changed: remember the new mtime, so the next run skips hashing it.
                touched[rel] = replace(old, mtime_ns=stat.st_mtime_ns)
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
        changed.append(ChangedDocument(rel, doc, stat.st_size, stat.st_mtime_ns, meta_hash))
    return CorpusDiff(tuple(changed), unchanged, frozenset(seen), touched)


def plan_changes(manifest: Manifest, diff: CorpusDiff) -> Plan:
    """Added, updated and removed paths; and the indexed documents to drop, in manifest order."""
    changed = {change.rel for change in diff.changed}
    return Plan(
        add=tuple(c.rel for c in diff.changed if c.rel not in manifest.documents),
        update=tuple(c.rel for c in diff.changed if c.rel in manifest.documents),
        remove=tuple(p for p in manifest.documents if p not in diff.seen),
        drop=tuple(p for p in manifest.documents if p not in diff.seen or p in changed),
    )


def chunk_changed(
    settings: Settings, embedder: Embedder, change: ChangedDocument, skip: SkipHandler
) -> ChunkedDocument:
    """The document's chunks and its card, cut to QA_MAX_DOCUMENT_CHUNKS (which is reported)."""
    doc = change.doc
    chunks = chunk_with_settings(doc, embedder.count_tokens, settings)
    card = document_card(doc, embedder.count_tokens, settings.max_chunk_tokens)
    limit = settings.reading.document_chunks - (card is not None)  # the card is embedded too
    if len(chunks) > limit:
        said = f"only its first {limit:,} of {len(chunks):,} chunks are indexed (QA_MAX_DOCUMENT_CHUNKS)"
        skip(Skipped(change.rel, f"{PART} {said}", cut=True))
        chunks = chunks[:limit]
    if card is not None:
        chunks.append(card)
    return ChunkedDocument(change, tuple(chunks), time.time())


def apply_changes(
    store: VectorStore,
    diff: CorpusDiff,
    plan: Plan,
    chunked: list[ChunkedDocument],
    embedded: Embedded,
) -> None:
    """Drop the old chunks, add the new ones under fresh ids, and record every document in the manifest
    (in memory: the caller's save makes it live)."""
    manifest = store.manifest
    store.remove([cid for rel in plan.drop for cid in manifest.documents[rel].chunk_ids])
    chunks = [chunk for doc in chunked for chunk in doc.chunks]
    start = manifest.next_id
    manifest.next_id += len(chunks)
    store.add(list(range(start, manifest.next_id)), chunks, embedded.vectors, embedded.sentence_vectors)
    manifest.documents.update(diff.touched)
    for rel in plan.drop:
        del manifest.documents[rel]
    for doc in chunked:
        manifest.documents[doc.change.rel] = doc.record(tuple(range(start, start + len(doc.chunks))))
        start += len(doc.chunks)


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


def _meta_hash(entry: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:16]


def _print_skip(skip: Skipped) -> None:
    # A cut document's reason starts with PART ("part not indexed:"), which says it was indexed in part.
    log.warning("qa index: %s%s: %s", "" if skip.cut else "skipped ", skip.path, skip.reason)
