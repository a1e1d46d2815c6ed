"""The analysts' copy of the warehouse: an open reader never blocks a run nor sees a half-loaded
quarter, DuckDB 1.x opens it, and re-running a quarter changes nothing (its model, exports and
recipes: test_analysts_model.py)."""

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SIX, copy_of_six_region_run, run_quarter, warehouse_snapshot


def _run(tmp_path, quarter):
    return run_quarter(tmp_path, tmp_path / "region" / "inbox", quarter)


_snapshot = warehouse_snapshot


@pytest.fixture(scope="module")
def runs(six_region_run):
    """Q1 published; an analyst connects read-only; Q2 runs through while the connection is open
    (the session's six_region_run)."""
    said = json.loads((six_region_run / "said.json").read_text())
    return {
        "tmp": six_region_run,
        "published": six_region_run / "published" / "liia.duckdb",
        "second_ran": said["second_ran"],
        "reader": tuple(said["reader"]),
    }


def test_an_open_analyst_connection_neither_blocks_a_run_nor_sees_it_half_done(runs):
    assert runs["second_ran"]
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


def test_rerunning_a_quarter_changes_nothing(runs, tmp_path, monkeypatch):
    copy_of_six_region_run(runs["tmp"], tmp_path / "copy", monkeypatch)
    working = tmp_path / "copy" / "liia.duckdb"
    before = _snapshot(working)
    assert _run(tmp_path / "copy", "2026-27-Q2").success
    after = _snapshot(working)
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], table
    assert len(before["benchmarks"]) == 2 * len(SIX) * 37
