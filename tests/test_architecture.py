"""The layout rules a newcomer relies on: no import cycle inside `qa`, no module past a screenful budget.

The import graph is read from the source (every `import`, including those inside functions, which is
where the CLI and the app used to reach for each other), except imports under `if TYPE_CHECKING:`,
which never run. A cycle is reported with its modules in order.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "qa"
MAX_LINES = 400  # the "no module over ~400 lines": past that a module holds two stages


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> list[tuple[str, list[str]]]:
    """(module, names imported from it) for each `qa` import that `path` makes at run time."""
    is_package = path.name == "__init__.py"
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names if a.name.split(".")[0] == "qa")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] == "qa":
                found.append((target, [a.name for a in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module of `qa` and the modules of `qa` it depends on."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for target, names in _imports(path, name):
            # `from qa.readers import ocr` runs the package's __init__ too, so it depends on both; a module
            # inside a package imports its siblings by their full name (`import qa.readers.ocr as ocr`).
            targets |= {f"{target}.{n}" for n in names} & modules.keys()
            targets.add(target)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_no_import_cycle_in_the_package() -> None:
    graph = import_graph()
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        pytest.fail("import cycle: " + " -> ".join(cycle))


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_module_fits_the_budget(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines: split it by stage"
