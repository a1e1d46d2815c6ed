"""The DuckDB clients analysts use, each run in its own process on a database read-only: the
project's Python client (2.0) and CLI (1.5), and the older ones `make clients` installs, locked in
tests/clients/ (the Python client 1.1, the oldest CLI on PyPI, 1.4)."""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
TOOLS = PROJECT / ".tools" / "clients"

# name: (kind, executable, the version it must report)
CLIENTS = {
    "Python 2.0": ("python", Path(sys.executable), "2.0."),
    "Python 1.1": ("python", TOOLS / "duckdb-1.1" / "bin" / "python", "1.1."),
    "CLI 1.5": ("cli", Path(sys.executable).parent / "duckdb", "v1.5."),
    "CLI 1.4": ("cli", TOOLS / "duckdb-cli-1.4" / "bin" / "duckdb", "v1.4."),
}

_PYTHON = """
import json, sys, duckdb
database, folder = sys.argv[1], sys.argv[2]
con = duckdb.connect(database, read_only=True)
for n, statement in enumerate(json.load(sys.stdin)):
    con.execute(f"COPY ({statement}) TO '{folder}/{n}.csv' (HEADER)")
print(duckdb.__version__)
"""


OWN_DATABASE = "-- In your own database"


def statements(markdown: str, language: str = "sql", own_database: bool = False) -> list[str]:
    """Every statement of the document's ```sql blocks, without its closing semicolon: those run
    on the warehouse, or (`own_database`) those of the block run in an analyst's own database."""
    blocks = re.findall(rf"```{language}\n(.*?)```", markdown, flags=re.S)
    blocks = [b for b in blocks if b.startswith(OWN_DATABASE) == own_database]
    return [s.strip() for b in blocks for s in re.split(r";\s*$", b, flags=re.M) if s.strip()]


def version(client: str) -> str:
    kind, executable, _ = CLIENTS[client]
    command = (
        [str(executable), "-c", "import duckdb; print(duckdb.__version__)"]
        if kind == "python"
        else [str(executable), "--version"]
    )
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def answers(client: str, database: Path, queries: list[str], folder: Path) -> list[list[list]]:
    """Each query's answer as `client` computes it: the rows DuckDB itself writes as CSV, with
    numbers rounded to 9 significant figures (clients print the last digit of a double apart)."""
    kind, executable, _ = CLIENTS[client]
    folder.mkdir(parents=True)
    if kind == "python":
        run = subprocess.run(
            [str(executable), "-c", _PYTHON, str(database), str(folder)],
            input=json.dumps(queries),
            capture_output=True,
            text=True,
            timeout=300,
        )
    else:
        script = "".join(
            f"COPY ({q}) TO '{folder}/{n}.csv' (HEADER);\n" for n, q in enumerate(queries)
        )
        run = subprocess.run(
            [str(executable), "-init", "/dev/null", "-readonly", "-bail", str(database)],
            input=script,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if run.returncode != 0:
        raise AssertionError(f"{client}: {run.stderr[-2000:]}")
    return [_read(folder / f"{n}.csv") for n in range(len(queries))]


_OWN_PYTHON = """
import json, sys, duckdb
*steps, last = json.load(sys.stdin)
con = duckdb.connect("mine.duckdb")
for statement in steps:
    con.execute(statement)
con.execute(f"COPY ({last}) TO 'answer.csv' (HEADER)")
"""


def own_database_answer(client: str, warehouse: Path, steps: list[str], folder: Path) -> list:
    """The last of `steps` as `client` answers it in a new database of its own, in a folder where
    `warehouse/liia.duckdb` is the published file, after running the others."""
    kind, executable, _ = CLIENTS[client]
    (folder / "warehouse").mkdir(parents=True)
    (folder / "warehouse" / "liia.duckdb").symlink_to(warehouse)
    *before, last = steps
    if kind == "python":
        command = [str(executable), "-c", _OWN_PYTHON]
        given = json.dumps(steps)
    else:
        command = [str(executable), "-init", "/dev/null", "-bail", "mine.duckdb"]
        given = "".join(f"{s};\n" for s in before) + f"COPY ({last}) TO 'answer.csv' (HEADER);\n"
    run = subprocess.run(
        command, input=given, cwd=folder, capture_output=True, text=True, timeout=120
    )
    if run.returncode != 0:
        raise AssertionError(f"{client}: {run.stderr[-2000:]}")
    return _read(folder / "answer.csv")


def _read(path: Path) -> list[list]:
    with path.open(newline="", encoding="utf-8") as f:
        return [[_number(cell) for cell in row] for row in csv.reader(f)]


def _number(cell: str):
    try:
        x = float(cell)
    except ValueError:
        return cell
    if not math.isfinite(x) or x == 0:
        return x
    return round(x, 8 - int(math.floor(math.log10(abs(x)))))
