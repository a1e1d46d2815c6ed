"""DfE's published figures, read exactly as DfE publishes them, match DfE's own figures; messy
values and years are read as meant; a newer file dropped in replaces the old."""

import os
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.benchmark.published import (
    exported_sha,
    kept_every_row,
    latest_published_file,
    prune_kept,
    published_frames,
    source_line,
)
from pipelines.collection.catalogue import load_authorities
from pipelines.warehouse.database import load_published_figures
from tests.conftest import PROJECT

DFE = PROJECT / "reference" / "dfe"
AUTHORITIES = load_authorities()


@pytest.fixture(scope="module")
def published():
    con = duckdb.connect()
    frames = published_frames(con, latest_published_file(DFE), AUTHORITIES)
    con.close()
    return frames


def _figure(frames, indicator, year, area, authority=None):
    f = frames["published_figures"]
    rows = f[(f["indicator_id"] == indicator) & (f["year"] == year) & (f["area"] == area)]
    if authority:
        rows = rows[rows["authority"] == authority]
    (value,) = rows["value"]
    return value


def test_published_figures_match_dfes_own(published):
    # DfE, 2025: looked-after rate per 10,000, England 67, London 48, Barnet 37
    assert _figure(published, "ADO-I08", "2025", "England") == 67
    assert _figure(published, "ADO-I08", "2025", "London") == 48
    assert _figure(published, "ADO-I08", "2025", "authority", "BAR") == 37
    # agency rate: England 13.0%, London 17.9% (published as 17.899999999999999), Barnet 21.1%
    assert round(_figure(published, "WF-I01", "2025", "England"), 1) == 13.0
    assert round(_figure(published, "WF-I01", "2025", "London"), 1) == 17.9
    assert round(_figure(published, "WF-I01", "2025", "authority", "BAR"), 1) == 21.1
    # a count over a count: UASC share of children looked after, England 6,540 of 81,770
    assert round(_figure(published, "ADO-I10", "2025", "England"), 2) == round(
        6540 / 81770 * 100, 2
    )
    # every row of the file is kept, with its text as published
    values = published["published_values"]
    assert len(values) == 641_070 and values["measure"].nunique() == 434
    assert (values.loc[values["value_text"] == "-", "value"].isna()).all()


def test_context_sets_each_authority_beside_england_london_its_half_and_its_dfe_neighbours(
    published,
):
    context = published["published_context"].set_index(["indicator_id", "authority"])
    barnet = context.loc[("WF-I01", "BAR")]
    assert barnet["year"] == "2025" and barnet["inner_outer"] == "Outer London"
    assert round(barnet["england_value"], 1) == 13.0 and round(barnet["london_value"], 1) == 17.9
    assert barnet["neighbours_reporting"] == 10  # its ten DfE neighbours, in London or not
    figures = published["published_figures"]
    latest = figures[(figures["indicator_id"] == "WF-I01") & (figures["year"] == "2025")]
    neighbours = ["320", "870", "310", "317", "315", "306", "209", "312", "309", "307"]
    mean = latest[latest["la_code"].isin(neighbours)]["value"].mean()
    assert barnet["neighbours_mean"] == pytest.approx(mean)
    assert "Department for Education" in source_line("2025", barnet["last_update"])


def _messy_file(folder: Path, name: str, rows: list[tuple]) -> Path:
    """A long table in DfE's layout (all text but the LA number), written as Parquet."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    con = duckdb.connect()
    con.execute(
        'CREATE TABLE t ("Short Desc" VARCHAR, "Data item" VARCHAR, "Years" VARCHAR, '
        '"LA and Regions" VARCHAR, "Values" VARCHAR, "LA Number" DOUBLE, "Region" VARCHAR)'
    )
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    con.close()
    return path


def test_values_and_years_written_every_way_dfe_writes_them_are_read_as_meant(tmp_path):
    shutil.copy(DFE / "lait_data_dictionary.csv", tmp_path / "lait_data_dictionary.csv")
    agency = "Work_Force_Agecy_Rate"
    rows = [
        (agency, "Agency rate", "2025", "England", "13", 970.0, "NA"),
        (agency, None, "2025", "Barnet", "21.100000000000001", 302.0, "Outer London"),
        (agency, None, "2025", "Brent", "-", 304.0, "Outer London"),
        (agency, None, "2025 (prov)", "England", "14", 970.0, "NA"),
        (agency, None, "2024", "England", "16.2", 970.0, "NA"),
        # a year published as fractions where the measure's other years are percentages
        (agency, None, "2019", "England", "1.58E-1", 970.0, "NA"),
        (agency, None, "2019", "Barnet", "2.0000000000000001E-1", 302.0, "Outer London"),
        ("LAC", "CLA rate", "2024-25 (OT)", "England", "67", 970.0, "NA"),
        ("LAC", None, "2015/16", "England", "60", 970.0, "NA"),
        ("LAC", None, "2014-16", "England", "61", 970.0, "NA"),
        ("LAC", None, "2016/17-18/19", "England", "62", 970.0, "NA"),
        ("LAC", None, "0", "England", "1", 970.0, "NA"),
    ]
    file = latest_published_file(_messy_file(tmp_path, "bds_long_0.parquet", rows).parent)
    con = duckdb.connect()
    frames = published_frames(con, file, AUTHORITIES)
    values = (
        frames["published_values"].set_index(["measure", "year_text", "area_name"]).sort_index()
    )
    assert values.loc[(agency, "2025", "Barnet"), "value"] == pytest.approx(21.1)
    assert (
        values.loc[(agency, "2025", "Brent"), "value"]
        != values.loc[(agency, "2025", "Brent"), "value"]
    )  # NaN
    assert values.loc[(agency, "2019", "England"), "value"] == pytest.approx(15.8)
    assert bool(values.loc[(agency, "2019", "England"), "rescaled"])
    assert not values.loc[(agency, "2024", "England"), "rescaled"]
    endings = {
        "2024-25 (OT)": (2025, "outturn", "2024-25"),
        "2015/16": (2016, None, "2015/16"),
        "2014-16": (2016, None, "2014-16"),
        "2016/17-18/19": (2019, None, "2016/17-18/19"),
        "2025 (prov)": (2025, "provisional", "2025"),
    }
    for text, (ending, note, year) in endings.items():  # noqa: B007 (used in the query)
        row = frames["published_values"].query("year_text == @text").iloc[0]
        assert (
            row["year_ending"],
            row["year_note"] if isinstance(row["year_note"], str) else None,
            row["year"],
        ) == (ending, note, year)
    assert frames["published_values"].query("year_text == '0'")["year_ending"].isna().all()
    # every row has its title, though DfE writes it on the first row of a measure only
    assert set(values.loc[agency, "title"]) == {"Agency rate"}
    # the final 2025 figure is used, not the provisional one of the same year
    england = frames["published_figures"].query("indicator_id == 'WF-I01' and area == 'England'")
    assert england.set_index("year_ending").loc[2025, "value"] == 13


def test_a_newer_file_dropped_in_replaces_the_figures_and_the_same_file_is_one_load(tmp_path):
    folder = tmp_path / "published"
    old = _messy_file(
        folder, "bds_long_0.parquet", [("LAC", "CLA", "2025", "England", "67", 970.0, "NA")]
    )
    os.utime(old, (1_700_000_000, 1_700_000_000))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_published_figures(con, latest_published_file(folder), AUTHORITIES)
    assert con.sql("SELECT value FROM published_figures").fetchall() == [(67.0,)]
    _messy_file(
        folder, "bds_long_1.parquet", [("LAC", "CLA", "2026", "England", "65", 970.0, "NA")]
    )
    newer = latest_published_file(folder)
    assert newer.path.name == "bds_long_1.parquet"
    load_published_figures(con, newer, AUTHORITIES)
    assert con.sql("SELECT year, value FROM published_figures").fetchall() == [("2026", 65.0)]
    assert con.sql("SELECT file_name FROM published_files").fetchall() == [("bds_long_1.parquet",)]


def test_the_publishable_workbook_sets_dfes_figures_beside_ours_with_their_year_and_source(
    latest_quarter_run,
):
    from openpyxl import load_workbook

    quarter = "2026-27-Q2"
    path = (
        latest_quarter_run
        / "reports"
        / "public"
        / quarter
        / f"LIIA workforce benchmarks {quarter} publishable.xlsx"
    )
    wb = load_workbook(path)
    ws = wb["England"]
    rows = list(ws[ws.tables["England"].ref])
    header = [c.value for c in rows[0]]
    assert header[1] == "Agency rate (%), 2025 (at 30 September)"
    values = {r[0].value: r[1].value for r in rows[1:]}
    assert [r[0].value for r in rows[1:5]] == ["England", "London", "Inner London", "Outer London"]
    assert len(rows) == 1 + 4 + 33
    assert values["England"] == pytest.approx(0.13) and values["London"] == pytest.approx(0.179)
    assert values["Barnet"] == pytest.approx(0.211)  # a percentage is held as a fraction
    text = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    assert "Source: Department for Education" in text and "Open Government Licence" in text
    contents = [c.value for c in wb["Contents"]["A"] if c.value]
    assert "England" in contents


def test_a_newer_published_file_dropped_in_asks_for_the_latest_quarter_again(tmp_path):
    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from pipelines.collection.quarters import parse_quarter
    from pipelines.defs.resources import LiiaPaths, ledger_path
    from pipelines.defs.sensors import published_figures_sensor
    from pipelines.receive.ledger import record_answered

    folder = tmp_path / "published"
    old = _messy_file(
        folder, "bds_long_0.parquet", [("LAC", "CLA", "2025", "England", "67", 970.0, "NA")]
    )
    os.utime(old, (1_700_000_000, 1_700_000_000))
    duck = DuckDBResource(database=str(tmp_path / "working" / "liia.duckdb"))
    resources = {"paths": LiiaPaths(published=str(folder)), "duckdb": duck}
    ledger_path(duck).parent.mkdir(parents=True)
    for key in ("2026-27-Q1", "2026-27-Q2"):
        record_answered(ledger_path(duck), parse_quarter(key), [key], "run")
    with dg.instance_for_test() as instance:

        def tick(cursor):
            with dg.build_sensor_context(
                instance=instance, cursor=cursor, resources=resources
            ) as context:
                return published_figures_sensor(context), context.cursor

        result, cursor = tick(None)  # the first look notes the file; the next run loads it
        assert isinstance(result, dg.SkipReason) and cursor
        result, same = tick(cursor)
        assert isinstance(result, dg.SkipReason) and same == cursor
        _messy_file(
            folder, "bds_long_1.parquet", [("LAC", "CLA", "2026", "England", "65", 970.0, "NA")]
        )
        request, newer = tick(cursor)
        assert isinstance(request, dg.RunRequest) and newer != cursor
        assert request.partition_key == "2026-27 Q2"  # the latest answered quarter, run again
        assert request.tags["liia/published_file"] == "bds_long_1.parquet"
        again, _ = tick(newer)
        assert isinstance(again, dg.SkipReason)


def test_every_published_row_is_exported_once_beside_the_warehouse(latest_quarter_run):
    from pipelines.benchmark.published import exported_sha

    path = latest_quarter_run / "exports" / "published" / "published_values.parquet"
    file = latest_published_file(DFE)
    assert exported_sha(path) == file.sha256
    ((rows, dashes, texts),) = duckdb.execute(
        "SELECT count(*), count(*) FILTER (WHERE value_text = '-'), "
        "count(*) FILTER (WHERE value_text = '17.899999999999999') FROM read_parquet(?)",
        [str(path)],
    ).fetchall()
    assert rows == 641_070 and dashes == 93_883 and texts > 0  # the text as DfE wrote it
    # two quarters were run, the file loaded once; the analysts' copy holds what it gives
    with duckdb.connect(
        str(latest_quarter_run / "published" / "liia.duckdb"), read_only=True
    ) as con:
        assert con.sql("SELECT count(*) FROM published_files").fetchall() == [(1,)]
        tables = {t for (t,) in con.sql("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "published_figures" in tables and "published_values" not in tables


def test_dfes_table_is_read_once_and_kept_for_the_next_new_warehouse(tmp_path):
    folder = tmp_path / "dfe"
    shutil.copytree(DFE, folder)
    file = latest_published_file(folder)
    cache = tmp_path / "cache"

    def loaded(name: str, authorities) -> dict:
        with duckdb.connect(str(tmp_path / f"{name}.duckdb")) as con:
            load_published_figures(con, file, authorities, cache)
            return {
                t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("published_figures", "published_context")
            }

    first = loaded("first", AUTHORITIES)
    kept = sorted(p for p in cache.iterdir() if not p.name.startswith("."))
    assert len(kept) == 2
    (read,) = [p for p in kept if p.name.startswith("read-")]
    (region,) = [p for p in kept if p != read]
    assert sorted(p.name for p in read.iterdir()) == ["complete", "published_read.parquet"]
    assert sorted(p.name for p in region.iterdir()) == [
        "complete",
        "staged_context.parquet",
        "staged_figures.parquet",
    ]
    # the rows kept are the export of every row, made once: sorted, with the file's SHA-256
    assert kept_every_row(file, cache) == read / "published_read.parquet"
    assert exported_sha(read / "published_read.parquet") == file.sha256
    # read back from what was kept, not from DfE's file: the same tables, nothing kept again
    stamps = {p: (p / "complete").stat().st_mtime_ns for p in kept}
    for p in kept:  # last used a year ago: used again now, so pruning leaves them
        os.utime(p, (time.time() - 365 * 86400,) * 2)
    file.path.rename(file.path.with_suffix(".moved"))
    assert loaded("second", AUTHORITIES) == first
    assert {p: (p / "complete").stat().st_mtime_ns for p in kept} == stamps
    assert all(p.stat().st_mtime > time.time() - 3600 for p in kept)
    assert len(list(cache.iterdir())) == 2
    # another input (here a region of four) is another key for our figures, never someone
    # else's; the rows read are DfE's file's alone and are not read again (the file is away)
    four = tmp_path / "four.csv"
    AUTHORITIES.table.head(4).to_csv(four, index=False)
    other = loaded("other", load_authorities(four))
    file.path.with_suffix(".moved").rename(file.path)
    assert len(list(cache.iterdir())) == 3
    assert (read / "complete").stat().st_mtime_ns == stamps[read]
    assert other["published_context"] != first["published_context"]
    # and the region's own figures are what a reading without a cache gives (one that cannot be
    # written: a file where its folder should be, which only costs the time of reading again)
    unwritable = tmp_path / "not a folder"
    unwritable.write_text("")
    with duckdb.connect() as con:
        load_published_figures(con, file, load_authorities(four), unwritable)
        fresh = con.execute("SELECT * FROM published_context ORDER BY ALL").fetchall()
    assert fresh == other["published_context"]


def _recount(measure: str, year: str, polarity: str) -> dict[int, tuple[int, int, str]]:
    """Every English authority's rank, of how many, and band in DfE's file as published, counted
    here from the file's own rows (LA numbers below 970; a value that is not a number is none)."""
    con = duckdb.connect()
    rows = con.execute(
        'SELECT "LA Number", TRY_CAST("Values" AS DOUBLE) FROM read_parquet(?) '
        'WHERE "Short Desc" = ? AND "Years" = ? AND "LA Number" < 970',
        [str(latest_published_file(DFE).path), measure, year],
    ).fetchall()
    values = {int(n): v for n, v in rows if v is not None}
    key = (lambda v: -v) if polarity == "high" else (lambda v: v)
    ordered = sorted(key(v) for v in values.values())
    out = {}
    for code, value in values.items():
        rank = ordered.index(key(value)) + 1
        quarter = min(3, 4 * (rank - 1) // len(values))
        band = "ABCD"[quarter] if polarity in ("high", "low") else f"Q{quarter + 1}"
        out[code] = (rank, len(values), band)
    return out


def test_england_ranks_and_bands_equal_a_recount_of_dfes_file(published):
    figures = published["published_figures"]
    # 2025 looked-after rate per 10,000 (DfE gives it no polarity: 1 the lowest): Barnet's 37
    # against England's 67 is the 11th lowest of the 151 authorities with a figure, in England's
    # lowest quarter
    barnet = figures[
        (figures["indicator_id"] == "ADO-I08")
        & (figures["year"] == "2025")
        & (figures["authority"] == "BAR")
    ].iloc[0]
    recount = _recount("LAC", "2025", "none")
    assert (barnet["england_rank"], barnet["england_ranked"], barnet["england_band"]) == recount[
        302
    ]
    assert recount[302] == (11, 151, "Q1")
    # every mapped measure, in its latest year, for every London authority
    from pipelines.benchmark.published import load_mappings

    checked = 0
    for m in load_mappings().itertuples():
        if isinstance(m.denominator_measure, str):
            continue  # a count over a count is not a figure DfE ranks
        mine = figures[(figures["indicator_id"] == m.indicator_id) & figures["authority"].notna()]
        year = mine["year"].max()
        recount = _recount(m.measure, year, m.dfe_polarity)
        for row in mine[mine["year"] == year].itertuples():
            expected = recount[int(row.la_code)]
            assert (row.england_rank, row.england_ranked, row.england_band) == expected, (
                m.indicator_id,
                row.authority,
            )
            checked += 1
    assert checked >= 8 * 30


def test_each_years_dfe_neighbours_mean_is_the_mean_of_its_ten_neighbours_in_dfes_file(published):
    """Barnet's ten DfE statistical neighbours (DfE's May 2025 file), their looked-after rates in
    DfE's 2024 and 2025 figures, averaged here from the files themselves."""
    from pipelines.benchmark.neighbours import read_dfe_neighbours

    groups = read_dfe_neighbours(DFE / "statistical_neighbours_may_2025.xlsx")
    barnet = [int(c) for c in groups.loc[groups["la_code"] == "302", "neighbour_la_code"]]
    assert len(barnet) == 10
    figures = published["published_figures"]
    for year in ("2024", "2025"):
        con = duckdb.connect()
        values = dict(
            con.execute(
                'SELECT "LA Number", TRY_CAST("Values" AS DOUBLE) FROM read_parquet(?) '
                'WHERE "Short Desc" = \'LAC\' AND "Years" = ?',
                [str(latest_published_file(DFE).path), year],
            ).fetchall()
        )
        mine = [values[n] for n in barnet if values.get(n) is not None]
        row = figures[
            (figures["indicator_id"] == "ADO-I08")
            & (figures["year"] == year)
            & (figures["authority"] == "BAR")
        ].iloc[0]
        assert row["dfe_neighbours_reporting"] == len(mine)
        assert row["dfe_neighbours_mean"] == pytest.approx(sum(mine) / len(mine))


def test_a_warehouse_that_read_dfes_file_with_other_mappings_reads_it_again(tmp_path):
    """A mapping added by an upgrade reaches a deployment whose DfE file has not changed: the
    file is read again at the next run because what it was read with changed."""
    import dagster as dg

    from pipelines.defs.assets.benchmarks import published_figures
    from pipelines.defs.resources import LiiaPaths, working_resource

    folder = tmp_path / "dfe"
    shutil.copytree(DFE, folder)
    database = tmp_path / "working" / "liia.duckdb"
    database.parent.mkdir()
    resources = {
        "paths": LiiaPaths(published=str(folder)),
        "duckdb": working_resource(database),
    }

    def loaded() -> str:
        result = dg.materialize([published_figures], resources=resources)
        (materialization,) = result.asset_materializations_for_node("published_figures")
        return materialization.metadata.get("loaded", dg.TextMetadataValue("read")).value

    assert loaded() == "read"
    assert loaded() == "already"
    # as an earlier version left it: the same file, read before SEN-I08 was mapped
    with duckdb.connect(str(database)) as con:
        con.execute("UPDATE published_files SET read_with = NULL")
        con.execute("DELETE FROM published_figures WHERE indicator_id = 'SEN-I08'")
    assert loaded() == "read"
    with duckdb.connect(str(database), read_only=True) as con:
        ((barnet,),) = con.execute(
            """SELECT value FROM published_figures WHERE indicator_id = 'SEN-I08'
            AND authority = 'BAR' AND year = '2024'"""
        ).fetchall()
        ((dfes,),) = con.execute(
            """SELECT CAST("Values" AS DOUBLE) FROM read_parquet(?) WHERE "LA Number" = 302
            AND "Short Desc" = 'SEN_PEC_AN_REVIEW_MEET_REC' AND "Years" = '2024'""",
            [str(latest_published_file(folder).path)],
        ).fetchall()
    assert barnet == dfes
    assert loaded() == "already"


def test_what_was_kept_and_left_unused_for_90_days_is_pruned_and_nothing_else(tmp_path):
    """A service that runs for years keeps only what its runs still read: kept readings unused
    for UNUSED_DAYS and folders left half made a day ago go; what was used lately, what is being
    made now and what is not stage_published's stay."""
    now = time.time()
    ages = {  # name: days since last used (or made)
        "read-" + "a" * 32: 100,  # an earlier DfE file's rows
        "b" * 32: 91,  # figures of an earlier mapping
        "c" * 32: 30,  # used a month ago
        "read-" + "d" * 32: 1,
        f".{'e' * 32}.4242.partial": 2,  # a process stopped half way two days ago
        f".{'f' * 32}.4343.partial": 0.1,  # another process making it now
        "analysts_copy_schema.21cb5f549f77c82f.duckdb": 400,  # not stage_published's
        "notes": 400,
    }
    for name, days in ages.items():
        path = tmp_path / name
        if name.endswith(".duckdb"):
            path.write_text("")
        else:
            path.mkdir()
            (path / "complete").touch()
        os.utime(path, (now - days * 86400,) * 2)
    removed = prune_kept(tmp_path, now)
    assert sorted(p.name for p in removed) == sorted(
        ["read-" + "a" * 32, "b" * 32, f".{'e' * 32}.4242.partial"]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        n for n in ages if tmp_path / n not in removed
    )
    assert prune_kept(tmp_path / "missing", now) == []
