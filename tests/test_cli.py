"""The CLI as a user runs it: subprocesses with the real model (each loads it once)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CORPUS

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}


def _qa(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


def test_help_is_instant_and_lists_commands() -> None:
    out = _qa("--help")
    assert out.returncode == 0
    for command in ("index", "ask", "serve", "eval"):
        assert command in out.stdout


def test_version_and_the_chat_command_are_listed() -> None:
    out = _qa("--version")
    assert out.returncode == 0 and re.fullmatch(r"qa \d+\.\d+\.\d+\S*\n", out.stdout)
    assert "chat" in _qa("--help").stdout


def test_summaries_need_a_run_that_writes(tmp_path: Path) -> None:
    out = _qa("index", "--dry-run", "--summaries", "--corpus", str(CORPUS), "--index", str(tmp_path))
    assert out.returncode == 2 and "--dry-run writes nothing" in out.stderr and "Traceback" not in out.stderr


def test_dry_run_and_watch_do_not_go_together(tmp_path: Path) -> None:
    out = _qa("index", "--dry-run", "--watch", "--corpus", str(CORPUS), "--index", str(tmp_path))
    assert out.returncode == 2 and "--dry-run and --watch" in out.stderr


def test_a_replay_needs_its_recording(tmp_path: Path) -> None:
    both = _qa("eval", "--record", str(tmp_path / "a.json"), "--replay", str(tmp_path / "a.json"))
    assert both.returncode == 2 and "do not go together" in both.stderr
    missing = _qa("eval", "--replay", str(tmp_path / "none.json"), "--backend", "auto")
    assert (
        missing.returncode == 2
        and "no recording none.json" in missing.stderr
        and "--record" in missing.stderr
    )
    assert str(tmp_path) not in missing.stderr and "Traceback" not in missing.stderr


def test_empty_question_is_a_usage_error() -> None:
    out = _qa("ask", "   ")
    assert out.returncode == 2 and "empty" in out.stderr and "Traceback" not in out.stderr


def test_missing_index_says_to_run_qa_index(tmp_path: Path) -> None:
    out = _qa("ask", "What is RCEP?", "--index", str(tmp_path / "none"))
    assert out.returncode == 2 and "qa index" in out.stderr and "Traceback" not in out.stderr


def test_bad_settings_are_named(tmp_path: Path) -> None:
    out = _qa("ask", "What is RCEP?", "--top-k", "0", "--index", str(tmp_path))
    assert out.returncode == 2 and "top_k" in out.stderr
    out = _qa("ask", "What is RCEP?", "--backend", "nope", "--index", str(tmp_path))
    assert out.returncode == 2 and "extractive" in out.stderr
    out = _qa("index", "--embed-backend", "tensorflow", "--index", str(tmp_path))
    assert out.returncode == 2 and "QA_EMBED_BACKEND" in out.stderr and "onnx-int8" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_index_then_ask_json_and_batch(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "junk.pdf").write_bytes(b"not a pdf at all")
    index = tmp_path / "index"
    out = _qa("index", "--corpus", str(corpus), "--index", str(index), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(summary) == {"added", "updated", "removed", "unchanged", "chunks", "seconds"}
    assert summary["added"] == 5 and summary["chunks"] > 10
    assert "junk.pdf" in out.stderr  # the skipped file is named with its reason

    out = _qa(
        "ask",
        "--json",
        "--corpus",
        str(corpus),
        "--index",
        str(index),
        "When did the AHKFTA enter into force?",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert "2019" in data["answer"] and data["citations"][0]["source"].endswith(".txt")

    questions = "What is RCEP?\n\nWhat is the boiling point of water?\n"
    out = _qa("ask", "--json", "--corpus", str(corpus), "--index", str(index), "-", stdin=questions)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [d["abstained"] for d in lines] == [False, True]

    out = _qa("ask", "--corpus", str(corpus), "--index", str(index), "What is RCEP?")
    assert "Sources:" in out.stdout and "[1]" in out.stdout


@pytest.mark.slow
def test_watch_reindexes_when_the_corpus_changes(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The first note says the port opened in 1999.")
    index = tmp_path / "index"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qa.cli",
            "index",
            "--watch",
            "--json",
            "--corpus",
            str(corpus),
            "--index",
            str(index),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=ENV,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["added"] == 1
        time.sleep(1.0)  # let the watcher start before the change
        (corpus / "b.txt").write_text("The second note says the bridge opened in 2004.")
        second = json.loads(proc.stdout.readline())
        assert (second["added"], second["unchanged"]) == (1, 1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


NO_MODEL_INDEX = """
import sys
from qa.cli import main
code = main(sys.argv[1:])
print("MODEL_LOADED" if {"torch", "onnxruntime"} & set(sys.modules) else "MODEL_NOT_LOADED")
sys.exit(code)
"""


@pytest.mark.slow
def test_index_loads_the_model_only_when_something_needs_embedding(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    dirs = ["--corpus", str(corpus), "--index", str(index)]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", NO_MODEL_INDEX, "index", "--json", *dirs],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=300,
        )

    first = run()
    assert first.returncode == 0 and first.stdout.splitlines()[-1] == "MODEL_LOADED"
    noop = run()
    assert noop.returncode == 0, noop.stderr
    assert noop.stdout.splitlines()[-1] == "MODEL_NOT_LOADED"
    assert json.loads(noop.stdout.splitlines()[0])["unchanged"] == 5

    (corpus / "extra.txt").write_text("The new cafeteria opens on Mondays at eight o'clock in the morning.\n")
    changed = run()  # a new file: the model is loaded after all, and its vectors match a fresh build's name
    assert changed.returncode == 0 and changed.stdout.splitlines()[-1] == "MODEL_LOADED"
    assert json.loads(changed.stdout.splitlines()[0])["added"] == 1
    ask = _qa("ask", "--json", "When does the new cafeteria open?", *dirs)
    assert ask.returncode == 0 and json.loads(ask.stdout)["citations"][0]["source"] == "extra.txt"
