"""The DuckDB warehouse: its tables with their dictionary, loading a quarter, trends, and publishing
the analysts' copy.

The pipeline writes only its own working database. At the end of a run it copies that database into
a new file in a storage format DuckDB 1.x reads and renames it over `warehouse/liia.duckdb`, so an
analyst's open connection never blocks a run and never sees a half-loaded quarter."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.benchmark.comparisons import (
    compare_quarter,
    indicator_scope,
    item_status,
    reporting_units,
)
from pipelines.benchmark.groups import load_group_sets
from pipelines.benchmark.published import (
    PublishedFile,
    drop_staged,
    export_published_values,
    exported_sha,
    kept_every_row,
    reading_key,
    stage_published,
)
from pipelines.collection.catalogue import THEME_TITLES, THEMES, Authorities, Catalogue
from pipelines.collection.quarters import Quarter, deadline, parse_quarter, quarter_range
from pipelines.validate.settlement import current_values
from pipelines.warehouse.model import (
    EDITIONS_VIEW_COLUMNS,
    EDITIONS_VIEW_SQL,
    GROUP_TRENDS_VIEW_COLUMNS,
    GROUP_TRENDS_VIEW_SQL,
    NOTES_VIEW_COLUMNS,
    NOTES_VIEW_SQL,
    RELEASE_STATE_SQL,
    UNIT_VALUES_VIEW_COLUMNS,
    UNIT_VALUES_VIEW_SQL,
    indicator_columns,
    item_frames,
    symbols_frame,
    theme_view_columns,
)
from pipelines.warehouse.tables import (
    CONTACTS,
    PUBLIC_MARKING,
    PUBLIC_ROWS,
    PUBLIC_TABLES,
    RESTRICTED_MARKING,
    TABLE_BY_NAME,
    TABLES,
)
from pipelines.warehouse.tables import (
    sql_text as _quote,
)

# Every table, view and column of the database, with its type, definition and comment.
CATALOGUE_SQL = """
SELECT 'table' AS kind, table_name AS name, NULL AS part, NULL AS detail, comment
FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'
UNION ALL
SELECT 'view', view_name, NULL, sql, comment
FROM duckdb_views() WHERE database_name = current_database() AND schema_name = 'main'
UNION ALL
SELECT 'column', table_name, column_name, data_type, comment
FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main'
"""


_EXPECTED: list[frozenset[tuple]] = []  # what create_schema makes, once known in this process


def _expected_catalogue() -> frozenset[tuple]:
    """What `create_schema` makes: read from the empty database kept for this version (see
    `expect_catalogue_of`), or made once in memory. A database that already has it all is left as
    it is, so each step of a run does not rebuild a hundred comments."""
    if not _EXPECTED:
        with duckdb.connect() as memory:
            _build_schema(memory)
            _EXPECTED.append(frozenset(memory.execute(CATALOGUE_SQL).fetchall()))
    return _EXPECTED[0]


def expect_catalogue_of(empty: Path, leave_out: str) -> None:
    """Take what `create_schema` makes from `empty`, a database it made from nothing in this
    version (less the table `leave_out`, which it does not make), if not known yet."""
    if not _EXPECTED:
        with duckdb.connect(str(empty), read_only=True) as con:
            found = con.execute(CATALOGUE_SQL).fetchall()
        _EXPECTED.append(frozenset(row for row in found if row[1] != leave_out))


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and columns (older warehouses gain new columns, keeping their rows,
    and a column whose type changed is converted, its text kept in its `_as_written` column), the
    views, and the comments that make the dictionary readable from DuckDB itself. Nothing is done
    when the database has every one of them as this version makes them."""
    expected = _expected_catalogue()
    names = {row[1] for row in expected}
    present = {row for row in con.execute(CATALOGUE_SQL).fetchall() if row[1] in names}
    if present != expected:
        _build_schema(con)
    con.execute("UPDATE return_values SET note = NULL WHERE trim(note) = ''")  # kept as '' before


def _build_schema(con: duckdb.DuckDBPyConnection) -> None:
    for table in TABLES:
        columns = ", ".join(f"{name} {kind}" for name, kind, _ in table.columns)
        con.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({columns})")
        existing = dict((r[0], r[1]) for r in con.execute(f"DESCRIBE {table.name}").fetchall())
        for name, kind, _ in table.columns:
            if name not in existing:
                con.execute(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")
        for name, kind, _ in table.columns:
            if existing.get(name) == "VARCHAR" and kind != "VARCHAR":  # text that became typed
                if f"{name}_as_written" in {c[0] for c in table.columns}:
                    con.execute(
                        f"UPDATE {table.name} SET {name}_as_written = {name}::VARCHAR "
                        f"WHERE {name}_as_written IS NULL"
                    )
                con.execute(
                    f"ALTER TABLE {table.name} ALTER COLUMN {name} SET DATA TYPE {kind} "
                    f"USING try_cast({name} AS {kind})"
                )
        _comment(con, table.name)
    create_views(con)


def _comment(con: duckdb.DuckDBPyConnection, name: str) -> None:
    for statement in comment_statements(name):
        con.execute(statement)


def comment_statements(name: str) -> Iterator[str]:
    table = TABLE_BY_NAME[name]
    yield f"COMMENT ON TABLE {table.name} IS {_quote(table.comment)}"
    for column, _, comment in table.columns:
        yield f"COMMENT ON COLUMN {table.name}.{column} IS {_quote(comment)}"


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """The views over the tables, each with its comments."""
    for statement in view_statements():
        con.execute(statement)


def view_statements() -> Iterator[str]:
    yield LATEST_QUARTER_VIEW_SQL
    yield (
        "COMMENT ON VIEW latest_quarter IS "
        + _quote("The latest released quarter: what 'latest' means everywhere.")
    )
    yield EDITIONS_VIEW_SQL
    yield (
        "COMMENT ON VIEW figures_by_edition IS "
        + _quote(
            f"{RESTRICTED_MARKING} Each figure's restricted value beside what the public edition "
            "shows of it, from the quarter's latest release."
        )
    )
    for name, comment in EDITIONS_VIEW_COLUMNS.items():
        yield f"COMMENT ON COLUMN figures_by_edition.{name} IS {_quote(comment)}"
    yield UNIT_VALUES_VIEW_SQL
    yield (
        "COMMENT ON VIEW unit_values IS "
        + _quote(
            "Each reporting unit's figures once: sum over this, not indicator_values, so that a "
            "joint workforce return (KUT+RUT) is counted once."
        )
    )
    for name, comment in UNIT_VALUES_VIEW_COLUMNS.items():
        yield f"COMMENT ON COLUMN unit_values.{name} IS {_quote(comment)}"
    yield MARKINGS_VIEW_SQL
    yield (
        "COMMENT ON VIEW markings IS "
        + _quote("Each table and view, and whether it is restricted or publishable.")
    )
    for name, comment in MARKINGS_VIEW_COLUMNS.items():
        yield f"COMMENT ON COLUMN markings.{name} IS {_quote(comment)}"
    yield "COMMENT ON COLUMN latest_quarter.quarter IS 'Quarter key, e.g. 2026-27-Q2'"
    yield "COMMENT ON COLUMN latest_quarter.label IS 'Quarter as people read it'"
    for name, sql, columns, comment in (
        (
            "notes",
            NOTES_VIEW_SQL,
            NOTES_VIEW_COLUMNS,
            "Every note an authority wrote beside a value, with its item: join indicator_items "
            "for the indicators that use the item.",
        ),
        (
            "group_trends",
            GROUP_TRENDS_VIEW_SQL,
            GROUP_TRENDS_VIEW_COLUMNS,
            "Each group figure against the previous quarter and a year earlier: as published "
            "(every unit reporting in each quarter) and like for like (only the units reporting "
            "in both).",
        ),
    ):
        yield sql
        yield f"COMMENT ON VIEW {name} IS {_quote(comment)}"
        for column, text in columns.items():
            yield f"COMMENT ON COLUMN {name}.{column} IS {_quote(text)}"
    for theme in THEMES:
        yield THEME_VIEW_SQL.format(theme=theme)
        yield (
            f"COMMENT ON VIEW benchmark_{theme} IS "
            + _quote(
                f"{THEME_TITLES[theme]}: benchmarks with names, ready to read, of the released "
                "quarters (benchmarks has every quarter)."
            )
        )
        for column, text in theme_view_columns().items():
            yield f"COMMENT ON COLUMN benchmark_{theme}.{column} IS {_quote(text)}"


# Only a released quarter is ever the latest: not the one under way with a few early returns.
LATEST_QUARTER_VIEW_SQL = """
CREATE OR REPLACE VIEW latest_quarter AS
SELECT q.quarter, q.label
FROM quarters AS q
WHERE q.quarter = (SELECT max(quarter) FROM releases)
"""

# Which tables may leave the members' circle: those the publishable exports hold whole (the public
# edition's own, and reference data public already).
_PUBLIC = ", ".join(_quote(name) for name in PUBLIC_TABLES if name not in PUBLIC_ROWS)
MARKINGS_VIEW_SQL = f"""
CREATE OR REPLACE VIEW markings AS
SELECT table_name AS name, 'table' AS kind,
       CASE WHEN table_name IN ({_PUBLIC}) THEN 'OFFICIAL' ELSE 'RESTRICTED' END AS marking,
       CASE WHEN table_name IN ({_PUBLIC}) THEN {_quote(PUBLIC_MARKING)}
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
WHERE i.theme = '{theme}' AND b.released
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
    """The authorities, quarters, indicators and comparator group tables, from the catalogue."""
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
            "deadline": [deadline(x) for x in quarters],
        }
    )
    items = catalogue.items.rename(columns={"ref": "indicator_id", "measure": "name"}).assign(
        kind="item"
    )
    derived = catalogue.indicators.rename(columns={"id": "indicator_id"}).assign(kind="indicator")
    indicators = indicator_columns(pd.concat([items, derived], ignore_index=True), catalogue)
    for column in ("decimals", "since_template"):
        indicators[column] = indicators[column].astype("Int64")
    groups = load_group_sets(authorities)
    members = groups.members.rename(columns={"group": "group_name"})
    return {
        "authorities": a,
        "quarters": q,
        "indicators": indicators,
        **item_frames(catalogue),
        "symbols": symbols_frame(),
        "group_sets": groups.sets,
        "group_members": members,
    }


LEFT_THE_REGION_SQL = """
SELECT s.authority, coalesce(any_value(a.name), s.authority) AS name,
       list(DISTINCT s.quarter ORDER BY s.quarter) AS quarters
FROM submissions AS s
LEFT JOIN authorities AS a USING (authority)
WHERE s.quarter <> $quarter AND NOT list_contains($codes, s.authority)
GROUP BY s.authority
ORDER BY s.authority
"""


class RegionChangeError(ValueError):
    """The region's list left out an authority whose returns the warehouse holds."""


def _keep_the_region_of_earlier_quarters(con, quarter: Quarter, authorities: Authorities) -> None:
    """A region may gain authorities, never lose one the warehouse holds returns of: its
    earlier quarters' rows would lose their authority (and the analysts' copy, whose keys are
    checked, could not be made)."""
    parameters = {"quarter": quarter.key, "codes": authorities.codes}
    gone = con.execute(LEFT_THE_REGION_SQL, parameters).fetchall()
    if gone:
        named = "; ".join(
            f"{code} ({name}), {', '.join(parse_quarter(q).label for q in qs)}"
            for code, name, qs in gone
        )
        raise RegionChangeError(
            "The region's list of authorities (LIIA_AUTHORITIES) drops authorities the warehouse "
            "holds returns of: put them back in the list (a region may add authorities, not drop "
            f"one), or give the new region a warehouse of its own. Dropped: {named}."
        )


def _replace(con, table: str, frame: pd.DataFrame, quarter: Quarter | None = None) -> None:
    columns = [name for name, _, _ in TABLE_BY_NAME[table].columns]
    if quarter is None:
        con.execute(f"DELETE FROM {table}")
    else:
        con.execute(f"DELETE FROM {table} WHERE quarter = ?", [quarter.key])
        frame = frame.assign(quarter=quarter.key)
    con.register("incoming", frame.reindex(columns=columns))
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
    con.unregister("incoming")


COMPARISON_TABLES = (
    "indicator_values",
    "group_aggregates",
    "benchmarks",
    "indicator_fractions",
    "group_benchmarks",
)


def _comparison_frames(con, quarter, submissions, values, authorities, catalogue) -> dict:
    """The quarter's indicator values, group aggregates and benchmarks; none for a quarter with no
    accepted return, which has nothing to compare (and so is never anyone's latest quarter)."""
    if not submissions["is_current"].any():
        return {
            name: pd.DataFrame(columns=[c for c, _, _ in TABLE_BY_NAME[name].columns])
            for name in COMPARISON_TABLES
        }
    items = item_status(quarter, values, submissions, authorities, catalogue)
    units = reporting_units(submissions, authorities)
    compared = compare_quarter(
        con, items, units, authorities, catalogue, load_group_sets(authorities)
    )
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
        "indicator_fractions": compared["fractions"],
        "group_benchmarks": compared["group_benchmarks"],
    }


def _blank_to_null(texts: pd.Series) -> pd.Series:
    return texts.where(texts.fillna("").astype(str).str.strip() != "")


def submission_rows(submissions: pd.DataFrame) -> pd.DataFrame:
    """The submissions as stored: the cover's date completed as a date where it is one (ISO, as
    the reader writes a date cell), and as written."""
    if "completed_on" not in submissions:
        return submissions
    written = submissions["completed_on"]
    parsed = pd.to_datetime(written, format="%Y-%m-%d", errors="coerce")
    return submissions.assign(completed_on=parsed.dt.date, completed_on_as_written=written)


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
        "submissions": submission_rows(submissions),
        CONTACTS: submissions,
        "validation_issues": issues.merge(
            submissions[["submission_id", "authority"]], on="submission_id", how="left"
        ),
        "return_values": values.assign(note=_blank_to_null(values["note"])),
        **_comparison_frames(con, quarter, submissions, values, authorities, catalogue),
    }
    con.execute("BEGIN TRANSACTION")
    try:
        create_schema(con)
        _keep_the_region_of_earlier_quarters(con, quarter, authorities)
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
        con.execute(RELEASE_STATE_SQL)
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


def export_every_published_row(
    con: duckdb.DuckDBPyConnection,
    file: PublishedFile,
    authorities: Authorities,
    live: Path,
    staged: Path,
    cache: Path | None = None,
) -> bool:
    """Every row of `file`, read, as Parquet at `staged` (to be put in place at `live`), unless
    `live` already holds them: whether it wrote them."""
    if exported_sha(live) == file.sha256:
        return False
    kept = kept_every_row(file, cache) if cache is not None else None
    if kept is not None:  # the very file, made when DfE's table was first read
        staged.parent.mkdir(parents=True, exist_ok=True)
        partial = staged.with_name(f".{staged.name}.partial")
        shutil.copyfile(kept, partial)
        partial.replace(staged)
        return True
    try:
        stage_published(con, file, authorities, cache)
        export_published_values(con, file, staged)
    finally:
        drop_staged(con)
    return True


def load_published_figures(
    con: duckdb.DuckDBPyConnection,
    file: PublishedFile,
    authorities: Authorities,
    cache: Path | None = None,
) -> dict[str, int]:
    """Replace the published tables with `file`'s, in one transaction, in DuckDB throughout.
    Row counts (published_values: the rows read)."""
    try:
        stage_published(con, file, authorities, cache)
        ((rows, measures),) = con.execute(
            "SELECT count(*), count(DISTINCT measure) FROM published_read"
        ).fetchall()
        con.execute("BEGIN TRANSACTION")
        try:
            create_schema(con)
            counts = {"published_values": rows}
            for table, staged in (
                ("published_figures", "staged_figures"),
                ("published_context", "staged_context"),
            ):
                columns = ", ".join(name for name, _, _ in TABLE_BY_NAME[table].columns)
                con.execute(f"DELETE FROM {table}")
                con.execute(f"INSERT INTO {table} SELECT {columns} FROM {staged}")
                counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            record = pd.DataFrame(
                [
                    {
                        "file_name": file.path.name,
                        "sha256": file.sha256,
                        "loaded_at": pd.Timestamp.now(tz="UTC"),
                        "rows": rows,
                        "measures": measures,
                        "read_with": reading_key(file, authorities),
                    }
                ]
            )
            _replace(con, "published_files", record)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    finally:
        drop_staged(con)
    return counts
