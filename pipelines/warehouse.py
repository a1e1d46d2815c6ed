"""The DuckDB warehouse: loading a quarter, the derived indicators and the comparison table.

The indicator arithmetic is generated from the catalogue's formulas (never typed here); the SQL
that compares authorities is written out for analysts to read."""

from __future__ import annotations

import duckdb
import pandas as pd

from pipelines.catalogue import (
    POPULATION,
    Authorities,
    Catalogue,
    evaluate_formula,
    formula_refs,
    formula_sql,
)
from pipelines.quarters import Quarter

DDL = """
CREATE TABLE IF NOT EXISTS submissions (
    submission_id VARCHAR, quarter VARCHAR, authority VARCHAR, file_name VARCHAR,
    relative_path VARCHAR, size_bytes BIGINT, sha256 VARCHAR, received_at TIMESTAMP,
    completed_on VARCHAR, template_version INTEGER, joint_workforce_with VARCHAR,
    status VARCHAR, is_current BOOLEAN
);
CREATE TABLE IF NOT EXISTS validation_issues (
    quarter VARCHAR, submission_id VARCHAR, severity VARCHAR, sheet VARCHAR, cell VARCHAR,
    ref VARCHAR, found VARCHAR, problem VARCHAR, fix VARCHAR
);
CREATE TABLE IF NOT EXISTS return_values (
    quarter VARCHAR, submission_id VARCHAR, authority VARCHAR, sheet VARCHAR, ref VARCHAR,
    cell VARCHAR, raw VARCHAR, note VARCHAR, value DOUBLE, status VARCHAR, is_current BOOLEAN
);
CREATE TABLE IF NOT EXISTS indicator_values (
    quarter VARCHAR, authority VARCHAR, indicator_id VARCHAR, value DOUBLE, status VARCHAR
);
CREATE TABLE IF NOT EXISTS benchmarks (
    quarter VARCHAR, indicator_id VARCHAR, authority VARCHAR, value DOUBLE, status VARCHAR,
    rank INTEGER, n_reporting INTEGER, london_value DOUBLE, london_median DOUBLE,
    london_lower_quartile DOUBLE, london_upper_quartile DOUBLE
);
"""
QUARTER_TABLES = [
    "submissions",
    "validation_issues",
    "return_values",
    "indicator_values",
    "benchmarks",
]

# An item's status for an authority, most serious first: why an indicator has no value.
ITEM_STATUS_ORDER = ["not returned", "rejected", "error", "not available", "not collected", "ok"]


def item_status(
    quarter: Quarter,
    values: pd.DataFrame,
    submissions: pd.DataFrame,
    authorities: Authorities,
    catalogue: Catalogue,
) -> pd.DataFrame:
    """One row per authority and item: value and status (ok, not available, not collected, error,
    rejected, not returned), from the current returns."""
    current = values[values["is_current"]]
    refs = list(catalogue.items["ref"])
    grid = pd.MultiIndex.from_product(
        [authorities.codes, refs], names=["authority", "ref"]
    ).to_frame(index=False)
    out = grid.merge(
        current[["authority", "ref", "value", "status"]], on=["authority", "ref"], how="left"
    )
    out["status"] = out["status"].astype(object).replace({"x": "not available"})
    has_current = set(submissions.loc[submissions["is_current"], "authority"])
    rejected_only = set(submissions["authority"].dropna()) - has_current
    version = catalogue.template_version(quarter)
    not_collected = set(catalogue.items.loc[catalogue.items["since_template"] > version, "ref"])
    missing = out["status"].isna()
    out.loc[missing & out["ref"].isin(not_collected), "status"] = "not collected"
    out.loc[missing & out["authority"].isin(rejected_only), "status"] = "rejected"
    out.loc[missing & ~out["authority"].isin(has_current | rejected_only), "status"] = (
        "not returned"
    )
    out["status"] = out["status"].fillna("error")  # a required item absent from an accepted return
    return out


def item_table(items: pd.DataFrame, authorities: Authorities, catalogue: Catalogue) -> pd.DataFrame:
    """One row per authority, one column per item, and the 0-17 population the formulas use."""
    wide = items.pivot(index="authority", columns="ref", values="value")
    wide = wide.reindex(columns=list(catalogue.items["ref"]))
    wide[POPULATION] = authorities.table.set_index("liia_code")["population_0_17"].astype(float)
    return wide


def _indicator_select(row, catalogue_refs: set[str]) -> str:
    refs = formula_refs(row.formula)
    value = formula_sql(row.formula, lambda n: f'w."{n}"')
    statuses = ", ".join(f's."{r}"' for r in refs if r in catalogue_refs)
    return f"""
    SELECT w.authority, '{row.id}' AS indicator_id, {value} AS value,
           list_sort([{statuses}], 'ASC')[1] AS worst_status
    FROM item_values AS w JOIN item_statuses AS s USING (authority)"""


def compute_indicators(
    con: duckdb.DuckDBPyConnection,
    items: pd.DataFrame,
    authorities: Authorities,
    catalogue: Catalogue,
) -> pd.DataFrame:
    """The derived indicators of one quarter from its item table (authority, ref, value, status)."""
    wide = item_table(items, authorities, catalogue)
    rank = {s: f"{i}:{s}" for i, s in enumerate(ITEM_STATUS_ORDER)}
    statuses = items.assign(status=items["status"].map(rank)).pivot(
        index="authority", columns="ref", values="status"
    )
    con.register("item_values", wide.reset_index())
    con.register("item_statuses", statuses.reset_index())
    refs = set(catalogue.items["ref"])
    sql = " UNION ALL ".join(_indicator_select(r, refs) for r in catalogue.indicators.itertuples())
    out = con.sql(sql).df()
    con.unregister("item_values")
    con.unregister("item_statuses")
    worst = out["worst_status"].str.split(":").str[1]
    out["status"] = worst.where(worst != "ok", "ok")
    out.loc[(worst == "ok") & out["value"].isna(), "status"] = "no denominator"
    out.loc[out["status"] != "ok", "value"] = None
    return out[["authority", "indicator_id", "value", "status"]]


def london_aggregates(
    items: pd.DataFrame, authorities: Authorities, catalogue: Catalogue
) -> pd.Series:
    """London's figure per indicator: the formula over summed items of the authorities reporting it
    (a ratio of sums, never a mean of rates)."""
    wide = item_table(items, authorities, catalogue)
    out = {}
    for row in catalogue.indicators.itertuples():
        refs = formula_refs(row.formula)
        reporting = wide[refs].dropna()
        out[row.id] = (
            evaluate_formula(row.formula, reporting.sum().to_dict()) if len(reporting) else None
        )
    return pd.Series(out, name="london_value", dtype="float64")


BENCHMARK_SQL = """
WITH reported AS (
    SELECT v.*, i.polarity
    FROM quarter_indicators AS v JOIN catalogue_indicators AS i ON i.id = v.indicator_id
),
distribution AS (
    SELECT indicator_id,
           count(value) AS n_reporting,
           quantile_cont(value, 0.5) AS london_median,
           quantile_cont(value, 0.25) AS london_lower_quartile,
           quantile_cont(value, 0.75) AS london_upper_quartile
    FROM reported GROUP BY indicator_id
)
SELECT r.indicator_id, r.authority, r.value, r.status,
       CASE WHEN r.value IS NULL THEN NULL
            WHEN r.polarity = 'lower_is_better'
                 THEN rank() OVER (PARTITION BY r.indicator_id, r.value IS NULL ORDER BY r.value ASC)
            ELSE rank() OVER (PARTITION BY r.indicator_id, r.value IS NULL ORDER BY r.value DESC)
       END AS rank,
       d.n_reporting, a.london_value, d.london_median, d.london_lower_quartile, d.london_upper_quartile
FROM reported AS r
JOIN distribution AS d USING (indicator_id)
LEFT JOIN london_aggregate AS a USING (indicator_id)
ORDER BY r.indicator_id, r.authority
"""


def load_quarter(
    con: duckdb.DuckDBPyConnection,
    quarter: Quarter,
    submissions: pd.DataFrame,
    values: pd.DataFrame,
    issues: pd.DataFrame,
    authorities: Authorities,
    catalogue: Catalogue,
) -> dict[str, int]:
    """Replace the quarter's rows in every table in one transaction. Returns row counts."""
    items = item_status(quarter, values, submissions, authorities, catalogue)
    indicators = compute_indicators(con, items, authorities, catalogue)
    london = london_aggregates(items[items["status"] == "ok"], authorities, catalogue)
    con.register("quarter_indicators", indicators)
    con.register("catalogue_indicators", catalogue.indicators)
    con.register("london_aggregate", london.rename_axis("indicator_id").reset_index())
    benchmarks = con.sql(BENCHMARK_SQL).df()
    for name in ("quarter_indicators", "catalogue_indicators", "london_aggregate"):
        con.unregister(name)
    item_rows = items.rename(columns={"ref": "indicator_id"})
    frames = {
        "submissions": submissions,
        "validation_issues": issues,
        "return_values": values,
        "indicator_values": pd.concat([item_rows, indicators], ignore_index=True),
        "benchmarks": benchmarks,
    }
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(DDL)
        for table, frame in frames.items():
            con.execute(f"DELETE FROM {table} WHERE quarter = ?", [quarter.key])
            frame = frame.assign(quarter=quarter.key)
            columns = [c[0] for c in con.execute(f"DESCRIBE {table}").fetchall()]
            con.register("incoming", frame.reindex(columns=columns))
            con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
            con.unregister("incoming")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return {table: len(frame) for table, frame in frames.items()}
