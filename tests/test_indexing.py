"""Incremental indexing, proven by counting what the embedder was asked to encode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from filelock import FileLock

from qa.config import Settings
from qa.indexing import CorpusMissing, IndexBusy, build_index
from qa.stores.faiss import Store
from tests.conftest import ROOT, FakeEmbedder


def test_first_build_then_noop(fake_settings: Settings, fake_embedder: FakeEmbedder) -> None:
    first = build_index(fake_settings, fake_embedder)
    assert (first.added, first.updated, first.removed, first.unchanged) == (5, 0, 0, 0)
    assert first.chunks == len(fake_embedder.calls) > 5
    fake_embedder.calls.clear()
    again = build_index(fake_settings, fake_embedder)
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 5)
    assert fake_embedder.calls == []
    assert again.generation == ""  # nothing written when nothing changed


def test_progress_is_reported_for_the_chunks_embedded(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    seen: list[tuple[int, int]] = []
    summary = build_index(
        fake_settings, fake_embedder, on_progress=lambda done, total: seen.append((done, total))
    )
    assert seen[0] == (0, summary.chunks) and seen[-1] == (summary.chunks, summary.chunks)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    seen.clear()
    build_index(fake_settings, fake_embedder, on_progress=lambda done, total: seen.append((done, total)))
    assert seen == []  # nothing changed, nothing embedded


def test_add_change_remove_rename_touch(fake_settings: Settings, fake_embedder: FakeEmbedder) -> None:
    corpus = fake_settings.corpus_dir
    build_index(fake_settings, fake_embedder)
    fake_embedder.calls.clear()

    (corpus / "new.txt").write_text("A brand new note. It says the budget was USD 7 million in 2021.")
    summary = build_index(fake_settings, fake_embedder)
    assert (summary.added, summary.updated, summary.removed, summary.unchanged) == (1, 0, 0, 5)
    # Its one chunk and its document card (which quotes its lead sentence).
    assert len(fake_embedder.calls) == 2 and all("USD 7 million" in c for c in fake_embedder.calls)

    fake_embedder.calls.clear()
    (corpus / "new.txt").write_text("A changed note. The budget was USD 9 million in 2022.")
    summary = build_index(fake_settings, fake_embedder)
    assert (summary.added, summary.updated, summary.removed) == (0, 1, 0)
    assert len(fake_embedder.calls) == 2 and all("USD 9 million" in c for c in fake_embedder.calls)

    fake_embedder.calls.clear()
    os.utime(corpus / "hainan-hksar-mou.txt", None)  # touched, content identical
    summary = build_index(fake_settings, fake_embedder)
    assert summary.unchanged == 6 and fake_embedder.calls == []

    fake_embedder.calls.clear()
    (corpus / "new.txt").rename(corpus / "renamed.txt")  # same text, title from the file name changes
    (corpus / "hainan-hksar-mou.txt").rename(corpus / "sub-hainan.txt")
    sources = (corpus / "sources.toml").read_text().replace('["hainan-hksar-mou.txt"]', '["sub-hainan.txt"]')
    (corpus / "sources.toml").write_text(sources)
    summary = build_index(fake_settings, fake_embedder)
    assert (summary.added, summary.removed) == (2, 2)
    # The Hainan chunks keep their title, so none is embedded again; the note's title changed with its name.
    assert all("changed note" in c or "Renamed" in c for c in fake_embedder.calls)
    store = Store.load(fake_settings.index_dir)
    assert set(store.manifest.documents) >= {"renamed.txt", "sub-hainan.txt"}
    assert "hainan-hksar-mou.txt" not in store.manifest.documents

    fake_embedder.calls.clear()
    (corpus / "renamed.txt").unlink()
    summary = build_index(fake_settings, fake_embedder)
    assert (summary.added, summary.updated, summary.removed, summary.unchanged) == (0, 0, 1, 5)
    store = Store.load(fake_settings.index_dir)
    assert all(c.doc_path != "renamed.txt" for c in store.chunks.values())
    assert store.index.ntotal == len(store.chunks) == summary.chunks


def test_chunker_change_rebuilds_everything(fake_settings: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(fake_settings, fake_embedder)
    fake_embedder.calls.clear()
    summary = build_index(fake_settings.replace(max_chunk_tokens=128), fake_embedder)
    assert summary.rebuilt and summary.added == 5 and len(fake_embedder.calls) == summary.chunks


def test_bad_files_are_reported_and_the_rest_indexed(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    corpus = fake_settings.corpus_dir
    (corpus / "broken.pdf").write_bytes(os.urandom(3000))
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (corpus / "empty.md").write_text("")
    skipped: list[str] = []
    summary = build_index(
        fake_settings, fake_embedder, on_skip=lambda s: skipped.append(f"{s.path}: {s.reason}")
    )
    assert summary.added == 5
    assert sorted(s.split(":")[0] for s in skipped) == ["binary.txt", "broken.pdf", "empty.md"]
    assert [s.path for s in summary.skipped] == sorted(s.path for s in summary.skipped)


def test_missing_corpus_and_busy_lock_are_clear(fake_settings: Settings, fake_embedder: FakeEmbedder) -> None:
    with pytest.raises(CorpusMissing, match="--corpus"):
        build_index(fake_settings.replace(corpus_dir=fake_settings.corpus_dir / "nope"), fake_embedder)
    fake_settings.index_dir.mkdir(parents=True)
    with FileLock(str(fake_settings.index_dir / ".lock")), pytest.raises(IndexBusy, match="wait"):
        build_index(fake_settings, fake_embedder)


_SLOW_BUILD = """
import sys, time
sys.path.insert(0, {root!r})
from tests.conftest import FakeEmbedder
from qa.config import Settings
from qa.indexing import build_index
from pathlib import Path

class Slow(FakeEmbedder):
    def embed_with_spans(self, texts, spans, progress=None):
        print("embedding", flush=True)
        time.sleep(30)
        return super().embed_with_spans(texts, spans, progress)

build_index(Settings(corpus_dir=Path({corpus!r}), index_dir=Path({index!r})), Slow(), rebuild=True)
"""


def test_kill_9_during_rebuild_leaves_the_previous_index(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    build_index(fake_settings, fake_embedder)
    before = Store.load(fake_settings.index_dir)
    script = _SLOW_BUILD.format(
        root=str(ROOT), corpus=str(fake_settings.corpus_dir), index=str(fake_settings.index_dir)
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "embedding"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = Store.load(fake_settings.index_dir)
    assert after.generation == before.generation and len(after) == len(before)
    summary = build_index(fake_settings, fake_embedder)  # the next run completes (the stale lock is free)
    assert summary.unchanged == 5


def test_summary_json_has_exactly_the_promised_keys(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    data = build_index(fake_settings, fake_embedder).to_json()
    assert set(data) == {"added", "updated", "removed", "unchanged", "chunks", "seconds"}
    json.dumps(data)


def test_dry_run_lists_what_would_change_and_embeds_and_writes_nothing(
    fake_settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    first = build_index(fake_settings, fake_embedder, dry_run=True)
    assert first.rebuilt and first.added == 5 and fake_embedder.calls == []
    assert not list(fake_settings.index_dir.glob("gen-*")) and first.to_json()["dry_run"] is True
    build_index(fake_settings, fake_embedder)
    store_before = sorted(p.name for p in fake_settings.index_dir.iterdir())
    corpus = fake_settings.corpus_dir
    (corpus / "new.txt").write_text("The new cafeteria opens on Mondays at eight o'clock.\n")
    (corpus / "hainan-hksar-mou.txt").write_text("Rewritten: the MOU covers five areas.\n")
    (corpus / "investhk-japan-korea-visit.txt").unlink()
    fake_embedder.calls.clear()

    plan = build_index(fake_settings, fake_embedder, dry_run=True)
    assert (plan.added, plan.updated, plan.removed, plan.unchanged) == (1, 1, 1, 3)
    assert plan.plan == {
        "add": ("new.txt",),
        "update": ("hainan-hksar-mou.txt",),
        "remove": ("investhk-japan-korea-visit.txt",),
    }
    assert (
        fake_embedder.calls == []
        and sorted(p.name for p in fake_settings.index_dir.iterdir()) == store_before
    )
    text = plan.describe()
    assert "would add 1, update 1, remove 1" in text and "  + new.txt" in text and "  - investhk" in text
    done = build_index(fake_settings, fake_embedder)  # the real run does what the dry run said
    assert (done.added, done.updated, done.removed) == (1, 1, 1)
