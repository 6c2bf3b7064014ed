"""End to end with `store = milvus` (Milvus Lite in process): index the real corpus, answer, cite, abstain."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from qa.config import Backend, Settings, StoreKind
from tests.conftest import CORPUS
from tests.test_e2e import ANSWERABLE, UNANSWERABLE


@pytest.mark.slow
def test_real_answers_from_the_milvus_store(tmp_path: Path, real_embedder: Any) -> None:
    pytest.importorskip("pymilvus")
    from qa.engine import QA
    from qa.indexing import build_index

    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = Settings(
        backend=Backend.EXTRACTIVE,
        corpus_dir=tmp_path / "corpus",
        index_dir=tmp_path / "index",
        store=StoreKind.MILVUS,
    )
    summary = build_index(settings, real_embedder)
    assert summary.added == 5 and summary.chunks > 5
    qa = QA(settings, embedder=real_embedder)
    for question, facts, source in ANSWERABLE:
        answer = qa.ask(question)
        assert not answer.abstained, (question, answer.reason)
        assert all(fact in answer.answer for fact in facts), (question, answer.answer)
        assert any(c.source == source for c in answer.citations)
        for c in answer.citations:
            text = (settings.corpus_dir / c.source).read_text(encoding="utf-8")
            assert text[c.start : c.end].replace("\n", " ") == c.quote
    for question in UNANSWERABLE:
        assert qa.ask(question).abstained, question
    # An edit is picked up incrementally, and the reader sees it without a restart.
    (settings.corpus_dir / "note.txt").write_text("The lantern festival budget was USD 7 million in 2021.")
    assert build_index(settings, real_embedder).added == 1
    answer = qa.ask("What was the lantern festival budget?")
    assert "USD 7 million" in answer.answer and answer.citations[0].source == "note.txt"
