"""How the pipeline's modules may import each other: downhill only, and Dagster only where the
pipeline meets Dagster (its definitions, the command line and the installed service)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT

PACKAGE = PROJECT / "pipelines"
# Where the pipeline meets Dagster; every other module is logic, tested without it.
MAY_IMPORT_DAGSTER = {
    "pipelines.definitions",
    "pipelines.service.cli",
    "pipelines.service.cli_service",
}
MAY_IMPORT_DAGSTER_PREFIXES = ("pipelines.defs", "pipelines.service.install")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path) & modules.keys() for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or round a longer circle."""
    reach = {m: set() for m in graph}
    for start in graph:
        todo = list(graph[start])
        while todo:
            m = todo.pop()
            if m not in reach[start]:
                reach[start].add(m)
                todo.extend(graph[m])
    groups = {frozenset({m} | {o for o in reach[m] if m in reach[o]}) for m in graph}
    return sorted(sorted(g) for g in groups if len(g) > 1)


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert len(graph) > 40
    assert circles(graph) == []
    # the check finds a circle where there is one
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_pure_logic_never_imports_dagster():
    leaks = sorted(
        name
        for name, path in ((_module_name(p), p) for p in PACKAGE.rglob("*.py"))
        if name not in MAY_IMPORT_DAGSTER
        and not name.startswith(MAY_IMPORT_DAGSTER_PREFIXES)
        and any(m == "dagster" or m.startswith("dagster") for m in imports_of(path))
    )
    assert leaks == []
