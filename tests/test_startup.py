"""The serving path (`qa ask`, `qa chat`, `qa serve`) answers without importing torch, transformers or
sentence-transformers once the ONNX export is ready: the default embedder needs only ONNX Runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.config import EmbedBackend, Settings
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
HEAVY = ("torch", "transformers", "sentence_transformers")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT / "src")}

# Runs a `qa` command in this process, then reports which heavy libraries it imported.
CLI = """
import json, sys
from qa.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "heavy": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))

# What `qa serve` does, in a thread (qa.webapp.serve itself), then one /ask through gradio_client.
SERVE = """
import json, os, socket, sys, threading, time
from pathlib import Path
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
os.environ.update(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port))
from gradio_client import Client
from qa.config import Settings
from qa.webapp import serve
settings = Settings.from_env(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]))
threading.Thread(target=serve, args=(settings,), daemon=True).start()
deadline = time.monotonic() + 240
while True:
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        break
    except Exception:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.5)
answer = client.predict("When did the AHKFTA enter into force?", api_name="/ask")
print(json.dumps({"cited": bool(answer["citations"]), "heavy": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))


def _last_json(*args: str, stdin: str = "") -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", *args], input=stdin, capture_output=True, text=True, env=ENV, timeout=300
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def dirs(real_settings: Settings, real_embedder: object) -> list[str]:
    # The index was built by the default embedder, so its ONNX export is in the default cache.
    assert Settings().embed_backend is EmbedBackend.ONNX
    assert real_embedder.name.endswith("-onnx-fp32")  # type: ignore[attr-defined]
    return ["--corpus", str(real_settings.corpus_dir), "--index", str(real_settings.index_dir)]


def test_qa_ask_answers_without_torch(dirs: list[str]) -> None:
    result = _last_json(CLI, "ask", *dirs, "--json", "When did the AHKFTA enter into force?")
    assert result == {"code": 0, "heavy": []}


def test_qa_chat_answers_without_torch(dirs: list[str]) -> None:
    stdin = "What did Hainan and the HKSAR sign?\nWhen was it signed?\n"
    assert _last_json(CLI, "chat", *dirs, stdin=stdin) == {"code": 0, "heavy": []}


def test_qa_serve_answers_without_torch(dirs: list[str]) -> None:
    corpus, index = Path(dirs[1]), Path(dirs[3])
    assert _last_json(SERVE, str(corpus), str(index)) == {"cited": True, "heavy": []}


def test_the_check_sees_torch_when_it_is_used(dirs: list[str]) -> None:
    # The same check with QA_EMBED_BACKEND=torch finds torch, so the tests above can fail. (The index was
    # built by the ONNX embedder, so the PyTorch one then refuses it, with exit code 2, after loading.)
    result = _last_json(CLI, "ask", *dirs, "--embed-backend", "torch", "What is RCEP?")
    assert result["code"] == 2 and "torch" in result["heavy"]  # type: ignore[operator]
