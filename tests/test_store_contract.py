"""One contract, two stores: FAISS files and Milvus (Lite, in process) behind `qa.stores`.

Search is checked against brute-force numpy, round trips through save and load, incremental add and remove
of one document, manifest checks, and a rebuild that dies before its switch.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.config import ConfigError, RetrievalMode, Settings, StoreKind
from qa.stores import (
    DocumentRecord,
    IndexMismatch,
    IndexMissing,
    Manifest,
    MilvusUnavailable,
    VectorStore,
    live_generation,
    new_store,
    open_store,
)
from tests.conftest import numbered_chunk

DIM = 16


@pytest.fixture(params=[StoreKind.FAISS, StoreKind.MILVUS])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param is StoreKind.MILVUS:
        pytest.importorskip("pymilvus")
    return Settings(index_dir=tmp_path / "index", store=request.param)


def _vectors(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    normed: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return normed


def _fill(settings: Settings, n: int = 200, seed: int = 0) -> tuple[VectorStore, np.ndarray]:
    vectors = _vectors(n, seed)
    store = new_store(settings, Manifest(model="m", dim=DIM, chunker={"c": 1}, next_id=n))
    sentences = [np.stack([vectors[i], -vectors[i]]) for i in range(n)]
    store.add(list(range(n)), [numbered_chunk(i, 2) for i in range(n)], vectors, sentences)
    store.manifest.documents = {f"doc{d}.txt": DocumentRecord(tuple(range(d, n, 3))) for d in range(3)}
    return store, vectors


def test_search_matches_brute_force(settings: Settings) -> None:
    store, vectors = _fill(settings)
    for q in _vectors(10, 1):
        expected = np.argsort(-(vectors @ q))[:10].tolist()
        got = store.search(q, 10)
        assert [cid for cid, _ in got] == expected
        assert np.allclose([s for _, s in got], (vectors @ q)[expected], atol=1e-4)


def test_remove_drops_exactly_those_chunks(settings: Settings) -> None:
    store, vectors = _fill(settings)
    store.remove(list(range(0, 200, 2)))
    assert len(store) == 100
    assert all(cid % 2 == 1 for cid, _ in store.search(vectors[4], 5))
    assert all(cid % 2 == 1 for cid, _ in store.search_bm25("X4 topic4", 10))
    with pytest.raises(KeyError):
        store.chunks[4]


def test_save_load_round_trip_and_hybrid(settings: Settings) -> None:
    store, vectors = _fill(settings)
    generation = store.save()
    assert live_generation(settings) == generation
    loaded = open_store(settings)
    assert len(loaded) == 200 and loaded.manifest.chunker == {"c": 1}
    assert loaded.manifest.documents["doc1.txt"].chunk_ids == tuple(range(1, 200, 3))
    for cid in (0, 57, 199):
        assert loaded.chunks[cid] == numbered_chunk(cid, 2)
        assert np.allclose(loaded.vector(cid), vectors[cid])
        assert np.allclose(loaded.sentence_vectors[cid], [vectors[cid], -vectors[cid]])
    assert loaded.search_bm25("X57", 3)[0][0] == 57
    assert loaded.term_frequencies().get("topic3", 0) == len(range(3, 200, 7))
    fused = loaded.fused_search("code X57", vectors[12], 10, 60, RetrievalMode.HYBRID)
    ids = [cid for cid, _ in fused.ranking]
    assert {57, 12} <= set(ids[:2])  # each route's best is at the top of the fused list


def test_incremental_update_of_one_document(settings: Settings) -> None:
    store, vectors = _fill(settings)
    store.save()
    writer = open_store(settings, writing=True)
    old = list(writer.manifest.documents["doc1.txt"].chunk_ids)
    writer.remove(old)
    fresh = _vectors(3, 7)
    writer.add(
        [200, 201, 202],
        [numbered_chunk(1000 + i) for i in range(3)],
        fresh,
        [fresh[i : i + 1] for i in range(3)],
    )
    writer.manifest.documents["doc1.txt"] = replace(
        writer.manifest.documents["doc1.txt"], chunk_ids=(200, 201, 202)
    )
    writer.manifest.next_id = 203
    generation = writer.save()
    assert live_generation(settings) == generation
    reader = open_store(settings)
    assert len(reader) == 200 - len(old) + 3
    assert reader.search(fresh[1], 1)[0][0] == 201
    assert reader.search(vectors[1], 1)[0][0] != 1
    assert reader.chunks[202].text == numbered_chunk(1002).text


def test_missing_index_names_the_command(settings: Settings) -> None:
    with pytest.raises(IndexMissing, match="qa index"):
        open_store(settings)
    assert live_generation(settings) is None


def test_manifest_mismatch_names_the_fix(settings: Settings) -> None:
    store, _ = _fill(settings)
    store.save()
    manifest = open_store(settings).manifest
    with pytest.raises(IndexMismatch, match="qa index --rebuild"):
        manifest.check_compatible("other-model", DIM, {"c": 1})
    with pytest.raises(IndexMismatch, match="chunker"):
        manifest.check_compatible("m", DIM, {"c": 2})


def test_interrupted_rebuild_leaves_the_previous_index(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = _fill(settings)
    store.save()
    before = live_generation(settings)
    bigger, _ = _fill(settings, n=250, seed=3)

    def crash(*_args: object, **_kwargs: object) -> None:
        raise OSError("simulated crash at the switch")

    if settings.store is StoreKind.MILVUS:
        monkeypatch.setattr(type(bigger.client), "alter_alias", crash)  # type: ignore[attr-defined]
    else:
        monkeypatch.setattr("qa.stores.faiss_files.os.replace", crash)
    with pytest.raises(OSError, match="simulated"):
        bigger.save()
    monkeypatch.undo()
    assert live_generation(settings) == before
    assert len(open_store(settings)) == 200
    again, _ = _fill(settings, n=250, seed=3)
    again.save()  # the next run completes and removes the orphan
    assert len(open_store(settings)) == 250
    if settings.store is StoreKind.MILVUS:
        alias = settings.milvus_collection
        bases = [n for n in again.client.list_collections() if n.startswith(alias) and n.count("_") == 2]  # type: ignore[attr-defined]
        assert len(bases) <= 2  # live and previous


@pytest.mark.parametrize(
    ("changes", "fix"),
    [
        ({"milvus_uri": "ftp://host"}, "QA_MILVUS_URI"),
        ({"milvus_uri": "./no-suffix"}, "QA_MILVUS_URI"),
        ({"milvus_collection": "1bad-name"}, "QA_MILVUS_COLLECTION"),
    ],
)
def test_bad_milvus_settings_name_the_setting(changes: dict[str, str], fix: str) -> None:
    with pytest.raises(ConfigError, match=fix):
        Settings(store=StoreKind.MILVUS, **changes).validate()  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="QA_STORE"):
        Settings.from_env({"QA_STORE": "pinecone"})


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    settings = Settings(index_dir=tmp_path, store=StoreKind.MILVUS, milvus_uri="http://127.0.0.1:9")
    with pytest.raises(MilvusUnavailable, match="QA_MILVUS_URI"):
        open_store(settings)
