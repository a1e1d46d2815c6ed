"""Validation: the quarter's returns settled into values and issues, with their checks."""

import time

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipelines.collection.catalogue import load_authorities, load_catalogue
from pipelines.collection.quarters import Quarter
from pipelines.defs.assets.quarterly import (
    FOR_THE_AUTHORITY,
    QUARTERLY,
    metadata_table,
    quarter_check,
    report,
    step_quarter,
)
from pipelines.defs.resources import working_db
from pipelines.validate.settlement import (
    NOT_USED,
    authority_summary,
    completeness_text,
    missing_authorities,
    settle_quarter,
    structural_problems,
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
    group_name="validation",
    io_manager_key="quarter_store",
    check_specs=[
        quarter_check(
            "returns_fit_to_load",
            "validated_returns",
            "Fails, and so stops the load, only where something would poison the benchmarks: "
            "two current returns for one authority, values for unknown items. A rejected return "
            "or a value error does not.",
            blocking=True,
        ),
        quarter_check(
            "all_authorities_returned",
            "validated_returns",
            "Warns while fewer than all the region's authorities have an accepted return; names "
            "the missing ones and counts the files matched to none.",
        ),
    ],
    **QUARTERLY,
    **FOR_THE_AUTHORITY,
)
def validated_returns(
    context: dg.AssetExecutionContext, received_returns: dict, duckdb: DuckDBResource
):
    """The quarter's returns validated together: submission statuses, every value with its status,
    and every error and warning with its cell. Plausibility compares with the previous quarter's
    current values in the working database."""
    catalogue, authorities = load_catalogue(), load_authorities()
    population = authorities.table.set_index("liia_code")["population_0_17"]
    quarter = step_quarter(context)
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
    report(
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
    per_authority = metadata_table(summary)
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
