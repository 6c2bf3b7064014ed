"""What an index was built with and what it holds per document, as both stores keep it.

FAISS writes it as the generation's manifest.json, with a checksum of its own fields; Milvus keeps the same
fields as rows of the generation's `_meta` collection. The JSON of both keeps the key order it has always
had, so an index written before these types existed opens without a rebuild and is re-saved byte for byte.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from qa.stores.errors import IndexMismatch

FORMAT_VERSION = 1
MANIFEST_CHECKSUM = "manifest_sha256"  # manifest.json's checksum of its other fields (older ones have none)


@dataclass(frozen=True)
class DocumentRecord:
    """One indexed document: how to tell it changed (size, mtime, hashes), what to show, and its chunks."""

    chunk_ids: tuple[int, ...]
    sha256: str = ""
    size: int = 0
    mtime_ns: int = 0
    meta: str = ""  # hash of its corpus/sources.toml entry: a new title or origin re-indexes the document
    title: str = ""
    origin: Mapping[str, str] = field(default_factory=dict)
    pages: int | None = None  # a PDF's page count; None for other kinds
    indexed_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        # Keys in the order manifests have always been written (Milvus compares stored rows as strings).
        return {
            "sha256": self.sha256,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "meta": self.meta,
            "title": self.title,
            "origin": dict(self.origin),
            "pages": self.pages,
            "chunk_ids": list(self.chunk_ids),
            "indexed_at": self.indexed_at,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> DocumentRecord:
        """The record of a manifest's document entry. A key this qa does not know is dropped (a later qa's
        addition must not make the index unreadable); a missing `chunk_ids` is damage (KeyError)."""
        known = {f.name for f in fields(cls)} - {"chunk_ids"}
        rest = {k: v for k, v in record.items() if k in known}
        return cls(chunk_ids=tuple(record["chunk_ids"]), **rest)


@dataclass
class Manifest:
    """What the index was built with, and what it holds per document."""

    model: str
    dim: int
    chunker: dict[str, Any]
    format_version: int = FORMAT_VERSION
    next_id: int = 0
    documents: dict[str, DocumentRecord] = field(default_factory=dict)
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

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON data, keys in field order (what `dataclasses.asdict` gave before)."""
        return {
            "model": self.model,
            "dim": self.dim,
            "chunker": copy.deepcopy(self.chunker),
            "format_version": self.format_version,
            "next_id": self.next_id,
            "documents": {path: record.to_json() for path, record in self.documents.items()},
            "built_at": self.built_at,
            "files": dict(self.files),
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Manifest:
        """The manifest of JSON data; an unknown field is damage (TypeError), as it always was."""
        documents = {path: DocumentRecord.from_json(d) for path, d in record.get("documents", {}).items()}
        return cls(**{**record, "documents": documents})


def manifest_digest(record: dict[str, Any]) -> str:
    canonical = json.dumps(record, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def manifest_file_record(manifest: Manifest) -> dict[str, Any]:
    """What manifest.json holds: the manifest's fields and, last, their checksum."""
    record = manifest.to_json()
    record[MANIFEST_CHECKSUM] = manifest_digest(record)
    return record


def manifest_from_file_record(record: dict[str, Any]) -> Manifest:
    """The manifest of a manifest.json record. Raises ValueError when the record does not match its own
    checksum: a flipped byte inside a string (a hash, a title) is still valid JSON."""
    stored = record.pop(MANIFEST_CHECKSUM, None)
    if stored is not None and stored != manifest_digest(record):
        raise ValueError("manifest.json does not match its own checksum")
    return Manifest.from_json(record)
