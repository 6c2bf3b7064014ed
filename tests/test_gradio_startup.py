"""qa.gradio_startup: the app imports Gradio without its stub generator, and Gradio still works."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("gradio")


def _run(code: str) -> str:
    # A fresh interpreter each: the hook only matters before Gradio's first import in a process.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_the_app_imports_gradio_without_the_stub_generator() -> None:
    printed = _run(
        "import qa.webapp, gradio, gradio.component_meta as m, qa.gradio_startup as s\n"
        "print(m.create_or_modify_pyi is s._no_stub)\n"
        # Components still build, events still wire: the hook changed nothing else.
        "with gradio.Blocks() as demo:\n"
        "    box = gradio.Textbox()\n"
        "    box.submit(lambda x: x, box, box)\n"
        "print(type(box).__name__, len(demo.fns))\n"
    )
    assert printed.splitlines() == ["True", "Textbox 1"]


def test_without_the_hook_gradio_keeps_its_own_generator() -> None:
    # What the first test would see if the hook were not installed: it can fail.
    printed = _run(
        "import gradio.component_meta as m, qa.gradio_startup as s\n"
        "print(m.create_or_modify_pyi is s._no_stub, callable(m.create_or_modify_pyi))"
    )
    assert printed == "False True"


def test_installing_after_gradio_is_loaded_says_it_is_too_late() -> None:
    printed = _run(
        "import gradio\nimport qa.gradio_startup as s\nprint(s.skip_stub_generation())\n"
        "import sys\nprint(any(type(f).__name__ == '_SkipStubs' for f in sys.meta_path))"
    )
    assert printed.splitlines() == ["False", "False"]
