"""The index seam and its two backends: FAISS files in the index folder (`qa.stores.faiss`) or a Milvus
collection (`qa.stores.milvus`), behind one protocol (`qa.stores.base.VectorStore`).

This module is the factory: the only place that picks a backend by the settings. Backends are imported
when first asked for, so Milvus (an optional extra) is never imported for a FAISS index. Nothing outside
this package and `qa.config` knows which store is in use.
"""

from __future__ import annotations

from qa.config import Settings, StoreKind
from qa.stores.base import Fused, VectorStore, fuse_here, rrf_fuse
from qa.stores.errors import (
    IndexCorrupt,
    IndexError_,
    IndexMismatch,
    IndexMissing,
    IndexUnwritable,
    MilvusUnavailable,
)
from qa.stores.manifest import DocumentRecord, Manifest

__all__ = [
    "DocumentRecord",
    "Fused",
    "IndexCorrupt",
    "IndexError_",
    "IndexMismatch",
    "IndexMissing",
    "IndexUnwritable",
    "Manifest",
    "MilvusUnavailable",
    "VectorStore",
    "fuse_here",
    "live_generation",
    "new_store",
    "open_store",
    "prune",
    "rrf_fuse",
]


def open_store(settings: Settings, writing: bool = False) -> VectorStore:
    """The live index, or an IndexError_ naming the fix (IndexMissing when there is none yet).

    `writing`: opened by `qa index` under the lock, which may repair what a killed run left."""
    if settings.store is StoreKind.MILVUS:
        from qa.stores.milvus import MilvusStore

        return MilvusStore.load(settings, writing)
    from qa.stores.faiss import Store

    return Store.load(settings.index_dir, settings.vector_index)


def new_store(settings: Settings, manifest: Manifest) -> VectorStore:
    """An empty index for a full build; saving it switches readers over atomically."""
    if settings.store is StoreKind.MILVUS:
        from qa.stores.milvus import MilvusStore

        return MilvusStore.create(settings, manifest)
    from qa.stores.faiss import Store

    return Store(manifest, policy=settings.vector_index, index_dir=settings.index_dir)


def live_generation(settings: Settings) -> str | None:
    """What a reader compares with its store's `generation` to notice a newer index (None: no index)."""
    if settings.store is StoreKind.MILVUS:
        from qa.stores.milvus_client import live_generation as milvus_generation

        return milvus_generation(settings)
    from qa.stores.faiss_files import current_generation

    return current_generation(settings.index_dir)


def prune(settings: Settings) -> None:
    """Remove what killed writers left behind, keeping the live index and the one before it."""
    if settings.store is StoreKind.MILVUS:
        from qa.stores.milvus_client import prune as milvus_prune

        milvus_prune(settings)
        return
    from qa.stores.faiss_files import prune as faiss_prune

    faiss_prune(settings.index_dir)
