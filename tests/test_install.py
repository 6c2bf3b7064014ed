"""scripts/install_llm.sh: a failed compile of llama-cpp-python does not fail `make install` (--optional),
and says how to retry; without --optional (`make install-llm`) it fails."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "install_llm.sh"

# Stands in for .venv/bin/python: `pip install` fails the way a machine without a compiler does.
NO_COMPILER = """#!/usr/bin/env bash
if [[ "$*" == *"pip install"* ]]; then
    echo "  Building wheel for llama-cpp-python (pyproject.toml): started"
    echo "  [1/80] Building C object vendor/llama.cpp/ggml/src/CMakeFiles/ggml-base.dir/ggml.c.o"
    echo "  CMake Error: CMAKE_C_COMPILER not set, after EnableLanguage"
    exit 1
fi
echo "unexpected: $*" >&2
exit 3
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "python"
    fake.write_text(NO_COMPILER)
    fake.chmod(0o755)
    env = {**os.environ, "PY": str(fake), "TMPDIR": str(tmp_path)}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


def test_a_failed_compile_goes_on_and_says_how_to_retry(tmp_path: Path) -> None:
    out = _run(tmp_path, "--optional", "1.5b")
    assert out.returncode == 0, out.stderr
    assert "[1/80] Building C object" in out.stdout  # the build's progress is shown as it goes
    assert "could not be built" in out.stderr and "retry with: make install-llm" in out.stderr
    assert "build-essential cmake" in out.stderr and "going on without it" in out.stderr
    assert "unexpected" not in out.stderr  # no model download was attempted without the runtime
    assert "CMAKE_C_COMPILER" in (tmp_path / "qa-llama-cpp-build.log").read_text()  # the whole log is kept


def test_without_optional_a_failed_compile_fails(tmp_path: Path) -> None:
    out = _run(tmp_path, "1.5b")
    assert out.returncode == 1 and "retry with: make install-llm" in out.stderr


def test_an_unknown_model_is_refused(tmp_path: Path) -> None:
    out = _run(tmp_path, "--optional", "7b")
    assert out.returncode == 2 and "choose from 135m 0.5b 1.5b" in out.stderr
