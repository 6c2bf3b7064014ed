"""End to end with `store = milvus`: Milvus Lite in process (index the real corpus, answer, cite, abstain),
and Milvus as a server of its own under faults (two app replicas, a new document, `kill -9`, a restart)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.config import Backend, Settings, StoreKind
from tests.conftest import CORPUS, ROOT
from tests.test_e2e import ANSWERABLE, UNANSWERABLE
from tests.test_hostile import SLOW, _ask_over_http, _wait_for_page
from tests.test_reliability import dirs
from tests.test_webapp import free_port


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


# --- Milvus as a server of its own, two replicas, and a crash ---------------------------------------------


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = SLOW) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the Milvus server exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


def _event(stream: str) -> tuple[str, Any]:
    """The last event of a `/gradio_api/call/...` stream: ("complete", answer) or ("error", message)."""
    kind, data = "", ""
    for line in stream.splitlines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
    value: Any = json.loads(data) if data and data != "null" else None
    if kind == "complete":
        return kind, value[0]
    return kind, (value or {}).get("error")


def test_milvus_server_two_replicas_a_new_document_and_a_crash(tmp_path: Path) -> None:
    """`milvus-lite server` as its own process on a loopback port, `qa index` against it, two `qa serve`
    replicas: a document added and indexed is cited by both after their next question; `kill -9` of the
    server mid-question gives a one-line error (no traceback) while the pages keep serving; after a restart
    the same replicas answer again. The CLI runs with the FakeEmbedder (tests/fake_cli.py): the model is
    not what this checks."""
    pytest.importorskip("pymilvus")
    server = shutil.which("milvus-lite") or str(Path(sys.executable).with_name("milvus-lite"))
    if not Path(server).exists():
        pytest.skip("milvus-lite is not installed")
    port = free_port()
    log = (tmp_path / "milvus.log").open("ab")

    def start_milvus() -> subprocess.Popen[bytes]:
        argv = [
            server,
            "server",
            "--data-dir",
            str(tmp_path / "milvus"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        _wait_for_port(port, proc)
        return proc

    milvus = start_milvus()
    config = Settings(
        backend=Backend.EXTRACTIVE, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index"
    )
    shutil.copytree(CORPUS, config.corpus_dir)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "QA_STORE": "milvus",
        "QA_MILVUS_URI": f"http://127.0.0.1:{port}",
        "QA_MILVUS_COLLECTION": "qa_e2e",
    }
    cli = [sys.executable, "-m", "tests.fake_cli"]

    def index() -> str:
        done = subprocess.run(
            [*cli, "index", *dirs(config)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=SLOW
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    replicas: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        assert "5 added" in index()
        for _ in range(2):
            app_port = free_port()
            app_env = {**env, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(app_port)}
            errors = (tmp_path / f"replica-{app_port}.err").open("wb")
            proc = subprocess.Popen(
                [*cli, "serve", "--no-index", *dirs(config)],
                cwd=ROOT,
                env=app_env,
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
            replicas.append((proc, f"http://127.0.0.1:{app_port}"))
        for proc, url in replicas:
            _wait_for_page(url, proc)
            kind, answer = _event(_ask_over_http(url, "When did the AHKFTA enter into force?"))
            assert kind == "complete" and "2019" in answer["answer"], (kind, answer)

        (config.corpus_dir / "note.txt").write_text(
            "The lantern festival budget was USD 7 million in 2021.\n"
        )
        assert "1 added" in index()
        for _, url in replicas:  # each replica sees the new manifest version on its next question
            kind, answer = _event(_ask_over_http(url, "What was the lantern festival budget?"))
            assert kind == "complete" and "USD 7 million" in answer["answer"], (kind, answer)
            assert answer["citations"][0]["source"] == "note.txt"

        with ThreadPoolExecutor(1) as pool:  # kill -9 while a question is in flight
            in_flight = pool.submit(_ask_over_http, replicas[0][1], "What did Hainan and the HKSAR sign?")
            milvus.send_signal(signal.SIGKILL)
            milvus.wait()
            assert _event(in_flight.result())[0] in ("complete", "error")
        for _, url in replicas:
            kind, message = _event(_ask_over_http(url, "When did the AHKFTA enter into force?"))
            assert kind == "error" and "\n" not in message, (kind, message)
            assert f"Milvus at http://127.0.0.1:{port} is not answering" in message, message
            assert httpx.get(url, timeout=30).status_code == 200  # the pages are still served

        milvus = start_milvus()  # same data folder and port; the replicas are not restarted
        for _, url in replicas:
            deadline = time.monotonic() + 60
            while True:
                kind, answer = _event(_ask_over_http(url, "When did the AHKFTA enter into force?"))
                if kind == "complete" or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert kind == "complete" and "2019" in answer["answer"], (kind, answer)
    finally:
        for proc, _ in replicas:
            proc.terminate()
            proc.wait(timeout=60)
        milvus.kill()
        milvus.wait()
        log.close()
    for path in tmp_path.glob("replica-*.err"):
        assert "Traceback" not in path.read_text(errors="replace"), path.read_text(errors="replace")[-3000:]
