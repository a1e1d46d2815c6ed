"""The comparison measures on a hand-made region of four authorities over two quarters, each figure
worked out by hand below; and the warehouse's guarantees (reload, dictionary)."""

from datetime import date
from math import isnan

import duckdb
import pandas as pd
import pytest

from pipelines.collection.catalogue import load_authorities, load_catalogue
from pipelines.collection.quarters import parse_quarter
from pipelines.warehouse.database import create_schema, load_quarter
from pipelines.write.exports import PUBLIC_ROWS, PUBLIC_TABLES

ITEMS = """ref,theme,measure,unit,period,since_template,can_be_negative,rule,typical_60k
S01,adolescents,Children seen,count,quarter,1,no,,50
S02,adolescents,Children seen within 72 hours,count,quarter,1,no,<= S01,40
N01,send,New plans,count,quarter,2,no,,20
W01,workforce,Permanent social workers,fte,snapshot,1,no,,100
W02,workforce,Agency social workers,fte,snapshot,1,no,,15
"""
INDICATORS = """id,theme,name,formula,unit,polarity,decimals,reliability_denominator
A-I1,adolescents,Seen within 72 hours (%),S02 / S01 * 100,percent,higher_is_better,1,S01
A-I2,adolescents,Children seen per 10k,S01 / population_0_17 * 10000,rate_10k,lower_is_better,1,
N-I1,send,New plans per 10k,N01 / population_0_17 * 10000,rate_10k,neutral,1,
W-I1,workforce,Agency rate (%),W02 / (W01 + W02) * 100,percent,lower_is_better,1,
"""
VERSIONS = """version,first_quarter,note
1,2024-25-Q1,first
2,2025-26-Q1,adds N01
"""
UNITS = """unit,label,decimals,note
count,Number,0,
fte,FTE,2,
"""
AUTHORITIES = """ons_code,dfe_la_code,liia_code,name,inner_outer_ons,inner_outer_statutory,sub_region,population_0_17,aliases
E1,1,AAA,Aville,Inner,Inner,North,10000,
E2,2,BBB,Beeton,Inner,Outer,North,20000,
E3,3,KUT,Kingston upon Thames,Outer,Outer,South,30000,
E4,4,RUT,Richmond upon Thames,Outer,Outer,South,40000,
"""

# What each authority sent: a number, "x" (not available), "error" (value rejected). Absent: not
# in the return (N01 before template 2). BBB sent nothing for 2024-25 Q4.
RETURNS = {
    "2024-25-Q4": {
        "AAA": {"S01": 50, "S02": 30, "W01": 16, "W02": 4},
        "KUT": {"S01": 20, "S02": 10, "W01": 20, "W02": 5},
        "RUT": {"S01": 0, "S02": 0, "W01": 25, "W02": 0},
    },
    "2025-26-Q1": {
        "AAA": {"S01": 40, "S02": 30, "N01": 20, "W01": 18, "W02": 2},
        "BBB": {"S01": 100, "S02": 75, "N01": "x", "W01": 30, "W02": 10},
        # Kingston and Richmond now send one joint workforce return: each the pair's figures
        "KUT": {"S01": 8, "S02": 4, "N01": 30, "W01": 45, "W02": 5},
        "RUT": {"S01": 60, "S02": "error", "N01": 12, "W01": 45, "W02": 5},
    },
}
JOINT = {("2025-26-Q1", "KUT"): "RUT", ("2025-26-Q1", "RUT"): "KUT"}


def _frames(quarter_key: str):
    subs, values = [], []
    for authority, figures in RETURNS[quarter_key].items():
        sid = f"{quarter_key}-{authority}"
        has_error = "error" in figures.values()
        subs.append(
            {
                "submission_id": sid,
                "authority": authority,
                "file_name": f"{authority}.xlsx",
                "template_version": 2 if quarter_key >= "2025-26" else 1,
                "joint_workforce_with": JOINT.get((quarter_key, authority)),
                "status": "accepted with value errors" if has_error else "accepted",
                "is_current": True,
            }
        )
        for row, (ref, figure) in enumerate(figures.items(), start=6):
            status = figure if figure in ("x", "error") else "ok"
            values.append(
                {
                    "submission_id": sid,
                    "authority": authority,
                    "sheet": "Sheet",
                    "ref": ref,
                    "cell": f"D{row}",
                    "raw": str(figure),
                    "note": "reason" if figure == "x" else None,
                    "value": float(figure) if status == "ok" else None,
                    "status": status,
                    "is_current": True,
                }
            )
    return pd.DataFrame(subs), pd.DataFrame(values), pd.DataFrame(columns=["submission_id"])


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    folder = tmp_path_factory.mktemp("catalogue")
    for name, text in [
        ("items.csv", ITEMS),
        ("indicators.csv", INDICATORS),
        ("template_versions.csv", VERSIONS),
        ("authorities.csv", AUTHORITIES),
        ("units.csv", UNITS),
    ]:
        (folder / name).write_text(text)
    return load_catalogue(folder), load_authorities(folder / "authorities.csv"), folder


def _load(con, region, quarter_key):
    catalogue, authorities, _ = region
    return load_quarter(
        con, parse_quarter(quarter_key), *_frames(quarter_key), authorities, catalogue
    )


@pytest.fixture(scope="module")
def warehouse(region, tmp_path_factory):
    path = tmp_path_factory.mktemp("wh") / "fixture.duckdb"
    con = duckdb.connect(str(path))
    for q in RETURNS:
        _load(con, region, q)
    yield con
    con.close()


def _rows(con, indicator, quarter="2025-26-Q1"):
    frame = con.execute(
        "SELECT * FROM benchmarks WHERE quarter = ? AND indicator_id = ? ORDER BY authority",
        [quarter, indicator],
    ).df()
    return {r["authority"]: r for r in frame.to_dict("records")}


def _is_null(x):
    return x is None or x is pd.NA or (isinstance(x, float) and isnan(x))


def test_a_ratio_with_a_tie_a_low_reliability_value_and_a_rejected_value(warehouse):
    rows = _rows(warehouse, "A-I1")  # S02 / S01 * 100, higher is better, u when S01 < 10
    assert [rows[a]["value"] for a in ("AAA", "BBB", "KUT")] == [75.0, 75.0, 50.0]
    # AAA and BBB tie for first; KUT's 4 of 8 is shown but marked u and not ranked
    assert (rows["AAA"]["rank"], rows["BBB"]["rank"]) == (1, 1)
    assert rows["KUT"]["low_reliability"] and rows["KUT"]["symbol"] == "u"
    assert _is_null(rows["KUT"]["rank"]) and _is_null(rows["KUT"]["quartile_band"])
    # RUT's S02 was rejected: no value, x, and left out of London's sums
    assert rows["RUT"]["status"] == "value rejected" and rows["RUT"]["symbol"] == "x"
    assert _is_null(rows["RUT"]["value"])
    for r in rows.values():
        assert (r["n_reporting"], r["n_units"]) == (2, 4)
        # ratio of sums over AAA, BBB and KUT (KUT counts in sums though unranked): 109 / 148
        assert r["london_value"] == pytest.approx(109 / 148 * 100)
        assert r["london_median"] == r["london_lower_quartile"] == r["london_upper_quartile"] == 75
    assert rows["AAA"]["quartile_band"] == rows["BBB"]["quartile_band"] == "A"
    # one of two would be the top fifth; tied, they are flagged alike: the whole of London is
    # no fifth, so neither is
    assert _is_null(rows["AAA"]["top_bottom_20"]) and _is_null(rows["BBB"]["top_bottom_20"])
    # groups: Inner (AAA, BBB) 105/140; Outer and South (KUT only: RUT's S02 rejected) 4/8
    assert rows["AAA"]["inner_outer_value"] == pytest.approx(75.0)
    assert rows["RUT"]["inner_outer_value"] == pytest.approx(50.0)
    assert rows["KUT"]["sub_region_value"] == pytest.approx(50.0)
    # trends: AAA 60 -> 75 improved; KUT 50 -> 50 no change; BBB sent nothing last quarter
    assert (rows["AAA"]["previous_value"], rows["AAA"]["change_on_quarter"]) == (60.0, 15.0)
    assert rows["AAA"]["direction_on_quarter"] == "improved"
    assert rows["KUT"]["direction_on_quarter"] == "no change"
    assert _is_null(rows["BBB"]["previous_value"]) and _is_null(rows["BBB"]["direction_on_quarter"])
    assert _is_null(rows["RUT"]["change_on_quarter"])  # no value this quarter


def test_a_population_rate_ranks_quartiles_and_fifths(warehouse):
    rows = _rows(warehouse, "A-I2")  # S01 per 10,000 children, lower is better
    expected = {"AAA": 40.0, "BBB": 50.0, "KUT": 8 / 3, "RUT": 15.0}
    assert {a: r["value"] for a, r in rows.items()} == pytest.approx(expected)
    assert {a: r["rank"] for a, r in rows.items()} == {"KUT": 1, "RUT": 2, "AAA": 3, "BBB": 4}
    r = rows["AAA"]
    assert r["london_value"] == pytest.approx(208 / 100000 * 10000)  # 20.8
    # quantile_cont over the values as shown, 2.7, 15, 40, 50: positions 0.75, 1.5, 2.25
    assert r["london_lower_quartile"] == pytest.approx(2.7 + 0.75 * (15 - 2.7))
    assert r["london_median"] == pytest.approx(27.5)
    assert r["london_upper_quartile"] == pytest.approx(42.5)
    assert (r["london_min"], r["london_max"]) == pytest.approx((8 / 3, 50.0))
    assert {a: r["quartile_band"] for a, r in rows.items()} == {
        "KUT": "A",
        "RUT": "B",
        "AAA": "C",
        "BBB": "D",
    }
    flags = {a: r["top_bottom_20"] for a, r in rows.items()}
    assert flags["KUT"] == "top 20%" and flags["BBB"] == "bottom 20%"
    assert _is_null(flags["AAA"]) and _is_null(flags["RUT"])
    assert rows["AAA"]["direction_on_quarter"] == "improved"  # 50 -> 40, lower is better


def test_joint_workforce_unit_is_counted_once(warehouse):
    rows = _rows(warehouse, "W-I1")  # W02 / (W01 + W02) * 100, lower is better
    assert rows["KUT"]["reporting_unit"] == rows["RUT"]["reporting_unit"] == "KUT+RUT"
    assert rows["KUT"]["value"] == rows["RUT"]["value"] == pytest.approx(10.0)  # 5 of 50
    # three units: AAA 10.0 ties with the pair for first, BBB 25.0 third
    assert {a: r["rank"] for a, r in rows.items()} == {"AAA": 1, "BBB": 3, "KUT": 1, "RUT": 1}
    assert {(r["n_reporting"], r["n_units"]) for r in rows.values()} == {(3, 3)}
    # the pair's 5 agency of 50 counted once: (2 + 10 + 5) / (20 + 40 + 50)
    assert rows["AAA"]["london_value"] == pytest.approx(17 / 110 * 100)
    assert rows["KUT"]["inner_outer_value"] == pytest.approx(10.0)
    assert rows["AAA"]["inner_outer_value"] == pytest.approx(12 / 60 * 100)
    assert rows["BBB"]["london_upper_quartile"] == pytest.approx(17.5)
    assert rows["BBB"]["quartile_band"] == "D" and rows["KUT"]["quartile_band"] == "A"
    # last quarter KUT was compared alone: its old value is shown, a change is not claimed
    assert rows["KUT"]["previous_value"] == pytest.approx(20.0)
    assert _is_null(rows["KUT"]["change_on_quarter"])
    assert rows["AAA"]["direction_on_quarter"] == "improved"  # 20.0 -> 10.0


def test_a_sum_over_unit_values_counts_a_joint_return_once(warehouse):
    """Each authority's values stay as it sent them; the joint figures are marked as the unit's,
    and unit_values, where the README sends a sum, counts them once."""
    items = warehouse.execute(
        """SELECT authority, reporting_unit, value FROM indicator_values
        WHERE quarter = '2025-26-Q1' AND indicator_id = 'W01' ORDER BY authority"""
    ).fetchall()
    assert items == [
        ("AAA", "AAA", 18.0),
        ("BBB", "BBB", 30.0),
        ("KUT", "KUT+RUT", 45.0),
        ("RUT", "KUT+RUT", 45.0),
    ]
    units = warehouse.execute(
        """SELECT reporting_unit, authorities, value FROM unit_values
        WHERE quarter = '2025-26-Q1' AND indicator_id = 'W01' ORDER BY reporting_unit"""
    ).fetchall()
    assert units == [("AAA", "AAA", 18.0), ("BBB", "BBB", 30.0), ("KUT+RUT", "KUT+RUT", 45.0)]
    (total,) = warehouse.execute(
        "SELECT sum(value) FROM unit_values WHERE quarter = '2025-26-Q1' AND indicator_id = 'W01'"
    ).fetchone()
    assert total == 93.0  # not 138
    # Other themes are each authority's own, and the quarter before the pair was two units (and
    # BBB a unit without a return).
    assert warehouse.execute(
        """SELECT count(*) FROM unit_values WHERE quarter = '2025-26-Q1' AND indicator_id = 'S01'"""
    ).fetchone() == (4,)
    assert warehouse.execute(
        """SELECT string_agg(reporting_unit, ' ' ORDER BY reporting_unit) FROM unit_values
        WHERE quarter = '2024-25-Q4' AND indicator_id = 'W01'"""
    ).fetchone() == ("AAA BBB KUT RUT",)


def test_statuses_where_there_is_no_value(warehouse):
    now = _rows(warehouse, "N-I1")  # neutral: highest ranks first
    assert now["BBB"]["status"] == "not available" and now["BBB"]["symbol"] == "x"
    assert {a: r["rank"] for a, r in now.items() if a != "BBB"} == {"AAA": 1, "KUT": 2, "RUT": 3}
    assert now["AAA"]["london_value"] == pytest.approx(62 / 80000 * 10000)
    # neutral: placed by value, Q4 the highest quarter, with no better or worse
    assert {a: r["quartile_band"] for a, r in now.items() if a != "BBB"} == {
        "AAA": "Q4",
        "KUT": "Q2",
        "RUT": "Q1",
    }
    before = _rows(warehouse, "N-I1", "2024-25-Q4")
    assert {r["status"] for a, r in before.items() if a != "BBB"} == {"not collected"}
    assert before["AAA"]["symbol"] == "z" and _is_null(now["AAA"]["previous_value"])
    assert before["BBB"]["status"] == "not returned" and before["BBB"]["symbol"] == "x"
    zero = _rows(warehouse, "A-I1", "2024-25-Q4")["RUT"]  # 0 of 0 children seen: does not apply
    assert (zero["status"], zero["symbol"]) == ("no denominator", "z") and _is_null(zero["rank"])
    counts = warehouse.execute(
        "SELECT quarter, indicator_id, count(*) FROM benchmarks GROUP BY ALL"
    ).fetchall()
    assert {n for *_, n in counts} == {4} and len(counts) == 8


def test_indicator_values_hold_items_and_indicators(warehouse):
    frame = warehouse.execute(
        """SELECT authority, indicator_id, kind, reporting_unit, value, status
           FROM indicator_values WHERE quarter = '2025-26-Q1'"""
    ).df()
    by_key = frame.set_index(["authority", "indicator_id"])
    assert by_key.loc[("RUT", "S02"), "status"] == "value rejected"
    assert by_key.loc[("BBB", "N01"), "status"] == "not available"
    assert by_key.loc[("RUT", "W-I1"), "reporting_unit"] == "KUT+RUT"
    assert (
        by_key.loc[("AAA", "S01"), "value"] == 40 and by_key.loc[("AAA", "S01"), "kind"] == "item"
    )
    assert len(frame) == 4 * (5 + 4)


def _snapshot(con) -> dict[str, list]:
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}


def test_reloading_a_quarter_changes_nothing(region, tmp_path):
    con = duckdb.connect(str(tmp_path / "reload.duckdb"))
    for q in RETURNS:
        _load(con, region, q)
    before = _snapshot(con)
    _load(con, region, "2025-26-Q1")
    _load(con, region, "2024-25-Q4")  # an older quarter again: the later one's trends stay right
    assert _snapshot(con) == before


def test_every_table_and_column_is_described(warehouse):
    undocumented = warehouse.execute(
        """SELECT table_name, column_name FROM duckdb_columns()
           WHERE comment IS NULL AND NOT internal"""
    ).fetchall()
    assert undocumented == []
    views = warehouse.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal AND comment IS NOT NULL"
    ).fetchall()
    assert sorted(v for (v,) in views) == [
        "benchmark_adolescents",
        "benchmark_finance",
        "benchmark_send",
        "benchmark_workforce",
        "figures_by_edition",
        "group_trends",
        "latest_quarter",
        "markings",
        "notes",
        "unit_values",
    ]
    markings = dict(warehouse.execute("SELECT name, marking FROM markings").fetchall())
    assert markings["public_benchmarks"] == "OFFICIAL" and markings["benchmarks"] == "RESTRICTED"
    assert {n for n, m in markings.items() if m == "OFFICIAL"} == set(PUBLIC_TABLES) - set(
        PUBLIC_ROWS
    )
    assert {"releases", "public_benchmarks", "public_group_figures"} <= set(PUBLIC_TABLES)
    assert not {"submissions", "return_values", "validation_issues", "benchmarks"} & set(
        PUBLIC_TABLES
    )


def test_an_older_warehouse_gains_dates_as_dates_and_null_notes_keeping_what_it_held(tmp_path):
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute(
        "CREATE TABLE submissions (quarter VARCHAR, submission_id VARCHAR, completed_on VARCHAR)"
    )
    con.execute(
        "INSERT INTO submissions VALUES ('2026-27-Q1', 'a', '2026-07-03'), "
        "('2026-27-Q1', 'b', 'early July')"
    )
    con.execute("CREATE TABLE return_values (quarter VARCHAR, ref VARCHAR, note VARCHAR)")
    con.execute(
        "INSERT INTO return_values VALUES ('2026-27-Q1', 'FIN01', ''), ('2026-27-Q1', 'FIN02', 'why')"
    )
    create_schema(con)
    rows = con.execute(
        "SELECT submission_id, completed_on, completed_on_as_written FROM submissions ORDER BY 1"
    ).fetchall()
    assert rows == [("a", date(2026, 7, 3), "2026-07-03"), ("b", None, "early July")]
    notes = con.execute("SELECT ref, note FROM return_values ORDER BY 1").fetchall()
    assert notes == [("FIN01", None), ("FIN02", "why")]


def test_a_region_may_gain_authorities_but_not_lose_one_the_warehouse_holds_returns_of(
    region, tmp_path
):
    """Loading a quarter with a region's list that leaves out an authority with returns in
    another quarter says which, and what to do, and changes nothing; a list with one more
    authority loads."""
    from pipelines.warehouse.database import RegionChangeError
    from pipelines.write.alerts import failure_alert, plain_reason

    catalogue, authorities, folder = region
    con = duckdb.connect(str(tmp_path / "region.duckdb"))
    for q in RETURNS:
        _load(con, region, q)
    before = _snapshot(con)
    lines = AUTHORITIES.splitlines()
    smaller = folder / "smaller.csv"
    smaller.write_text("\n".join(line for line in lines if ",AAA," not in line) + "\n")
    subs, values, issues = _frames("2025-26-Q1")
    mine = subs["authority"] != "AAA"
    with pytest.raises(RegionChangeError) as refused:
        load_quarter(
            con,
            parse_quarter("2025-26-Q1"),
            subs[mine],
            values[values["authority"] != "AAA"],
            issues,
            load_authorities(smaller),
            catalogue,
        )
    # as the data lead's alert says it: what to do first, then which authority and quarters
    said = plain_reason(f"pipelines.warehouse.database.RegionChangeError: {refused.value}")
    assert said.startswith("The region's list of authorities (LIIA_AUTHORITIES) drops")
    assert "put them back in the list" in said and said.endswith(
        "Dropped: AAA (Aville), 2024-25 Q4."
    )
    alert = failure_alert("2025-26 Q1", "benchmarks", said, "07:00", "it is tried again.", "r1")
    assert "2024-25 Q4. What to do: do what the reason says" in alert.body
    assert _snapshot(con) == before
    larger = folder / "larger.csv"
    larger.write_text(AUTHORITIES + "E5,5,CCC,Ceeford,Outer,Outer,South,5000,\n")
    load_quarter(
        con, parse_quarter("2025-26-Q1"), subs, values, issues, load_authorities(larger), catalogue
    )
    (count,) = con.execute("SELECT count(*) FROM authorities").fetchone()
    assert count == 5
