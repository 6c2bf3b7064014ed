"""Gradio without the work a server never uses: 1.6 s of a 3.3 s import, 0.28 s of the first answer.

Gradio 6 does two things on every import that only its own developers and `help()` need, and one on the
first event that this app never needs:

- `ComponentMeta` calls `gradio.component_meta.create_or_modify_pyi` for every component class it defines:
  it reads the class's source file, parses it with `ast` (twice: the `.py` and the `.pyi` beside it), renders
  a Jinja template and compares the result with the stub on disk. That keeps the `.pyi` stubs of custom
  components in step while their authors edit them (`gradio cc dev`); a server never needs it, and the stubs
  Gradio ships are already on disk. Measured here: `import gradio` 3.3-3.6 s with it, 1.8-2.0 s without.
- `EventListener.set_doc` compiles a Jinja template for each of the 216 event docstrings, only to replace
  `{{ component }}` with the component's name: 0.15 s. The same replacement without Jinja gives the same
  docstrings (tests/test_gradio_startup.py compares every one); a docstring with any other template syntax
  still goes through Jinja.

- Every event runs inside `gradio.utils.MatplotlibBackendMananger`, which imports matplotlib (when it is
  installed, as the dev extra installs it for the evaluation charts) to switch its backend to Agg while the
  event runs: 0.28 s of the app's first answer, in a server whose events never plot. Here the switch happens
  only when matplotlib is already loaded, which is when an event could have drawn with it.

`skip_unused_work()` must run before the first `import gradio`: the components are created while
`gradio/__init__.py` runs, so patching afterwards is too late. It adds an import hook that, as each of those
modules finishes executing, replaces the one function. If a later Gradio renames or drops one, the hook
finds nothing to replace and Gradio imports as it would have (only slower). Nothing else of Gradio changes.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

_PLACEHOLDER = "{{ component }}"


def _no_stub(*_args: Any, **_kwargs: Any) -> None:
    """What Gradio's stub generator does for a server: nothing."""


def _skip_stubs(module: ModuleType) -> None:
    if callable(getattr(module, "create_or_modify_pyi", None)):
        setattr(module, "create_or_modify_pyi", _no_stub)  # noqa: B010 (mypy cannot see the attribute)


def _plain_docs(module: ModuleType) -> None:
    listener_class = getattr(module, "EventListener", None)
    jinja_set_doc = getattr(listener_class, "set_doc", None)
    if listener_class is None or not callable(jinja_set_doc):
        return

    def set_doc(self: Any, component: str) -> None:
        doc = getattr(self.listener, "__doc__", None)
        if not doc:
            return
        if "{%" in doc or "{#" in doc or doc.count("{{") != doc.count(_PLACEHOLDER):
            jinja_set_doc(self, component)  # template syntax beyond the one placeholder: Jinja's own
            return
        # Jinja drops one trailing newline when it renders (keep_trailing_newline=False).
        self.listener.__doc__ = doc.replace(_PLACEHOLDER, str(component)).removesuffix("\n")

    listener_class.set_doc = set_doc


def _lazy_matplotlib(module: ModuleType) -> None:
    manager = getattr(module, "MatplotlibBackendMananger", None)  # sic: Gradio's spelling
    enter, leave = getattr(manager, "__enter__", None), getattr(manager, "__exit__", None)
    if manager is None or not callable(enter) or not callable(leave):
        return

    def __enter__(self: Any) -> None:
        self.qa_switched = "matplotlib" in sys.modules
        if self.qa_switched:
            enter(self)

    def __exit__(self: Any, *exc: object) -> Any:
        return leave(self, *exc) if getattr(self, "qa_switched", False) else None

    manager.__enter__ = __enter__
    manager.__exit__ = __exit__


# The module each patch applies to, as soon as that module has executed.
PATCHES: dict[str, Callable[[ModuleType], None]] = {
    "gradio.component_meta": _skip_stubs,
    "gradio.events": _plain_docs,
    "gradio.utils": _lazy_matplotlib,
}


class _Patcher(importlib.abc.MetaPathFinder):
    """Finds the patched modules as the normal path finder would, and patches each once it has run."""

    def __init__(self) -> None:
        self.pending = dict(PATCHES)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        patch = self.pending.pop(fullname, None)
        if patch is None:
            return None
        if not self.pending:
            sys.meta_path.remove(self)  # each module once: the hook removes itself after the last
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        loader = spec.loader if spec is not None else None
        if spec is None or not isinstance(loader, importlib.abc.Loader):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            patch(module)

        # On this spec's loader only (a fresh object per find_spec), so other modules load as usual.
        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def skip_unused_work() -> bool:
    """Install the hook; False when Gradio is already loaded (too late to matter)."""
    if any(name in sys.modules for name in PATCHES):
        return False
    if not any(isinstance(finder, _Patcher) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Patcher())
    return True


# Importing this module is how callers install the hook, in the one place where order is guaranteed: the
# line before their own `import gradio`.
skip_unused_work()
