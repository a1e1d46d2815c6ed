"""Do two versions of the pipeline give the same answer? Runs `liia run --all` on the sample returns
with the code of an earlier commit and with the working tree, each in its own folder, then compares
every table of the analysts' warehouse (row by row, sorted) and every cell of every workbook, CSV
and page written. What differs only by when or by which run (run ids, times) is left out and
counted. `--old-python` runs the earlier commit with another interpreter (the environment of
another checkout, say), to compare two interpreters as well as two versions.

    .venv/bin/python scripts/compare_runs.py 079dc72
    .venv/bin/python scripts/compare_runs.py 71b33db --old-python ../old/.venv/bin/python
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import duckdb
from openpyxl import load_workbook

from pipelines.defs.resources import environment_for

CLOSE = 1e-9  # floating sums in another order differ in the last bits; figures are shown to 1 dp

PROJECT = Path(__file__).resolve().parent.parent
# Columns that say when or by which run something was made: they differ between any two runs.
VOLATILE = re.compile(r"(^|_)(run_id|run|at|time|built|loaded|received|written|published|created)$")
# Text that says when, in a workbook or page ("Written 5 December 2026 20:41"), and a file's size
# on a page ("(Excel, 6 KB)"), which moves with the moment zipped inside the file.
MOMENT = re.compile(
    r"\(\w+, \d+ [KM]B\)|\d{1,2}:\d{2}(:\d{2})?|\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}\S*|[0-9a-f]{8}-[0-9a-f-]{27}"
)

RUN = (
    "import sys\n"
    "try:\n    from pipelines.service.cli import main\n"
    "except ImportError:\n    from pipelines.cli import main\n"
    "sys.argv = ['liia', 'run', '--all']\nmain()\n"
)


def run_all(tree: Path, folder: Path, inbox: Path, python: str = sys.executable) -> None:
    # the variables are the same in every version since the service work (issue 20)
    env = {**os.environ, "PYTHONPATH": str(tree), **environment_for(folder, inbox)}
    done = subprocess.run([python, "-c", RUN], cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"liia run --all failed in {tree}:\n{done.stderr[-2000:]}")


def same(a, b) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=CLOSE, abs_tol=CLOSE) or (a != a and b != b)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def timeless(rows: list[tuple]) -> list[tuple]:
    """Rows with every moment and run id put as <moment>: they differ between any two runs."""

    def one(value):
        if isinstance(value, datetime):
            return "<moment>"
        if isinstance(value, str):
            return MOMENT.sub("<moment>", value)
        if isinstance(value, list):
            return [one(v) for v in value]
        return value

    return [tuple(one(v) for v in row) for row in rows]


def text_difference(a: str, b: str) -> str:
    at = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return f"{a[max(0, at - 60) : at + 60]!r} against {b[max(0, at - 60) : at + 60]!r}"


def first_difference(a: list, b: list) -> str:
    for x, y in zip(a, b, strict=False):
        if not same(x, y):
            return f"{x!r} against {y!r}"
    return f"{len(a)} against {len(b)}"


def table_rows(con, table: str) -> tuple[list[str], list[tuple]]:
    columns = [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]
    kept = [c for c in columns if not VOLATILE.search(c)]
    if not kept:
        return [], []
    listed = ", ".join(f'"{c}"' for c in kept)
    rows = con.execute(f'SELECT {listed} FROM "{table}" ORDER BY ALL').fetchall()
    return kept, rows


def compare_warehouses(old: Path, new: Path) -> list[str]:
    differences = []
    with (
        duckdb.connect(str(old), read_only=True) as a,
        duckdb.connect(str(new), read_only=True) as b,
    ):
        listing = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        tables_a = {r[0] for r in a.execute(listing).fetchall()}
        tables_b = {r[0] for r in b.execute(listing).fetchall()}
        differences += [f"table only in the old: {t}" for t in sorted(tables_a - tables_b)]
        differences += [f"table only in the new: {t}" for t in sorted(tables_b - tables_a)]
        cells = 0
        for table in sorted(tables_a & tables_b):
            cols_a, rows_a = table_rows(a, table)
            cols_b, rows_b = table_rows(b, table)
            if cols_a != cols_b:
                differences.append(f"{table}: columns {cols_a} against {cols_b}")
            elif not same(rows_a, rows_b):
                differences.append(f"{table}: {first_difference(rows_a, rows_b)}")
            cells += len(rows_a) * len(cols_a)
    print(f"warehouse: {len(tables_a & tables_b)} tables and views, {cells:,} values compared")
    return differences


def _cells(path: Path) -> dict:
    book = load_workbook(path, read_only=True, data_only=False)
    found = {}
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is not None and hasattr(cell, "coordinate"):
                    value = cell.value
                    found[(sheet.title, cell.coordinate)] = (
                        MOMENT.sub("<moment>", value) if isinstance(value, str) else value
                    )
    book.close()
    return found


def compare_files(old: Path, new: Path) -> list[str]:
    differences, cells, files = [], 0, 0
    names_a = {p.relative_to(old) for p in old.rglob("*") if p.is_file()}
    names_b = {p.relative_to(new) for p in new.rglob("*") if p.is_file()}
    differences += [f"file only in the old: {p}" for p in sorted(names_a - names_b)]
    differences += [f"file only in the new: {p}" for p in sorted(names_b - names_a)]
    for name in sorted(names_a & names_b):
        files += 1
        if name.suffix == ".xlsx":
            a, b = _cells(old / name), _cells(new / name)
            cells += len(a)
            differing = sorted(k for k in a.keys() | b.keys() if not same(a.get(k), b.get(k)))
            if differing:
                k = differing[0]
                differences.append(
                    f"{name}: {len(differing)} cells differ, first {k}: {a.get(k)!r} against {b.get(k)!r}"
                )
        elif name.suffix in {".csv", ".html", ".txt", ".json", ".md"}:
            a = MOMENT.sub("<moment>", (old / name).read_text(errors="replace"))
            b = MOMENT.sub("<moment>", (new / name).read_text(errors="replace"))
            if a != b:
                differences.append(f"{name}: {text_difference(a, b)}")
        elif name.suffix == ".parquet":
            with duckdb.connect() as con:
                ra, rb = (
                    timeless(
                        con.execute(f"FROM read_parquet('{f / name}') ORDER BY ALL").fetchall()
                    )
                    for f in (old, new)
                )
            if not same(ra, rb):
                differences.append(f"{name}: {first_difference(ra, rb)[:300]}")
    print(f"{old.name}: {files} files compared, {cells:,} workbook cells")
    return differences


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the earlier commit")
    parser.add_argument(
        "--old-python", default=sys.executable, help="the interpreter it runs with (default: ours)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="liia-compare-") as tmp:
        work = Path(tmp)
        tree = work / "old-tree"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(tree), args.old],
            cwd=PROJECT,
            check=True,
        )
        try:
            inbox = work / "inbox"
            shutil.copytree(PROJECT / "sample_returns", inbox, copy_function=shutil.copy2)
            for p in inbox.rglob("*.py"):
                p.unlink()
            run_all(tree, work / "old", inbox, args.old_python)
            run_all(PROJECT, work / "new", inbox)
            differences = compare_warehouses(
                work / "old/published/liia.duckdb", work / "new/published/liia.duckdb"
            )
            for folder in ("reports", "exports"):
                differences += compare_files(work / "old" / folder, work / "new" / folder)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=PROJECT, check=False
            )
    for line in differences:
        print("DIFFERS:", line)
    print("identical" if not differences else f"{len(differences)} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
