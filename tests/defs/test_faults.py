"""Faults: a run killed mid-load, two runs of one quarter at once, a file truncated mid-copy. The
published warehouse is never half-loaded, nothing is duplicated, and the archive keeps every file
ever received, byte for byte. Each child run is bounded by a timeout."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.resources import LiiaPaths, environment_for
from pipelines.defs.sensors import inbox_sensor
from pipelines.warehouse.model import record_build
from pipelines.write import staging
from tests.conftest import (
    PROJECT,
    SAMPLE,
    copy_of_six_region_first_quarter,
    region,
    run_quarter,
    run_resources,
    some_returns,
    use_region,
    validated,
    warehouse_snapshot,
)

RUN_TIMEOUT = 180


def _env(tmp: Path, inbox: Path = SAMPLE) -> dict:
    return {**os.environ, **environment_for(tmp, inbox)}


def _liia_run(env: dict, quarter: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.service.cli", "run", "--quarter", quarter],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
        env=env,
    )


_snapshot = warehouse_snapshot


def _archived(archive: Path) -> dict[str, bytes]:
    return {
        p.name.split(".")[0]: p.read_bytes()
        for p in archive.rglob("*")
        if p.is_file() and p.parent != archive  # the archive's own index sits at its top
    }


def _assert_archived(archive: Path, files: list[Path | bytes]) -> None:
    kept = _archived(archive)
    for f in files:
        data = f if isinstance(f, bytes) else f.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        assert kept.get(sha) == data, (
            f"not archived byte for byte: {f if isinstance(f, Path) else sha}"
        )
    assert not [p for p in archive.rglob("*.part")]


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (its children, theirs, ...), from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie waiting to be reaped has stopped)."""
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


# Where a run is killed, after the step named starts: the last is while benchmarks load and the
# workbooks are written (with the workbook writers and the file readers running). The suite kills
# at that one; scripts/fault_sweep.py (LIIA_FAULT_SWEEP=1) at each.
KILL_POINTS = [("validation", 0.3), ("benchmarks", 0.3)]
KILLED_AT = KILL_POINTS if os.environ.get("LIIA_FAULT_SWEEP") else KILL_POINTS[-1:]


@pytest.mark.long_running(seconds=35)
def test_a_run_killed_mid_way_leaves_no_half_loaded_warehouse_and_no_process(
    tmp_path, monkeypatch, six_region_run
):
    # A region of six keeps the runs quick; the point is where they are killed. Its first quarter
    # as the session's six-region run left it (a copy), then `liia run`s of the second.
    folder = copy_of_six_region_first_quarter(six_region_run, tmp_path / "run", monkeypatch)
    inbox = folder / "region" / "inbox"
    clean = _snapshot(six_region_run / "published" / "liia.duckdb")  # the same quarters, cleanly
    # laid out as run_quarter lays it out: the working database at the folder's top
    env = {**_env(folder, inbox), "LIIA_WORKING_DB": str(folder / "liia.duckdb")}
    published = folder / "published" / "liia.duckdb"
    before = _snapshot(published)
    assert before != clean
    for stage, delay in KILLED_AT:
        child = _liia_run(env, "2026-27-Q2")
        deadline = time.monotonic() + RUN_TIMEOUT
        for line in child.stdout:
            if stage in line or time.monotonic() > deadline:
                break
        time.sleep(delay)
        helpers = _descendants(child.pid)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        seen = _snapshot(published)
        assert seen == before or seen == clean, f"half-loaded after a kill at {stage} +{delay} s"
        left = _running(helpers)
        for _ in range(50):  # workers end with their parent within moments
            if not left:
                break
            time.sleep(0.1)
            left = _running(left)
        assert not left, f"processes left after a kill at {stage} +{delay} s: {left}"
    assert helpers, "the last kill came while workers were running"
    last = _liia_run(env, "2026-27-Q2")
    assert last.wait(timeout=RUN_TIMEOUT) == 0, last.stderr.read()
    assert "the liia run that made it was killed" in last.stdout.read()
    assert _snapshot(published) == clean
    assert [p.name for p in published.parent.iterdir()] == ["liia.duckdb"]
    _assert_archived(folder / "archive", sorted(inbox.rglob("*.xlsx")))


@pytest.mark.long_running(seconds=15)
def test_two_runs_of_one_quarter_at_once_both_finish_without_duplicates(tmp_path):
    # A region of two keeps the runs quick; the point is two of them at once.
    two = ["BAR", "CAM"]
    authorities = region(tmp_path / "region", two, ("2026-27-Q2",))
    inbox = tmp_path / "region" / "inbox"
    env = {**_env(tmp_path, inbox), "LIIA_AUTHORITIES": str(authorities)}
    runs = [_liia_run(env, "2026-27-Q2"), _liia_run(env, "2026-27-Q2")]
    codes = [r.wait(timeout=RUN_TIMEOUT) for r in runs]
    assert codes == [0, 0], [r.stderr.read() for r in runs]
    # one waited for the other, whole, before its run started
    said = [r.stdout.read() for r in runs]
    assert sum("Waiting for another run of the pipeline to finish" in s for s in said) == 1, said
    con = duckdb.connect(str(tmp_path / "published" / "liia.duckdb"), read_only=True)
    for table, key in (
        ("benchmarks", "quarter, indicator_id, authority"),
        ("submissions", "submission_id"),
        ("return_values", "submission_id, ref"),
        ("indicator_values", "quarter, authority, indicator_id"),
    ):
        total, distinct = con.execute(
            f"SELECT count(*), count(DISTINCT ({key})) FROM {table}"
        ).fetchone()
        assert total == distinct > 0, table
    assert con.execute("SELECT count(*) FROM benchmarks").fetchone()[0] == len(two) * 37
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == len(two)
    con.close()
    _assert_archived(tmp_path / "archive", sorted((inbox / "2026-27-Q2").glob("*")))


HOLDS_THE_RUNS = """
import sys
from pathlib import Path
from pipelines.defs.resources import one_run_at_a_time, working_resource
with one_run_at_a_time(working_resource(Path(sys.argv[1]))):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_a_run_waits_whole_for_another_process_run_and_a_sensor_tick_does_not(
    tmp_path, monkeypatch
):
    """A run the daemon starts while a `liia run` is under way (here: another process holding the
    runs' lock) waits before its first step, not between steps; the inbox sensor's tick meanwhile
    reads and answers at once."""
    two = region(tmp_path / "region", ["BAR", "CAM"], ("2026-27-Q2",))
    monkeypatch.setenv("LIIA_AUTHORITIES", str(two))
    inbox = tmp_path / "region" / "inbox"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDS_THE_RUNS, str(tmp_path / "liia.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
    )
    try:
        assert holder.stdout.readline() == "holding\n"
        instance = dg.DagsterInstance.ephemeral()
        results = []
        waiting = threading.Thread(
            target=lambda: results.append(run_quarter(tmp_path, inbox, "2026-27-Q2", instance))
        )
        waiting.start()
        time.sleep(3)
        assert waiting.is_alive()
        (run,) = instance.get_runs()
        assert not instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
        started = time.monotonic()
        with dg.build_sensor_context(
            instance=instance,
            resources={
                "paths": LiiaPaths(inbox=str(inbox), archive=str(tmp_path / "archive")),
                "duckdb": run_resources(tmp_path, inbox)["duckdb"],
            },
        ) as context:
            tick = inbox_sensor(context)
        assert time.monotonic() - started < 10 and tick.run_requests  # it asks, without waiting
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    waiting.join(timeout=RUN_TIMEOUT)
    (result,) = results
    assert result.success


def test_a_file_truncated_mid_copy_is_not_accepted_and_is_taken_once_complete(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("LIIA_AUTHORITIES", str(region(tmp_path / "region", ["CAM", "CRO"])))
    inbox = tmp_path / "inbox"
    folder = inbox / "2026-27-Q2"  # dropped into the quarter's folder, as authorities do
    folder.mkdir(parents=True)
    camden = (SAMPLE / "2026-27-Q2" / "Camden LIIA return 2026-27 Q2.xlsx").read_bytes()
    croydon = SAMPLE / "2026-27-Q2" / "Croydon LIIA return 2026-27 Q2.xlsx"
    shutil.copy(croydon, folder)
    (folder / "camden.xlsx").write_bytes(camden[: len(camden) * 2 // 3])

    first = validated(run_quarter(tmp_path, inbox, "2026-27-Q2"))
    subs = first["submissions"].set_index("file_name")
    assert subs.at["camden.xlsx", "status"] == "rejected"
    assert not subs.at["camden.xlsx", "is_current"]
    assert subs.at[croydon.name, "status"] == "accepted"
    problems = " ".join(first["issues"]["problem"])
    assert "could not be opened" in problems

    (folder / "camden.xlsx").write_bytes(camden)  # the copy completes
    second = validated(run_quarter(tmp_path, inbox, "2026-27-Q2"))
    subs = second["submissions"]
    current = subs[subs["is_current"]].set_index("authority")
    assert current.at["CAM", "status"] == "accepted"
    assert current.at["CAM", "sha256"] == hashlib.sha256(camden).hexdigest()
    con = duckdb.connect(str(tmp_path / "liia.duckdb"), read_only=True)
    cam = con.execute(
        "SELECT count(*) FROM return_values WHERE authority = 'CAM' AND is_current AND status = 'ok'"
    ).fetchone()[0]
    assert cam > 50
    con.close()
    _assert_archived(tmp_path / "archive", [croydon, camden, camden[: len(camden) * 2 // 3]])


def test_a_feedback_workbook_that_cannot_be_written_costs_no_other_authority(tmp_path, monkeypatch):
    use_region(tmp_path / "region", ["BAR", "CAM"], monkeypatch)
    inbox = tmp_path / "inbox" / "2026-27-Q2"
    inbox.mkdir(parents=True)
    for name in ("Barnet", "Camden"):
        shutil.copy(SAMPLE / "2026-27-Q2" / f"{name} LIIA return 2026-27 Q2.xlsx", inbox)
    blocked = tmp_path / "reports" / "authorities" / "Barnet" / "2026-27-Q2"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where Barnet's folder should be")
    result = run_quarter(tmp_path, tmp_path / "inbox", "2026-27-Q2", raise_on_error=False)
    failures = {e.step_key: e for e in result.all_events if e.is_step_failure}
    # Barnet's feedback and its copy of its pack go in the blocked folder
    assert sorted(failures) == ["benchmark_workbooks", "feedback_workbooks"]
    camden = tmp_path / "reports" / "authorities" / "Camden" / "2026-27-Q2"
    assert (camden / "LIIA feedback 2026-27-Q2 Camden.xlsx").exists()
    for step in failures.values():
        message = step.step_failure_data.error.message
        assert "1 file(s) could not be written" in message and "Barnet" in message, message
    # The quarter's workbooks and pages are put in place together or not at all: none of this
    # run's reach the live folder (the data lead is told, and the run is retried).
    status = tmp_path / "reports" / "liia" / "2026-27-Q2" / "LIIA return status 2026-27-Q2.xlsx"
    assert not status.exists() and not (camden / "LIIA pack 2026-27-Q2 Camden.xlsx").exists()
    assert not (tmp_path / "published" / "liia.duckdb").exists()
    # Once the folder is cleared, the run does it all.
    blocked.unlink()
    assert run_quarter(tmp_path, tmp_path / "inbox", "2026-27-Q2").success
    assert status.exists() and (camden / "LIIA pack 2026-27-Q2 Camden.xlsx").exists()
    barnet = tmp_path / "reports" / "authorities" / "Barnet" / "2026-27-Q2"
    assert (barnet / "LIIA feedback 2026-27-Q2 Barnet.xlsx").exists()
    assert not (tmp_path / ".reports-staging").exists() or not any(
        (tmp_path / ".reports-staging").iterdir()
    )


QUARTER = "2026-27-Q1"


def _files(*folders: Path) -> dict[str, str]:
    """Every file under the folders, by path: its SHA-256."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _immutable(folder: Path, on: bool) -> None:
    """Even root cannot add, replace or remove a file in an immutable folder (chattr +i)."""
    subprocess.run(["chattr", "-R", "+i" if on else "-i", str(folder)], check=True)


# The output folders, each made unwritable in turn by scripts/fault_sweep.py (LIIA_FAULT_SWEEP=1);
# the suite makes the exports' so, the middle one: the reports are ready by then and must wait, and
# the analysts' copy must not be replaced.
OUTPUT_FOLDERS = ("reports", "exports", "published")
UNWRITABLE = OUTPUT_FOLDERS if os.environ.get("LIIA_FAULT_SWEEP") else ("exports",)


def test_a_folder_that_cannot_be_written_publishes_nothing_and_the_retry_publishes_once(
    tmp_path, few_authorities
):
    """Reports, exports and the analysts' copy are put in place together or not at all: each
    folder made unwritable in turn leaves every earlier output byte for byte as it was."""
    inbox = tmp_path / "inbox"
    some_returns(QUARTER, inbox, 3)
    assert run_quarter(tmp_path, inbox, QUARTER).success
    reports, exports = tmp_path / "reports", tmp_path / "exports"
    published = tmp_path / "published"
    before = _files(reports, exports, published)
    some_returns(QUARTER, inbox, 4)  # a fourth authority's return arrives
    failed_runs = []
    for folder in (tmp_path / name for name in UNWRITABLE):
        _immutable(folder, True)
        try:
            result = run_quarter(tmp_path, inbox, QUARTER, raise_on_error=False)
        finally:
            _immutable(folder, False)
        assert not result.success, folder
        now = _files(reports, exports, published)
        assert {p: now.get(p) for p in before} == before, folder  # every earlier output as it was
        # the only file added: the newcomer's answer to its own return, which goes at once
        added = [Path(p).relative_to(reports).parts[:2] for p in set(now) - set(before)]
        assert added in ([], [("authorities", "Brent")]), folder
        failed = {
            e.step_key: e.step_failure_data.error for e in result.all_events if e.is_step_failure
        }
        # the step that failed names the folder (feedback, written live, fails first on reports)
        step = {reports: "feedback_workbooks", exports: "analysts_warehouse"}.get(folder)
        assert step is None or str(folder) in failed[step].to_string(), folder
        failed_runs.append(result.run_id)

    assert run_quarter(tmp_path, inbox, QUARTER).success
    after = _files(reports, exports, published)
    assert after != before and not list(published.glob(".*partial*"))
    with duckdb.connect(str(published / "liia.duckdb"), read_only=True) as con:
        ((returns,),) = con.execute(
            "SELECT count(*) FROM submissions WHERE quarter = ?", [QUARTER]
        ).fetchall()
        builds = con.execute("SELECT run_id FROM builds ORDER BY built_at").fetchall()
    assert returns == 4
    # One build recorded per run that published, none for those that did not.
    assert len(builds) == 2 and not {b for (b,) in builds} & set(failed_runs)

    # A step retried within its run (the job's retry policy) publishes once: its build is
    # recorded once, and a second attempt's record replaces the first's.
    shutil.copy(tmp_path / "liia.duckdb", tmp_path / "working copy.duckdb")
    with duckdb.connect(str(tmp_path / "working copy.duckdb")) as con:
        record_build(con, "retried-run")
        record_build(con, "retried-run")
        assert con.execute(
            "SELECT count(*) FROM builds WHERE run_id = 'retried-run'"
        ).fetchall() == [(1,)]


def test_every_folder_is_tried_before_anything_is_put_in_place(tmp_path):
    live = tmp_path / "exports"
    (live / "restricted").mkdir(parents=True)
    staged = staging.begin(live, "run1")
    (staged / "restricted" / "a.parquet").write_bytes(b"new")
    (staged / "publishable").mkdir()
    (staged / "publishable" / "b.parquet").write_bytes(b"new")
    assert staging.cannot_put_in_place(live, "run1") == []
    (live / "publishable").write_text("a file where the folder should be")
    (problem,) = staging.cannot_put_in_place(live, "run1")
    assert problem.startswith(f"{live / 'publishable'}: ") and "not a folder" in problem
    assert sorted(p.name for p in live.rglob("*")) == ["publishable", "restricted"]  # nothing left
