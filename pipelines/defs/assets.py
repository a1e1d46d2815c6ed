"""The quarter's assets, from the files in the inbox to the benchmark workbooks.

Each run is one quarter (a partition, `2026-27 Q2`), so every materialisation and check result says
which quarter it is about; a backfill of many quarters is one run per quarter, oldest first."""

import logging
import shutil
import time
import warnings
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipelines.benchmark.groups import load_group_sets
from pipelines.benchmark.published import latest_published_file, loaded_file
from pipelines.collection.catalogue import THEMES, load_authorities, load_catalogue
from pipelines.collection.quarters import Quarter, parse_quarter
from pipelines.defs.instance import mark_run_process
from pipelines.defs.partitions import quarter_partitions
from pipelines.defs.resources import LiiaPaths, ledger_path, working_db
from pipelines.receive.ledger import clear_waiting, record_answered, record_waiting, waiting
from pipelines.receive.submissions import receive_quarter
from pipelines.release.public_edition import (
    make_release,
    public_csv_rows,
    release_summary,
    releases_of,
    write_public_csv,
)
from pipelines.release.timing import (
    RELEASE_TAG,
    ReleaseSettings,
    RevisionRhythm,
    release_facts,
    run_moment,
    waiting_text,
)
from pipelines.validate.feedback import feedback_path, feedback_rows
from pipelines.validate.settlement import (
    NOT_USED,
    authority_summary,
    completeness_text,
    missing_authorities,
    settle_quarter,
    structural_problems,
)
from pipelines.warehouse.database import (
    ANALYST_STORAGE_VERSION,
    build_copy,
    export_every_published_row,
    load_published_figures,
    load_quarter,
    put_copy_in_place,
    reconcile_quarter,
)
from pipelines.warehouse.model import forget_build, record_build
from pipelines.write import staging
from pipelines.write.download_page import write_download_pages
from pipelines.write.exports import export_editions
from pipelines.write.feedback_workbook import write_feedback
from pipelines.write.figures import public_figures, quarter_figures
from pipelines.write.workbooks import (
    PUBLIC,
    WriteFailure,
    in_parallel,
    public_csv_path,
    theme_workbook_path,
    write_quarter_workbooks,
)

# `liia run` shows these lines as its progress display; the Dagster UI shows them in the run log.
progress = logging.getLogger("liia.progress")

QUARTERLY = {"partitions_def": quarter_partitions}
# Assets that open the pipeline's DuckDB database share one pool (limit 1 in the instance's
# dagster.yaml); a file lock around every connection makes it one writer across processes too.
WAREHOUSE_POOL = "liia_duckdb"


def _quarter(context: dg.AssetExecutionContext) -> Quarter:
    """The step's quarter. Every step begins here, so the run is tagged with the process that runs
    it (a retry from a failed step runs in a new one): a run whose process died is then told."""
    if context.run:
        mark_run_process(context.instance, context.run.run_id)
    return parse_quarter(context.partition_key)


def _check(name: str, asset: str, description: str, blocking: bool = False) -> dg.AssetCheckSpec:
    """A check whose every result is about one quarter (a partitioned check, a preview feature of
    Dagster 1.13, which warns so each time; the warning says nothing a reader can act on)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name,
            asset=asset,
            description=description,
            blocking=blocking,
            partitions_def=quarter_partitions,
        )


def _run_id(context: dg.AssetExecutionContext) -> str:
    return context.run.run_id if context.run else "no-run"


def _report(context, quarter: Quarter, stage: str, text: str) -> None:
    context.log.info(f"{quarter.label} {stage}: {text}")
    progress.info(text, extra={"quarter": quarter.label, "stage": stage})


def _table(frame: pd.DataFrame) -> dg.MetadataValue:
    columns = [
        dg.TableColumn(
            c, "string" if frame[c].dtype == object or str(frame[c].dtype) == "str" else "int"
        )
        for c in frame.columns
    ]
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r) for r in frame.to_dict("records")],
        schema=dg.TableSchema(columns=columns),
    )


@dg.asset(group_name="receiving", io_manager_key="quarter_store", **QUARTERLY)
def received_returns(context: dg.AssetExecutionContext, paths: LiiaPaths) -> dict:
    """Every file in the inbox that belongs to the quarter (its cover's quarter, else its folder's,
    else the quarter being collected when it arrived), copied byte for byte to the archive under
    its SHA-256 and read in a bounded worker: the submissions, their raw values with source cells,
    and cover or structure problems. The inbox is never changed."""
    quarter = _quarter(context)
    started = time.perf_counter()
    submissions, values, issues = receive_quarter(Path(paths.inbox), Path(paths.archive), quarter)
    _report(
        context,
        quarter,
        "receiving",
        f"{len(submissions)} files read, {len(values)} values "
        f"({time.perf_counter() - started:.1f} s)",
    )
    context.add_output_metadata({"dagster/row_count": len(submissions)})
    return {"submissions": submissions, "values": values, "issues": issues}


@dg.asset(
    group_name="validation",
    io_manager_key="quarter_store",
    pool=WAREHOUSE_POOL,
    check_specs=[
        _check(
            "returns_fit_to_load",
            "validated_returns",
            "Fails, and so stops the load, only where something would poison the benchmarks: "
            "two current returns for one authority, values for unknown items. A rejected return "
            "or a value error does not.",
            blocking=True,
        ),
        _check(
            "all_authorities_returned",
            "validated_returns",
            "Warns while fewer than all the region's authorities have an accepted return; names "
            "the missing ones and counts the files matched to none.",
        ),
    ],
    **QUARTERLY,
)
def validated_returns(
    context: dg.AssetExecutionContext, received_returns: dict, duckdb: DuckDBResource
):
    """The quarter's returns validated together: submission statuses, every value with its status,
    and every error and warning with its cell. Plausibility compares with the previous quarter's
    current values in the working database."""
    catalogue, authorities = load_catalogue(), load_authorities()
    population = authorities.table.set_index("liia_code")["population_0_17"]
    quarter = _quarter(context)
    started = time.perf_counter()
    submissions, values, issues = settle_quarter(
        received_returns["submissions"],
        received_returns["values"],
        received_returns["issues"],
        _previous_values(duckdb, quarter),
        catalogue,
        quarter.q,
        population=population,
    )
    summary = authority_summary(submissions, issues)
    problems = structural_problems(submissions, values, catalogue)
    missing = missing_authorities(submissions, authorities)
    completeness = completeness_text(submissions, authorities)
    statuses = submissions["status"].value_counts()
    _report(
        context,
        quarter,
        "validation",
        f"{int(statuses.filter(like='accepted').sum())} accepted, "
        f"{int(statuses.filter(items=list(NOT_USED)).sum())} rejected or not workbooks, "
        f"{len(missing)} without an accepted return; "
        f"{int((issues['severity'] == 'error').sum())} errors, "
        f"{int((issues['severity'] == 'warning').sum())} warnings "
        f"({time.perf_counter() - started:.1f} s)",
    )
    per_authority = _table(summary)
    yield dg.Output(
        {"submissions": submissions, "values": values, "issues": issues},
        metadata={
            "dagster/row_count": len(values),
            "errors": int((issues["severity"] == "error").sum()),
            "warnings": int((issues["severity"] == "warning").sum()),
            "per_authority": per_authority,
        },
    )
    yield dg.AssetCheckResult(
        check_name="returns_fit_to_load",
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{quarter.label}: " + ("; ".join(problems) or "fit to load"),
        metadata={"per_authority": per_authority, "problems": "; ".join(problems) or "none"},
    )
    yield dg.AssetCheckResult(
        check_name="all_authorities_returned",
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{quarter.label}: {completeness}",
        metadata={"missing": dg.MetadataValue.text(", ".join(missing) or "none")},
    )


def _previous_values(duckdb: DuckDBResource, quarter: Quarter) -> pd.DataFrame:
    """The current, valid values of the quarter before, from the working database."""
    with working_db(duckdb) as con:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'return_values'"
        ).fetchone()[0]
        if not exists:
            return pd.DataFrame(columns=["authority", "ref", "value"])
        return con.execute(
            """SELECT authority, ref, value FROM return_values
            WHERE quarter = ? AND is_current AND status = 'ok'""",
            [quarter.previous().key],
        ).df()


@dg.asset(
    group_name="benchmarks",
    pool=WAREHOUSE_POOL,
    check_specs=[
        _check(
            "warehouse_matches_current_returns",
            "benchmarks",
            "The warehouse holds exactly the current returns' accepted values, the items behind "
            "the indicators match them, and every authority has a row for every indicator.",
        ),
        _check(
            "comparator_groups_valid",
            "benchmarks",
            "Every comparator group set (schemas/catalogue/group_sets.csv and LIIA_GROUP_SETS) "
            "was read and used; a set refused says why and what to change.",
        ),
    ],
    **QUARTERLY,
)
def benchmarks(context: dg.AssetExecutionContext, validated_returns: dict, duckdb: DuckDBResource):
    """The quarter in the pipeline's working database: submissions, issues, values, derived
    indicators, group aggregates and the comparison of every authority with London and its groups,
    replaced in one transaction; trends refreshed for every quarter. A quarter with no accepted
    return keeps its submissions and issues but no comparison rows."""
    authorities, catalogue = load_authorities(), load_catalogue()
    quarter = _quarter(context)
    started = time.perf_counter()
    with working_db(duckdb) as con:
        counts = load_quarter(
            con,
            quarter,
            validated_returns["submissions"],
            validated_returns["values"],
            validated_returns["issues"],
            authorities,
            catalogue,
        )
        mismatches = reconcile_quarter(
            con, quarter, validated_returns["values"], authorities, catalogue
        )
    refused = load_group_sets(authorities).problems
    if refused:  # one line: every problem is in the check's metadata
        context.log.warning(
            f"Comparator groups: {len(refused)} problem(s), the first: {refused[0]} (all in the "
            "check comparator_groups_valid)"
        )
    _report(
        context,
        quarter,
        "benchmarks",
        f"{counts['benchmarks']} comparison rows loaded ({time.perf_counter() - started:.1f} s)",
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": counts["benchmarks"],
            "rows_loaded": _table(
                pd.DataFrame([{"table": t, "rows": n} for t, n in counts.items()])
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="warehouse_matches_current_returns",
                passed=not mismatches,
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"{quarter.label}: "
                + (f"{len(mismatches)} mismatches" if mismatches else "matches"),
                metadata={
                    "mismatches": len(mismatches),
                    "first": "; ".join(mismatches[:20]) or "none",
                },
            ),
            dg.AssetCheckResult(
                check_name="comparator_groups_valid",
                passed=not refused,
                severity=dg.AssetCheckSeverity.WARN,
                description="every group set used"
                if not refused
                else f"{len(refused)} problem(s): {refused[0]}",
                metadata={"problems": "\n".join(refused) or "none"},
            ),
        ],
    )


@dg.asset(group_name="release", pool=WAREHOUSE_POOL, deps=[benchmarks], **QUARTERLY)
def public_release(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """What each audience may see of the quarter, decided once and stored: the quarter is released
    by the first run at or after its deadline (or earlier by `liia release`), and re-released as a
    revision when its published figures change. Each release stores the public edition (values as
    shown, c where suppressed) beside the restricted figures, and its disclosure audit."""
    quarter = _quarter(context)
    tags = context.run.tags if context.run else {}
    now, requested = run_moment(tags), tags.get(RELEASE_TAG) == "requested"
    rhythm = RevisionRhythm.from_environment()
    revise = tags.get(RELEASE_TAG) == "revision" or rhythm.mode == "at once"
    catalogue, authorities = load_catalogue(), load_authorities()
    started = time.perf_counter()
    with working_db(duckdb) as con:
        release, edition, pending = make_release(
            con, quarter, now, requested, catalogue, authorities, revise
        )
        summary = release_summary(con, quarter)
    ledger = ledger_path(duckdb)
    if pending:
        due = rhythm.next_moment(quarter, now)
        record_waiting(ledger, quarter, now, due, *pending)
        summary += f"; waiting for the next revision ({waiting_text(pending, due)})"
    elif release is not None or edition is not None:
        clear_waiting(ledger, quarter)  # published, or nothing differs any more
    metadata = {"release": dg.MetadataValue.text(summary)}
    if edition is not None:
        counts = edition.counts(catalogue)
        protected = sum(f.protected for f in edition.findings)
        metadata |= {
            "suppressions": _table(
                counts[counts[["primary", "complementary", "group_figures"]].sum(axis=1) > 0]
            ),
            "audit": f"{protected} of {len(edition.findings)} small counts protected",
        }
    _report(context, quarter, "release", f"{summary} ({time.perf_counter() - started:.1f} s)")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name="context", pool=WAREHOUSE_POOL)
def published_figures(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> dg.MaterializeResult:
    """DfE's published figures (LAIT), as published, in the working database: our indicators
    where the definitions correspond and each authority's context (England, London, Inner/Outer,
    its DfE neighbours); every row read goes to the exports with the analysts' copy, at the end
    of the run. The newest Parquet file in the published folder is loaded; the same file again is
    left as it is. Annual context, never mixed into a quarter."""
    file = latest_published_file(Path(paths.published))
    if file is None:
        context.log.warning(
            f"No published figures: no Parquet file in {paths.published}. Packs and workbooks are "
            "written without DfE's context; put DfE's LAIT file there."
        )
        return dg.MaterializeResult(metadata={"file": "none"})
    with working_db(duckdb) as con:
        if loaded_file(con) == file.sha256:
            return dg.MaterializeResult(
                metadata={"file": file.path.name, "sha256": file.sha256, "loaded": "already"}
            )
        counts = load_published_figures(con, file, load_authorities())
    progress.info(
        f"Published figures: {file.path.name}, {counts['published_values']:,} rows, "
        f"{counts['published_figures']:,} of our indicators"
    )
    return dg.MaterializeResult(
        metadata={
            "file": file.path.name,
            "sha256": file.sha256,
            "dagster/row_count": counts["published_values"],
            "rows_loaded": _table(
                pd.DataFrame([{"table": t, "rows": n} for t, n in counts.items()])
            ),
        }
    )


@dg.asset(
    group_name="reports",
    pool=WAREHOUSE_POOL,
    deps=[public_release, published_figures],
    **QUARTERLY,
)
def benchmark_workbooks(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> dg.MaterializeResult:
    """Before release, the status workbook (reports/liia/<quarter key>/). Once released: one
    Excel workbook per theme (About, Summary, a sheet and chart per indicator, Trends,
    Definitions), RESTRICTED, and a pack for each authority, in reports/members/<quarter key>/
    (each pack copied to its authority's folder); the publishable edition of each theme and the
    CSV of every published figure, from the stored release, in reports/public/<quarter key>/.
    A quarter with no accepted return gets none. Written into the run's staging copy of the
    reports, put in place by the run's last step."""
    reports = staging.begin(Path(paths.reports), _run_id(context))
    authorities, catalogue = load_authorities(), load_catalogue()
    quarter = _quarter(context)
    started = time.perf_counter()
    with working_db(duckdb) as con:
        figures, issues = quarter_figures(con, quarter)
        releases = releases_of(con, quarter)
        public = public_figures(con, figures) if releases else None
    if not figures.has_returns:
        _report(context, quarter, "reports", "no accepted return yet: no workbooks")
        return dg.MaterializeResult(metadata={"workbooks": 0})
    facts = ()
    if releases:
        _keep_earlier_release(reports, quarter, releases[-1].number)
        facts = release_facts(ReleaseSettings.from_environment(), releases, quarter)
    pending = {w.quarter: w for w in waiting(ledger_path(duckdb))}.get(quarter)
    books = write_quarter_workbooks(
        reports,
        figures,
        issues,
        authorities,
        catalogue,
        public,
        release=facts,
        waiting=waiting_text((pending.figures_changed, pending.what), pending.due)
        if pending
        else "",
    )
    if public is not None:
        rows = public_csv_rows(public, authorities, catalogue, releases[-1].number)
        books["csv"] = [write_public_csv(public_csv_path(reports, quarter), rows)]
        # beside each theme workbook, its figures as one tidy table, in the same edition
        restricted = public_csv_rows(figures, authorities, catalogue, releases[-1].number)
        for theme in THEMES:
            for publishable, edition in ((True, rows), (False, restricted)):
                path = theme_workbook_path(reports, quarter, theme, publishable).with_suffix(".csv")
                books["csv"].append(
                    write_public_csv(path, [r for r in edition if r["theme"] == theme])
                )
    failed = _failures(context, books)
    themes, packs = books["themes"], books["packs"]
    shown = [*themes, *books.get("csv", []), *books["status"]]
    live = Path(paths.reports)
    written = [
        live / Path(p).relative_to(reports) for p in shown if not isinstance(p, WriteFailure)
    ]
    where = "released" if releases else "not released yet"
    _report(
        context,
        quarter,
        "reports",
        f"{len(themes)} theme workbooks, {len(packs)} packs and the status workbook for "
        f"{live}, put in place at the end of the run ({where}; "
        f"{time.perf_counter() - started:.1f} s)",
    )
    _fail_if_any(failed)
    return dg.MaterializeResult(
        metadata={
            "workbooks": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in written)),
            "reports_folder": dg.MetadataValue.path(str(live)),
        }
    )


def _keep_earlier_release(reports: Path, quarter: Quarter, number: int) -> None:
    """Before a revision is written, the public files of the release before it are kept in
    public/<quarter>/release N/, where the public page links them."""
    folder = reports / PUBLIC / quarter.key
    kept = folder / f"release {number - 1}"
    if number < 2 or kept.exists() or not folder.exists():
        return
    partial = folder / f".release {number - 1}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    for path in folder.iterdir():
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, partial / path.name)
    partial.rename(kept)


def _failures(context, written: dict[str, list] | list) -> list[WriteFailure]:
    """The files that could not be written (each logged); the rest were written."""
    results = (
        [r for kind in written.values() for r in kind] if isinstance(written, dict) else written
    )
    failed = [r for r in results if isinstance(r, WriteFailure)]
    for f in failed:
        context.log.error(f"{f.path} could not be written: {f.reason}")
    return failed


def _fail_if_any(failed: list[WriteFailure]) -> None:
    if failed:
        named = "; ".join(f"{Path(f.path).name} ({f.reason})" for f in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        raise dg.Failure(
            description=f"{len(failed)} file(s) could not be written; every other one was: "
            f"{named}{more}.",
            metadata={"not_written": "; ".join(f"{f.path}: {f.reason}" for f in failed[:20])},
        )


@dg.asset(group_name="reports", **QUARTERLY)
def feedback_workbooks(
    context: dg.AssetExecutionContext, validated_returns: dict, paths: LiiaPaths
) -> dg.MaterializeResult:
    """For each authority that sent a file: every error and warning with sheet and cell, or a
    receipt, in reports/authorities/<authority>/<quarter key>/. Files that name no authority go
    to reports/liia/unidentified/. One workbook that cannot be written costs no other."""
    authorities = load_authorities()
    measures = load_catalogue().items.set_index("ref")["measure"]
    quarter = _quarter(context)
    submissions = validated_returns["submissions"]
    issues = validated_returns["issues"]
    calls = []
    for code, subs in submissions.groupby(submissions["authority"].fillna(""), sort=True):
        name = authorities.name(code) if code else "Unidentified"
        rows = feedback_rows(
            subs, issues[issues["submission_id"].isin(subs["submission_id"])], measures
        )
        path = feedback_path(Path(paths.reports), quarter, name)
        calls.append((write_feedback, (path, name, quarter.label, subs, rows), {}))
    results = in_parallel(calls)
    failed = _failures(context, results)
    _fail_if_any(failed)
    return dg.MaterializeResult(metadata={"feedback_workbooks": len(results) - len(failed)})


@dg.asset(
    group_name="reports",
    pool=WAREHOUSE_POOL,
    deps=[benchmark_workbooks, feedback_workbooks],
    **QUARTERLY,
)
def download_page(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> dg.MaterializeResult:
    """A page per audience, each linking only inside its own tree: reports/public/index.html (the
    open web), members/ (the 33 authorities), authorities/<name>/ (each authority alone) and
    liia/ (LIIA's team). Static, so they open from disk or any web server."""
    _quarter(context)  # tags the run with this process
    reports = staging.begin(Path(paths.reports), _run_id(context))
    with working_db(duckdb) as con:
        pages = write_download_pages(
            reports, con, load_authorities(), load_catalogue(), waiting(ledger_path(duckdb))
        )
    live = {name: Path(paths.reports) / path.relative_to(reports) for name, path in pages.items()}
    return dg.MaterializeResult(
        metadata={
            "public_page": dg.MetadataValue.path(str(live["public"])),
            "members_page": dg.MetadataValue.path(str(live["members"])),
            "liia_page": dg.MetadataValue.path(str(live["liia"])),
            "pages": len(pages),
        }
    )


def _copy_and_exports(duckdb: DuckDBResource, paths: LiiaPaths, quarter, run_id: str):
    """The analysts' copy built beside its target, the exports staged and every folder tried:
    (copy, the quarter's files' sha256, export files). Raises, having put nothing in place, when
    a folder cannot take its files."""
    with working_db(duckdb) as con:
        record_build(con, run_id)
        staged = staging.begin(Path(paths.exports), run_id)
        exports = export_editions(con, staged)
        file = latest_published_file(Path(paths.published))
        if file is not None and loaded_file(con) == file.sha256:
            every_row = Path("published") / "published_values.parquet"
            export_every_published_row(
                con, file, load_authorities(), Path(paths.exports) / every_row, staged / every_row
            )
        copy = build_copy(con, Path(paths.warehouse))
        shas = [
            r[0]
            for r in con.execute(
                "SELECT sha256 FROM submissions WHERE quarter = ?", [quarter.key]
            ).fetchall()
        ]
    # Whole or not at all: every folder is tried before anything is put in place, and the
    # analysts' copy goes last, so nobody sees figures whose workbooks and exports are not there.
    live = (Path(paths.reports), Path(paths.exports))
    problems = [p for folder in live for p in staging.cannot_put_in_place(folder, run_id)]
    if problems:
        copy.unlink(missing_ok=True)
        raise dg.Failure(
            description=f"Nothing was published: {'; '.join(problems)}. Every earlier output is "
            "as it was. Make the folder writable (or free space); the run is tried again.",
        )
    return copy, shas, exports


@dg.asset(group_name="warehouse", pool=WAREHOUSE_POOL, deps=[download_page], **QUARTERLY)
def analysts_warehouse(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> dg.MaterializeResult:
    """The copy analysts open (warehouse/liia.duckdb, read-only on disk, readable by DuckDB 1.x,
    its keys declared), replaced atomically with the working warehouse and its build recorded, and
    the Parquet exports of every table in both editions. Last of the run, so analysts never see a quarter
    whose workbooks and pages are not all written; then the quarter's files are recorded as
    answered in the pipeline's own ledger, which is all the inbox sensor reads."""
    quarter = _quarter(context)
    run_id = _run_id(context)
    started = time.perf_counter()
    try:
        copy, shas, exports = _copy_and_exports(duckdb, paths, quarter, run_id)
    except BaseException:
        with working_db(duckdb) as con:
            forget_build(con, run_id)  # the builds table lists only what analysts had
        raise
    files = staging.put_in_place(Path(paths.reports), run_id)
    files += staging.put_in_place(Path(paths.exports), run_id, deletions=True)
    published = put_copy_in_place(copy, Path(paths.warehouse))
    recorded = record_answered(ledger_path(duckdb), quarter, shas, run_id)
    _report(
        context,
        quarter,
        "warehouse",
        f"published to {published}; {len(exports)} export files; {files} workbooks, "
        f"pages and exports put in place; {recorded} files answered "
        f"({time.perf_counter() - started:.1f} s)",
    )
    return dg.MaterializeResult(
        metadata={
            "published": dg.MetadataValue.path(str(published)),
            "storage_version": ANALYST_STORAGE_VERSION,
            "parquet_files": len(exports),
            "files_answered": recorded,
        }
    )
