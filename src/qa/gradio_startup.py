"""Importing Gradio without its type-stub generator: 1.5 s of a 3.3 s import on two cores.

Gradio 6's `ComponentMeta` calls `gradio.component_meta.create_or_modify_pyi` for every component class it
defines, on every import: it reads the class's source file, parses it with `ast` (twice: the `.py` and the
`.pyi` beside it), renders a Jinja template and compares the result with the stub on disk. That keeps the
`.pyi` stubs of custom components in step while their authors edit them (`gradio cc dev`); a server that only
serves an app never needs it, and the stubs Gradio ships are already on disk. Measured on this project's
2-core machine: `import gradio` 3.3-3.6 s with it, 1.8-2.0 s without (cProfile puts 3.3 of 5.8 profiled
seconds in it), which is most of `qa serve`'s start.

`skip_stub_generation()` must run before the first `import gradio`: the components are created while
`gradio/__init__.py` runs, so replacing the function afterwards is too late. It adds an import hook that,
once `gradio.component_meta` has executed, replaces that module's `create_or_modify_pyi` with a no-op; if a
later Gradio renames or drops the function, the hook finds nothing to replace and Gradio imports as it would
have (only slower). Nothing else of Gradio is changed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

TARGET = "gradio.component_meta"
FUNCTION = "create_or_modify_pyi"


def _no_stub(*_args: Any, **_kwargs: Any) -> None:
    """What Gradio's stub generator does for a server: nothing."""


class _SkipStubs(importlib.abc.MetaPathFinder):
    """Finds `gradio.component_meta` as the normal path finder would, and patches it once it has run."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        sys.meta_path.remove(self)  # one module, once: the hook removes itself
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        loader = spec.loader if spec is not None else None
        if spec is None or not isinstance(loader, importlib.abc.Loader):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            if callable(getattr(module, FUNCTION, None)):
                setattr(module, FUNCTION, _no_stub)

        # On this spec's loader only (a fresh object per find_spec), so other modules load as usual.
        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def skip_stub_generation() -> bool:
    """Install the hook; False when Gradio's components are already loaded (too late to matter)."""
    if TARGET in sys.modules:
        return False
    if not any(isinstance(finder, _SkipStubs) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SkipStubs())
    return True


# Importing this module is how callers install the hook, in the one place where order is guaranteed: the
# line before their own `import gradio`.
skip_stub_generation()
