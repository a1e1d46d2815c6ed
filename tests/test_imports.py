"""The house's rule: the data goes downhill, each stage importing only the stages before it, and
Dagster only where the pipeline meets it. import-linter checks the contracts in pyproject.toml;
these tests run it on the tree, and on a copy with a back-edge put in, to show it would fail."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT

PACKAGE = PROJECT / "pipelines"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def lint_a_copy_with(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess:
    """lint-imports on a copy of the house with `line` added to `module` (a path in pipelines/)."""
    shutil.copytree(PACKAGE, tmp_path / "pipelines", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path)
    with (tmp_path / "pipelines" / module).open("a") as changed:
        changed.write(f"\n{line}  # noqa: E402\n")
    return lint_imports(tmp_path)


def test_every_stage_imports_only_the_stages_before_it():
    result = lint_imports(PROJECT)
    assert result.returncode == 0, result.stdout
    assert "3 kept, 0 broken" in result.stdout


def test_an_import_that_climbs_back_up_fails_the_check(tmp_path):
    result = lint_a_copy_with(
        tmp_path, "receive/ledger.py", "from pipelines.write.layout import Book"
    )
    assert result.returncode == 1
    assert "pipelines.receive is not allowed to import pipelines.write" in result.stdout
    assert "pipelines.receive.ledger -> pipelines.write.layout" in result.stdout


def test_dagster_leaking_into_a_stage_fails_the_check(tmp_path):
    result = lint_a_copy_with(tmp_path, "benchmark/groups.py", "import dagster")
    assert result.returncode == 1
    assert "The stages' logic never imports Dagster BROKEN" in result.stdout
    assert "pipelines.benchmark.groups -> dagster" in result.stdout


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
    """The groups of modules that import each other, directly or round a longer circle (within
    one stage too, which the layers contract allows)."""
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


def test_every_stage_says_what_it_holds_and_what_it_may_import():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "import" in doc.lower(), init
