"""The quarter's assets, from the files in the inbox to the benchmark workbooks."""

from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipelines.catalogue import THEMES, load_authorities, load_catalogue
from pipelines.defs.partitions import quarter_partitions
from pipelines.defs.resources import LiiaPaths
from pipelines.download_page import write_download_page
from pipelines.feedback import feedback_path, feedback_rows, write_feedback
from pipelines.quarters import parse_quarter
from pipelines.settlement import authority_summary, settle_quarter, structural_problems
from pipelines.submissions import receive_quarter
from pipelines.warehouse import (
    ANALYST_STORAGE_VERSION,
    export_quarter,
    load_quarter,
    publish,
)
from pipelines.workbooks import (
    PUBLISHABLE,
    RESTRICTED,
    publishable_figures,
    quarter_figures,
    status_workbook_path,
    theme_workbook_path,
    write_authority_packs,
    write_status_workbook,
    write_theme_workbook,
)


@dg.asset(partitions_def=quarter_partitions, group_name="receiving")
def received_returns(context: dg.AssetExecutionContext, paths: LiiaPaths) -> dict:
    """Every return in the inbox whose cover names this quarter, archived by SHA-256 and read:
    the submissions, their raw values with source cells, and cover or structure problems."""
    quarter = parse_quarter(context.partition_key)
    submissions, values, issues = receive_quarter(Path(paths.inbox), Path(paths.archive), quarter)
    context.add_output_metadata({"dagster/row_count": len(submissions), "values_read": len(values)})
    return {"submissions": submissions, "values": values, "issues": issues}


@dg.asset(
    partitions_def=quarter_partitions,
    group_name="validation",
    check_specs=[
        dg.AssetCheckSpec("returns_fit_to_load", asset="validated_returns", blocking=True)
    ],
)
def validated_returns(
    context: dg.AssetExecutionContext, received_returns: dict, duckdb: DuckDBResource
):
    """The quarter's returns validated together: submission statuses, every value with its status,
    and every error and warning with its cell.

    Its blocking check `returns_fit_to_load` shows per authority: received, accepted, rejected,
    errors and warnings. It fails, and so stops the warehouse load, only where something would
    poison the benchmarks (two current returns for one authority, values for unknown items); a
    rejected return or a value error does not."""
    quarter = parse_quarter(context.partition_key)
    previous = _previous_values(duckdb, quarter.previous().key)
    submissions, values, issues = settle_quarter(
        received_returns["submissions"],
        received_returns["values"],
        received_returns["issues"],
        previous,
        load_catalogue(),
        quarter.q,
        population=load_authorities().table.set_index("liia_code")["population_0_17"],
    )
    summary = authority_summary(submissions, issues)
    yield dg.Output(
        {"submissions": submissions, "values": values, "issues": issues},
        metadata={
            "dagster/row_count": len(values),
            "errors": int((issues["severity"] == "error").sum()),
            "warnings": int((issues["severity"] == "warning").sum()),
            "per_authority": _table(summary),
        },
    )
    problems = structural_problems(submissions, values, load_catalogue())
    yield dg.AssetCheckResult(
        check_name="returns_fit_to_load",
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "per_authority": _table(summary),
            "rejected_returns": int(summary["rejected"].sum()),
            "errors": int(summary["errors"].sum()),
            "warnings": int(summary["warnings"].sum()),
            "problems": "; ".join(problems) or "none",
        },
    )


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


def _working_db(duckdb: DuckDBResource):
    Path(duckdb.database).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.get_connection()


def _previous_values(duckdb: DuckDBResource, quarter_key: str) -> pd.DataFrame:
    with _working_db(duckdb) as con:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'return_values'"
        ).fetchone()[0]
        if not exists:
            return pd.DataFrame(columns=["authority", "ref", "value"])
        return con.execute(
            "SELECT authority, ref, value FROM return_values WHERE quarter = ? AND is_current AND status = 'ok'",
            [quarter_key],
        ).df()


@dg.asset(partitions_def=quarter_partitions, group_name="warehouse")
def benchmarks(
    context: dg.AssetExecutionContext, validated_returns: dict, duckdb: DuckDBResource
) -> None:
    """The quarter in the pipeline's working warehouse: submissions, issues, values, derived
    indicators, group aggregates and the comparison of every authority with London and its groups,
    replaced in one transaction; trends refreshed for every quarter."""
    quarter = parse_quarter(context.partition_key)
    with _working_db(duckdb) as con:
        counts = load_quarter(
            con,
            quarter,
            validated_returns["submissions"],
            validated_returns["values"],
            validated_returns["issues"],
            load_authorities(),
            load_catalogue(),
        )
    context.add_output_metadata({"dagster/row_count": counts["benchmarks"], **counts})


@dg.asset(partitions_def=quarter_partitions, group_name="warehouse", deps=[benchmarks])
def analysts_warehouse(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> None:
    """The copy analysts open read-only (warehouse/liia.duckdb, readable by DuckDB 1.x), replaced
    atomically with the working warehouse, and the quarter's Parquet exports."""
    quarter = parse_quarter(context.partition_key)
    with _working_db(duckdb) as con:
        published = publish(con, Path(paths.warehouse))
        exports = export_quarter(con, quarter, Path(paths.exports) / quarter.key)
    context.add_output_metadata(
        {
            "published": str(published),
            "storage_version": ANALYST_STORAGE_VERSION,
            "parquet": dg.MetadataValue.md("\n".join(f"- {p}" for p in exports)),
        }
    )


@dg.asset(partitions_def=quarter_partitions, group_name="reports", deps=[benchmarks])
def benchmark_workbooks(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> None:
    """One Excel workbook per theme (About, Summary, a sheet and chart per indicator, Trends,
    Definitions), RESTRICTED, and its publishable edition with small counts suppressed
    (publishable/); a pack for each authority (packs/) and the submission status workbook, all
    in reports/<quarter key>/."""
    quarter = parse_quarter(context.partition_key)
    with _working_db(duckdb) as con:
        figures, issues = quarter_figures(con, quarter)
    reports = Path(paths.reports)
    authorities, catalogue = load_authorities(), load_catalogue()
    published = publishable_figures(figures, catalogue)
    written = [
        write_theme_workbook(
            theme_workbook_path(reports, quarter, theme, publishable=edition is published),
            edition,
            theme,
            authorities,
            catalogue,
            marking=PUBLISHABLE if edition is published else RESTRICTED,
        )
        for edition in (figures, published)
        for theme in THEMES
    ]
    written.append(
        write_status_workbook(status_workbook_path(reports, quarter), figures, issues, authorities)
    )
    packs = write_authority_packs(reports, figures, authorities, catalogue)
    context.add_output_metadata(
        {
            "workbooks": dg.MetadataValue.md("\n".join(f"- {p}" for p in written)),
            "authority_packs": dg.MetadataValue.path(str(packs[0].parent)),
            "packs_written": len(packs),
        }
    )


@dg.asset(partitions_def=quarter_partitions, group_name="reports")
def feedback_workbooks(
    context: dg.AssetExecutionContext, validated_returns: dict, paths: LiiaPaths
) -> None:
    """For each authority that sent a return: every error and warning with sheet and cell, or a
    receipt, in reports/<quarter key>/feedback/<authority>/. Unidentified files go to `Unidentified`."""
    quarter = parse_quarter(context.partition_key)
    submissions, issues = validated_returns["submissions"], validated_returns["issues"]
    authorities = load_authorities()
    measures = load_catalogue().items.set_index("ref")["measure"]
    written = 0
    for code, subs in submissions.groupby(submissions["authority"].fillna(""), sort=True):
        name = authorities.name(code) if code else "Unidentified"
        rows = feedback_rows(
            subs, issues[issues["submission_id"].isin(subs["submission_id"])], measures
        )
        write_feedback(
            feedback_path(Path(paths.reports), quarter, name), name, quarter.label, subs, rows
        )
        written += 1
    context.add_output_metadata({"feedback_workbooks": written})


@dg.asset(partitions_def=quarter_partitions, group_name="reports", deps=[benchmark_workbooks])
def download_page(context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths):
    """reports/index.html: every quarter's workbooks linked, completeness per quarter and a small
    chart per theme; static, so it opens from disk or any web server."""
    with _working_db(duckdb) as con:
        page = write_download_page(Path(paths.reports), con, load_authorities(), load_catalogue())
    context.add_output_metadata({"page": dg.MetadataValue.path(str(page))})
