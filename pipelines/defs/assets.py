"""The quarter's assets, from the files in the inbox to the benchmark workbooks.

Every asset takes a range of quarters in one run (a backfill is one run, not one per quarter) and
works through them oldest first; outputs passed between assets are dicts keyed by partition (see
QuarterStore)."""

import logging
import time
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipelines.catalogue import load_authorities, load_catalogue
from pipelines.defs.partitions import quarter_partitions
from pipelines.defs.resources import LiiaPaths, working_db
from pipelines.download_page import write_download_page
from pipelines.feedback import feedback_path, feedback_rows, write_feedback
from pipelines.quarters import Quarter, parse_quarter
from pipelines.settlement import (
    authority_summary,
    completeness_text,
    current_values,
    missing_authorities,
    settle_quarter,
    structural_problems,
)
from pipelines.submissions import receive_quarter
from pipelines.warehouse import (
    ANALYST_STORAGE_VERSION,
    export_quarter,
    load_quarter,
    publish,
    reconcile_quarter,
)
from pipelines.workbooks import (
    WriteFailure,
    in_parallel,
    quarter_figures,
    write_quarter_workbooks,
)

# `liia run` shows these lines as its progress display; the Dagster UI shows them in the run log.
progress = logging.getLogger("liia.progress")

QUARTERLY = {
    "partitions_def": quarter_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
}
# Assets that open the pipeline's DuckDB database share one pool (limit 1 in the instance's
# dagster.yaml); a file lock around every connection makes it one writer across processes too.
WAREHOUSE_POOL = "liia_duckdb"


def _quarters(context: dg.AssetExecutionContext) -> list[tuple[str, Quarter]]:
    """(partition key, quarter) of the run, oldest first."""
    keys = context.partition_keys
    return sorted(((k, parse_quarter(k)) for k in keys), key=lambda kq: kq[1])


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
    """Every return in the inbox whose cover names the quarter, copied byte for byte to the
    archive under its SHA-256 and read: the submissions, their raw values with source cells, and
    cover or structure problems. The inbox is never changed."""
    out, files = {}, 0
    for key, quarter in _quarters(context):
        started = time.perf_counter()
        submissions, values, issues = receive_quarter(
            Path(paths.inbox), Path(paths.archive), quarter
        )
        out[key] = {"submissions": submissions, "values": values, "issues": issues}
        files += len(submissions)
        _report(
            context,
            quarter,
            "receiving",
            f"{len(submissions)} files read, {len(values)} values "
            f"({time.perf_counter() - started:.1f} s)",
        )
    context.add_output_metadata({"dagster/row_count": files, "quarters": len(out)})
    return out


@dg.asset(
    group_name="validation",
    io_manager_key="quarter_store",
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "returns_fit_to_load",
            asset="validated_returns",
            blocking=True,
            description="Fails, and so stops the load, only where something would poison the "
            "benchmarks: two current returns for one authority, values for unknown items. A "
            "rejected return or a value error does not.",
        ),
        dg.AssetCheckSpec(
            "all_authorities_returned",
            asset="validated_returns",
            description="Warns while fewer than all 33 authorities have an accepted return; "
            "names the missing ones.",
        ),
    ],
    **QUARTERLY,
)
def validated_returns(
    context: dg.AssetExecutionContext, received_returns: dict, duckdb: DuckDBResource
):
    """The quarter's returns validated together: submission statuses, every value with its status,
    and every error and warning with its cell. Plausibility compares with the previous quarter's
    current values, from this run when it holds that quarter too."""
    catalogue, authorities = load_catalogue(), load_authorities()
    population = authorities.table.set_index("liia_code")["population_0_17"]
    out, summaries, problems, missing = {}, [], [], {}
    for key, quarter in _quarters(context):
        started = time.perf_counter()
        previous = _previous_values(out, duckdb, quarter)
        received = received_returns[key]
        submissions, values, issues = settle_quarter(
            received["submissions"],
            received["values"],
            received["issues"],
            previous,
            catalogue,
            quarter.q,
            population=population,
        )
        out[key] = {"submissions": submissions, "values": values, "issues": issues}
        summary = authority_summary(submissions, issues)
        summaries.append(summary.assign(quarter=quarter.label))
        problems += [
            f"{quarter.label}: {p}" for p in structural_problems(submissions, values, catalogue)
        ]
        missing[quarter.label] = (
            missing_authorities(submissions, authorities),
            completeness_text(submissions, authorities),
        )
        statuses = submissions["status"].value_counts()
        _report(
            context,
            quarter,
            "validation",
            f"{int(statuses.filter(like='accepted').sum())} accepted, "
            f"{statuses.get('rejected', 0)} rejected, "
            f"{len(missing[quarter.label][0])} without an accepted return; "
            f"{int((issues['severity'] == 'error').sum())} errors, "
            f"{int((issues['severity'] == 'warning').sum())} warnings "
            f"({time.perf_counter() - started:.1f} s)",
        )
    per_authority = _table(pd.concat(summaries, ignore_index=True))
    yield dg.Output(
        out,
        metadata={
            "dagster/row_count": sum(len(v["values"]) for v in out.values()),
            "errors": sum(int((v["issues"]["severity"] == "error").sum()) for v in out.values()),
            "warnings": sum(
                int((v["issues"]["severity"] == "warning").sum()) for v in out.values()
            ),
            "per_authority": per_authority,
        },
    )
    yield dg.AssetCheckResult(
        check_name="returns_fit_to_load",
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"per_authority": per_authority, "problems": "; ".join(problems) or "none"},
    )
    incomplete = [q for q, (names, _) in missing.items() if names]
    yield dg.AssetCheckResult(
        check_name="all_authorities_returned",
        passed=not incomplete,
        severity=dg.AssetCheckSeverity.WARN,
        description=" | ".join(f"{q}: {missing[q][1]}" for q in incomplete)
        or f"Every authority has an accepted return ({', '.join(missing)}).",
        metadata={q: dg.MetadataValue.text(text) for q, (_, text) in missing.items()},
    )


def _previous_values(done: dict, duckdb: DuckDBResource, quarter: Quarter) -> pd.DataFrame:
    """The current, valid values of the quarter before: from this run if it validated that
    quarter, else from the working database."""
    before = quarter.previous()
    if before.label in done:
        return current_values(done[before.label]["values"])[["authority", "ref", "value"]]
    with working_db(duckdb) as con:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'return_values'"
        ).fetchone()[0]
        if not exists:
            return pd.DataFrame(columns=["authority", "ref", "value"])
        return con.execute(
            """SELECT authority, ref, value FROM return_values
            WHERE quarter = ? AND is_current AND status = 'ok'""",
            [before.key],
        ).df()


@dg.asset(
    group_name="benchmarks",
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "warehouse_matches_current_returns",
            asset="benchmarks",
            description="The warehouse holds exactly the current returns' accepted values, the "
            "items behind the indicators match them, and every authority has a row for every "
            "indicator.",
        )
    ],
    **QUARTERLY,
)
def benchmarks(context: dg.AssetExecutionContext, validated_returns: dict, duckdb: DuckDBResource):
    """The quarter in the pipeline's working database: submissions, issues, values, derived
    indicators, group aggregates and the comparison of every authority with London and its groups,
    replaced in one transaction; trends refreshed for every quarter."""
    authorities, catalogue = load_authorities(), load_catalogue()
    counts, mismatches = {}, []
    with working_db(duckdb) as con:
        for key, quarter in _quarters(context):
            started = time.perf_counter()
            validated = validated_returns[key]
            counts[key] = load_quarter(
                con,
                quarter,
                validated["submissions"],
                validated["values"],
                validated["issues"],
                authorities,
                catalogue,
            )
            found = reconcile_quarter(con, quarter, validated["values"], authorities, catalogue)
            mismatches += [f"{quarter.label}: {m}" for m in found]
            _report(
                context,
                quarter,
                "benchmarks",
                f"{counts[key]['benchmarks']} comparison rows loaded "
                f"({time.perf_counter() - started:.1f} s)",
            )
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(c["benchmarks"] for c in counts.values()),
            "rows_by_quarter": _table(
                pd.DataFrame([{"quarter": k, **c} for k, c in counts.items()])
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="warehouse_matches_current_returns",
                passed=not mismatches,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "mismatches": len(mismatches),
                    "first": "; ".join(mismatches[:20]) or "none",
                },
            )
        ],
    )


@dg.asset(group_name="warehouse", pool=WAREHOUSE_POOL, deps=[benchmarks], **QUARTERLY)
def analysts_warehouse(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> dg.MaterializeResult:
    """The copy analysts open read-only (warehouse/liia.duckdb, readable by DuckDB 1.x), replaced
    atomically with the working warehouse once per run, and each quarter's Parquet exports."""
    exports = []
    with working_db(duckdb) as con:
        published = publish(con, Path(paths.warehouse))
        for _, quarter in _quarters(context):
            exports += export_quarter(con, quarter, Path(paths.exports) / quarter.key)
            _report(context, quarter, "warehouse", f"published to {published}")
    return dg.MaterializeResult(
        metadata={
            "published": dg.MetadataValue.path(str(published)),
            "storage_version": ANALYST_STORAGE_VERSION,
            "parquet_files": len(exports),
        }
    )


@dg.asset(group_name="reports", pool=WAREHOUSE_POOL, deps=[benchmarks], **QUARTERLY)
def benchmark_workbooks(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> dg.MaterializeResult:
    """One Excel workbook per theme (About, Summary, a sheet and chart per indicator, Trends,
    Definitions), RESTRICTED, and its publishable edition with small counts suppressed
    (publishable/); a pack for each authority (packs/) and the submission status workbook, all
    in reports/<quarter key>/."""
    reports = Path(paths.reports)
    authorities, catalogue = load_authorities(), load_catalogue()
    written, failed = [], []
    for _, quarter in _quarters(context):
        started = time.perf_counter()
        with working_db(duckdb) as con:
            figures, issues = quarter_figures(con, quarter)
        books = write_quarter_workbooks(reports, figures, issues, authorities, catalogue)
        failed += _failures(context, books)
        themes, (status,), packs = books["themes"], books["status"], books["packs"]
        written += [*themes, status]
        _report(
            context,
            quarter,
            "reports",
            f"{len(themes)} theme workbooks, {len(packs)} packs and the status workbook in "
            f"{reports / quarter.key} ({time.perf_counter() - started:.1f} s)",
        )
    _fail_if_any(failed)
    return dg.MaterializeResult(
        metadata={
            "workbooks": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in written)),
            "reports_folder": dg.MetadataValue.path(str(reports)),
        }
    )


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
        raise dg.Failure(
            description=f"{len(failed)} file(s) could not be written; every other one was.",
            metadata={"not_written": "; ".join(f"{f.path}: {f.reason}" for f in failed[:20])},
        )


@dg.asset(group_name="reports", **QUARTERLY)
def feedback_workbooks(
    context: dg.AssetExecutionContext, validated_returns: dict, paths: LiiaPaths
) -> dg.MaterializeResult:
    """For each authority that sent a return: every error and warning with sheet and cell, or a
    receipt, in reports/<quarter key>/feedback/<authority>/. Unidentified files go to `Unidentified`."""
    authorities = load_authorities()
    measures = load_catalogue().items.set_index("ref")["measure"]
    calls = []
    for key, quarter in _quarters(context):
        submissions = validated_returns[key]["submissions"]
        issues = validated_returns[key]["issues"]
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


@dg.asset(group_name="reports", pool=WAREHOUSE_POOL, deps=[benchmark_workbooks], **QUARTERLY)
def download_page(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> dg.MaterializeResult:
    """reports/index.html: every quarter's workbooks linked, completeness per quarter and a small
    chart per theme; static, so it opens from disk or any web server."""
    with working_db(duckdb) as con:
        page = write_download_page(Path(paths.reports), con, load_authorities(), load_catalogue())
    return dg.MaterializeResult(metadata={"page": dg.MetadataValue.path(str(page))})
