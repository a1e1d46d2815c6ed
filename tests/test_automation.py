"""Running on its own: the deadline schedule, the inbox sensor, a backfill as one run, the checks,
one DuckDB connection at a time, and the `liia` command."""

import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from openpyxl import load_workbook

from pipelines.definitions import defs
from pipelines.defs.resources import LiiaPaths, writer_lock
from pipelines.defs.schedules import deadline_cron, quarter_deadline_schedule, quarter_due
from pipelines.defs.sensors import inbox_sensor
from pipelines.quarters import parse_quarter
from pipelines.warehouse import reconcile_quarter
from tests.conftest import PROJECT, check_evaluation, run_quarters, validated

SAMPLE = PROJECT / "sample_returns"
LONDON = ZoneInfo("Europe/London")


def test_definitions_load_with_the_job_schedule_and_sensor():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("quarter_job")
    assert defs.resolve_schedule_def("quarter_deadline_schedule")
    assert defs.resolve_sensor_def("inbox_sensor")
    graph = defs.resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {"receiving", "validation", "benchmarks", "warehouse", "reports"}
    assert len(graph.asset_check_keys) == 3


def test_schedule_tick_on_15_november_runs_the_quarter_just_ended():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 15, 7, tzinfo=LONDON)
    )
    request = quarter_deadline_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2026-27 Q2"


def test_the_deadline_is_configurable():
    assert deadline_cron() == "0 7 15 2,5,8,11 *"
    assert deadline_cron(day=1, months_after=1) == "0 7 1 1,4,7,10 *"
    assert quarter_due(date(2027, 2, 15)) == parse_quarter("2026-27 Q3")
    assert quarter_due(date(2027, 5, 15)) == parse_quarter("2026-27 Q4")
    assert quarter_due(date(2026, 10, 1), months_after=1) == parse_quarter("2026-27 Q2")


def _settled(path, seconds_ago=60):
    past = time.time() - seconds_ago
    os.utime(path, (past, past))
    return path


def _tick(inbox, cursor=None):
    context = dg.build_sensor_context(
        cursor=cursor, resources={"paths": LiiaPaths(inbox=str(inbox))}
    )
    result = inbox_sensor(context)
    requests = result if isinstance(result, list) else []
    return requests, context.cursor


def test_sensor_runs_the_quarter_a_new_file_names_and_nothing_for_the_same_bytes(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    barnet = SAMPLE / "2026-27-Q2" / "Barnet LIIA return 2026-27 Q2.xlsx"
    _settled(shutil.copy(barnet, inbox / "barnet.xlsx"))
    requests, cursor = _tick(inbox)
    assert [r.partition_key for r in requests] == ["2026-27 Q2"]

    again, cursor = _tick(inbox, cursor)
    assert again == []
    _settled(shutil.copy(barnet, inbox / "barnet copy.xlsx"))  # the same bytes, another name
    again, cursor = _tick(inbox, cursor)
    assert again == []

    # A resubmission of an earlier quarter: new bytes whose cover names 2026-27 Q1.
    wb = load_workbook(SAMPLE / "2026-27-Q1" / "Barnet LIIA return 2026-27 Q1.xlsx")
    wb["Finance"]["D7"] = 12345
    wb.save(inbox / "barnet q1 corrected.xlsx")
    _settled(inbox / "barnet q1 corrected.xlsx")
    resubmitted, cursor = _tick(inbox, cursor)
    assert [r.partition_key for r in resubmitted] == ["2026-27 Q1"]
    assert resubmitted[0].run_key != requests[0].run_key


def test_sensor_waits_for_a_file_still_being_written(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = (SAMPLE / "2026-27-Q2" / "Camden LIIA return 2026-27 Q2.xlsx").read_bytes()
    copying = inbox / "camden.xlsx"
    copying.write_bytes(data[: len(data) // 2])  # half copied, modified just now
    requests, cursor = _tick(inbox)
    assert requests == []
    copying.write_bytes(data)
    _settled(copying)
    requests, _ = _tick(inbox, cursor)
    assert [r.partition_key for r in requests] == ["2026-27 Q2"]


def test_completeness_check_names_the_authorities_missing_from_the_latest_quarter(tmp_path):
    from pipelines.defs.assets import received_returns, validated_returns

    result = run_quarters(
        tmp_path, SAMPLE, "2026-27-Q2", selection=[received_returns, validated_returns]
    )
    check = check_evaluation(result, "all_authorities_returned")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.description == (
        "2026-27 Q2: 30 of 33 accepted; not returned: Hackney, Westminster; "
        "no return accepted (rejected): Lewisham"
    )
    assert check_evaluation(result, "returns_fit_to_load").passed


def test_a_backfill_is_one_run_that_matches_quarter_by_quarter_runs(tmp_path, latest_quarter_run):
    result = run_quarters(tmp_path, SAMPLE, "2026-27-Q1", "2026-27-Q2")
    assert result.success
    # One run materialised both quarters of every asset.
    materialised = {
        (e.asset_key.to_user_string(), e.partition)
        for e in result.get_asset_materialization_events()
    }
    assert ("benchmarks", "2026-27 Q1") in materialised
    assert ("benchmark_workbooks", "2026-27 Q2") in materialised
    assert len(materialised) == 2 * 7
    # Plausibility in Q2 compared with Q1 from the same run: Sutton's two warnings.
    q2 = validated(result, "2026-27-Q2")
    subs, issues = q2["submissions"], q2["issues"]
    sutton = subs.loc[subs["authority"] == "SUT", "submission_id"]
    warnings = issues[issues["submission_id"].isin(sutton) & (issues["severity"] == "warning")]
    assert len(warnings) == 2
    assert check_evaluation(result, "warehouse_matches_current_returns").passed

    def rows(path):
        con = duckdb.connect(str(path), read_only=True)
        out = (
            con.execute("SELECT * EXCLUDE (received_at) FROM submissions ORDER BY ALL").fetchall(),
            con.execute("SELECT * FROM benchmarks ORDER BY ALL").fetchall(),
        )
        con.close()
        return out

    assert rows(tmp_path / "liia.duckdb") == rows(latest_quarter_run / "liia.duckdb")


def test_reconciliation_finds_a_value_the_warehouse_got_wrong(tmp_path, latest_quarter_run):
    from pipelines.catalogue import load_authorities, load_catalogue

    copy = tmp_path / "copy.duckdb"
    shutil.copy(latest_quarter_run / "liia.duckdb", copy)
    quarter = parse_quarter("2026-27-Q2")
    con = duckdb.connect(str(copy))
    values = con.execute("SELECT * FROM return_values WHERE quarter = ?", [quarter.key]).df()
    authorities, catalogue = load_authorities(), load_catalogue()
    assert reconcile_quarter(con, quarter, values, authorities, catalogue) == []
    con.execute(
        """UPDATE return_values SET value = value + 1
        WHERE quarter = ? AND authority = 'CAM' AND ref = 'FIN01' AND is_current""",
        [quarter.key],
    )
    found = reconcile_quarter(con, quarter, values, authorities, catalogue)
    assert len(found) == 2 and all("CAM FIN01" in f for f in found)


HOLDER = """
import sys, time
from pathlib import Path
from pipelines.defs.resources import writer_lock
with writer_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_second_connection_waits_for_the_first(tmp_path):
    database = tmp_path / "working.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TimeoutError, match="Another run"):
            with writer_lock(database, wait=0.5):
                pass
        holder.stdin.write("\n")
        holder.stdin.flush()
        with writer_lock(database, wait=10):
            pass  # taken once the other run lets go
    finally:
        holder.kill()
        holder.wait()


def _liia(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize("command", [[], ["run"], ["status"], ["validate"], ["template"], ["ui"]])
def test_every_command_has_help(command):
    result = _liia(*command, "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: liia")


@pytest.mark.parametrize(
    "args",
    [["bogus"], ["run"], ["run", "--quarter", "2026-27-Q9"], ["status", "--quarter", "soon"]],
)
def test_wrong_arguments_get_one_line_not_a_traceback(args):
    result = _liia(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "--help" in result.stderr


def test_status_prints_the_submission_tracker(latest_quarter_run):
    published = latest_quarter_run / "published" / "liia.duckdb"
    result = _liia("status", "--quarter", "2026-27-Q2", env={"LIIA_WAREHOUSE": str(published)})
    assert result.returncode == 0, result.stderr
    lines = {line.split("  ")[0]: line for line in result.stdout.splitlines()}
    assert result.stdout.startswith("2026-27 Q2: 30 of 33 accepted")
    assert "not returned" in lines["Hackney"] and "rejected" in lines["Lewisham"]
    missing = _liia("status", env={"LIIA_WAREHOUSE": str(latest_quarter_run / "none.duckdb")})
    assert missing.returncode == 1 and "liia run --all" in missing.stderr
