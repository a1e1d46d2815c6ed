"""Benchmarks: the quarter loaded into the working warehouse and compared; DfE's published
figures beside them."""

import time
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from pipelines.benchmark.groups import load_group_sets
from pipelines.benchmark.published import latest_published_file, loaded_file, reading_key
from pipelines.collection.catalogue import load_authorities, load_catalogue
from pipelines.defs.assets.quarterly import (
    QUARTERLY,
    metadata_table,
    progress,
    quarter_check,
    report,
    step_quarter,
)
from pipelines.defs.resources import LiiaPaths, kept_cache, working_db
from pipelines.warehouse.database import (
    load_published_figures,
    load_quarter,
    reconcile_quarter,
)


@dg.asset(
    group_name="benchmarks",
    check_specs=[
        quarter_check(
            "warehouse_matches_current_returns",
            "benchmarks",
            "The warehouse holds exactly the current returns' accepted values, the items behind "
            "the indicators match them, and every authority has a row for every indicator.",
        ),
        quarter_check(
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
    quarter = step_quarter(context)
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
    report(
        context,
        quarter,
        "benchmarks",
        f"{counts['benchmarks']} comparison rows loaded ({time.perf_counter() - started:.1f} s)",
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": counts["benchmarks"],
            "rows_loaded": metadata_table(
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


@dg.asset(group_name="context")
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
        if loaded_file(con, "read_with") == reading_key(file, load_authorities()):
            return dg.MaterializeResult(
                metadata={"file": file.path.name, "sha256": file.sha256, "loaded": "already"}
            )
        counts = load_published_figures(con, file, load_authorities(), kept_cache(duckdb))
    progress.info(
        f"Published figures: {file.path.name}, {counts['published_values']:,} rows, "
        f"{counts['published_figures']:,} of our indicators"
    )
    return dg.MaterializeResult(
        metadata={
            "file": file.path.name,
            "sha256": file.sha256,
            "dagster/row_count": counts["published_values"],
            "rows_loaded": metadata_table(
                pd.DataFrame([{"table": t, "rows": n} for t, n in counts.items()])
            ),
        }
    )
