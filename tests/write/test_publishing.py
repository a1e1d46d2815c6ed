"""The analysts' copy of the warehouse: an open reader never blocks a run nor sees a half-loaded
quarter, DuckDB 1.x opens it, and re-running a quarter changes nothing (its model, exports and
recipes: test_analysts_model.py)."""

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import region, run_quarter, warehouse_snapshot

READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
query = "SELECT string_agg(DISTINCT quarter, ',' ORDER BY quarter) FROM benchmarks"
print(con.execute(query).fetchone()[0], flush=True)
sys.stdin.readline()  # the connection stays open until the test says so
print(con.execute(query).fetchone()[0], flush=True)
"""


# A region of six keeps the runs quick; the point is the analyst's connection held open.
SIX = ["BAR", "CAM", "CRO", "EAL", "KUT", "RUT"]
QUARTERS = ("2026-27-Q1", "2026-27-Q2")


def _run(tmp_path, quarter):
    return run_quarter(tmp_path, tmp_path / "region" / "inbox", quarter)


_snapshot = warehouse_snapshot


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Q1 published; an analyst connects read-only; Q2 runs through while the connection is open."""
    tmp = tmp_path_factory.mktemp("publish")
    authorities = region(tmp / "region", SIX, QUARTERS)
    patch = pytest.MonkeyPatch()
    patch.setenv("LIIA_AUTHORITIES", str(authorities))
    published = tmp / "published" / "liia.duckdb"
    assert _run(tmp, "2026-27-Q1").success
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    before_run = reader.stdout.readline().strip()
    q2 = _run(tmp, "2026-27-Q2")
    during, _ = reader.communicate("\n", timeout=60)
    yield {
        "tmp": tmp,
        "published": published,
        "q2": q2,
        "reader": (before_run, during.strip(), reader.returncode),
    }
    patch.undo()


def test_an_open_analyst_connection_neither_blocks_a_run_nor_sees_it_half_done(runs):
    assert runs["q2"].success
    before_run, after_run, code = runs["reader"]
    # the analyst's connection kept reading the version it opened, whole
    assert (before_run, after_run, code) == ("2026-27-Q1", "2026-27-Q1", 0)
    con = duckdb.connect(str(runs["published"]), read_only=True)
    assert con.execute("SELECT count(DISTINCT quarter) FROM benchmarks").fetchone()[0] == 2
    leftovers = [p.name for p in runs["published"].parent.iterdir() if p.name != "liia.duckdb"]
    assert leftovers == []


def test_duckdb_1x_cli_opens_the_published_copy(runs):
    cli = Path(sys.executable).parent / "duckdb"
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("v1.")
    result = subprocess.run(
        [
            str(cli),
            "-readonly",
            "-csv",
            "-noheader",
            str(runs["published"]),
            "-c",
            "SELECT count(*), count(DISTINCT indicator_id) FROM benchmarks "
            "WHERE quarter = '2026-27-Q2'",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{len(SIX) * 37},37"


def test_rerunning_a_quarter_changes_nothing(runs):
    working = runs["tmp"] / "liia.duckdb"
    before = _snapshot(working)
    assert _run(runs["tmp"], "2026-27-Q2").success
    after = _snapshot(working)
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], table
    assert len(before["benchmarks"]) == 2 * len(SIX) * 37
