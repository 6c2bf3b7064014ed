"""qa.gradio_startup: the app imports Gradio without its stub generator and Jinja docstrings, and Gradio
still works, with the same docstrings."""

from __future__ import annotations

import json
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


# Every event docstring of every component, as {class.event: doc}.
_DOCS = (
    "import json, gradio\n"
    "docs = {f'{c.__name__}.{e}': getattr(c, str(e)).__doc__ for c in vars(gradio).values()\n"
    "        if isinstance(c, type) for e in getattr(c, 'EVENTS', None) or []}\n"
    "print(json.dumps(docs))"
)


def test_event_docstrings_are_the_ones_jinja_renders() -> None:
    with_jinja = json.loads(_run(_DOCS))
    plain = json.loads(_run("import qa.gradio_startup\n" + _DOCS))
    assert len(with_jinja) > 100  # the comparison covers Gradio's events, not an empty list
    assert any("{{" in doc for doc in with_jinja.values()) is False
    assert plain == with_jinja


def test_installing_after_gradio_is_loaded_says_it_is_too_late() -> None:
    printed = _run(
        "import gradio\nimport qa.gradio_startup as s\nprint(s.skip_unused_work())\n"
        "import sys\nprint(any(type(f).__name__ == '_Patcher' for f in sys.meta_path))"
    )
    assert printed.splitlines() == ["False", "False"]


def test_events_switch_matplotlib_backends_only_once_it_is_loaded() -> None:
    printed = _run(
        "import sys, qa.webapp, gradio.utils as u\n"
        "with u.MatplotlibBackendMananger():\n"
        "    print('matplotlib' in sys.modules)\n"
        "print('matplotlib' in sys.modules)\n"
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "with u.MatplotlibBackendMananger():\n"
        "    print(matplotlib.get_backend())\n"
        "print(matplotlib.get_backend())\n"
    )
    # Not imported by an event that does not plot; switched to Agg and back once loaded, as Gradio does.
    assert printed.splitlines() == ["False", "False", "agg", "svg"]
