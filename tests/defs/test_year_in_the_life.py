"""A year of the service's life, 2024-25 Q4 to 2025-26 Q3, in one real Dagster instance (a
temporary DAGSTER_HOME) with the project's own definitions, loaded once: the deadline schedule and
the inbox sensor are evaluated at each simulated moment, and the runs they ask for are executed
through the instance as the daemon would (a run key already used starts nothing).

Returns arrive early, on time, late, twice with the same bytes, corrected, with the wrong quarter
on the cover and at the top of the inbox; one quarter has none by its deadline; a PDF lands with no
quarter at all. At the end the warehouse equals a clean `liia run --all` over the same files.

The suite lives the first two quarters (the year end, early, duplicate, top-of-inbox, late and
corrected returns, the weekly revision); `scripts/year_in_the_life.py` lives all four, adding a
cover that names the quarter before, a PDF, and a quarter with nothing by its deadline.

A region of four authorities (Barnet, Camden, Kingston and Richmond, who report workforce jointly
from 2025-26 Q1) keeps its runs quick; the authority list is configuration
(LIIA_AUTHORITIES), as for any region."""

import os
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster._core.storage.dagster_run import RunsFilter
from openpyxl import load_workbook

from pipelines.collection.catalogue import CATALOGUE_DIR
from pipelines.collection.quarters import parse_quarter, quarter_range
from pipelines.definitions import all_assets, defs
from pipelines.defs.resources import LiiaPaths, environment_for
from pipelines.defs.schedules import quarter_deadline_schedule, revision_schedule
from pipelines.defs.sensors import inbox_sensor
from pipelines.receive.submissions import sha256_of
from pipelines.release.timing import AS_OF_TAG
from tests.conftest import PROJECT, SAMPLE, run_resources
from tests.defs.test_faults import _snapshot

LONDON = ZoneInfo("Europe/London")
REGION = ["BAR", "CAM", "KUT", "RUT"]
NAMES = {
    "BAR": "Barnet",
    "CAM": "Camden",
    "KUT": "Kingston upon Thames",
    "RUT": "Richmond upon Thames",
}
# Across a year end, and the quarter from which Kingston and Richmond report workforce jointly.
YEAR = quarter_range(parse_quarter("2024-25 Q4"), parse_quarter("2025-26 Q3"))
QUARTERS = YEAR[: int(os.environ.get("LIIA_YEAR_QUARTERS", "2"))]


def _deadline(quarter) -> datetime:
    end = quarter.end
    month = end.month + 2
    return datetime(end.year + (month > 12), (month - 1) % 12 + 1, 15, 7, tzinfo=LONDON)


class Service:
    """The instance, the inbox and the outputs; the daemon's part played by hand."""

    def __init__(self, tmp: Path, instance: dg.DagsterInstance):
        self.tmp, self.instance = tmp, instance
        self.inbox = tmp / "inbox"
        self.inbox.mkdir(parents=True)
        self.resources = run_resources(tmp, self.inbox)
        self.paths = LiiaPaths(
            inbox=str(self.inbox),
            archive=str(tmp / "archive"),
            warehouse=str(tmp / "published" / "liia.duckdb"),
            reports=str(tmp / "reports"),
        )
        self.runs: list[tuple[str, str]] = []  # (partition, what asked for it)

    def drop(self, code, quarter, when, folder=True, name=None, edit=None):
        """`code`'s sample return for `quarter` arriving at `when` (its modification time)."""
        source = SAMPLE / quarter.key / f"{NAMES[code]} LIIA return {quarter.label}.xlsx"
        target = (self.inbox / quarter.key if folder else self.inbox) / (name or source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if edit:
            wb = load_workbook(source)
            edit(wb)
            wb.save(target)
        else:
            shutil.copy(source, target)
        os.utime(target, (when.timestamp(), when.timestamp()))
        return target

    def sensor(self, when: datetime | None = None) -> list[str]:
        """The inbox sensor's tick; its runs act as of `when` (the simulated clock) if given."""
        with dg.build_sensor_context(
            instance=self.instance,
            resources={"paths": self.paths, "duckdb": self.resources["duckdb"]},
        ) as context:
            result = inbox_sensor(context)
        for request in result.dynamic_partitions_requests:
            self.instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        requests = result.run_requests
        if when is not None:
            requests = [
                r.with_replaced_attrs(tags={**r.tags, AS_OF_TAG: when.isoformat()})
                for r in requests
            ]
        return self.execute(requests, "sensor")

    def schedule(self, when: datetime) -> list[str]:
        """The deadline schedule's tick at `when`."""
        return self.execute(self._tick(quarter_deadline_schedule, when), "schedule")

    def revisions(self, when: datetime) -> list[str]:
        """The weekly revision schedule's tick at `when`."""
        return self.execute(self._tick(revision_schedule, when), "revision schedule")

    def _tick(self, schedule, when: datetime) -> list:
        with dg.build_schedule_context(
            instance=self.instance,
            scheduled_execution_time=when,
            repository_def=defs.get_repository_def(),
            resources={"duckdb": self.resources["duckdb"]},
        ) as context:
            return schedule.evaluate_tick(context).run_requests or []

    def execute(self, requests, source: str) -> list[str]:
        ran = []
        for request in requests:
            used = self.instance.get_runs(
                filters=RunsFilter(tags={"dagster/run_key": request.run_key}), limit=1
            )
            if used:
                continue
            result = dg.materialize(
                all_assets,
                instance=self.instance,
                partition_key=request.partition_key,
                resources=self.resources,
                tags={**request.tags, "dagster/run_key": request.run_key, "liia/source": source},
            )
            assert result.success, request.partition_key
            self.runs.append((request.partition_key, source))
            ran.append(request.partition_key)
        return ran

    def released(self, quarter, release: int) -> list[str]:
        """The authorities whose returns `quarter`'s release `release` holds."""
        con = duckdb.connect(self.resources["duckdb"].database, read_only=True)
        (submissions,) = con.execute(
            "SELECT submissions FROM releases WHERE quarter = ? AND release = ?",
            [quarter.key, release],
        ).fetchone()
        con.close()
        return sorted(s.split(":")[0] for s in submissions)

    def published_quarters(self) -> set[str]:
        public = self.tmp / "reports" / "public"
        return {p.name for p in public.iterdir() if p.is_dir()} if public.exists() else set()


def _later_date_completed(wb):
    wb["Cover"]["B8"] = "2099-01-01"
    wb["Finance"]["D6"] = 90_000_000


def _cover_says(label):
    def edit(wb):
        wb["Cover"]["B4"] = label

    return edit


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    folder = tmp_path_factory.mktemp("region")
    table = pd.read_csv(CATALOGUE_DIR / "authorities.csv", dtype=str, keep_default_na=False)
    table[table["liia_code"].isin(REGION)].to_csv(folder / "authorities.csv", index=False)
    return folder / "authorities.csv"


@pytest.mark.long_running(seconds=45)
def test_a_year_of_quarters_run_by_themselves(tmp_path, region, monkeypatch):
    monkeypatch.setenv("LIIA_AUTHORITIES", str(region))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "dagster.yaml", home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        service = Service(tmp_path / "live", instance)
        _live_through_a_year(service)
        final = service.sensor()
        assert final == []  # every file has its answer
        live_runs = list(service.runs)
        instance_runs = instance.get_runs()
    # Every quarter with returns was run by the schedule or the sensor, without a reload.
    for quarter in QUARTERS:
        sources = {s for p, s in live_runs if p == quarter.label}
        assert "schedule" in sources, quarter.label  # at its deadline, without a reload
    assert len(instance_runs) == len(live_runs) and {s for _, s in live_runs} == {
        "sensor",
        "schedule",
        "revision schedule",
    }
    # No file went unanswered.
    live = tmp_path / "live"
    con = duckdb.connect(str(live / "published" / "liia.duckdb"), read_only=True)
    answered = {r[0] for r in con.execute("SELECT sha256 FROM submissions").fetchall()}
    con.close()
    files = [p for p in service.inbox.rglob("*") if p.is_file()]
    assert {sha256_of(p) for p in files} <= answered
    # The warehouse equals a clean run of every quarter over the same files.
    clean = tmp_path / "clean"
    for variable, value in environment_for(clean, service.inbox).items():
        monkeypatch.setenv(variable, value)
    from pipelines.service.cli import main

    assert main(["run", "--all"]) == 0
    # The figures equal a clean run of every quarter over the same files; the releases do not,
    # as the live year revised quarters when late returns came, but each quarter's latest
    # release publishes what the clean run's one release does.
    releases = (
        "releases",
        "public_benchmarks",
        "public_group_figures",
        "suppressions",
        "disclosure_audit",
    )
    # (and so each quarter's latest release number)
    lived = _snapshot(live / "liia.duckdb", without=("latest_release",))
    cleanly = _snapshot(clean / "working" / "liia.duckdb", without=("latest_release",))
    differ = [
        t
        for t in sorted(set(lived) | set(cleanly))
        if t not in releases and lived.get(t) != cleanly.get(t)
    ]
    assert not differ, differ  # the names only: a table's rows are too many to show
    # A revision is chosen together with the releases before it, which stay public, so it may
    # choose other complements than the clean run's one release: every figure both show is the
    # same, and a figure one hides and the other shows is in a revised quarter (release 2 on).
    lived_rows = _latest_public(live / "liia.duckdb")
    clean_rows = _latest_public(clean / "working" / "liia.duckdb")
    assert [r[:3] for r in lived_rows] == [r[:3] for r in clean_rows]
    revised = {r[0] for r in lived_rows if r[7] > 1}
    for mine, theirs in zip(lived_rows, clean_rows, strict=True):
        if mine[4] != "c" and theirs[4] != "c":
            assert mine[3:5] == theirs[3:5], (mine, theirs)
        else:
            assert mine[4] == theirs[4] or mine[0] in revised, (mine, theirs)
    assert revised  # the year revised quarters: the comparison above is not empty
    con = duckdb.connect(str(live / "liia.duckdb"), read_only=True)
    revised = con.execute("SELECT count(*) FROM releases WHERE release > 1").fetchone()[0]
    con.close()
    assert revised >= 1  # the late returns revised a released quarter
    assert sorted(service.published_quarters()) == [q.key for q in QUARTERS]


def _latest_public(path: Path) -> list:
    """Each figure of each quarter's latest release as published: value, suppression, release."""
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute(
        """SELECT p.quarter, p.indicator_id, p.authority, p.value, p.symbol, p.suppressed_columns,
               s.kind, p.release
        FROM public_benchmarks AS p
        LEFT JOIN suppressions AS s USING (quarter, release, indicator_id, reporting_unit)
        QUALIFY p.release = max(p.release) OVER (PARTITION BY p.quarter)
        ORDER BY ALL"""
    ).fetchall()
    con.close()
    return rows


def _live_through_a_year(service: Service) -> None:
    """Most returns arrive on time, before the deadline, and the deadline's run reads them; each
    quarter brings something else as well."""
    first, second, third, fourth = [*QUARTERS, None, None, None][:4]
    for quarter in QUARTERS:
        deadline = _deadline(quarter)
        early, on_time, late = (deadline - pd.Timedelta(days=d) for d in (25, 1, -12))
        label = quarter.label
        if quarter == fourth:  # nothing by the deadline: run, and not published
            assert service.schedule(deadline) == [label]
            assert quarter.key not in service.published_quarters()
            page = (service.tmp / "reports" / "public" / "index.html").read_text()
            assert f'id="q-{quarter.key}"' not in page and f"{quarter.key}/" not in page
            for code in REGION:
                service.drop(code, quarter, late)
            assert service.sensor(late) == [label]
            assert quarter.key in service.published_quarters()
            continue
        on_time_codes = list(REGION)
        if quarter == first:
            # Early: the quarter is not a partition yet; the first return makes it one and runs it
            assert label not in service.instance.get_dynamic_partitions("quarters")
            service.drop("BAR", quarter, early)
            assert service.sensor(early) == [label]
            # the same bytes again, under another name: nothing runs
            barnet = SAMPLE / quarter.key / f"Barnet LIIA return {label}.xlsx"
            copy = shutil.copy(barnet, service.inbox / quarter.key / "Barnet (copy).xlsx")
            os.utime(copy, (early.timestamp(), early.timestamp()))
            assert service.sensor(early) == []
            on_time_codes.remove("BAR")
            on_time_codes.remove("RUT")  # late, below
        if quarter == second:  # Kingston's at the top of the inbox
            service.drop("KUT", quarter, early, folder=False)
            assert service.sensor(early) == [label]
            on_time_codes.remove("KUT")
        if quarter == third:  # Kingston's cover names the quarter before: that one runs
            service.drop(
                "KUT", quarter, early, name="Kingston Q2.xlsx", edit=_cover_says(second.label)
            )
            assert service.sensor(early) == [second.label]
            on_time_codes.remove("KUT")  # the right file comes late, below
        for code in on_time_codes:  # in the inbox before the deadline, read by its run
            service.drop(code, quarter, on_time)
        # Kingston's early file changed the quarter before, released: that revision goes with
        # this quarter's release (no weekly tick was taken meanwhile)
        revised = [second.label] if quarter == third else []
        assert service.schedule(deadline) == [label, *revised]
        assert quarter.key in service.published_quarters()
        # its first release holds every return that came by the deadline
        came_late = {"RUT"} if quarter == first else {"KUT"} if quarter == third else set()
        assert service.released(quarter, 1) == sorted(set(REGION) - came_late)
        assert service.sensor() == []
        if quarter == first:  # Richmond's return comes late, and Camden corrects its own: one run
            service.drop("RUT", quarter, late)
            service.drop(
                "CAM", quarter, late, name="Camden corrected.xlsx", edit=_later_date_completed
            )
            assert service.sensor(late) == [label]
        if quarter == third:  # Kingston's right file, late; and a PDF with no quarter
            service.drop("KUT", quarter, late)
            assert service.sensor(late) == [label]
            pdf = service.inbox / "minutes.pdf"
            pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
            os.utime(pdf, (late.timestamp(), late.timestamp()))
            assert service.sensor(late) == [label]
        # The late files wait for the week's revision, one run for all; a quarter with none late
        # has nothing to revise.
        monday = (late + pd.Timedelta(days=7 - late.weekday())).replace(hour=7, minute=0)
        assert service.revisions(monday - pd.Timedelta(days=7)) == []
        assert service.revisions(monday) == ([label] if quarter in (first, third) else [])
        assert service.revisions(monday) == []  # the same tick again starts nothing
