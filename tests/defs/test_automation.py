"""Running on its own: the deadline schedule, the inbox sensor, a backfill as one run, the checks,
one DuckDB connection at a time, and the `liia` command."""

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import numpy as np
import pytest
from dagster._utils.schedules import schedule_execution_time_iterator
from dagster_duckdb import DuckDBResource
from openpyxl import load_workbook

from pipelines.collection.quarters import parse_quarter, quarter_containing
from pipelines.definitions import defs
from pipelines.defs.resources import LiiaPaths, writer_lock
from pipelines.defs.schedules import (
    deadline_cron,
    quarter_deadline_schedule,
    quarter_due,
    revision_schedule,
)
from pipelines.defs.sensors import inbox_sensor
from pipelines.release.timing import RELEASE_TAG, RevisionRhythm, deadline, is_due, run_moment
from pipelines.warehouse.database import reconcile_quarter
from tests.conftest import (
    PROJECT,
    SAMPLE,
    check_evaluation,
    run_quarter,
    use_region,
    validated,
)

LONDON = ZoneInfo("Europe/London")


def test_definitions_load_with_the_job_schedule_and_sensor():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("quarter_job")
    assert defs.resolve_schedule_def("quarter_deadline_schedule")
    assert defs.resolve_sensor_def("inbox_sensor")
    assert defs.resolve_sensor_def("published_figures_sensor")
    graph = defs.resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {
        "context",
        "receiving",
        "validation",
        "benchmarks",
        "release",
        "warehouse",
        "reports",
    }
    assert len(graph.asset_check_keys) == 4


def _schedule_tick(instance, when: datetime):
    with (
        tempfile.TemporaryDirectory() as empty,
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=when,
            repository_def=defs.get_repository_def(),
            # no changes waiting: only the deadline run
            resources={"duckdb": DuckDBResource(database=str(Path(empty) / "liia.duckdb"))},
        ) as context,
    ):
        return quarter_deadline_schedule.evaluate_tick(context)


def test_schedule_tick_on_15_november_runs_the_quarter_just_ended():
    with dg.instance_for_test() as instance:
        tick = _schedule_tick(instance, datetime(2026, 11, 15, 7, tzinfo=LONDON))
        (request,) = tick.run_requests
        assert request.partition_key == "2026-27 Q2"
        assert "2026-27 Q2" in instance.get_dynamic_partitions("quarters")


def test_the_schedule_requests_its_quarter_at_every_deadline_for_ten_years():
    """The definitions as loaded today, evaluated at deadlines years ahead: no reload needed."""
    with dg.instance_for_test() as instance:
        # the daemon's own iterator over the schedule's cron, from today
        ticks = schedule_execution_time_iterator(
            datetime(2026, 11, 30, tzinfo=LONDON).timestamp(),
            quarter_deadline_schedule.cron_schedule,
            quarter_deadline_schedule.execution_timezone,
        )
        deadlines = list(itertools.takewhile(lambda d: d.year < 2037, ticks))
        assert len(deadlines) == 40
        for when in deadlines:
            (request,) = _schedule_tick(instance, when).run_requests
            quarter = quarter_due(when.date())
            assert request.partition_key == quarter.label
            # the run acts as of its tick, whenever it starts, so it releases the quarter
            moment = run_moment(request.tags)
            assert moment == when and request.tags[RELEASE_TAG] == "deadline"
            assert is_due(quarter, moment) and not is_due(quarter, moment - timedelta(days=1))
        requested = instance.get_dynamic_partitions("quarters")
        for label in ("2027-28 Q1", "2027-28 Q2", "2027-28 Q3", "2027-28 Q4", "2030-31 Q4"):
            assert label in requested
        first = _schedule_tick(instance, datetime(2027, 5, 15, 7, tzinfo=LONDON))
        assert first.run_requests[0].partition_key == "2026-27 Q4"


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


def evaluate_sensor(instance, folder, inbox=None) -> dg.SensorResult:
    """The inbox sensor's evaluation, as the daemon makes it: its dynamic partitions applied."""
    paths = LiiaPaths(
        inbox=str(inbox or folder / "inbox"),
        archive=str(folder / "archive"),
        warehouse=str(folder / "published" / "liia.duckdb"),
        reports=str(folder / "reports"),
    )
    duckdb = DuckDBResource(database=str(folder / "liia.duckdb"))
    context = dg.build_sensor_context(
        instance=instance, resources={"paths": paths, "duckdb": duckdb}
    )
    result = inbox_sensor(context)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    assert len(result.cursor) < 200  # the state stays small whatever the inbox holds
    return result


def _tick(instance, folder, inbox=None):
    return evaluate_sensor(instance, folder, inbox).run_requests


def test_sensor_asks_once_for_new_content_in_a_new_quarter(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    barnet = SAMPLE / "2026-27-Q2" / "Barnet LIIA return 2026-27 Q2.xlsx"
    _settled(shutil.copy(barnet, inbox / "barnet.xlsx"))
    with dg.instance_for_test() as instance:
        (first,) = _tick(instance, tmp_path)
        assert first.partition_key == "2026-27 Q2"
        assert instance.get_dynamic_partitions("quarters") == ["2026-27 Q2"]
        # Again, and with the same bytes under another name: the same run key, so Dagster starts
        # nothing new.
        _settled(shutil.copy(barnet, inbox / "barnet copy.xlsx"))
        (again,) = _tick(instance, tmp_path)
        assert again.run_key == first.run_key

        # A resubmission of an earlier quarter: new bytes whose cover names 2026-27 Q1.
        wb = load_workbook(SAMPLE / "2026-27-Q1" / "Barnet LIIA return 2026-27 Q1.xlsx")
        wb["Finance"]["D7"] = 12345
        wb.save(inbox / "barnet q1 corrected.xlsx")
        _settled(inbox / "barnet q1 corrected.xlsx")
        requests = _tick(instance, tmp_path)
        assert [r.partition_key for r in requests] == ["2026-27 Q1", "2026-27 Q2"]
        assert requests[1].run_key == first.run_key


def test_sensor_waits_for_a_file_still_being_written(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = (SAMPLE / "2026-27-Q2" / "Camden LIIA return 2026-27 Q2.xlsx").read_bytes()
    copying = inbox / "camden.xlsx"
    copying.write_bytes(data[: len(data) // 2])  # half copied, modified just now
    with dg.instance_for_test() as instance:
        assert _tick(instance, tmp_path) == []
        # A copy that stalled for a minute is still not read: its zip has no end record yet...
        _settled(copying, seconds_ago=60)
        assert (
            "1 file(s) still being written."
            in evaluate_sensor(instance, tmp_path).skip_reason.skip_message
        )
        # ...and once complete it is read two seconds after its last write.
        copying.write_bytes(data)
        _settled(copying, seconds_ago=2.5)
        assert [r.partition_key for r in _tick(instance, tmp_path)] == ["2026-27 Q2"]


def test_sensor_runs_nothing_for_files_already_in_the_warehouse(tmp_path, latest_quarter_run):
    inbox = tmp_path / "inbox"
    for quarter in ("2026-27-Q1", "2026-27-Q2"):
        shutil.copytree(SAMPLE / quarter, inbox / quarter)
    for path in inbox.rglob("*.xlsx"):
        _settled(path)
    with dg.instance_for_test() as instance:
        assert _tick(instance, latest_quarter_run, inbox) == []
        # A late return for Q1 runs Q1, then Q2, whose comparisons with Q1 it changes.
        late = inbox / "2026-27-Q1" / "Barnet late.xlsx"
        wb = load_workbook(SAMPLE / "2026-27-Q1" / "Barnet LIIA return 2026-27 Q1.xlsx")
        wb["Cover"]["B8"] = "2026-08-01"
        wb.save(late)
        _settled(late)
        requests = _tick(instance, latest_quarter_run, inbox)
        assert [r.partition_key for r in requests] == ["2026-27 Q1", "2026-27 Q2"]


def test_completeness_check_names_the_authorities_missing_from_the_latest_quarter(tmp_path):
    from pipelines.defs.assets.receiving import received_returns
    from pipelines.defs.assets.validation import validated_returns

    result = run_quarter(
        tmp_path, SAMPLE, "2026-27-Q2", selection=[received_returns, validated_returns]
    )
    check = check_evaluation(result, "all_authorities_returned")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.partition == "2026-27 Q2"
    assert check.description == (
        "2026-27 Q2: 30 of 33 accepted; not returned: Hackney, Westminster; "
        "no return accepted (rejected): Lewisham"
    )
    assert check_evaluation(result, "returns_fit_to_load").passed


def test_each_quarter_is_a_run_whose_checks_say_which_quarter(latest_quarter_run, latest_results):
    results = [latest_results[q] for q in ("2026-27-Q1", "2026-27-Q2")]
    for result, label in zip(results, ("2026-27 Q1", "2026-27 Q2"), strict=True):
        events = result.get_asset_materialization_events()
        # every asset of the quarter says which; DfE's published figures are of no quarter
        assert {e.partition for e in events if e.asset_key.path != ["published_figures"]} == {label}
        assert [e.partition for e in events if e.asset_key.path == ["published_figures"]] == [None]
        checks = result.get_asset_check_evaluations()
        assert len(checks) == 4 and {c.partition for c in checks} == {label}
    # The instance keeps each quarter's result of each check, and both runs.
    with dg.DagsterInstance.from_config(str(latest_quarter_run / "dagster_home")) as instance:
        key = dg.AssetCheckKey(dg.AssetKey("validated_returns"), "all_authorities_returned")
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
        assert {h.partition for h in history} == {"2026-27 Q1", "2026-27 Q2"}
        assert len(instance.get_runs()) == 2
    # Plausibility in Q2 compared with Q1, loaded by the run before: Sutton's two warnings.
    q2 = validated(results[1])
    subs, issues = q2["submissions"], q2["issues"]
    sutton = subs.loc[subs["authority"] == "SUT", "submission_id"]
    warnings = issues[issues["submission_id"].isin(sutton) & (issues["severity"] == "warning")]
    assert len(warnings) == 2


def test_reconciliation_finds_a_value_the_warehouse_got_wrong(tmp_path, latest_quarter_run):
    from pipelines.collection.catalogue import load_authorities, load_catalogue

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
        [sys.executable, "-m", "pipelines.service.cli", *args],
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


def test_a_quarter_with_no_returns_is_never_published_or_latest(tmp_path, latest_quarter_run):
    """The quarter under way, run with an empty inbox for it: no workbooks, not on the page, and
    'latest' stays the last quarter with returns, in the warehouse and in `liia status`."""
    shutil.copytree(latest_quarter_run, tmp_path, dirs_exist_ok=True)
    result = run_quarter(tmp_path, SAMPLE, "2026-27-Q3")
    assert result.success
    assert not (tmp_path / "reports" / "public" / "2026-27-Q3").exists()
    assert not (tmp_path / "reports" / "members" / "2026-27-Q3").exists()
    page = (tmp_path / "reports" / "public" / "index.html").read_text()
    assert "Latest quarter: 2026-27 Q2" in page and "2026-27-Q3" not in page
    assert "Next release</dt><dd>15 February 2027 (2026-27 Q3" in page
    published = tmp_path / "published" / "liia.duckdb"
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute("SELECT label FROM latest_quarter").fetchall() == [("2026-27 Q2",)]
    assert con.execute(
        "SELECT count(*) FROM benchmarks WHERE quarter = '2026-27-Q3'"
    ).fetchone() == (0,)
    con.close()
    status = _liia("status", env={"LIIA_WAREHOUSE": str(published)})
    assert status.returncode == 0 and status.stdout.startswith("2026-27 Q2: 30 of 33 accepted")


def test_liia_release_runs_the_quarter_and_says_what_it_released(tmp_path, monkeypatch):
    use_region(tmp_path / "region", ["BAR", "CAM"], monkeypatch)
    from pipelines.defs.resources import environment_for

    inbox = tmp_path / "inbox" / "2026-27-Q2"
    inbox.mkdir(parents=True)
    for name in ("Barnet", "Camden"):
        shutil.copy(SAMPLE / "2026-27-Q2" / f"{name} LIIA return 2026-27 Q2.xlsx", inbox)
    env = environment_for(tmp_path, tmp_path / "inbox")
    result = _liia("release", "--quarter", "2026-27-Q2", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("2026-27 Q2: release 1 of ")
    con = duckdb.connect(env["LIIA_WAREHOUSE"], read_only=True)
    assert con.execute("SELECT quarter, release FROM releases").fetchall() == [("2026-27-Q2", 1)]
    con.close()
    public = tmp_path / "reports" / "public" / "2026-27-Q2"
    assert len(list(public.glob("* publishable.xlsx"))) == 4


def test_changes_wait_for_a_monday_or_the_next_release_whatever_the_year():
    """The weekly revision schedule ticks every Monday at 07:00 London, summer and winter, for ten
    years; a change seen at any moment is due at the first such tick after it, or at the next
    quarter's release if that comes first, and a tick at its due moment asks for it."""
    rhythm = RevisionRhythm.from_environment({})
    ticks = schedule_execution_time_iterator(
        datetime(2026, 12, 5, tzinfo=LONDON).timestamp(),
        revision_schedule.cron_schedule,
        revision_schedule.execution_timezone,
    )
    mondays = list(itertools.takewhile(lambda d: d.year < 2037, ticks))
    assert len(mondays) >= 52 * 10
    assert all(d.weekday() == 0 and (d.hour, d.minute) == (7, 0) for d in mondays)
    assert {d.utcoffset() for d in mondays} == {timedelta(0), timedelta(hours=1)}
    rng = np.random.default_rng(3)
    start = datetime(2026, 12, 5, tzinfo=LONDON).timestamp()
    for seconds in rng.uniform(0, 10 * 365 * 86400, 300):
        seen = datetime.fromtimestamp(start + seconds, LONDON)
        quarter = quarter_containing(seen.date()).previous()  # released, collecting the next
        due = rhythm.next_moment(quarter, seen)
        tick = next(d for d in mondays if d > seen)
        release = datetime.combine(deadline(quarter.next()), datetime.min.time(), LONDON)
        assert due == min(tick, release.replace(hour=7)), seen
    assert (
        RevisionRhythm.from_environment({"LIIA_REVISIONS": "at once"}).next_moment(quarter, seen)
        is None
    )
    with pytest.raises(ValueError, match="LIIA_REVISIONS"):
        RevisionRhythm.from_environment({"LIIA_REVISIONS": "fortnightly"})
