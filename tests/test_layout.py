"""The README's layout table names what exists: a newcomer who follows it finds every path."""

from __future__ import annotations

import re

from tests.conftest import PROJECT


def layout_rows() -> list[tuple[str, str]]:
    text = (PROJECT / "README.md").read_text()
    table = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| (`[^|]+`) \| (.+) \|$", table, flags=re.MULTILINE)


def named_paths(first: str, second: str) -> list[list[str]]:
    """The paths a row names, each with the places it may be: those in its first column, and the
    file and folder names in its second, in the row's folder or from the project's root."""
    paths = re.findall(r"`([^`]+)`", first)
    folder = paths[0] if paths[0].endswith("/") else paths[0].rsplit("/", 1)[0] + "/"
    names = re.findall(r"`([\w./-]+\.(?:py|csv|md|yaml|html)|[\w/-]+/)`", second)
    return [[paths[0]]] + [[folder + p, p] for p in paths[1:] + names]


def test_every_path_the_layout_table_names_exists():
    rows = layout_rows()
    assert len(rows) >= 15
    named = [p for first, second in rows for p in named_paths(first, second)]
    assert len(named) > 40
    missing = [p[0] for p in named if not any((PROJECT / place).exists() for place in p)]
    assert missing == []


def test_every_stage_package_has_its_row():
    firsts = {re.findall(r"`([^`]+)`", first)[0] for first, _ in layout_rows()}
    packages = {f"pipelines/{p.parent.name}/" for p in PROJECT.glob("pipelines/*/__init__.py")}
    assert packages - firsts == set()
