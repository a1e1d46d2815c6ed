"""The warehouse as a model analysts and BI tools recognise: dimensions (authorities, quarters,
indicators, items) and facts with their keys declared, the catalogue's link from items to the
indicators that use them, notes, like-for-like group trends, and the record of each build.

The keys are declared in the analysts' copy, which is made afresh at every publish: the working
database replaces a quarter's rows by deleting them, which DuckDB's foreign keys would refuse."""

from __future__ import annotations

import hashlib
from importlib.metadata import version

import duckdb
import pandas as pd

from pipelines.benchmark.published import load_mappings
from pipelines.collection.catalogue import (
    CATALOGUE_DIR,
    POPULATION,
    Catalogue,
    formula_refs,
    ratio_form,
)
from pipelines.warehouse.tables import QUARTERLY_TABLES, TABLE_BY_NAME, TABLES

# table: (primary key, ((columns, parent table, parent columns), ...)). Parents come first in
# TABLES, so the keyed copy can be filled table by table in that order.
_QUARTER = (("quarter",), "quarters", ("quarter",))
_AUTHORITY = (("authority",), "authorities", ("authority",))
_INDICATOR = (("indicator_id",), "indicators", ("indicator_id",))
_SUBMISSION = (("quarter", "submission_id"), "submissions", ("quarter", "submission_id"))
_RELEASE = (("quarter", "release"), "releases", ("quarter", "release"))
KEYS: dict[str, tuple[tuple[str, ...], tuple]] = {
    "authorities": (("authority",), ()),
    "quarters": (("quarter",), ()),
    "indicators": (("indicator_id",), ()),
    "symbols": (("symbol",), ()),
    "items": (("ref",), ((("ref",), "indicators", ("indicator_id",)),)),
    "indicator_items": (
        ("indicator_id", "ref"),
        (_INDICATOR, (("ref",), "items", ("ref",))),
    ),
    "group_sets": (("set_id",), ()),
    "group_members": (
        ("set_id", "group_name", "authority"),
        ((("set_id",), "group_sets", ("set_id",)), _AUTHORITY),
    ),
    "submissions": (("quarter", "submission_id"), (_QUARTER, _AUTHORITY)),
    "validation_issues": ((), (_SUBMISSION, _AUTHORITY)),
    "return_values": ((), (_SUBMISSION, _AUTHORITY)),
    "indicator_values": (
        ("quarter", "authority", "indicator_id"),
        (_QUARTER, _AUTHORITY, _INDICATOR),
    ),
    "group_aggregates": (
        ("quarter", "indicator_id", "grouping", "group_name"),
        (_QUARTER, _INDICATOR),
    ),
    "benchmarks": (("quarter", "indicator_id", "authority"), (_QUARTER, _INDICATOR, _AUTHORITY)),
    "indicator_fractions": (
        ("quarter", "indicator_id", "authority"),
        (_QUARTER, _INDICATOR, _AUTHORITY),
    ),
    "group_benchmarks": (
        ("quarter", "indicator_id", "authority", "set_id", "group_name"),
        (_QUARTER, _INDICATOR, _AUTHORITY, (("set_id",), "group_sets", ("set_id",))),
    ),
    "releases": (("quarter", "release"), (_QUARTER,)),
    "public_benchmarks": (
        ("quarter", "release", "indicator_id", "authority"),
        (_RELEASE, _INDICATOR, _AUTHORITY),
    ),
    "public_group_figures": (
        ("quarter", "release", "indicator_id", "grouping", "group_name"),
        (_RELEASE, _INDICATOR),
    ),
    "suppressions": (
        ("quarter", "release", "indicator_id", "reporting_unit"),
        (_RELEASE, _INDICATOR),
    ),
    "disclosure_audit": (("quarter", "release", "reporting_unit", "ref"), (_RELEASE,)),
    "published_files": (("file_name",), ()),
    "published_figures": ((), (_INDICATOR, _AUTHORITY)),
    "published_context": (("indicator_id", "authority"), (_INDICATOR, _AUTHORITY)),
    "builds": (("built_at",), ()),
}


def keyed_table_sql(table: str, database: str) -> str:
    """CREATE TABLE for `table` in `database` with its primary and foreign keys."""
    columns = [f"{name} {kind}" for name, kind, _ in TABLE_BY_NAME[table].columns]
    primary, foreign = KEYS.get(table, ((), ()))
    if primary:
        columns.append(f"PRIMARY KEY ({', '.join(primary)})")
    for own, parent, theirs in foreign:
        columns.append(f"FOREIGN KEY ({', '.join(own)}) REFERENCES {parent} ({', '.join(theirs)})")
    return f"CREATE TABLE {database}.{table} ({', '.join(columns)})"


def keyed_order() -> list[str]:
    """Every table, each after the tables its foreign keys refer to."""
    done: list[str] = []

    def visit(table: str) -> None:
        if table in done:
            return
        for _, parent, _ in KEYS.get(table, ((), ()))[1]:
            visit(parent)
        done.append(table)

    for table in TABLES:
        visit(table.name)
    return done


# The symbol a figure shows in place of a value (comparisons' AUTHORITY_BENCHMARK_SQL gives it to
# each status; a test holds the two together), as the workbooks' legend says it.
SYMBOLS = (
    (
        "x",
        "not available",
        "No figure: not returned, the return or the value rejected, or not held (x in the return)",
        ["not returned", "return rejected", "value rejected", "not available"],
    ),
    (
        "z",
        "not applicable",
        "Not collected that quarter (the template did not ask), or a zero denominator",
        ["not collected", "no denominator"],
    ),
    (
        "u",
        "low reliability",
        "Its denominator is under 10: shown, but not ranked and left out of the median, "
        "quartiles, min and max (it still counts in the group figures)",
        [],
    ),
    (
        "c",
        "suppressed",
        "Publishable edition only: a count from 1 to 5, or a figure it could be worked back from",
        [],
    ),
)


def symbols_frame() -> pd.DataFrame:
    return pd.DataFrame(SYMBOLS, columns=["symbol", "meaning", "shown_when", "statuses"])


def item_frames(catalogue: Catalogue) -> dict[str, pd.DataFrame]:
    """The items, and each indicator's items with their place in its formula."""
    items = catalogue.items.rename(columns={"measure": "name"})
    reliability = catalogue.indicators.set_index("id")["reliability_denominator"]
    links = []
    for row in catalogue.indicators.itertuples():
        numerator, denominator = ratio_form(row.formula)
        for ref in formula_refs(row.formula):
            if ref == POPULATION:
                continue
            links.append(
                {
                    "indicator_id": row.id,
                    "ref": ref,
                    "in_numerator": ref in numerator,
                    "in_denominator": ref in denominator,
                    "is_reliability_denominator": reliability.get(row.id) == ref,
                }
            )
    return {"items": items, "indicator_items": pd.DataFrame(links)}


def indicator_columns(indicators: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """`indicators` (items and derived) with each one's period and DfE's corresponding measure."""
    periods = catalogue.items.set_index("ref")["period"]
    formulas = catalogue.indicators.set_index("id")["formula"]

    def period(row) -> str | None:
        if row.kind == "item":
            return periods.get(row.indicator_id)
        used = {periods[r] for r in formula_refs(formulas[row.indicator_id]) if r in periods}
        return ", ".join(sorted(used)) or None

    mappings = load_mappings().drop_duplicates("indicator_id").set_index("indicator_id")
    blank = {"count_basis": "", "unit_words": ""}
    return indicators.assign(
        period=[period(r) for r in indicators.itertuples()],
        published_measure=indicators["indicator_id"].map(mappings["measure"]),
        dfe_polarity=indicators["indicator_id"].map(mappings["dfe_polarity"]),
        **{
            column: indicators[column].replace("", None) if column in indicators else None
            for column in blank
        },
    )


# A quarter's release state, from the releases table: refreshed at every build.
RELEASE_STATE_SQL = """
UPDATE quarters AS q
SET released = r.quarter IS NOT NULL,
    first_released_at = r.first_released_at,
    latest_release = r.latest_release
FROM quarters AS k
LEFT JOIN (
    SELECT quarter, min(released_at) AS first_released_at, max(release) AS latest_release
    FROM releases GROUP BY quarter
) AS r USING (quarter)
WHERE q.quarter = k.quarter;
""" + "".join(
    f"""
UPDATE {table} AS t
SET released = coalesce(q.released, false), latest_release = q.latest_release
FROM quarters AS q
WHERE t.quarter = q.quarter
  AND (t.released IS DISTINCT FROM coalesce(q.released, false)
       OR t.latest_release IS DISTINCT FROM q.latest_release);
"""
    for table in QUARTERLY_TABLES
)

BUILD_SQL = """
INSERT INTO builds BY NAME
SELECT now() AS built_at, $run_id AS run_id, $pipeline_version AS pipeline_version,
       $duckdb_version AS duckdb_version,
       (SELECT list(DISTINCT quarter ORDER BY quarter) FROM submissions WHERE is_current)
           AS quarters,
       (SELECT count(*) FROM submissions WHERE is_current) AS returns,
       (SELECT list(quarter || ' ' || authority || ' ' || submission_id || ' ' || file_name
                    ORDER BY quarter, authority)
        FROM submissions WHERE is_current) AS files,
       (SELECT list(DISTINCT template_version ORDER BY template_version)
        FROM submissions WHERE is_current) AS template_versions,
       $catalogue_sha256 AS catalogue_sha256
"""


def catalogue_sha256() -> str:
    digest = hashlib.sha256()
    for path in sorted(CATALOGUE_DIR.rglob("*.csv")):
        digest.update(path.relative_to(CATALOGUE_DIR).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def forget_build(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """A build that was not published leaves no record: the builds table lists what analysts had."""
    con.execute("DELETE FROM builds WHERE run_id = ?", [run_id])


def record_build(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Refresh each quarter's release state and add this build's record, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(RELEASE_STATE_SQL)
        forget_build(con, run_id)  # a step retried in the same run replaces its own row
        con.execute(
            BUILD_SQL,
            {
                "run_id": run_id,
                "pipeline_version": version("liia-benchmarking"),
                "duckdb_version": duckdb.__version__,
                "catalogue_sha256": catalogue_sha256(),
            },
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


NOTES_VIEW_SQL = """
CREATE OR REPLACE VIEW notes AS
SELECT r.quarter, r.authority, a.name AS authority_name, r.submission_id, r.is_current,
       r.sheet, r.ref, i.name AS item, r.cell, r.raw, r.note, r.released
FROM return_values AS r
LEFT JOIN authorities AS a USING (authority)
LEFT JOIN items AS i USING (ref)
WHERE r.note IS NOT NULL
"""
NOTES_VIEW_COLUMNS = {
    "quarter": "Quarter key",
    "authority": "LIIA code",
    "authority_name": "Authority name",
    "submission_id": "The submission it came from",
    "is_current": "From the authority's current return",
    "sheet": "Sheet of the return",
    "ref": "The item the note is beside (items.ref; indicator_items links it to indicators)",
    "item": "What the item measures",
    "cell": "Cell of the value",
    "raw": "The value as the cell held it",
    "note": "The note, as written",
    "released": "Whether the quarter is released",
}

# Each group's figure against the previous quarter and a year earlier: over every unit reporting in
# each quarter (as published), and like for like over the units reporting in both. A unit's figure
# is its numerator and denominator (indicator_fractions); a group's is their sums' ratio (a total:
# the sum of numerators), as group_aggregates.
GROUP_TRENDS_VIEW_SQL = """
CREATE OR REPLACE VIEW group_trends AS
WITH membership AS (
    -- a neighbours group's figure leaves out the authority whose neighbours they are
    SELECT authority, 'london' AS grouping, 'London' AS group_name, NULL AS left_out
    FROM authorities
    UNION
    SELECT m.authority, m.set_id, m.group_name,
           CASE WHEN s.kind = 'neighbours' THEN m.group_name END
    FROM group_members AS m JOIN group_sets AS s USING (set_id)
),
units AS (
    SELECT f.quarter, f.indicator_id, m.grouping, m.group_name, f.reporting_unit,
           any_value(f.numerator) AS numerator, any_value(f.denominator) AS denominator,
           -- the authorities a unit covers, as group_aggregates counts them (KUT+RUT: two)
           len(string_split(f.reporting_unit, '+'))::INTEGER AS authorities
    FROM indicator_fractions AS f
    JOIN membership AS m USING (authority)
    LEFT JOIN indicator_fractions AS own
      ON own.quarter = f.quarter AND own.indicator_id = f.indicator_id
     AND own.authority = m.left_out
    WHERE f.numerator IS NOT NULL AND f.denominator IS NOT NULL AND f.released
      AND own.reporting_unit IS DISTINCT FROM f.reporting_unit
    GROUP BY ALL
),
comparisons AS (
    SELECT quarter, 'previous quarter' AS compared_with, previous_quarter AS earlier_quarter
    FROM quarters
    UNION ALL
    SELECT quarter, 'a year earlier', year_earlier_quarter FROM quarters
),
each_quarter AS (
    SELECT quarter, indicator_id, grouping, group_name, count(*)::INTEGER AS units,
           sum(authorities)::INTEGER AS authorities, sum(numerator) AS numerator,
           sum(denominator) AS denominator
    FROM units
    GROUP BY ALL
),
in_both AS (
    SELECT c.quarter, c.compared_with, now.indicator_id, now.grouping, now.group_name,
           count(*)::INTEGER AS units, sum(now.authorities)::INTEGER AS authorities,
           sum(now.numerator) AS numerator, sum(now.denominator) AS denominator,
           sum(earlier.numerator) AS earlier_numerator,
           sum(earlier.denominator) AS earlier_denominator
    FROM comparisons AS c
    JOIN units AS now ON now.quarter = c.quarter
    JOIN units AS earlier
      ON earlier.quarter = c.earlier_quarter AND earlier.indicator_id = now.indicator_id
     AND earlier.grouping = now.grouping AND earlier.group_name = now.group_name
     AND earlier.reporting_unit = now.reporting_unit
    GROUP BY ALL
),
figures AS (
    SELECT c.quarter, g.indicator_id, g.grouping, g.group_name, c.compared_with,
           c.earlier_quarter, i.comparison = 'total' AS is_total,
           g.numerator, g.denominator, g.units, g.authorities,
           e.numerator AS earlier_numerator, e.denominator AS earlier_denominator,
           e.units AS earlier_units, e.authorities AS earlier_authorities,
           b.numerator AS lfl_numerator, b.denominator AS lfl_denominator,
           b.earlier_numerator AS lfl_earlier_numerator,
           b.earlier_denominator AS lfl_earlier_denominator,
           b.units AS lfl_units, b.authorities AS lfl_authorities
    FROM comparisons AS c
    JOIN each_quarter AS g ON g.quarter = c.quarter
    JOIN indicators AS i USING (indicator_id)
    LEFT JOIN each_quarter AS e
      ON e.quarter = c.earlier_quarter AND e.indicator_id = g.indicator_id
     AND e.grouping = g.grouping AND e.group_name = g.group_name
    LEFT JOIN in_both AS b
      ON b.quarter = c.quarter AND b.compared_with = c.compared_with
     AND b.indicator_id = g.indicator_id AND b.grouping = g.grouping
     AND b.group_name = g.group_name
),
ratios AS (
    SELECT *,
           CASE WHEN is_total THEN numerator ELSE numerator / nullif(denominator, 0) END AS v,
           CASE WHEN is_total THEN earlier_numerator
                ELSE earlier_numerator / nullif(earlier_denominator, 0) END AS ev,
           CASE WHEN is_total THEN lfl_numerator
                ELSE lfl_numerator / nullif(lfl_denominator, 0) END AS lv,
           CASE WHEN is_total THEN lfl_earlier_numerator
                ELSE lfl_earlier_numerator / nullif(lfl_earlier_denominator, 0) END AS lev
    FROM figures
)
SELECT quarter, indicator_id, grouping, group_name, compared_with, earlier_quarter,
       v AS value, units, authorities,
       ev AS earlier_value, earlier_units, earlier_authorities, v - ev AS change,
       coalesce(lfl_units, 0) AS like_for_like_units,
       coalesce(lfl_authorities, 0) AS like_for_like_authorities,
       lv AS like_for_like_value, lev AS like_for_like_earlier_value,
       lv - lev AS like_for_like_change
FROM ratios
"""
GROUP_TRENDS_VIEW_COLUMNS = {
    "quarter": "Quarter key",
    "indicator_id": "Indicator id",
    "grouping": "The group set (group_sets.set_id): london, sub_region, dfe_neighbours, ...",
    "group_name": "The group; of a neighbours set, the authority whose neighbours these are",
    "compared_with": "previous quarter or a year earlier",
    "earlier_quarter": "The quarter it is compared with",
    "value": "The group's figure this quarter, over every unit reporting (as group_aggregates)",
    "units": "Reporting units in value",
    "authorities": "Authorities those units cover (KUT+RUT covers two)",
    "earlier_value": "The group's figure in the earlier quarter, over every unit reporting then",
    "earlier_units": "Reporting units in earlier_value",
    "earlier_authorities": "Authorities in earlier_value",
    "change": "value less earlier_value: NOT like for like where the units differ",
    "like_for_like_units": "Units reporting in both quarters: the like-for-like comparison's",
    "like_for_like_authorities": "Authorities those units cover",
    "like_for_like_value": "This quarter's figure over only the units reporting in both",
    "like_for_like_earlier_value": "The earlier quarter's figure over the same units",
    "like_for_like_change": "Like for like: like_for_like_value less like_for_like_earlier_value",
}

THEME_VIEW_EXTRA_COLUMNS = {
    "quarter_label": "Quarter as people read it, e.g. 2026-27 Q2",
    "indicator": "The indicator's name",
    "authority_name": "Authority name",
}


def theme_view_columns() -> dict[str, str]:
    """The theme views' column comments: their names, then benchmarks' own."""
    return THEME_VIEW_EXTRA_COLUMNS | {
        name: comment for name, _, comment in TABLE_BY_NAME["benchmarks"].columns
    }


# Each reporting unit's figure once: a joint unit's (KUT+RUT) is its first authority's that has one.
# No ordered aggregate over a window (DuckDB 1.1 cannot read a view stored with one).
UNIT_VALUES_VIEW_SQL = """
CREATE OR REPLACE VIEW unit_values AS
SELECT quarter, reporting_unit, indicator_id, kind,
       array_to_string(list_sort(list(authority) OVER (
           PARTITION BY quarter, reporting_unit, indicator_id, kind)), '+') AS authorities,
       value, status, released
FROM indicator_values
QUALIFY row_number() OVER (
    PARTITION BY quarter, reporting_unit, indicator_id, kind ORDER BY value IS NULL, authority) = 1
"""

UNIT_VALUES_VIEW_COLUMNS = {
    "quarter": "Quarter key",
    "reporting_unit": "The authority, or KUT+RUT for a joint workforce return",
    "indicator_id": "Item Ref or indicator id",
    "kind": "item or indicator",
    "authorities": "The authorities the unit covers (KUT+RUT, or one code)",
    "value": "The unit's figure, counted once (NULL when status is not ok)",
    "status": "ok, or why there is no value (see indicator_values)",
    "released": "Whether the quarter is released",
}


# Each figure's restricted value beside what the public was shown in the quarter's latest release.
EDITIONS_VIEW_SQL = """
CREATE OR REPLACE VIEW figures_by_edition AS
SELECT b.quarter, b.indicator_id, b.authority, b.value AS restricted_value, b.symbol,
       p.release, p.value AS public_value,
       CASE WHEN p.release IS NULL THEN 'not released'
            WHEN list_contains(string_split(p.suppressed_columns, ','), 'value') THEN 'c'
            ELSE p.symbol END AS public_symbol,
       s.kind AS suppression
FROM benchmarks AS b
LEFT JOIN (
    SELECT * FROM public_benchmarks
    QUALIFY release = max(release) OVER (PARTITION BY quarter)
) AS p USING (quarter, indicator_id, authority)
LEFT JOIN suppressions AS s
       ON s.quarter = p.quarter AND s.release = p.release
      AND s.indicator_id = p.indicator_id AND s.reporting_unit = p.reporting_unit
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
