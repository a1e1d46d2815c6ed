"""The analysts' copy is theirs: held open read-write, or deleted, it makes no run stall, fail or
re-run anything, because the pipeline never reads it."""

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from tests.conftest import (
    copy_of_six_region_first_quarter,
    copy_of_six_region_run,
    run_quarter,
)
from tests.defs.test_automation import _settled, evaluate_sensor

QUARTER = "2026-27-Q1"
HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])  # read-write: the default of the CLI, Python and DBeaver
con.execute("SELECT count(*) FROM submissions").fetchall()
print("open", flush=True)
time.sleep(600)
"""


def test_an_analyst_holding_the_published_file_read_write_stalls_nothing(
    tmp_path, six_region_run, monkeypatch
):
    # Q1's published copy, as the session's six_region_run made it (a copy, to run on from; Q2's
    # returns have not come)
    folder = copy_of_six_region_first_quarter(six_region_run, tmp_path / "copy", monkeypatch)
    inbox = folder / "region" / "inbox"
    shutil.rmtree(inbox / "2026-27-Q2")
    for path in inbox.rglob("*.xlsx"):
        _settled(path)
    published = folder / "published" / "liia.duckdb"
    assert not published.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    with dg.instance_for_test() as instance:
        analyst = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(published)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert analyst.stdout.readline().strip() == "open"
            # The sensor's tick reads the pipeline's own ledger: nothing looks new.
            started = time.monotonic()
            result = evaluate_sensor(instance, folder, inbox)
            assert result.run_requests == [] and time.monotonic() - started < 10
            assert result.skip_reason.skip_message == "No file without an answer."

            # A resubmission arrives: its run publishes a new copy beside the analyst's open one.
            wb = load_workbook(inbox / QUARTER / "Barnet LIIA return 2026-27 Q1.xlsx")
            wb["Finance"]["D7"] = 81_234_567
            wb.save(inbox / QUARTER / "Barnet corrected.xlsx")
            # (settled, and received after the original, which the copied run received)
            _settled(inbox / QUARTER / "Barnet corrected.xlsx", seconds_ago=3)
            (second,) = evaluate_sensor(instance, folder, inbox).run_requests
            started = time.monotonic()
            assert run_quarter(folder, inbox, QUARTER, instance, tags=second.tags).success
            assert time.monotonic() - started < 60
            assert analyst.poll() is None  # the analyst's session is untouched
        finally:
            analyst.kill()
            analyst.wait()
        with duckdb.connect(str(published), read_only=True) as con:
            (current,) = con.execute(
                """SELECT value FROM return_values
                WHERE quarter = ? AND authority = 'BAR' AND ref = 'FIN02' AND is_current""",
                [QUARTER],
            ).fetchone()
        assert current == 81_234_567

        # The analyst deletes the copy: nothing is re-run (the next run publishes it again).
        published.unlink()
        assert evaluate_sensor(instance, folder, inbox).run_requests == []


def test_rerunning_an_earlier_quarter_rewrites_every_later_export(
    tmp_path, six_region_run, monkeypatch
):
    # Q1 and Q2 run, as the session's six_region_run ran them (a copy, to run on from)
    folder = copy_of_six_region_run(six_region_run, tmp_path / "copy", monkeypatch)
    inbox = folder / "region" / "inbox"
    # Barnet corrects Q1, and only Q1 is run: Q2's changes on quarter move with it.
    wb = load_workbook(inbox / QUARTER / "Barnet LIIA return 2026-27 Q1.xlsx")
    wb["Finance"]["D7"] = 1_234_567
    wb["Cover"]["B8"] = "2099-01-01"
    wb.save(inbox / QUARTER / "Barnet corrected.xlsx")
    assert run_quarter(folder, inbox, QUARTER).success
    export = folder / "exports" / "restricted" / "benchmarks RESTRICTED.parquet"
    with duckdb.connect(str(folder / "published" / "liia.duckdb"), read_only=True) as con:
        warehouse = con.execute(
            "SELECT * FROM benchmarks WHERE quarter = '2026-27-Q2' ORDER BY ALL"
        ).df()
        exported = con.execute(
            "SELECT * EXCLUDE (authority_name, ons_code, dfe_la_code, indicator_name, quarter_label)"
            f" FROM '{export}' WHERE quarter = '2026-27-Q2' ORDER BY ALL"
        ).df()
        barnet = warehouse[(warehouse["authority"] == "BAR") & warehouse["previous_value"].notna()]
        assert (barnet["previous_value"] != 0).any()
    pd.testing.assert_frame_equal(exported, warehouse)


EDIT_AND_DIE = """
import os, sys, duckdb
con = duckdb.connect(sys.argv[1])  # read-write, as root may even on a read-only file
con.execute("SET checkpoint_threshold = '1GB'")  # the change stays in the log beside the file
con.execute("UPDATE benchmarks SET value = -999 WHERE authority = 'BAR'")
os._exit(9)  # killed mid-session: no checkpoint, no close
"""


def test_a_dead_read_write_session_changes_nothing_the_next_build_publishes(
    tmp_path, six_region_run, monkeypatch
):
    # a published copy, as the session's six_region_run left it (a copy, to run on from)
    folder = copy_of_six_region_run(six_region_run, tmp_path / "copy", monkeypatch)
    published = folder / "published" / "liia.duckdb"
    killed = subprocess.run([sys.executable, "-c", EDIT_AND_DIE, str(published)])
    assert killed.returncode == 9
    wal = published.with_name("liia.duckdb.wal")
    assert wal.exists() and wal.stat().st_size > 0
    with duckdb.connect(str(published), read_only=True) as con:  # the edit is in the log
        assert con.execute("SELECT min(value) FROM benchmarks").fetchall() == [(-999,)]

    assert run_quarter(folder, folder / "region" / "inbox", QUARTER).success
    assert not wal.exists()
    with duckdb.connect(str(published), read_only=True) as con:
        ((lowest, edited),) = con.execute(
            "SELECT min(value), count(*) FILTER (WHERE value = -999) FROM benchmarks"
        ).fetchall()
    assert edited == 0 and lowest > -999


def test_the_copys_empty_keyed_schema_is_made_once_and_again_when_the_tables_change(
    tmp_path, monkeypatch
):
    """The copy starts as a copy of an empty keyed schema kept beside the working database: made
    by the first build, reused by the next, made again (the old one removed) when what the tables,
    comments or views say changes, so a copy never has the schema of an earlier version."""
    from pipelines.warehouse import analysts_copy
    from pipelines.warehouse.database import create_schema

    working, target = tmp_path / "working" / "liia.duckdb", tmp_path / "published" / "liia.duckdb"
    working.parent.mkdir()
    con = duckdb.connect(str(working))
    create_schema(con)
    con.execute("INSERT INTO quarters (quarter, label) VALUES ('2026-27-Q1', '2026-27 Q1')")

    def schemas():
        return sorted(working.parent.glob(f"{analysts_copy.SCHEMA_FILE}.*.duckdb"))

    def published_comment():
        copy = duckdb.connect(str(target), read_only=True)
        try:
            return copy.execute(
                "SELECT comment FROM duckdb_views() WHERE view_name = 'markings'"
            ).fetchone()[0], copy.execute("SELECT count(*) FROM quarters").fetchone()[0]
        finally:
            copy.close()

    analysts_copy.publish(con, target)
    (first,) = schemas()
    made = first.stat().st_mtime_ns
    comment, quarters = published_comment()
    assert quarters == 1 and comment.startswith("Each table and view")
    analysts_copy.publish(con, target)
    assert schemas() == [first] and first.stat().st_mtime_ns == made  # reused, not made again

    said = analysts_copy.view_statements
    monkeypatch.setattr(
        analysts_copy,
        "view_statements",
        lambda: [*said(), "COMMENT ON VIEW markings IS 'What each table may be shown to'"],
    )
    analysts_copy.publish(con, target)
    (second,) = schemas()
    assert second != first and not first.exists()
    assert published_comment() == ("What each table may be shown to", 1)
    con.close()


def test_a_kept_schema_is_made_again_when_another_version_removes_it_or_in_place_when_unkeepable(
    tmp_path, monkeypatch
):
    """Kept in a folder several deployments may share (LIIA_CACHE), this version's empty schema
    can be removed by another version's build between its making and its copying: it is made
    again; and if it never stays, the run says why instead of publishing half a copy. Where the
    folder cannot be written, the schema is made in the copy itself."""
    from pipelines.warehouse import analysts_copy
    from pipelines.warehouse.database import create_schema

    working, target = tmp_path / "working" / "liia.duckdb", tmp_path / "published" / "liia.duckdb"
    kept = tmp_path / "cache"
    working.parent.mkdir()
    con = duckdb.connect(str(working))
    create_schema(con)
    con.execute("INSERT INTO quarters (quarter, label) VALUES ('2026-27-Q1', '2026-27 Q1')")
    made, removed = analysts_copy.copy_schema, []

    def removed_by_another_version(con, folder, every_time=False):
        path = made(con, folder)
        if every_time or not removed:
            path.unlink()
            removed.append(path)
        return path

    monkeypatch.setattr(analysts_copy, "copy_schema", removed_by_another_version)
    # where an earlier version kept it, beside the working database: removed
    (working.parent / f"{analysts_copy.SCHEMA_FILE}.0123456789abcdef.duckdb").write_bytes(b"")
    analysts_copy.publish(con, target, kept)
    (schema,) = kept.glob(f"{analysts_copy.SCHEMA_FILE}.*.duckdb")
    assert removed == [schema]  # made again in the folder given, and none left beside the database
    assert not list(working.parent.glob(f"{analysts_copy.SCHEMA_FILE}.*"))
    copy = duckdb.connect(str(target), read_only=True)
    assert copy.execute("SELECT count(*) FROM quarters").fetchone()[0] == 1
    copy.close()

    before = target.read_bytes()
    monkeypatch.setattr(
        analysts_copy,
        "copy_schema",
        lambda con, folder: removed_by_another_version(con, folder, every_time=True),
    )
    with pytest.raises(RuntimeError, match="another version of the pipeline shares that folder"):
        analysts_copy.publish(con, target, kept)
    assert target.read_bytes() == before  # the copy published before stays, whole
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no partial left

    # A cache that cannot be written (a file where its folder should be) costs only time: the
    # schema is made in the copy itself.
    monkeypatch.setattr(analysts_copy, "copy_schema", made)
    unwritable = tmp_path / "not a folder"
    unwritable.write_text("")
    analysts_copy.publish(con, target, unwritable)
    con.close()
    copy = duckdb.connect(str(target), read_only=True)
    assert copy.execute("SELECT count(*) FROM quarters").fetchone()[0] == 1
    copy.close()
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_a_key_that_fails_after_tables_were_written_publishes_nothing(tmp_path):
    """The copy is written a few tables at a time (each key's index is given back once written),
    so a key can fail after earlier tables are in the new file: the publish fails naming the key,
    the new file goes, and the copy published before stays whole."""
    from pipelines.warehouse import analysts_copy
    from pipelines.warehouse.database import create_schema

    working, target = tmp_path / "working" / "liia.duckdb", tmp_path / "published" / "liia.duckdb"
    working.parent.mkdir()
    con = duckdb.connect(str(working))
    create_schema(con)
    con.execute("INSERT INTO quarters (quarter, label) VALUES ('2026-27-Q1', '2026-27 Q1')")
    analysts_copy.publish(con, target)
    before = target.read_bytes()
    tables = analysts_copy._copied_tables()
    assert tables.index("releases") >= analysts_copy.TABLES_PER_COMMIT  # after a first commit
    con.execute(
        "INSERT INTO releases (quarter, release, released_at, reason) "
        "VALUES ('2030-31-Q4', 1, now(), 'a quarter nobody added')"
    )
    with pytest.raises(duckdb.ConstraintException, match="foreign key"):
        analysts_copy.publish(con, target)
    con.close()
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_a_run_keeps_the_copys_schema_in_the_cache_not_beside_its_database(latest_quarter_run):
    from pipelines.warehouse.analysts_copy import SCHEMA_FILE

    assert not list(latest_quarter_run.glob(f"{SCHEMA_FILE}.*"))
    assert list(Path(os.environ["LIIA_CACHE"]).glob(f"{SCHEMA_FILE}.*.duckdb"))
