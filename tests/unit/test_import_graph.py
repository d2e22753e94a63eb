"""The domain package's import graph: subpackages never import each other in a cycle,
and nothing imports from functions/ (every import counted, lazy ones included)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "smsgw" / "src" / "smsgw"


def _unit(module: str) -> str:
    """smsgw.dispatch.service -> smsgw.dispatch; smsgw.config -> smsgw.config."""
    return ".".join(module.split(".")[:2])


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        source = _unit(".".join(p for p in parts if p != "__init__"))
        targets = {_unit(m) for m in _imports(path) if m.startswith("smsgw.")}
        graph.setdefault(source, set()).update(targets - {source})
    return graph


def test_subpackages_import_each_other_without_a_cycle() -> None:
    graph = _graph()
    assert len(graph) > 20  # the walk found the package
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None
    assert "smsgw.config" in order


def test_nothing_imports_the_functions() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(m == "functions" or m.startswith("functions.") for m in _imports(path))
    ]
    assert offenders == []
