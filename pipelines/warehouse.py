"""The DuckDB warehouse: its tables with their dictionary, loading a quarter, trends, and publishing
the analysts' copy.

The pipeline writes only its own working database. At the end of a run it copies that database into
a new file in a storage format DuckDB 1.x reads and renames it over `warehouse/liia.duckdb`, so an
analyst's open connection never blocks a run and never sees a half-loaded quarter."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.catalogue import THEME_TITLES, THEMES, Authorities, Catalogue
from pipelines.comparisons import compare_quarter, indicator_scope, item_status, reporting_units
from pipelines.quarters import Quarter, parse_quarter, quarter_range
from pipelines.settlement import current_values

# The oldest DuckDB the analysts' copy opens in (the duckdb-cli on PyPI, DBeaver, R are still 1.x).
ANALYST_STORAGE_VERSION = "v1.0.0"


CONTACTS = "submission_contacts"  # never published: see publish()


@dataclass(frozen=True)
class Table:
    name: str
    comment: str
    columns: tuple[tuple[str, str, str], ...]  # name, type, comment
    per_quarter: bool = True


TABLES = [
    Table(
        "authorities",
        "The region's authorities (reference data from schemas/catalogue/authorities.csv).",
        (
            ("authority", "VARCHAR", "LIIA code, e.g. BAR; the key every other table uses"),
            ("name", "VARCHAR", "Authority name"),
            ("ons_code", "VARCHAR", "ONS code, e.g. E09000003"),
            ("dfe_la_code", "VARCHAR", "DfE local authority code, e.g. 302"),
            ("inner_outer_ons", "VARCHAR", "Inner or Outer London, ONS definition (the default)"),
            ("inner_outer_statutory", "VARCHAR", "Inner or Outer London, statutory definition"),
            ("sub_region", "VARCHAR", "LIIA sub-region (provisional)"),
            ("population_0_17", "BIGINT", "Population aged 0-17 used in the per-child rates"),
        ),
        per_quarter=False,
    ),
    Table(
        "quarters",
        "Financial-year quarters the pipeline knows, with the template version each used.",
        (
            ("quarter", "VARCHAR", "Quarter key, e.g. 2026-27-Q2"),
            ("label", "VARCHAR", "Quarter as people read it, e.g. 2026-27 Q2"),
            ("start_date", "DATE", "First day of the quarter"),
            ("end_date", "DATE", "Last day of the quarter"),
            ("template_version", "INTEGER", "Return template version in use that quarter"),
            ("previous_quarter", "VARCHAR", "Key of the quarter before"),
            ("year_earlier_quarter", "VARCHAR", "Key of the same quarter a year earlier"),
        ),
        per_quarter=False,
    ),
    Table(
        "indicators",
        "Every collected item and every derived indicator, with its definition (the catalogue).",
        (
            ("indicator_id", "VARCHAR", "Item Ref (e.g. WF01) or indicator id (e.g. WF-I01)"),
            ("kind", "VARCHAR", "item (collected) or indicator (derived centrally)"),
            ("theme", "VARCHAR", "finance, adolescents, workforce or send"),
            ("name", "VARCHAR", "What it measures"),
            ("unit", "VARCHAR", "count, gbp, fte, weeks, days, percent, rate_10k, ratio, gbp_m"),
            ("polarity", "VARCHAR", "higher_is_better, lower_is_better or neutral (indicators)"),
            ("decimals", "INTEGER", "Decimal places to show (indicators)"),
            ("formula", "VARCHAR", "Formula over item Refs and population_0_17 (indicators)"),
            (
                "comparison",
                "VARCHAR",
                "rate (ratio of sums, ranked) or total (size-driven: London's total, not ranked)",
            ),
            ("comparison_note", "VARCHAR", "Why the indicator is compared as it is"),
            (
                "reliability_denominator",
                "VARCHAR",
                "Item whose value under 10 marks the indicator low reliability (u)",
            ),
            ("since_template", "INTEGER", "First template version that collects the item"),
            ("rule", "VARCHAR", "Consistency rule the item must meet (items)"),
        ),
        per_quarter=False,
    ),
    Table(
        "submissions",
        "Every file ever received, one row per distinct content (SHA-256), with its status.",
        (
            (
                "quarter",
                "VARCHAR",
                "Quarter the cover names, else its folder, else when it arrived",
            ),
            ("submission_id", "VARCHAR", "First 16 hex digits of the SHA-256"),
            ("authority", "VARCHAR", "LIIA code read from the cover (NULL if unresolved)"),
            ("file_name", "VARCHAR", "File name as received"),
            ("relative_path", "VARCHAR", "Path under the inbox"),
            ("size_bytes", "BIGINT", "File size"),
            ("sha256", "VARCHAR", "SHA-256 of the bytes; the archive file name"),
            (
                "received_at",
                "TIMESTAMP",
                "When these bytes arrived: the file's time in the inbox, or when the pipeline first saw it if that time is later",
            ),
            ("completed_on", "VARCHAR", "Date completed, from the cover"),
            ("template_version", "INTEGER", "Template version on the cover"),
            ("joint_workforce_with", "VARCHAR", "Partner named for a joint workforce return"),
            (
                "status",
                "VARCHAR",
                "accepted, accepted with value errors, superseded, rejected, or not a workbook",
            ),
            ("is_current", "BOOLEAN", "The authority's return used for the quarter"),
        ),
    ),
    Table(
        "validation_issues",
        "Every error and warning found in a submission, as sent back in the feedback workbook.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("submission_id", "VARCHAR", "The submission it was found in"),
            ("severity", "VARCHAR", "error (value or return excluded) or warning (kept)"),
            ("sheet", "VARCHAR", "Sheet of the return"),
            ("cell", "VARCHAR", "Cell, e.g. D14"),
            ("ref", "VARCHAR", "Item Ref, where the issue is about one item"),
            ("found", "VARCHAR", "The value found, as shown to the authority"),
            ("problem", "VARCHAR", "What is wrong"),
            ("fix", "VARCHAR", "How to fix it"),
        ),
    ),
    Table(
        "return_values",
        "Every value of every submission with its source cell: the history, superseded included.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("submission_id", "VARCHAR", "The submission it came from"),
            ("authority", "VARCHAR", "LIIA code"),
            ("sheet", "VARCHAR", "Sheet of the return"),
            ("ref", "VARCHAR", "Item Ref"),
            ("cell", "VARCHAR", "Cell the value was read from"),
            ("raw", "VARCHAR", "What the cell held, as text"),
            ("note", "VARCHAR", "The Notes cell"),
            ("value", "DOUBLE", "The number understood (NULL for x or an error)"),
            ("status", "VARCHAR", "ok, x (not available) or error (excluded)"),
            ("is_current", "BOOLEAN", "From the authority's current return"),
        ),
    ),
    Table(
        "indicator_values",
        "The current figures: each authority's items from its current return and the derived "
        "indicators, with a status where there is no value.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("authority", "VARCHAR", "LIIA code"),
            ("indicator_id", "VARCHAR", "Item Ref or indicator id (see indicators)"),
            ("kind", "VARCHAR", "item or indicator"),
            (
                "reporting_unit",
                "VARCHAR",
                "Authority, or KUT+RUT for the workforce figures of a joint return (stored under "
                "both authorities as each sent it: sum unit_values to count it once)",
            ),
            ("value", "DOUBLE", "The figure (NULL when status is not ok)"),
            (
                "status",
                "VARCHAR",
                "ok, not returned, return rejected, value rejected, not available, "
                "not collected, no denominator",
            ),
        ),
    ),
    Table(
        "group_aggregates",
        "Each indicator's figure for London and its groups: a ratio of sums over the reporting "
        "units, never a mean of rates.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("indicator_id", "VARCHAR", "Indicator id"),
            (
                "grouping",
                "VARCHAR",
                "london, inner_outer_ons, inner_outer_statutory or sub_region",
            ),
            ("group_name", "VARCHAR", "London, Inner, Outer, or the sub-region"),
            ("value", "DOUBLE", "The formula over the summed items of the units reporting"),
            ("units", "INTEGER", "Reporting units summed"),
        ),
    ),
    Table(
        "benchmarks",
        "One row per quarter, indicator and authority with every comparison measure.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("indicator_id", "VARCHAR", "Indicator id (see indicators)"),
            ("authority", "VARCHAR", "LIIA code"),
            ("reporting_unit", "VARCHAR", "What was compared: the authority, or KUT+RUT jointly"),
            ("value", "DOUBLE", "The authority's (or its unit's) value"),
            ("status", "VARCHAR", "ok, or why there is no value (see indicator_values)"),
            (
                "symbol",
                "VARCHAR",
                "x not available; z not collected or zero denominator; u low reliability",
            ),
            ("low_reliability", "BOOLEAN", "Denominator under 10: shown, not ranked"),
            (
                "rank",
                "INTEGER",
                "1 = best by polarity (neutral: highest, a position); ties share; totals: none",
            ),
            ("n_reporting", "INTEGER", "Units ranked (the n of 'rank r of n')"),
            ("n_units", "INTEGER", "Units compared (33, or 32 when two report jointly)"),
            (
                "london_value",
                "DOUBLE",
                "London: ratio of sums over the units reporting (a total: London's total)",
            ),
            ("london_median", "DOUBLE", "Median of the ranked values"),
            ("london_lower_quartile", "DOUBLE", "Lower quartile (quantile_cont, as QUARTILE.INC)"),
            ("london_upper_quartile", "DOUBLE", "Upper quartile (quantile_cont)"),
            ("london_min", "DOUBLE", "Lowest ranked value"),
            ("london_max", "DOUBLE", "Highest ranked value"),
            (
                "quartile_band",
                "VARCHAR",
                "A (best quarter by polarity) to D; neutral: Q1 (lowest) to Q4; totals: none",
            ),
            (
                "top_bottom_20",
                "VARCHAR",
                "top/bottom 20% (neutral: highest/lowest 20%): the fifth asked to explain",
            ),
            ("inner_outer", "VARCHAR", "Inner or Outer London (ONS definition)"),
            ("inner_outer_value", "DOUBLE", "Aggregate of the authority's Inner/Outer group"),
            ("sub_region", "VARCHAR", "The authority's sub-region"),
            ("sub_region_value", "DOUBLE", "Aggregate of the authority's sub-region"),
            ("previous_value", "DOUBLE", "Value in the previous quarter"),
            ("change_on_quarter", "DOUBLE", "Value less previous_value"),
            ("direction_on_quarter", "VARCHAR", "improved, worsened, no change; neutral: up/down"),
            ("year_earlier_value", "DOUBLE", "Value in the same quarter a year earlier"),
            ("change_on_year", "DOUBLE", "Value less year_earlier_value"),
            ("direction_on_year", "VARCHAR", "As direction_on_quarter, against a year earlier"),
        ),
    ),
]

RESTRICTED_MARKING = "RESTRICTED: for the 33 LIIA authorities only. Do not publish or forward."
PUBLIC_MARKING = "OFFICIAL: publishable edition, as released to the public."


def _public_columns() -> tuple[tuple[str, str, str], ...]:
    shown = {name: (kind, comment) for name, kind, comment in TABLE_BY_NAME["benchmarks"].columns}
    kept = list(shown)
    columns = [("release", "INTEGER", "Release of the quarter these figures were published in")]
    for name in kept:
        kind, comment = shown[name]
        columns.append(
            (name, kind, f"As published (rounded as shown; NULL where suppressed): {comment}")
        )
    columns += [
        (
            "suppressed_columns",
            "VARCHAR",
            "Comma-separated columns shown as c (suppressed) on this row",
        ),
        ("suppression", "VARCHAR", "primary (a count from 1 to 5), complementary, or NULL"),
    ]
    return tuple(columns)


TABLE_BY_NAME = {t.name: t for t in TABLES}
TABLES += [
    Table(
        "releases",
        f"{PUBLIC_MARKING} Every release of a quarter: the first, and each revision, kept.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("release", "INTEGER", "1 for the first release, 2, 3, ... for revisions"),
            ("released_at", "TIMESTAMPTZ", "When the release was made"),
            ("reason", "VARCHAR", "deadline, data lead (released early by hand) or revision"),
            ("changes", "VARCHAR", "What changed since the release before, in words"),
            ("figures_changed", "INTEGER", "Published figures that differ from the release before"),
            (
                "submissions",
                "VARCHAR[]",
                "The current returns it was made from, CODE:submission_id",
            ),
        ),
    ),
    Table(
        "public_benchmarks",
        f"{PUBLIC_MARKING} What the public edition shows of each figure, release by release: "
        "values rounded as shown, c where suppressed; ranks, bands and order statistics over the "
        "shown values only.",
        _public_columns(),
    ),
    Table(
        "public_group_figures",
        f"{PUBLIC_MARKING} London, Inner/Outer and sub-region figures as published, by release.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("release", "INTEGER", "Release of the quarter"),
            ("indicator_id", "VARCHAR", "Indicator id"),
            ("grouping", "VARCHAR", "london, inner_outer_ons or sub_region"),
            ("group_name", "VARCHAR", "The group"),
            ("value", "DOUBLE", "As published, rounded as shown; NULL where suppressed"),
            ("suppressed", "BOOLEAN", "Shown as c"),
            ("units", "INTEGER", "Units reporting (published)"),
        ),
    ),
    Table(
        "disclosure_audit",
        f"{RESTRICTED_MARKING} The audit of each release: for each small count, whether the "
        "published figures leave an intruder a range from 0 to at least the protection margin.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("release", "INTEGER", "Release of the quarter"),
            ("reporting_unit", "VARCHAR", "Unit whose count is protected"),
            ("ref", "VARCHAR", "The count item"),
            ("protected", "BOOLEAN", "The published figures leave it a range from 0 to the margin"),
            ("smallest", "DOUBLE", "Smallest value it could take (where computed exactly)"),
            ("largest", "DOUBLE", "Largest value it could take (where computed exactly)"),
        ),
    ),
    Table(
        CONTACTS,
        "LIIA team only: the person each return's cover names, to chase with. Personal data: "
        "kept in the pipeline's own database, never in the analysts' copy or the exports.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("submission_id", "VARCHAR", "The submission (submissions.submission_id)"),
            ("completed_by", "VARCHAR", "Completed by, from the cover"),
            ("email", "VARCHAR", "Email, from the cover"),
        ),
    ),
]
TABLE_BY_NAME = {t.name: t for t in TABLES}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and columns (older warehouses gain new columns, keeping their rows),
    the theme views, and the comments that make the dictionary readable from DuckDB itself."""
    for table in TABLES:
        columns = ", ".join(f"{name} {kind}" for name, kind, _ in table.columns)
        con.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({columns})")
        existing = {r[0] for r in con.execute(f"DESCRIBE {table.name}").fetchall()}
        for name, kind, _ in table.columns:
            if name not in existing:
                con.execute(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")
        con.execute(f"COMMENT ON TABLE {table.name} IS {_quote(table.comment)}")
        for name, _, comment in table.columns:
            con.execute(f"COMMENT ON COLUMN {table.name}.{name} IS {_quote(comment)}")
    con.execute(LATEST_QUARTER_VIEW_SQL)
    con.execute(
        "COMMENT ON VIEW latest_quarter IS "
        + _quote("The latest released quarter: what 'latest' means everywhere.")
    )
    con.execute(EDITIONS_VIEW_SQL)
    con.execute(
        "COMMENT ON VIEW figures_by_edition IS "
        + _quote(
            f"{RESTRICTED_MARKING} Each figure's restricted value beside what the public edition "
            "shows of it, from the quarter's latest release."
        )
    )
    for name, comment in EDITIONS_VIEW_COLUMNS.items():
        con.execute(f"COMMENT ON COLUMN figures_by_edition.{name} IS {_quote(comment)}")
    con.execute(UNIT_VALUES_VIEW_SQL)
    con.execute(
        "COMMENT ON VIEW unit_values IS "
        + _quote(
            "Each reporting unit's figures once: sum over this, not indicator_values, so that a "
            "joint workforce return (KUT+RUT) is counted once."
        )
    )
    for name, comment in UNIT_VALUES_VIEW_COLUMNS.items():
        con.execute(f"COMMENT ON COLUMN unit_values.{name} IS {_quote(comment)}")
    con.execute(MARKINGS_VIEW_SQL)
    con.execute(
        "COMMENT ON VIEW markings IS "
        + _quote("Each table and view, and whether it is restricted or publishable.")
    )
    for name, comment in MARKINGS_VIEW_COLUMNS.items():
        con.execute(f"COMMENT ON COLUMN markings.{name} IS {_quote(comment)}")
    con.execute("COMMENT ON COLUMN latest_quarter.quarter IS 'Quarter key, e.g. 2026-27-Q2'")
    con.execute("COMMENT ON COLUMN latest_quarter.label IS 'Quarter as people read it'")
    for theme in THEMES:
        con.execute(THEME_VIEW_SQL.format(theme=theme))
        con.execute(
            f"COMMENT ON VIEW benchmark_{theme} IS "
            f"{_quote(f'{THEME_TITLES[theme]}: benchmarks with names, ready to read.')}"
        )


# Each reporting unit's figure once: a joint unit's (KUT+RUT) is its first authority's that has one.
UNIT_VALUES_VIEW_SQL = """
CREATE OR REPLACE VIEW unit_values AS
SELECT quarter, reporting_unit, indicator_id, kind,
       string_agg(authority, '+' ORDER BY authority) OVER w AS authorities,
       value, status
FROM indicator_values
WINDOW w AS (PARTITION BY quarter, reporting_unit, indicator_id, kind)
QUALIFY row_number() OVER (w ORDER BY value IS NULL, authority) = 1
"""

UNIT_VALUES_VIEW_COLUMNS = {
    "quarter": "Quarter key",
    "reporting_unit": "The authority, or KUT+RUT for a joint workforce return",
    "indicator_id": "Item Ref or indicator id",
    "kind": "item or indicator",
    "authorities": "The authorities the unit covers (KUT+RUT, or one code)",
    "value": "The unit's figure, counted once (NULL when status is not ok)",
    "status": "ok, or why there is no value (see indicator_values)",
}

# Only a released quarter is ever the latest: not the one under way with a few early returns.
LATEST_QUARTER_VIEW_SQL = """
CREATE OR REPLACE VIEW latest_quarter AS
SELECT q.quarter, q.label
FROM quarters AS q
WHERE q.quarter = (SELECT max(quarter) FROM releases)
"""

# Each figure's restricted value beside what the public was shown in the quarter's latest release.
EDITIONS_VIEW_SQL = """
CREATE OR REPLACE VIEW figures_by_edition AS
SELECT b.quarter, b.indicator_id, b.authority, b.value AS restricted_value, b.symbol,
       p.release, p.value AS public_value,
       CASE WHEN p.release IS NULL THEN 'not released'
            WHEN list_contains(string_split(p.suppressed_columns, ','), 'value') THEN 'c'
            ELSE p.symbol END AS public_symbol,
       p.suppression
FROM benchmarks AS b
LEFT JOIN (
    SELECT * FROM public_benchmarks
    QUALIFY release = max(release) OVER (PARTITION BY quarter)
) AS p USING (quarter, indicator_id, authority)
"""

EDITIONS_VIEW_COLUMNS = {
    "quarter": "Quarter key",
    "indicator_id": "Indicator id",
    "authority": "Authority code",
    "restricted_value": "The figure as computed (restricted)",
    "symbol": "Symbol in the restricted edition where there is no value",
    "release": "The quarter's latest release; NULL if never released",
    "public_value": "The figure as the public edition shows it, rounded; NULL where c",
    "public_symbol": "c (suppressed), the symbol shown, or 'not released'",
    "suppression": "primary (a count from 1 to 5), complementary, or NULL",
}

# Which tables may leave the members' circle: the comments of public tables start with the mark.
MARKINGS_VIEW_SQL = f"""
CREATE OR REPLACE VIEW markings AS
SELECT table_name AS name, 'table' AS kind,
       CASE WHEN starts_with(comment, 'OFFICIAL') THEN 'OFFICIAL' ELSE 'RESTRICTED' END AS marking,
       CASE WHEN starts_with(comment, 'OFFICIAL') THEN {_quote(PUBLIC_MARKING)}
            ELSE {_quote(RESTRICTED_MARKING)} END AS meaning
FROM duckdb_tables() WHERE database_name = current_database() AND NOT internal
UNION ALL
SELECT view_name, 'view', 'RESTRICTED', {_quote(RESTRICTED_MARKING)}
FROM duckdb_views() WHERE database_name = current_database() AND NOT internal
ORDER BY kind, name
"""
MARKINGS_VIEW_COLUMNS = {
    "name": "Table or view",
    "kind": "table or view",
    "marking": "RESTRICTED or OFFICIAL (publishable)",
    "meaning": "Who may see it",
}

THEME_VIEW_SQL = """
CREATE OR REPLACE VIEW benchmark_{theme} AS
SELECT q.label AS quarter_label, i.name AS indicator, a.name AS authority_name, b.*
FROM benchmarks AS b
JOIN indicators AS i USING (indicator_id)
JOIN authorities AS a USING (authority)
JOIN quarters AS q USING (quarter)
WHERE i.theme = '{theme}'
"""

# Previous quarter and a year earlier, for every row: recomputed over the whole table after each
# load, so re-running an older quarter also refreshes the quarters that compare with it. A change
# is only given when the authority was compared as the same unit in both quarters.
TRENDS_SQL = """
UPDATE benchmarks AS b
SET previous_value = t.previous_value,
    change_on_quarter = t.change_on_quarter,
    direction_on_quarter = t.direction_on_quarter,
    year_earlier_value = t.year_earlier_value,
    change_on_year = t.change_on_year,
    direction_on_year = t.direction_on_year
FROM (
    SELECT cur.quarter, cur.indicator_id, cur.authority,
           prev.value AS previous_value,
           CASE WHEN prev.reporting_unit = cur.reporting_unit THEN cur.value - prev.value
           END AS change_on_quarter,
           direction(CASE WHEN prev.reporting_unit = cur.reporting_unit
                          THEN cur.value - prev.value END, i.polarity) AS direction_on_quarter,
           earlier.value AS year_earlier_value,
           CASE WHEN earlier.reporting_unit = cur.reporting_unit THEN cur.value - earlier.value
           END AS change_on_year,
           direction(CASE WHEN earlier.reporting_unit = cur.reporting_unit
                          THEN cur.value - earlier.value END, i.polarity) AS direction_on_year
    FROM benchmarks AS cur
    JOIN quarters AS q USING (quarter)
    JOIN indicators AS i USING (indicator_id)
    LEFT JOIN benchmarks AS prev
           ON prev.quarter = q.previous_quarter
          AND prev.indicator_id = cur.indicator_id AND prev.authority = cur.authority
    LEFT JOIN benchmarks AS earlier
           ON earlier.quarter = q.year_earlier_quarter
          AND earlier.indicator_id = cur.indicator_id AND earlier.authority = cur.authority
) AS t
WHERE b.quarter = t.quarter AND b.indicator_id = t.indicator_id AND b.authority = t.authority
"""

DIRECTION_MACRO = """
CREATE OR REPLACE TEMP MACRO direction(change, polarity) AS
    CASE WHEN change IS NULL THEN NULL
         WHEN change = 0 THEN 'no change'
         WHEN polarity = 'neutral' THEN CASE WHEN change > 0 THEN 'up' ELSE 'down' END
         WHEN (change > 0) = (polarity = 'higher_is_better') THEN 'improved'
         ELSE 'worsened'
    END
"""


def reference_frames(
    authorities: Authorities, catalogue: Catalogue, quarters: list[Quarter]
) -> dict[str, pd.DataFrame]:
    """The authorities, quarters and indicators tables, from the catalogue."""
    a = authorities.table.rename(columns={"liia_code": "authority"})
    q = pd.DataFrame(
        {
            "quarter": [x.key for x in quarters],
            "label": [x.label for x in quarters],
            "start_date": [x.start for x in quarters],
            "end_date": [x.end for x in quarters],
            "template_version": [catalogue.template_version(x) for x in quarters],
            "previous_quarter": [x.previous().key for x in quarters],
            "year_earlier_quarter": [x.year_earlier().key for x in quarters],
        }
    )
    items = catalogue.items.rename(columns={"ref": "indicator_id", "measure": "name"}).assign(
        kind="item"
    )
    derived = catalogue.indicators.rename(columns={"id": "indicator_id"}).assign(kind="indicator")
    indicators = pd.concat([items, derived], ignore_index=True)
    for column in ("decimals", "since_template"):
        indicators[column] = indicators[column].astype("Int64")
    return {"authorities": a, "quarters": q, "indicators": indicators}


def _replace(con, table: str, frame: pd.DataFrame, quarter: Quarter | None = None) -> None:
    columns = [name for name, _, _ in TABLE_BY_NAME[table].columns]
    if quarter is None:
        con.execute(f"DELETE FROM {table}")
    else:
        con.execute(f"DELETE FROM {table} WHERE quarter = ?", [quarter.key])
        frame = frame.assign(quarter=quarter.key)
    con.register("incoming", frame.reindex(columns=columns))
    con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
    con.unregister("incoming")


def _comparison_frames(con, quarter, submissions, values, authorities, catalogue) -> dict:
    """The quarter's indicator values, group aggregates and benchmarks; none for a quarter with no
    accepted return, which has nothing to compare (and so is never anyone's latest quarter)."""
    if not submissions["is_current"].any():
        return {
            name: pd.DataFrame(columns=[c for c, _, _ in TABLE_BY_NAME[name].columns])
            for name in ("indicator_values", "group_aggregates", "benchmarks")
        }
    items = item_status(quarter, values, submissions, authorities, catalogue)
    units = reporting_units(submissions, authorities)
    compared = compare_quarter(con, items, units, authorities, catalogue)
    # A workforce item of a joint return is the unit's (KUT+RUT): kept under each authority as it
    # sent it, marked as the unit's so that unit_values counts it once.
    scope = items["ref"].map(catalogue.items.set_index("ref")["theme"]).map(indicator_scope)
    item_rows = (
        items.assign(scope=scope)
        .merge(units, on=["authority", "scope"])
        .drop(columns="scope")
        .rename(columns={"ref": "indicator_id", "unit": "reporting_unit"})
    )
    return {
        "indicator_values": pd.concat(
            [item_rows.assign(kind="item"), compared["indicators"].assign(kind="indicator")],
            ignore_index=True,
        ),
        "group_aggregates": compared["group_aggregates"],
        "benchmarks": compared["benchmarks"],
    }


def load_quarter(
    con: duckdb.DuckDBPyConnection,
    quarter: Quarter,
    submissions: pd.DataFrame,
    values: pd.DataFrame,
    issues: pd.DataFrame,
    authorities: Authorities,
    catalogue: Catalogue,
) -> dict[str, int]:
    """Replace the quarter's rows in every table, and the reference tables, in one transaction;
    then refresh the trends. Returns the quarter's row counts."""
    frames = {
        "submissions": submissions,
        CONTACTS: submissions,
        "validation_issues": issues,
        "return_values": values,
        **_comparison_frames(con, quarter, submissions, values, authorities, catalogue),
    }
    con.execute("BEGIN TRANSACTION")
    try:
        create_schema(con)
        (latest,) = con.execute("SELECT max(quarter) FROM submissions").fetchone()
        first = parse_quarter(catalogue.template_versions["first_quarter"].min())
        last = max(quarter, parse_quarter(latest)) if latest else quarter
        reference = reference_frames(authorities, catalogue, quarter_range(first, last))
        for table, frame in reference.items():
            _replace(con, table, frame)
        for table, frame in frames.items():
            _replace(con, table, frame, quarter)
        con.execute(DIRECTION_MACRO)
        con.execute(TRENDS_SQL)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return {table: len(frame) for table, frame in frames.items()}


# Each line is one disagreement between the warehouse and the returns it was loaded from.
RECONCILIATION_SQL = """
WITH loaded AS (
    SELECT authority, ref, value FROM return_values
    WHERE quarter = $quarter AND is_current AND status = 'ok'
),
items AS (
    SELECT authority, indicator_id AS ref, value FROM indicator_values
    WHERE quarter = $quarter AND kind = 'item' AND status = 'ok'
)
SELECT 'value ' || coalesce(l.authority, e.authority) || ' ' || coalesce(l.ref, e.ref)
       || ': warehouse ' || coalesce(l.value::VARCHAR, 'nothing')
       || ', current return ' || coalesce(e.value::VARCHAR, 'nothing') AS mismatch
FROM loaded AS l FULL JOIN expected AS e USING (authority, ref)
WHERE l.value IS DISTINCT FROM e.value
UNION ALL
SELECT 'item ' || coalesce(l.authority, i.authority) || ' ' || coalesce(l.ref, i.ref)
       || ': indicator_values ' || coalesce(i.value::VARCHAR, 'nothing')
       || ', return_values ' || coalesce(l.value::VARCHAR, 'nothing')
FROM loaded AS l FULL JOIN items AS i USING (authority, ref)
WHERE l.value IS DISTINCT FROM i.value
UNION ALL
SELECT 'benchmarks: ' || count(*) || ' rows, expected ' || $expected_rows
FROM benchmarks WHERE quarter = $quarter
HAVING count(*) <> $expected_rows
ORDER BY 1
"""


def reconcile_quarter(
    con: duckdb.DuckDBPyConnection,
    quarter: Quarter,
    values: pd.DataFrame,
    authorities: Authorities,
    catalogue: Catalogue,
) -> list[str]:
    """Where the warehouse's quarter differs from the validated returns' current, accepted values:
    empty when it holds exactly them."""
    expected = current_values(values)
    has_returns = bool(values["is_current"].any())
    con.register("expected", expected[["authority", "ref", "value"]])
    try:
        rows = con.execute(
            RECONCILIATION_SQL,
            {
                "quarter": quarter.key,
                "expected_rows": len(authorities.codes) * len(catalogue.indicators) * has_returns,
            },
        ).fetchall()
    finally:
        con.unregister("expected")
    return [r[0] for r in rows]


def publish(con: duckdb.DuckDBPyConnection, target: Path) -> Path:
    """Copy the working database, less the covers' contacts, into a new file DuckDB 1.x can open
    and rename it over `target`.

    The rename is atomic: a reader who opened `target` before keeps reading the old version, one who
    opens it after sees the new one; nobody sees a partial copy and nobody's lock is in the way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.partial*"):
        stale.unlink()  # left by a run killed while publishing; publishing holds the writer lock
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    source = con.execute("SELECT current_database()").fetchone()[0]
    try:
        con.execute(
            f"ATTACH {_quote(str(partial))} AS analysts_copy "
            f"(STORAGE_VERSION {_quote(ANALYST_STORAGE_VERSION)})"
        )
        try:
            con.execute(f'COPY FROM DATABASE "{source}" TO analysts_copy')
            con.execute(f"DROP TABLE analysts_copy.{CONTACTS}")  # personal data stays here
        finally:
            con.execute("DETACH analysts_copy")
        # Read-only on disk: a client that opens it read-write by default gets an error saying so,
        # not a lock on the file (the pipeline never reads it: its own copy is the working one).
        partial.chmod(0o444)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        Path(f"{partial}.wal").unlink(missing_ok=True)
    return target


# Each export: its table, its edition (in its name and its Parquet key-value metadata), the rows.
EXPORTS = (
    ("benchmarks", "RESTRICTED", "SELECT * FROM benchmarks WHERE quarter = $q ORDER BY ALL"),
    (
        "indicator_values",
        "RESTRICTED",
        "SELECT * FROM indicator_values WHERE quarter = $q ORDER BY ALL",
    ),
    (
        "public_benchmarks",
        "PUBLIC",
        """SELECT * FROM public_benchmarks WHERE quarter = $q
        QUALIFY release = max(release) OVER () ORDER BY ALL""",
    ),
)
EXPORT_MARKINGS = {"RESTRICTED": RESTRICTED_MARKING, "PUBLIC": PUBLIC_MARKING}


def export_name(table: str, edition: str) -> str:
    return f"{table} {edition}.parquet"


def exported_quarters(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every quarter with comparison rows, oldest first: those with Parquet exports."""
    return [
        q for (q,) in con.execute("SELECT DISTINCT quarter FROM benchmarks ORDER BY 1").fetchall()
    ]


def export_quarter(con: duckdb.DuckDBPyConnection, quarter: Quarter, folder: Path) -> list[Path]:
    """The quarter's benchmarks and values (restricted) and its public edition as last released,
    as Parquet files for Power BI users, the edition in each file's name and metadata. A quarter
    not yet released has no public file."""
    folder.mkdir(parents=True, exist_ok=True)
    for unmarked in ("benchmarks.parquet", "indicator_values.parquet"):
        (folder / unmarked).unlink(missing_ok=True)  # written before files were marked
    released = con.execute("SELECT count(*) FROM releases WHERE quarter = $q", {"q": quarter.key})
    is_released = released.fetchone()[0] > 0
    written = []
    for table, edition, sql in EXPORTS:
        path = folder / export_name(table, edition)
        if edition == "PUBLIC" and not is_released:
            path.unlink(missing_ok=True)
            continue
        partial = folder / f".{path.name}.partial"
        metadata = {
            "marking": EXPORT_MARKINGS[edition],
            "quarter": quarter.key,
            "source": "LIIA quarterly benchmarking",
        }
        kv = ", ".join(f"{key}: {_quote(value)}" for key, value in metadata.items())
        con.execute(
            f"COPY ({sql}) TO {_quote(str(partial))} (FORMAT parquet, KV_METADATA {{{kv}}})",
            {"q": quarter.key},
        )
        os.replace(partial, path)
        written.append(path)
    return written
