"""Speed and scale of the pipeline on this machine: `make benchmark` (not part of the tests).

Each measurement runs in its own process, so its peak memory (maximum resident set size) is its
own. Generated inputs are cached in benchmarks/.cache/ (not committed); outputs go to a temporary
folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SAMPLE = PROJECT / "sample_returns"
CACHE = PROJECT / "benchmarks" / ".cache"
QUARTER = "2026-27-Q1"  # 33 returns, all accepted
NATIONAL_AUTHORITIES = 153
REPEATS = 3  # timed runs of the quarter and of the resubmission; the median is printed
NATIONAL_FIRST, NATIONAL_LAST = "2024-25-Q1", "2026-27-Q4"  # 12 quarters
TARGETS = {
    "quarter_end_to_end": ("one quarter end to end", 3.0, "s"),
    "workbooks": ("a quarter's workbooks: theme, publishable, packs, status, feedback", 2.0, "s"),
    "receiving_and_validation": ("receiving and validation, 33 returns", None, "s"),
    "national_backfill": ("national backfill to the benchmarks tables", 30.0, "s"),
    "resubmission": ("a resubmission to refreshed benchmarks and workbooks", 5.0, "s"),
    "analyst_query": ("an analyst's query, one indicator, all quarters", 0.05, "s"),
    "feedback_new_return": ("a new return's feedback, the daemon running", 15.0, "s"),
    "feedback_resubmission": ("a resubmission's feedback, the daemon running", 15.0, "s"),
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _materialize(quarter_key: str, selection=None, tags=None):
    """One quarter's run, recorded in the instance in DAGSTER_HOME, as `liia run` makes it."""
    import dagster as dg

    from pipelines.collection.quarters import parse_quarter
    from pipelines.definitions import all_assets
    from pipelines.defs.instance import project_instance
    from pipelines.defs.partitions import open_quarters
    from pipelines.defs.resources import default_resources

    instance = project_instance()
    quarter = parse_quarter(quarter_key)
    open_quarters(instance, [quarter])
    return dg.materialize(
        all_assets,
        instance=instance,
        partition_key=quarter.label,
        resources=default_resources(),
        selection=selection,
        tags=tags,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )


def stage_seconds(run_id: str) -> dict[str, float]:
    """Where a run's seconds went: each asset's step, from its start to its success in the run's
    event log, and Dagster's own cost (the run's wall time less its steps)."""
    from dagster import DagsterEventType

    from pipelines.defs.instance import project_instance

    started, took = {}, {}
    logs = project_instance().all_logs(run_id)
    for entry in logs:
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            took[event.step_key] = entry.timestamp - started[event.step_key]
    took["dagster (the run less its steps)"] = (
        logs[-1].timestamp - logs[0].timestamp - sum(took.values())
    )
    return took


def measure_quarter_end_to_end(work: Path) -> dict:
    """33 returns through every asset (receive, validate, load, publish, every workbook and the
    page) in one in-process run; then one authority's resubmission, from landing to refreshed
    benchmarks and workbooks, including the sensor's look at the inbox."""
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from openpyxl import load_workbook

    from pipelines.defs.resources import environment_for
    from pipelines.receive.inbox import look_at_inbox
    from pipelines.receive.ledger import answered as answered_files

    inbox = work / "inbox"
    shutil.copytree(SAMPLE / QUARTER, inbox / QUARTER)
    os.environ.update(environment_for(work, inbox))
    # DfE's table is read once, by an earlier process, as on a server that has run before: each
    # timed run starts from an empty warehouse but finds it kept (LIIA_CACHE, outside the
    # warehouse's folder).
    os.environ["LIIA_CACHE"] = str(work / "cache")
    earlier = (
        "from benchmarks.run import _materialize as m; "
        f"m({QUARTER!r}, selection=['received_returns', 'published_figures'])"
    )
    subprocess.run([sys.executable, "-c", earlier], cwd=PROJECT, check=True)
    _materialize(QUARTER, selection=["received_returns"])  # imports and first-use costs, untimed
    shutil.rmtree(work / "working")

    end_to_end = []
    for _ in range(REPEATS):  # each from an empty warehouse
        shutil.rmtree(work / "working", ignore_errors=True)
        shutil.rmtree(work / "reports", ignore_errors=True)
        started = time.perf_counter()
        result = _materialize(QUARTER)
        end_to_end.append(time.perf_counter() - started)
        assert result.success
    stages = stage_seconds(result.run_id)

    barnet = inbox / QUARTER / "Barnet LIIA return 2026-27 Q1.xlsx"
    resubmission = []
    for n in range(REPEATS):
        wb = load_workbook(barnet)
        wb["Finance"]["D7"] = 81_000_000 + n
        corrected = work / f"Barnet corrected {n}.xlsx"
        wb.save(corrected)
        landed = time.perf_counter()
        shutil.copy(corrected, inbox / QUARTER / corrected.name)
        answered = answered_files(work / "working" / "answered.sqlite").shas
        assert look_at_inbox(inbox, work / "archive", answered, settle=0).waiting
        result = _materialize(QUARTER)
        resubmission.append(time.perf_counter() - landed)
        assert result.success
    return {
        "stages": stages,
        "resubmission_stages": stage_seconds(result.run_id),
        "quarter_end_to_end": statistics.median(end_to_end),
        "quarter_end_to_end_all": end_to_end,
        "resubmission": statistics.median(resubmission),
        "resubmission_all": resubmission,
        "peak_mb": _peak_mb(),
    }


def measure_workbooks(work: Path) -> dict:
    """Writing one quarter's workbooks (8 theme workbooks, 33 packs, the status workbook) and its
    feedback workbooks, as the assets write them: median of 3, after one run to load the quarter."""
    import duckdb

    from pipelines.collection.catalogue import load_authorities, load_catalogue
    from pipelines.collection.quarters import parse_quarter
    from pipelines.defs.resources import environment_for
    from pipelines.release.public_edition import releases_of
    from pipelines.release.timing import ReleaseSettings, release_facts
    from pipelines.validate.feedback import feedback_path, feedback_rows
    from pipelines.write.feedback_workbook import write_feedback
    from pipelines.write.figures import public_figures, quarter_figures
    from pipelines.write.workbooks import in_parallel, write_quarter_workbooks

    inbox = work / "inbox"
    shutil.copytree(SAMPLE / QUARTER, inbox / QUARTER)
    os.environ.update(environment_for(work, inbox))
    result = _materialize(QUARTER)
    assert result.success
    validated = result.output_for_node("validated_returns")
    authorities, catalogue = load_authorities(), load_catalogue()
    measures = catalogue.items.set_index("ref")["measure"]
    quarter = parse_quarter(QUARTER)
    con = duckdb.connect(str(work / "working" / "liia.duckdb"), read_only=True)
    times = []
    for n in range(REPEATS):
        reports = work / f"reports-{n}"
        started = time.perf_counter()
        figures, issues = quarter_figures(con, quarter)
        facts = release_facts(
            ReleaseSettings.from_environment(), releases_of(con, quarter), quarter
        )
        public = public_figures(con, figures)
        write_quarter_workbooks(
            reports, figures, issues, authorities, catalogue, public, release=facts
        )
        subs, all_issues = validated["submissions"], validated["issues"]
        calls = []
        for code, mine in subs.groupby(subs["authority"].fillna(""), sort=True):
            name = authorities.name(code) if code else "Unidentified"
            rows = feedback_rows(
                mine, all_issues[all_issues["submission_id"].isin(mine["submission_id"])], measures
            )
            calls.append(
                (
                    write_feedback,
                    (feedback_path(reports, quarter, name), name, quarter.label, mine, rows),
                    {},
                )
            )
        in_parallel(calls)
        times.append(time.perf_counter() - started)
    return {"workbooks": statistics.median(times), "workbooks_all": times, "peak_mb": _peak_mb()}


def measure_receiving_and_validation(work: Path, folder: Path = SAMPLE / QUARTER) -> dict:
    """Our receiving and validation stage against two references on the same files: a plain
    pandas.read_excel loop (openpyxl engine, every sheet), what an analyst would write, and
    python-calamine reading every cell and nothing else, the floor. Best of seven."""
    import pandas as pd
    from python_calamine import CalamineWorkbook

    from pipelines.collection.catalogue import load_authorities, load_catalogue
    from pipelines.collection.quarters import parse_quarter
    from pipelines.receive.submissions import receive_quarter
    from pipelines.validate.settlement import settle_quarter

    files = sorted(folder.glob("*.xlsx"))
    quarter = parse_quarter(folder.name)
    catalogue, authorities = load_catalogue(), load_authorities()
    population = authorities.table.set_index("liia_code")["population_0_17"]
    no_previous = pd.DataFrame(columns=["authority", "ref", "value"])

    def ours():
        archive = work / f"archive-{time.perf_counter_ns()}"
        subs, values, issues = receive_quarter(folder, archive, quarter)
        settle_quarter(subs, values, issues, no_previous, catalogue, quarter.q, population)

    def pandas_loop():
        for path in files:
            pd.read_excel(path, sheet_name=None, engine="openpyxl")

    def calamine_floor():
        for path in files:
            wb = CalamineWorkbook.from_path(str(path))
            for name in wb.sheet_names:
                wb.get_sheet_by_name(name).to_python()

    def best(fn, repeat=7):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return min(times)

    ours()  # first-use costs (pandera schema building, imports), untimed
    return {
        "receiving_and_validation": best(ours),
        "pandas_openpyxl_loop": best(pandas_loop),
        "calamine_floor": best(calamine_floor),
        "files": len(files),
        "peak_mb": _peak_mb(),
    }


def national_inputs() -> tuple[Path, Path]:
    """The synthetic 153-authority list and 12 quarters of its returns, generated once."""
    from benchmarks.national import write_authorities

    folder = CACHE / f"national-{NATIONAL_AUTHORITIES}"
    authorities = folder / "authorities.csv"
    returns = folder / "returns"
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        write_authorities(authorities, NATIONAL_AUTHORITIES)
        print(f"  generating {NATIONAL_AUTHORITIES} x 12 synthetic returns (once, cached)...")
        subprocess.run(
            [
                sys.executable,
                str(PROJECT / "scripts" / "make_sample_returns.py"),
                "--out",
                str(returns),
                "--authorities",
                str(authorities),
                "--first",
                NATIONAL_FIRST,
                "--last",
                NATIONAL_LAST,
                "--clean",
            ],
            check=True,
            cwd=PROJECT,
            env={**os.environ, "PYTHONPATH": str(PROJECT)},
            stdout=subprocess.DEVNULL,
        )
        done.touch()
    return authorities, returns


def measure_national_backfill(work: Path) -> dict:
    """12 quarters of 153 authorities (1,836 files) received, validated and loaded into the
    benchmarks tables, oldest first, by the functions the assets call; then the analyst's query."""
    import duckdb
    import pandas as pd

    from pipelines.collection.catalogue import load_authorities, load_catalogue
    from pipelines.collection.quarters import parse_quarter, quarter_range
    from pipelines.receive.submissions import receive_quarter
    from pipelines.validate.settlement import current_values, settle_quarter
    from pipelines.warehouse.analysts_copy import publish
    from pipelines.warehouse.database import load_quarter

    authorities_csv, returns = national_inputs()
    os.environ["LIIA_AUTHORITIES"] = str(authorities_csv)
    authorities, catalogue = load_authorities(), load_catalogue()
    population = authorities.table.set_index("liia_code")["population_0_17"]
    quarters = quarter_range(parse_quarter(NATIONAL_FIRST), parse_quarter(NATIONAL_LAST))
    files = len(list(returns.rglob("*.xlsx")))
    con = duckdb.connect(str(work / "national.duckdb"))
    started = time.perf_counter()
    previous = pd.DataFrame(columns=["authority", "ref", "value"])
    for quarter in quarters:
        received = receive_quarter(returns, work / "archive", quarter)
        subs, values, issues = settle_quarter(*received, previous, catalogue, quarter.q, population)
        load_quarter(con, quarter, subs, values, issues, authorities, catalogue)
        previous = current_values(values)
    backfill = time.perf_counter() - started
    rows = con.execute("SELECT count(*) FROM benchmarks").fetchone()[0]
    published = publish(con, work / "published" / "national.duckdb")
    con.close()

    analyst = duckdb.connect(str(published), read_only=True)
    # The backfill releases nothing, so the theme views (released quarters only) would be empty:
    # the table they read, with the names joined as the views do.
    query = """
        SELECT b.quarter, a.name, b.value, b.rank
        FROM benchmarks AS b JOIN authorities AS a USING (authority)
        WHERE b.indicator_id = 'WF-I01'
        ORDER BY b.quarter, b.rank
    """
    times = []
    for _ in range(20):
        t = time.perf_counter()
        result = analyst.execute(query).fetchall()
        times.append(time.perf_counter() - t)
    analyst.close()
    assert result, "the analyst's query found no rows: it measures nothing"
    return {
        "national_backfill": backfill,
        "files": files,
        "benchmark_rows": rows,
        "analyst_query": statistics.median(times),
        "analyst_rows": len(result),
        "peak_mb": _peak_mb(),
    }


def measure_national_quarter_stage(work: Path) -> dict:
    """The same comparison on one quarter of the national set: 153 returns."""
    authorities, returns = national_inputs()
    os.environ["LIIA_AUTHORITIES"] = str(authorities)
    return measure_receiving_and_validation(work, returns / "2026-27-Q2")


def measure_corpus_reading(work: Path) -> dict:
    """Every file of the bad-input corpus read as returns are read (a bounded worker each): the
    largest peak memory of reading one file, and the slowest file."""
    from pipelines.receive.reader import read_workbooks
    from pipelines.receive.returns import WANTED_SHEETS
    from scripts.bad_input_corpus import CACHE, SUBSET, corpus_files

    folder = CACHE if CACHE.exists() else SUBSET
    files = corpus_files([folder])
    read_workbooks(files[:1], WANTED_SHEETS)  # the workers' start, untimed
    timed = []
    for path in files:
        started = time.perf_counter()
        (answer,) = read_workbooks([path], WANTED_SHEETS)
        timed.append((time.perf_counter() - started, answer.get("peak_mb"), path, answer))
    measured = [t for t in timed if t[1] is not None]
    worst = max(measured, key=lambda t: t[1])
    slowest = max(timed, key=lambda t: t[0])
    return {
        "corpus": str(folder.relative_to(PROJECT)),
        "files": len(files),
        "worst_peak_mb": worst[1],
        "worst_file": worst[2].name,
        "slowest_seconds": slowest[0],
        "slowest_file": slowest[2].name,
        "ended_reader": sum(1 for t in timed if t[1] is None),
    }


def measure_feedback_with_the_daemon(work: Path) -> dict:
    """An installed service left idle (the daemon unit's command, `liia daemon`): seconds from a
    return landing in the inbox to its feedback in the authority's folder, for a new return and
    for resubmissions (median of 3)."""
    from openpyxl import load_workbook

    from pipelines.service.install import install, read_environment_file

    install(work / "root", work / "inbox")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LIIA_", "DAGSTER_"))},
        **read_environment_file(work / "root" / "etc" / "liia" / "environment"),
    }
    liia = Path(sys.executable).with_name("liia")
    subprocess.run([str(liia), "instance"], env=env, check=True, capture_output=True)
    daemon = subprocess.Popen(
        [str(liia), "daemon"],
        env=env,
        cwd=PROJECT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    source = SAMPLE / QUARTER / "Barnet LIIA return 2026-27 Q1.xlsx"
    feedback = Path(env["LIIA_REPORTS"]) / "authorities" / "Barnet" / QUARTER

    def wait_for_feedback(landed_at: float) -> float:
        while time.time() - landed_at < 300:
            for path in feedback.glob("*.xlsx"):
                if path.stat().st_mtime >= landed_at:
                    return time.time() - landed_at
            time.sleep(0.1)
        raise SystemExit("no feedback within 300 s")

    try:
        time.sleep(15)  # the daemon's start: an idle server has long since done this
        landed = time.time()
        shutil.copy(source, Path(env["LIIA_INBOX"]) / source.name)
        first = wait_for_feedback(landed)
        again = []
        for n in range(REPEATS):
            time.sleep(20)  # the run before has finished: the server is idle again
            wb = load_workbook(source)
            wb["Finance"]["D7"] = 81_000_000 + n
            wb.save(work / f"corrected {n}.xlsx")
            landed = time.time()
            shutil.copy(
                work / f"corrected {n}.xlsx", Path(env["LIIA_INBOX"]) / f"corrected {n}.xlsx"
            )
            again.append(wait_for_feedback(landed))
    finally:
        _stop_session(daemon)
    return {
        "feedback_new_return": first,
        "feedback_resubmission": statistics.median(again),
        "feedback_resubmission_all": again,
    }


MEASURES = {
    "quarter": measure_quarter_end_to_end,
    "stage": measure_receiving_and_validation,
    "stage_national": measure_national_quarter_stage,
    "national": measure_national_backfill,
    "corpus": measure_corpus_reading,
    "workbooks": measure_workbooks,
    "daemon": measure_feedback_with_the_daemon,
}


def _stop_session(leader: subprocess.Popen, timeout: float = 60.0) -> None:
    """Stop a process started in its own session and every process it started (the daemon's code
    server and run workers), waiting until none is left: one still writing into the work folder
    made its removal fail with "Directory not empty"."""
    os.killpg(leader.pid, signal.SIGTERM)
    leader.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(leader.pid, 0)  # anyone left in the group?
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(leader.pid, signal.SIGKILL)


def _child(name: str, tree: Path = PROJECT) -> dict:
    """One measurement in its own process, with the code of `tree` (the project, or an earlier
    commit's worktree, whose own benchmarks/run.py measures it)."""
    with tempfile.TemporaryDirectory(prefix=f"liia-bench-{name}-") as tmp:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.run", "--measure", name, "--work", tmp],
            cwd=tree,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(tree)},
        )
    if out.returncode != 0:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _print_stages(stages: dict[str, float], total: float) -> None:
    """Each step's share of the last run, largest first."""
    for name, seconds in sorted(stages.items(), key=lambda s: -s[1]):
        print(f"{'    ' + name:<58} {seconds:>8.2f} s  {seconds / total:>4.0%}")


def compare_with(commit: str, rounds: int = 2) -> None:
    """A quarter end to end and a resubmission with today's code and with `commit`'s, taken in
    turns in the same minutes, so that a regression shows as a ratio on the same machine."""
    with tempfile.TemporaryDirectory(prefix="liia-bench-baseline-") as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--quiet", "--detach", str(tree), commit],
            cwd=PROJECT,
            check=True,
        )
        try:
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(_child("quarter"))
                theirs.append(_child("quarter", tree))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=PROJECT)
    print(f"Beside {commit}, taken in turns ({rounds} rounds of {REPEATS} runs each):")
    for key, label in (
        ("quarter_end_to_end", "a quarter end to end"),
        ("resubmission", "a resubmission"),
    ):
        now = statistics.median(t for r in ours for t in r[f"{key}_all"])
        then = statistics.median(t for r in theirs for t in r[f"{key}_all"])
        print(f"{'  ' + label:<58} {now:>8.2f} s  against {then:.2f} s: {now / then:.2f}x")
    now_mb, then_mb = max(r["peak_mb"] for r in ours), max(r["peak_mb"] for r in theirs)
    print(f"{'  peak memory':<58} {now_mb:>8.0f} MB against {then_mb:.0f} MB")


def _verdict(key: str, value: float) -> str:
    target = TARGETS[key][1]
    if target is None:
        return ""
    return f"target < {target:g} s: {'met' if value < target else 'MISSED'}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", choices=MEASURES, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--baseline", metavar="COMMIT", help="also measure a quarter with this commit's code"
    )
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(MEASURES[args.measure](args.work)))
        return

    cpus = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"Machine: {platform.processor() or platform.machine()}, {cpus} cores, {memory:.0f} GiB,")
    print(f"  Python {platform.python_version()}, {platform.system()} {platform.release()}")
    print()
    quarter = _child("quarter")
    workbooks = _child("workbooks")
    stage = _child("stage")
    national = _child("national")
    stage_national = _child("stage_national")
    corpus = _child("corpus")
    daemon = _child("daemon")

    def line(label, seconds, extra=""):
        print(f"{label:<58} {seconds:>8.2f} s  {extra}")

    line(
        TARGETS["quarter_end_to_end"][0] + f" (median of {REPEATS})",
        quarter["quarter_end_to_end"],
        _verdict("quarter_end_to_end", quarter["quarter_end_to_end"]),
    )
    print(f"{'  each run':<58} " + ", ".join(f"{t:.2f}" for t in quarter["quarter_end_to_end_all"]))
    print(f"{'  peak memory of that process':<58} {quarter['peak_mb']:>8.0f} MB")
    _print_stages(quarter["stages"], sum(quarter["stages"].values()))
    line(
        TARGETS["workbooks"][0][:44] + f"... (median of {REPEATS})",
        workbooks["workbooks"],
        _verdict("workbooks", workbooks["workbooks"]),
    )
    print(f"{'  each run':<58} " + ", ".join(f"{t:.2f}" for t in workbooks["workbooks_all"]))
    ours = stage["receiving_and_validation"]
    line(TARGETS["receiving_and_validation"][0], ours)
    line("  pandas.read_excel loop (openpyxl), reading only", stage["pandas_openpyxl_loop"])
    line("  python-calamine reading every cell, the floor", stage["calamine_floor"])
    ratio = stage["pandas_openpyxl_loop"] / ours
    print(
        f"{'  ours vs the pandas loop':<58} {ratio:>8.1f}x faster  "
        f"target >= 10x: {'met' if ratio >= 10 else 'MISSED'}"
    )
    print(f"{'  ours vs the calamine floor':<58} {ours / stage['calamine_floor']:>8.1f}x the floor")
    ours_n = stage_national["receiving_and_validation"]
    line(f"  the same on one national quarter, {stage_national['files']} returns", ours_n)
    ratio_n = stage_national["pandas_openpyxl_loop"] / ours_n
    print(
        f"{'    pandas loop, calamine floor':<58} {stage_national['pandas_openpyxl_loop']:>8.2f} s, "
        f"{stage_national['calamine_floor']:.2f} s: ours {ratio_n:.1f}x faster than pandas"
    )
    line(
        f"national backfill: {national['files']} files, {NATIONAL_AUTHORITIES} authorities",
        national["national_backfill"],
        _verdict("national_backfill", national["national_backfill"]),
    )
    print(
        f"{'  peak memory of that process':<58} {national['peak_mb']:>8.0f} MB  "
        f"target < 1024 MB: {'met' if national['peak_mb'] < 1024 else 'MISSED'}"
    )
    print(f"{'  benchmarks rows':<58} {national['benchmark_rows']:>8}")
    line(
        TARGETS["resubmission"][0] + f" (median of {REPEATS})",
        quarter["resubmission"],
        _verdict("resubmission", quarter["resubmission"]),
    )
    print(f"{'  each run':<58} " + ", ".join(f"{t:.2f}" for t in quarter["resubmission_all"]))
    _print_stages(quarter["resubmission_stages"], sum(quarter["resubmission_stages"].values()))
    print(f"bad-input corpus ({corpus['corpus']}, {corpus['files']} files), read as returns:")
    print(
        f"{'  largest peak memory reading one file':<58} {corpus['worst_peak_mb']:>8.0f} MB  "
        f"({corpus['worst_file']}; the limit is 512 MB above the reader's own)"
    )
    print(
        f"{'  slowest file':<58} {corpus['slowest_seconds']:>8.2f} s  ({corpus['slowest_file']}); "
        f"{corpus['ended_reader']} files ended their reader (crash or memory) and were answered"
    )
    print(
        f"{TARGETS['analyst_query'][0]:<58} {national['analyst_query'] * 1000:>8.1f} ms "
        f"({national['analyst_rows']} rows)  target < 50 ms: "
        f"{'met' if national['analyst_query'] < 0.05 else 'MISSED'}"
    )
    line(
        TARGETS["feedback_new_return"][0],
        daemon["feedback_new_return"],
        _verdict("feedback_new_return", daemon["feedback_new_return"]),
    )
    line(
        TARGETS["feedback_resubmission"][0] + f" (median of {REPEATS})",
        daemon["feedback_resubmission"],
        _verdict("feedback_resubmission", daemon["feedback_resubmission"]),
    )
    print(f"{'  each':<58} " + ", ".join(f"{t:.2f}" for t in daemon["feedback_resubmission_all"]))
    print()
    # the front door on deadline day: its own processes (the daemon, gunicorn, locust)
    subprocess.run(
        [sys.executable, "-m", "benchmarks.deadline_day"],
        cwd=PROJECT,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if args.baseline:
        print()
        compare_with(args.baseline)


if __name__ == "__main__":
    main()
