"""The FAISS store's own files: round trips, atomic saves, checked loads (what both stores promise is in
tests/test_store_contract.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from qa.stores import IndexCorrupt, IndexMismatch, Manifest
from qa.stores.faiss import Store
from qa.stores.faiss_files import CURRENT, current_generation
from qa.stores.manifest import MANIFEST_CHECKSUM, manifest_digest
from tests.conftest import make_chunk, numbered_chunk


def _store(n: int = 200, dim: int = 16, seed: int = 0) -> tuple[Store, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = Store(Manifest(model="m", dim=dim, chunker={"c": 1}))
    store.add(
        list(range(n)), [numbered_chunk(i) for i in range(n)], vectors, [vectors[i : i + 1] for i in range(n)]
    )
    return store, vectors


def test_save_load_round_trip(tmp_path: Path) -> None:
    store, vectors = _store()
    store.save(tmp_path)
    loaded = Store.load(tmp_path)
    assert loaded.chunks == store.chunks
    assert loaded.manifest.chunker == {"c": 1}
    for cid in (0, 57, 199):
        assert np.allclose(loaded.sentence_vectors[cid], store.sentence_vectors[cid])
        assert np.allclose(loaded.vector(cid), vectors[cid])
    assert loaded.search_bm25("X57", 3)[0][0] == 57


def test_crash_before_the_switch_leaves_the_old_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = _store()
    store.save(tmp_path)
    old = current_generation(tmp_path)
    bigger, _ = _store(n=250, seed=3)

    def crash(*_args: object) -> None:
        raise OSError("simulated crash mid-write")

    monkeypatch.setattr("qa.stores.faiss_files.os.replace", crash)
    with pytest.raises(OSError, match="simulated"):
        bigger.save(tmp_path)
    monkeypatch.undo()
    assert current_generation(tmp_path) == old
    assert len(Store.load(tmp_path)) == 200
    bigger.save(tmp_path)  # the next run completes and cleans the orphan
    assert len(Store.load(tmp_path)) == 250
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("gen-")]) <= 2


def test_corrupt_files_give_a_clear_error(tmp_path: Path) -> None:
    store, _ = _store()
    generation = store.save(tmp_path)
    (tmp_path / generation / "chunks.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt, match="qa index --rebuild"):
        Store.load(tmp_path)


def test_truncated_records_give_a_clear_error(tmp_path: Path) -> None:
    store, _ = _store()
    generation = store.save(tmp_path)
    records = tmp_path / generation / "chunks.json"
    records.write_text(records.read_text()[:-500])
    with pytest.raises(IndexCorrupt, match="qa index --rebuild"):
        Store.load(tmp_path)


def test_manifest_mismatch_names_the_fix(tmp_path: Path) -> None:
    store, _ = _store()
    generation = store.save(tmp_path)
    manifest = Store.load(tmp_path).manifest
    with pytest.raises(IndexMismatch, match="qa index --rebuild"):
        manifest.check_compatible("other-model", 16, {"c": 1})
    with pytest.raises(IndexMismatch, match="chunker"):
        manifest.check_compatible("m", 16, {"c": 2})
    data = json.loads((tmp_path / generation / "manifest.json").read_text())
    data["format_version"] = 99  # as a later version writes it, with its own checksum
    data.pop(MANIFEST_CHECKSUM)
    data[MANIFEST_CHECKSUM] = manifest_digest(data)
    (tmp_path / generation / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexMismatch, match="format version"):
        Store.load(tmp_path).manifest.check_compatible("m", 16, {"c": 1})


def test_a_changed_value_inside_the_manifest_is_damage(tmp_path: Path) -> None:
    store, _ = _store()
    generation = store.save(tmp_path)
    path = tmp_path / generation / "manifest.json"
    data = json.loads(path.read_text())
    data["model"] = data["model"] + "x"  # still valid JSON, as a flipped byte inside a string is
    path.write_text(json.dumps(data))
    with pytest.raises(IndexCorrupt, match="does not match its own checksum"):
        Store.load(tmp_path)


def test_current_pointer_to_a_missing_folder_reads_as_no_index(tmp_path: Path) -> None:
    (tmp_path / CURRENT).write_text("gen-gone\n")
    assert current_generation(tmp_path) is None
    assert not os.path.exists(tmp_path / "gen-gone")


def test_bm25_saved_with_other_stopwords_is_rebuilt_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.stores.faiss

    store = Store(Manifest(model="m", dim=4, chunker={"c": 1}))
    text = "What was signed about the harbour?"
    chunk = make_chunk("a.txt", "Title", (text,), offset=0)
    store.add([0], [chunk], np.eye(1, 4, dtype=np.float32), [np.eye(1, 4, dtype=np.float32)])
    with monkeypatch.context() as patch:  # an index saved by an older qa, with bm25s's 33-word list
        patch.setattr(qa.stores.faiss, "BM25_STOPWORDS", ("the", "a"))
        store.bm25 = None
        store.save(tmp_path)
    stale = Store.load(tmp_path)
    assert stale.bm25 is None  # "what" and "about" in its vocabulary: counted with other stopwords
    assert stale.search_bm25("harbour", 1)[0][0] == 0  # rebuilt from the chunks on first use
    assert stale.bm25 is not None and "what" not in stale.bm25.vocab_dict
    stale.save(tmp_path)
    assert Store.load(tmp_path).bm25 is not None
