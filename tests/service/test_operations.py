"""What an operator does on the server with `liia`: run only real quarters, remove one added by
mistake, back up and restore."""

import io
import sqlite3
import tarfile
from contextlib import closing
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from pipelines.defs.resources import environment_for
from pipelines.receive.ledger import answered
from pipelines.service.cli import main
from tests.conftest import some_returns

QUARTER = "2026-27-Q1"


def _serve(monkeypatch, folder, inbox):
    """Point this process's `liia` at `folder`, as the service's environment file would."""
    env = environment_for(folder, inbox)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.mark.parametrize("quarter", ["2019-20-Q1", "2030-31-Q1"])
def test_liia_run_refuses_a_quarter_never_collected_in_one_line(
    quarter, tmp_path, monkeypatch, capsys
):
    env = _serve(monkeypatch, tmp_path, tmp_path / "inbox")
    assert main(["run", "--quarter", quarter]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and quarter.replace("-Q", " Q") in err
    assert "first quarter collected (2024-25 Q1)" in err or "has not begun" in err
    assert not Path(env["DAGSTER_HOME"]).exists()  # refused before anything was made


def test_a_quarter_added_by_mistake_can_be_removed_but_not_one_with_returns(
    tmp_path, monkeypatch, capsys, few_authorities
):
    inbox = tmp_path / "inbox"
    some_returns(QUARTER, inbox)
    env = _serve(monkeypatch, tmp_path, inbox)
    assert main(["run", "--quarter", QUARTER]) == 0
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        instance.add_dynamic_partitions("quarters", ["2026-27 Q4"])
    capsys.readouterr()
    assert main(["forget", "--quarter", "2026-27-Q4"]) == 0
    assert capsys.readouterr().out == "Removed 2026-27 Q4: it held no return.\n"
    assert main(["forget", "--quarter", QUARTER]) == 2
    assert "holds 6 received file(s); it stays" in capsys.readouterr().err
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert instance.get_dynamic_partitions("quarters") == ["2026-27 Q1"]

    # Backed up while nothing runs, restored into an empty place: the same warehouse, ledger and
    # run history.
    assert main(["backup", "--to", str(tmp_path / "backup.tar.gz")]) == 0
    archived = [p for p in (tmp_path / "archive").rglob("*") if p.is_file() and p.suffix != ".lock"]
    assert f"{len(archived)} archived files" in capsys.readouterr().out
    with tarfile.open(tmp_path / "backup.tar.gz") as tar:
        names = tar.getnames()
    assert "history/dagster.yaml" in names and "database/answered.sqlite" in names
    public = "reports/public/2026-27-Q1/LIIA benchmarks 2026-27-Q1 publishable.csv"
    assert public in names  # every release's files as published: no run writes them again
    elsewhere = tmp_path / "restored"
    restored_env = _serve(monkeypatch, elsewhere, inbox)
    assert main(["restore", "--from", str(tmp_path / "backup.tar.gz")]) == 0
    original = tmp_path / "published" / "liia.duckdb"
    copy = elsewhere / "published" / "liia.duckdb"
    with (
        duckdb.connect(str(original), read_only=True) as a,
        duckdb.connect(str(copy), read_only=True) as b,
    ):
        tables = [
            t for (t,) in a.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        ]
        assert tables == [
            t for (t,) in b.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
        ]
        for table in tables:
            pd.testing.assert_frame_equal(
                a.execute(f"SELECT * FROM {table} ORDER BY ALL").df(),
                b.execute(f"SELECT * FROM {table} ORDER BY ALL").df(),
            )
    assert answered(elsewhere / "working" / "answered.sqlite") == answered(
        tmp_path / "working" / "answered.sqlite"
    )
    with dg.DagsterInstance.from_config(restored_env["DAGSTER_HOME"]) as instance:
        assert len(instance.get_runs()) == 1
        assert instance.get_dynamic_partitions("quarters") == ["2026-27 Q1"]
    with closing(sqlite3.connect(elsewhere / "working" / "answered.sqlite")) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for path in (tmp_path / "reports").rglob("*"):  # the reports, byte for byte
        if path.is_file():
            twin = elsewhere / "reports" / path.relative_to(tmp_path / "reports")
            assert twin.read_bytes() == path.read_bytes(), path
    # The restored service answers nothing twice: its ledger knows the 6 files.
    assert len(answered(elsewhere / "working" / "answered.sqlite").shas) == 6
    # A second restore over what is there is refused.
    capsys.readouterr()
    assert main(["restore", "--from", str(tmp_path / "backup.tar.gz")]) == 2
    assert "is not empty" in capsys.readouterr().err


def test_a_backup_with_a_file_that_would_land_outside_is_refused_and_restores_nothing(
    tmp_path, monkeypatch, capsys
):
    hostile = tmp_path / "backup.tar.gz"
    with tarfile.open(hostile, "w:gz") as tar:
        member = tarfile.TarInfo("../../escaped.txt")
        member.size = 4
        tar.addfile(member, io.BytesIO(b"gone"))
    env = _serve(monkeypatch, tmp_path / "restored", tmp_path / "inbox")
    assert main(["restore", "--from", str(hostile)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a backup `liia backup` made" in err
    assert "nothing was restored" in err
    assert not list(tmp_path.rglob("escaped.txt")) and not list(Path("/tmp").glob("escaped.txt"))
    assert not Path(env["DAGSTER_HOME"]).exists()
