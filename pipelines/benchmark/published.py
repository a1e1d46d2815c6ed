"""DfE's published figures (LAIT), loaded exactly as published, and set beside our indicators.

The long table is read as DfE publishes it: values as text (`-` for not available, float noise,
scientific notation), years written four ways, areas by DfE's LA number. Each row keeps its text;
its value, year and area are read from it. `schemas/catalogue/published_measures.csv` maps a measure
to an indicator where the definitions correspond and says how they differ. These are annual figures
at a census date: context, labelled with their year and source, never mixed into a quarter.

Dropping a newer file into the published folder (LIIA_PUBLISHED) replaces the figures at the next
run: the newest Parquet file there is the one loaded."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.benchmark.neighbours import read_dfe_neighbours
from pipelines.collection.catalogue import CATALOGUE_DIR, Authorities

SOURCE = "Department for Education, Local Authority Interactive Tool (LAIT)"
LICENCE = "Crown copyright, Open Government Licence v3.0"
ENGLAND, LONDON, INNER, OUTER = "970", "986", "987", "988"  # DfE's LA numbers for the areas
DICTIONARY = "lait_data_dictionary.csv"
NEIGHBOURS = "statistical_neighbours_may_2025.xlsx"


@dataclass(frozen=True)
class PublishedFile:
    path: Path
    sha256: str


def latest_published_file(folder: Path) -> PublishedFile | None:
    """The newest Parquet file in `folder` (by modification time, then name), or None."""
    files = sorted(folder.glob("*.parquet"), key=lambda p: (p.stat().st_mtime, p.name))
    if not files:
        return None
    digest = hashlib.sha256(files[-1].read_bytes()).hexdigest()
    return PublishedFile(files[-1], digest)


# Years as published: `2025`, `2024-25`, `2015/16`, `2014-16` (three years), `2016/17-18/19`,
# each perhaps with a note: `(OT)` outturn, `(prov)` provisional, `(Rev)` revised, `(Final)`.
# A year is known by the year it ends in; `0` (one measure's) is no year.
YEAR_LABEL_SQL = r"trim(regexp_replace(year_text, '\s*\(.*\)\s*$', ''))"
YEAR_NOTE_SQL = r"""
CASE lower(regexp_extract(year_text, '\((.*)\)', 1))
     WHEN 'ot' THEN 'outturn' WHEN 'prov' THEN 'provisional' WHEN 'rev' THEN 'revised'
     WHEN 'final' THEN 'final' WHEN '' THEN NULL
     ELSE lower(regexp_extract(year_text, '\((.*)\)', 1)) END
"""
YEAR_ENDING_SQL = r"""
CASE WHEN NOT regexp_matches(year, '^\d{4}') THEN NULL
     WHEN regexp_matches(year, '^\d{4}$') THEN CAST(year AS INTEGER)
     ELSE CAST(substr(year, 1, 2) || regexp_extract(year, '(\d{2})$', 1) AS INTEGER) END
"""

# Every row as published, with what is read from it. A percentage measure whose values for a year
# are all fractions (at most 1) where its other years are 0-100 is scaled by 100, and says so.
PUBLISHED_VALUES_SQL = f"""
WITH raw AS (
    SELECT "Short Desc" AS measure,
           "Years" AS year_text,
           "LA and Regions" AS area_name,
           CAST(CAST("LA Number" AS INTEGER) AS VARCHAR) AS la_code,
           "Region" AS region,
           "Values" AS value_text,
           try_cast(trim("Values") AS DOUBLE) AS number
    FROM read_parquet($path)
),
labelled AS (
    SELECT *, {YEAR_LABEL_SQL} AS year, {YEAR_NOTE_SQL} AS year_note FROM raw
),
read AS (
    SELECT *, {YEAR_ENDING_SQL} AS year_ending FROM labelled
),
titles AS (  -- DfE writes a measure's title on its first row only
    SELECT "Short Desc" AS measure, max("Data item") AS title
    FROM read_parquet($path) GROUP BY ALL
),
scales AS (
    SELECT r.measure, r.year_text,
           bool_and(abs(r.number) <= 1) AND any_value(d.percentage)
               AND any_value(m.measure_median) > 1 AS fractions
    FROM read AS r
    JOIN (SELECT measure, median(abs(number)) AS measure_median FROM read GROUP BY measure) AS m
      USING (measure)
    LEFT JOIN published_dictionary AS d USING (measure)
    WHERE r.number IS NOT NULL
    GROUP BY r.measure, r.year_text
)
SELECT r.measure, t.title, r.year_text, r.year, r.year_ending, r.year_note,
       r.la_code, r.area_name, r.region,
       CASE r.la_code WHEN '{ENGLAND}' THEN 'England'
                      WHEN '{LONDON}' THEN 'London'
                      WHEN '{INNER}' THEN 'Inner London'
                      WHEN '{OUTER}' THEN 'Outer London'
                      ELSE CASE WHEN CAST(r.la_code AS INTEGER) >= 980 THEN 'region'
                                ELSE 'authority' END END AS area,
       r.value_text,
       r.number * CASE WHEN coalesce(s.fractions, false) THEN 100 ELSE 1 END AS value,
       coalesce(s.fractions, false) AS rescaled
FROM read AS r
LEFT JOIN titles AS t USING (measure)
LEFT JOIN scales AS s USING (measure, year_text)
"""

# Our indicators in DfE's figures, where the definitions correspond: a measure, or one measure
# over another (a count over a count), for every area and year both are published. Each
# authority's England rank and quartile band are taken among every English authority with a figure
# that year (before the rows kept are narrowed to London and its DfE neighbours), by DfE's own
# polarity (published_measures.dfe_polarity, copied from DfE's dictionary): rank 1 the best, bands
# A (England's best quarter) to D; where DfE gives no polarity, rank 1 the lowest and Q1 (lowest
# quarter) to Q4. Ties share a rank, and a band is the quarter of England its rank falls in.
PUBLISHED_FIGURES_SQL = """
WITH figures AS (
    SELECT m.indicator_id, m.measure, m.denominator_measure, p.year, p.year_ending, p.year_note,
           p.area, p.la_code, p.area_name, p.region, a.liia_code AS authority,
           CASE WHEN m.denominator_measure IS NULL THEN p.value
                ELSE p.value / NULLIF(d.value, 0) * m.multiplier END AS value,
           m.period, m.difference, m.dfe_polarity
    FROM published_measures AS m
    JOIN published_read AS p ON p.measure = m.measure
    LEFT JOIN published_read AS d
           ON d.measure = m.denominator_measure AND d.la_code = p.la_code AND d.year = p.year
          AND d.year_text = p.year_text
    LEFT JOIN region_authorities AS a ON a.dfe_la_code = p.la_code
    WHERE p.value IS NOT NULL AND p.year_ending IS NOT NULL
    -- one figure per area and year: a final figure before a provisional one of the same year
    QUALIFY row_number() OVER (
        PARTITION BY m.indicator_id, p.la_code, p.year_ending
        ORDER BY p.year_note = 'provisional' NULLS FIRST, p.year_text DESC) = 1
),
england AS (
    SELECT *,
           rank() OVER (
               PARTITION BY indicator_id, year_ending
               ORDER BY CASE WHEN dfe_polarity = 'high' THEN -value ELSE value END
           ) AS england_rank,
           count(*) OVER (PARTITION BY indicator_id, year_ending) AS england_ranked
    FROM figures
    WHERE area = 'authority' AND value IS NOT NULL
),
neighbours AS (
    -- a London authority's ten DfE statistical neighbours (all of England), each year
    SELECT n.la_code, f.indicator_id, f.year_ending,
           avg(f.value ORDER BY n.neighbour_la_code) AS dfe_neighbours_mean,
           count(f.value) AS dfe_neighbours_reporting
    FROM dfe_neighbours_all AS n
    JOIN figures AS f ON f.la_code = n.neighbour_la_code AND f.area = 'authority'
    GROUP BY ALL
)
SELECT f.indicator_id, f.measure, f.denominator_measure, f.year, f.year_ending, f.year_note,
       f.area, f.la_code, f.area_name, f.region, f.authority, f.value, f.period, f.difference,
       CASE WHEN f.authority IS NOT NULL THEN n.dfe_neighbours_mean END AS dfe_neighbours_mean,
       CASE WHEN f.authority IS NOT NULL THEN n.dfe_neighbours_reporting END
           AS dfe_neighbours_reporting,
       e.england_rank, e.england_ranked,
       CASE WHEN e.england_rank IS NULL THEN NULL
            WHEN f.dfe_polarity IN ('high', 'low')
            THEN ['A', 'B', 'C', 'D'][1 + least(3, (4 * (e.england_rank - 1)) // e.england_ranked)]
            ELSE 'Q' || (1 + least(3, (4 * (e.england_rank - 1)) // e.england_ranked))
       END AS england_band
FROM figures AS f
LEFT JOIN england AS e USING (indicator_id, la_code, year_ending)
LEFT JOIN neighbours AS n USING (indicator_id, la_code, year_ending)
WHERE f.area <> 'authority' OR f.authority IS NOT NULL
   OR f.la_code IN (SELECT neighbour_la_code FROM dfe_neighbours_all)
"""

# For each indicator and London authority, its latest published year: England, London, its
# Inner/Outer London (DfE's definition), its own figure and the mean of its ten DfE neighbours'
# (all of England: outside London they can be compared only on these published figures).
PUBLISHED_CONTEXT_SQL = """
WITH latest AS (
    SELECT indicator_id, max(year_ending) AS year_ending
    FROM staged_figures WHERE area = 'England' GROUP BY indicator_id
),
figures AS (
    SELECT f.* FROM staged_figures AS f JOIN latest USING (indicator_id, year_ending)
),
neighbours AS (
    SELECT n.la_code, f.indicator_id,
           avg(f.value ORDER BY n.neighbour_la_code) AS neighbours_mean,
           count(f.value) AS neighbours_reporting
    FROM dfe_neighbours_all AS n
    JOIN figures AS f ON f.la_code = n.neighbour_la_code
    GROUP BY ALL
)
SELECT own.indicator_id, own.authority, own.year, own.year_ending,
       own.value AS own_value,
       england.value AS england_value,
       london.value AS london_value,
       own.region AS inner_outer,
       inner_outer.value AS inner_outer_value,
       n.neighbours_mean, n.neighbours_reporting
FROM figures AS own
LEFT JOIN figures AS england ON england.indicator_id = own.indicator_id AND england.area = 'England'
LEFT JOIN figures AS london ON london.indicator_id = own.indicator_id AND london.area = 'London'
LEFT JOIN figures AS inner_outer
       ON inner_outer.indicator_id = own.indicator_id AND inner_outer.area = own.region
LEFT JOIN neighbours AS n ON n.la_code = own.la_code AND n.indicator_id = own.indicator_id
WHERE own.authority IS NOT NULL
ORDER BY own.indicator_id, own.authority
"""


def excel_date(serial: str | float | None) -> date | None:
    """The dictionary's dates are Excel serial day numbers (45778 is 3 May 2025)."""
    try:
        return date(1899, 12, 30) + timedelta(days=int(float(serial)))
    except (TypeError, ValueError):
        return None


def read_dictionary(folder: Path) -> pd.DataFrame:
    """LAIT's data dictionary, one row per measure: title, polarity, unit, last and next update."""
    path = folder / DICTIONARY
    if not path.exists():
        return pd.DataFrame(
            {
                "measure": pd.Series(dtype=str),
                "title": pd.Series(dtype=str),
                "polarity": pd.Series(dtype=str),
                "unit": pd.Series(dtype=str),
                "last_update": pd.Series(dtype=object),
                "next_update": pd.Series(dtype=object),
                "percentage": pd.Series(dtype=bool),
            }
        )
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    out = pd.DataFrame(
        {
            "measure": table["Measure_short"],
            "title": table["Measure"],
            "polarity": table["Polarity"],
            "unit": table["y_axis_name"],
            "last_update": table["Last Update"].map(excel_date),
            "next_update": table["Next Update"].map(excel_date),
        }
    ).drop_duplicates("measure")
    out["percentage"] = out["unit"].str.startswith("%")
    return out


def load_mappings(directory: Path = CATALOGUE_DIR) -> pd.DataFrame:
    table = pd.read_csv(directory / "published_measures.csv", dtype=str, keep_default_na=False)
    table["denominator_measure"] = table["denominator_measure"].replace("", None)
    table["multiplier"] = pd.to_numeric(table["multiplier"].replace("", "1"))
    return table


STAGED = ("published_read", "staged_figures", "staged_context")
_EVERY_ROW = "published_read.parquet"  # every row read, as kept in the cache
_INPUTS = ("published_dictionary", "published_measures", "region_authorities", "dfe_neighbours_all")


def _inputs(file: PublishedFile, authorities: Authorities) -> dict[str, pd.DataFrame]:
    """What DfE's table is read with: its dictionary and neighbours, our mappings, the region."""
    folder = file.path.parent
    neighbours_path = folder / NEIGHBOURS
    neighbours = (
        read_dfe_neighbours(neighbours_path)
        if neighbours_path.exists()
        else pd.DataFrame(columns=["la_code", "neighbour_la_code", "position", "closeness"])
    )
    frames = (read_dictionary(folder), load_mappings(), authorities.table, neighbours)
    return dict(zip(_INPUTS, frames, strict=True))


def kept_every_row(file: PublishedFile, cache: Path) -> Path | None:
    """Every row of `file` as kept by an earlier staging (exactly the export of every row), or
    None. (The rows read do not depend on the region or on our mappings.)"""
    kept = cache / _reading_key(file, read_dictionary(file.path.parent))
    return kept / _EVERY_ROW if _used(kept) else None


def _reading_key(file: PublishedFile, dictionary: pd.DataFrame) -> str:
    """What every row read is made from: DfE's file, its dictionary and the SQL that reads them,
    nothing of ours. (A folder of its own: every region, every mapping reads the same rows.)"""
    key = hashlib.sha256(file.sha256.encode() + PUBLISHED_VALUES_SQL.encode())
    key.update(pd.util.hash_pandas_object(dictionary.astype(str), index=False).to_numpy().tobytes())
    return f"read-{key.hexdigest()[:32]}"


def _staging_key(file: PublishedFile, frames: dict[str, pd.DataFrame]) -> str:
    """What the staged tables are made from: DfE's file, the other inputs' contents and the SQL
    that reads them. Any change to one of them is another key."""
    key = hashlib.sha256(file.sha256.encode())
    for sql in (PUBLISHED_VALUES_SQL, PUBLISHED_FIGURES_SQL, PUBLISHED_CONTEXT_SQL):
        key.update(sql.encode())
    for name, frame in frames.items():
        key.update(name.encode() + repr(list(frame.columns)).encode())
        key.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
    return key.hexdigest()[:32]


def stage_published(
    con: duckdb.DuckDBPyConnection,
    file: PublishedFile,
    authorities: Authorities,
    cache: Path | None = None,
) -> None:
    """The published table read, our indicators in it and each authority's context, computed in
    `con` as temporary tables (STAGED), never through pandas: the file has 641,070 rows.

    With a `cache` folder, what was staged is kept there as Parquet and read back when the same
    inputs come again (a new warehouse, the exports' copy of every row): every row read under a
    key of DfE's file alone, read once whatever the region; our indicators and the region's
    context under a key of everything they are made from."""
    frames = _inputs(file, authorities)
    read = cache / _reading_key(file, frames["published_dictionary"]) if cache else None
    kept = cache / _staging_key(file, frames) if cache else None
    rows_kept = read is not None and _used(read)
    if rows_kept:
        # Every row stays on disk, read as it is needed; the two small tables come into memory.
        every_row = str(read / _EVERY_ROW).replace("'", "''")
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW published_read AS FROM read_parquet('{every_row}')"
        )
        if _used(kept):
            for name in STAGED[1:]:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {name} AS FROM read_parquet(?)",
                    [str(kept / f"{name}.parquet")],
                )
            return
    for name, frame in frames.items():
        con.register(f"_{name}", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _{name}")
        con.unregister(f"_{name}")
    if not rows_kept:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE published_read AS {PUBLISHED_VALUES_SQL}",
            {"path": str(file.path)},
        )
        if read is not None:
            _keep(read, lambda partial: export_published_values(con, file, partial / _EVERY_ROW))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE staged_figures AS
        SELECT f.*, CAST(d.last_update AS DATE) AS last_update
        FROM ({PUBLISHED_FIGURES_SQL}) AS f
        LEFT JOIN published_dictionary AS d USING (measure)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE staged_context AS
        SELECT c.*, m.measure, m.period, m.difference, m.last_update
        FROM ({PUBLISHED_CONTEXT_SQL}) AS c
        JOIN (SELECT DISTINCT indicator_id, measure, period, difference, last_update
              FROM staged_figures) AS m USING (indicator_id)"""
    )
    if kept is not None:
        _keep(kept, lambda partial: _copy_small_tables(con, partial))


def _copy_small_tables(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    for name in STAGED[1:]:
        quoted = str(folder / f"{name}.parquet").replace("'", "''")
        con.execute(f"COPY {name} TO '{quoted}' (FORMAT parquet)")


def _keep(kept: Path, write) -> None:
    """What `write` puts in a folder, kept at `kept` whole or not at all: made in a folder of its
    own and renamed into place, so a process that stops half way leaves nothing half-kept."""
    partial = kept.with_name(f".{kept.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir(parents=True)
        write(partial)
        (partial / "complete").touch()
        partial.rename(kept)
    except OSError:
        pass  # kept by another process meanwhile, or a cache that cannot be written: not kept
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    prune_kept(kept.parent)


# What stage_published keeps: every row read ("read-" and a key) and a region's figures (a key),
# each a folder whose own time is when it was last used; and folders a process left half made.
_KEPT = re.compile(r"(read-)?[0-9a-f]{32}")
_HALF_MADE = re.compile(r"\.(read-)?[0-9a-f]{32}\.\d+\.partial")
UNUSED_DAYS = 90  # DfE's table is updated a few times a year; a new file is kept at the next run


def _used(kept: Path) -> bool:
    """Whether `kept` is whole; if so it is marked used now, so that pruning leaves it."""
    if not (kept / "complete").exists():
        return False
    try:
        os.utime(kept)
    except OSError:
        pass  # a cache that cannot be written is read as it is
    return True


def prune_kept(cache: Path, now: float | None = None) -> list[Path]:
    """Remove what was kept and has not been used for UNUSED_DAYS (earlier DfE files, earlier
    mappings or regions, another version's keys) and folders left half made a day ago: a
    service that runs for years keeps only what its runs still read. What was removed."""
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(cache.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if _KEPT.fullmatch(entry.name):
            oldest = now - UNUSED_DAYS * 86400
        elif _HALF_MADE.fullmatch(entry.name):
            oldest = now - 86400
        else:
            continue
        try:
            if entry.is_dir() and entry.stat().st_mtime < oldest:
                shutil.rmtree(entry)
                removed.append(entry)
        except OSError:
            pass  # removed by another process meanwhile, or not ours to remove
    return removed


def drop_staged(con: duckdb.DuckDBPyConnection) -> None:
    staged = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = 'temp'"
    ).fetchall()
    for name, kind in staged:
        if name in (*_INPUTS, *STAGED):
            con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} temp.{name}")


def export_published_values(con: duckdb.DuckDBPyConnection, file: PublishedFile, path: Path):
    """Every row read of the staged `file`, as Parquet at `path` (written beside it, then
    renamed), its SHA-256 in the file's metadata: DfE's whole table for analysts, kept out of the
    warehouse copy made at every run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    quoted = str(partial).replace("'", "''")
    kv = f"source: '{SOURCE}', licence: '{LICENCE}', sha256: '{file.sha256}'"
    con.execute(
        "COPY (SELECT * FROM published_read ORDER BY measure, year_text, la_code) "
        f"TO '{quoted}' (FORMAT parquet, KV_METADATA {{{kv}}})"
    )
    partial.replace(path)
    return path


def exported_sha(path: Path) -> str | None:
    """The SHA-256 of the published file an export of every row was made from, or None."""
    if not path.is_file():
        return None
    rows = duckdb.execute(
        "SELECT decode(value) FROM parquet_kv_metadata(?) WHERE decode(key) = 'sha256'",
        [str(path)],
    ).fetchall()
    return rows[0][0] if rows else None


def published_frames(
    con: duckdb.DuckDBPyConnection, file: PublishedFile, authorities: Authorities
) -> dict[str, pd.DataFrame]:
    """What stage_published computes, as frames: published_values, published_figures and
    published_context."""
    try:
        stage_published(con, file, authorities)
        return {
            table: con.sql(f"SELECT * FROM {staged}").df()
            for table, staged in zip(
                ("published_values", "published_figures", "published_context"), STAGED, strict=True
            )
        }
    finally:
        drop_staged(con)


def source_line(year: str, last_update: date | None) -> str:
    """How a published figure is credited wherever it is shown."""
    when = f", published {last_update:%-d %B %Y}" if isinstance(last_update, date) else ""
    return f"Source: {SOURCE}, {year}{when}. {LICENCE}."


def loaded_file(con: duckdb.DuckDBPyConnection, column: str = "sha256") -> str | None:
    """The SHA-256 of the published file the warehouse holds (or, with column="read_with", the
    reading key it was read with), or None."""
    # fetchall: DuckDB 2 holds the connection until a result is read to its end
    ((exists,),) = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'published_files'"
    ).fetchall()
    if not exists:
        return None
    rows = con.execute(
        f"SELECT {column} FROM published_files ORDER BY loaded_at DESC LIMIT 1"
    ).fetchall()
    return rows[0][0] if rows else None


def reading_key(file: PublishedFile, authorities: Authorities) -> str:
    """What DfE's file is read with: its bytes, our mappings to DfE's measures, DfE's dictionary
    and neighbours, the region's authorities and the queries. A warehouse that read the same file
    with another key (a mapping added in an upgrade, say) reads it again."""
    return _staging_key(file, _inputs(file, authorities))
