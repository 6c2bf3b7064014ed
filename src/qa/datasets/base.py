"""What every public-set adapter shares: where the data lies, the cached corpus folder, fixed samples.

A public set becomes an ordinary corpus folder (one .txt file per passage, titles in sources.toml) in a cache
folder of its own, and an ordinary index beside it built by `qa.indexing.build_index`:

    <cache>/datasets/<name>/corpus/      written once per version of the data (a stamp holds its fingerprint)
    <cache>/datasets/<name>/index/       incremental as always: a new model or chunker rebuilds it
    <cache>/datasets/<name>/build.json   time, memory and size of the last build that embedded anything

so `qa eval --dataset NAME` only embeds when the data or the settings changed, and what it measures is the
product's own indexing and retrieval. The data itself is read where it lies and never copied into the project.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import resource
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from qa.config import ConfigError, Settings
from qa.corpus import SOURCES_FILE, file_sha256
from qa.embedding import Embedder

# Bump when an adapter writes its corpus differently, so cached corpus folders are rewritten.
CORPUS_FORMAT = 1
_T = TypeVar("_T")


class Dataset(StrEnum):
    """The public sets `qa eval --dataset` knows."""

    SQUAD2 = "squad2"
    NFCORPUS = "nfcorpus"
    HALUEVAL = "halueval"


class DatasetError(ConfigError):
    """A public set cannot be read; the message says where it was looked for and how to point to it."""


def parse_dataset(value: str) -> Dataset:
    try:
        return Dataset(value.strip().lower())
    except ValueError:
        names = ", ".join(d.value for d in Dataset)
        raise DatasetError(f"Unknown dataset {value!r}: choose one of {names}.") from None


@dataclass(frozen=True)
class CorpusDoc:
    """One passage of a public set as a file of the corpus folder."""

    path: str  # relative, forward slashes, ending in .txt
    title: str
    text: str


@dataclass(frozen=True)
class Prepared:
    """A public set's corpus folder and index, ready for a QA object, and what building it cost."""

    settings: Settings  # the caller's settings pointed at the set's corpus and index
    documents: int
    build: dict[str, Any]  # build.json: seconds, chunks, peak memory, index size (of the last real build)
    rebuilt_now: bool  # whether this run embedded anything


def data_root(env: Mapping[str, str] | None = None) -> Path:
    """The folder holding squad2/ and nfcorpus/: QA_DATASETS, else ../shared/datasets beside the checkout
    (the working directory: `make` and the tests run from the repository root)."""
    env = os.environ if env is None else env
    if env.get("QA_DATASETS"):
        return Path(env["QA_DATASETS"])
    return Path.cwd().parent / "shared" / "datasets"


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetError(
            f"{what} not found at {path}: set QA_DATASETS (or --data) to the folder that holds "
            "squad2/ and nfcorpus/ (see eval/README.md, 'Public sets')."
        )
    return path


def fingerprint(files: Sequence[Path], extra: str = "") -> str:
    """Changes when any data file or the adapter's corpus format changes."""
    digest = hashlib.sha256(f"{CORPUS_FORMAT}|{extra}".encode())
    for path in files:
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()[:16]


def fixed_sample(items: Sequence[_T], limit: int | None, seed: int) -> list[_T]:
    """`limit` items drawn with `seed`, in their original order; all of them when limit is None or larger.

    >>> fixed_sample(list("abcdef"), 3, seed=0) == fixed_sample(list("abcdef"), 3, seed=0)
    True
    """
    if limit is not None and limit < 1:
        raise DatasetError(f"--limit must be at least 1, got {limit}.")
    if limit is None or limit >= len(items):
        return list(items)
    chosen = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in chosen]


def write_corpus(folder: Path, stamp: str, docs: Iterable[CorpusDoc]) -> int:
    """Write the corpus folder unless it already holds this `stamp`; returns the number of documents.

    Written to a temporary sibling and renamed, so a killed run never leaves a half corpus that looks done.
    """
    marker = folder / ".qa-dataset.json"
    if marker.is_file():
        saved = json.loads(marker.read_text(encoding="utf-8"))
        if saved.get("fingerprint") == stamp:
            return int(saved["documents"])
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    titles: list[str] = []
    count = 0
    for doc in docs:
        path = tmp / doc.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc.text, encoding="utf-8")
        # json.dumps gives a valid TOML basic string (quotes, backslashes and controls escaped).
        titles.append(f"[{json.dumps(doc.path)}]\ntitle = {json.dumps(doc.title)}\n")
        count += 1
    (tmp / SOURCES_FILE).write_text("\n".join(titles), encoding="utf-8")
    (tmp / marker.name).write_text(json.dumps({"fingerprint": stamp, "documents": count}), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return count


def prepare(
    settings: Settings, cache: Path, stamp: str, docs: Iterable[CorpusDoc], embedder: Embedder
) -> Prepared:
    """The set's corpus folder and an up-to-date index of it under `cache` (built or updated as needed)."""
    from qa.indexing import build_index

    cache.mkdir(parents=True, exist_ok=True)
    documents = write_corpus(cache / "corpus", stamp, docs)
    pointed = settings.replace(corpus_dir=cache / "corpus", index_dir=cache / "index")
    rss_before = _rss_mb()
    started = time.perf_counter()
    summary = build_index(pointed, embedder)
    seconds = time.perf_counter() - started
    record = cache / "build.json"
    embedded = bool(summary.added or summary.updated or summary.rebuilt)
    if embedded or not record.is_file():
        build = {
            "seconds": round(seconds, 1),
            "documents": documents,
            "chunks": summary.chunks,
            # ru_maxrss is the process's peak so far: it includes the embedding model loaded for the build.
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "rss_before_mb": rss_before,
            "index_mb": round(_live_index_bytes(cache / "index") / 2**20, 1),
            "embedder": embedder.name,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
        record.write_text(json.dumps(build, indent=1), encoding="utf-8")
    build = json.loads(record.read_text(encoding="utf-8"))
    return Prepared(pointed, documents, build, embedded)


def _rss_mb() -> int:
    """This process's resident memory now, in MiB (Linux /proc; 0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20)


def _live_index_bytes(index_dir: Path) -> int:
    """Bytes of the live generation (the previous one is kept beside it for readers, not counted)."""
    from qa.stores.faiss_files import current_generation

    live = current_generation(index_dir)
    folder = index_dir / live if live else index_dir
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
