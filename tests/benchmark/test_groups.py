"""Comparator groups come from data: the catalogue's sets load, bad ones are refused with a message
saying what to change, and the London neighbours are what the documented model gives."""

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipelines.benchmark.groups import load_group_sets
from pipelines.benchmark.neighbours import (
    CITY,
    LONDON_NEIGHBOURS,
    MODEL,
    london_neighbours,
    model_distances,
)
from pipelines.collection.catalogue import CATALOGUE_DIR, Authorities, load_authorities
from scripts.make_neighbours import neighbour_sets

AUTHORITIES = load_authorities()
HEADER = "set_id,name,kind,members,vintage,source,provisional\n"


def _sets(tmp_path: Path, rows: list[str], files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "group_sets.csv"
    path.write_text(HEADER + "".join(f"{r}\n" for r in rows))
    return path


def test_the_catalogue_sets_load_whole_and_the_partnerships_split_the_33_exactly():
    groups = load_group_sets(AUTHORITIES)
    assert groups.problems == ()
    assert {
        "london",
        "inner_outer_ons",
        "inner_outer_statutory",
        "sub_region",
        "sub_regional_partnerships",
        "shared_services",
        "dfe_neighbours",
        "london_neighbours",
        "chosen_comparators",
    } == set(groups.sets["set_id"])
    partnerships = groups.members[groups.members["set_id"] == "sub_regional_partnerships"]
    assert sorted(partnerships.groupby("group").size()) == [5, 7, 9, 12]
    assert sorted(partnerships["authority"]) == sorted(AUTHORITIES.codes)
    shared = groups.members[groups.members["set_id"] == "shared_services"]
    assert set(shared["authority"]) == {"WES", "KAC", "KUT", "RUT"}
    london = groups.members[groups.members["set_id"] == "london"]
    assert set(london["group"]) == {"London"} and sorted(london["authority"]) == sorted(
        AUTHORITIES.codes
    )


def test_every_borough_has_its_london_neighbours_and_the_city_is_nobodys():
    groups = load_group_sets(AUTHORITIES)
    london = groups.members[groups.members["set_id"] == "london_neighbours"]
    sizes = london.groupby("group").size()
    boroughs = [c for c in AUTHORITIES.codes if c != CITY]
    assert sorted(sizes.index) == sorted(boroughs)
    assert (sizes >= LONDON_NEIGHBOURS).all()
    assert CITY not in set(london["authority"]) and CITY not in set(london["group"])
    # DfE's London neighbours come first, in DfE's order; then the model tops up
    bromley = london[london["group"] == "BRO"]
    assert set(bromley["source"]) == {"London model"}  # DfE gives Bromley none in London
    bexley = london[london["group"] == "BEX"].sort_values("position")
    assert list(bexley["source"]).count("DfE statistical neighbour") == 1
    assert bexley["source"].iloc[0] == "DfE statistical neighbour"
    # the City of London is compared with Inner London: no neighbours of its own
    assert groups.group_of("london_neighbours", CITY) == []


def test_the_committed_neighbour_files_are_what_the_script_writes():
    for name, frame in neighbour_sets().items():
        committed = pd.read_csv(CATALOGUE_DIR / "groups" / name, dtype=str, keep_default_na=False)
        written = frame.astype(str).replace({"nan": "", "<NA>": ""})
        assert committed.to_dict("records") == written.to_dict("records"), name


def test_the_model_standardises_each_measure_and_finds_the_nearest():
    context = pd.DataFrame(
        {m.measure: [10.0, 11.0, 30.0, 31.0, 20.0] for m in MODEL},
        index=["AAA", "BBB", "CCC", "DDD", CITY],
    )
    context["population_0_17"] = [50000, 52000, 90000, 91000, 700]
    distances = model_distances(context)
    assert CITY not in distances.index  # never a candidate
    assert np.allclose(distances.to_numpy(), distances.to_numpy().T)
    assert np.allclose(np.diag(distances), 0)
    assert distances.loc["AAA"].drop("AAA").idxmin() == "BBB"
    assert distances.loc["CCC"].drop("CCC").idxmin() == "DDD"


def test_neighbours_are_topped_up_nearest_first_after_dfes_own():
    distances = model_distances(
        pd.DataFrame(
            {m.measure: np.linspace(1.0, 32.0, 32) ** (1 + i) for i, m in enumerate(MODEL)},
            index=[c for c in AUTHORITIES.codes if c != CITY],
        ).assign(population_0_17=np.linspace(20000, 90000, 32))
    )
    dfe = pd.DataFrame(
        {
            "la_code": ["302", "302"],
            "position": [1, 2],
            "neighbour_la_code": ["201", "304"],  # the City of London, then Brent
            "closeness": ["Close", "Very close"],
        }
    )
    rows = london_neighbours(dfe, distances, AUTHORITIES, n=4)
    barnet = rows[rows["group"] == "BAR"].sort_values("position")
    assert list(barnet["authority"])[0] == "BRE"  # DfE's first London neighbour, City left out
    assert list(barnet["source"]) == ["DfE statistical neighbour"] + ["London model"] * 3
    topped = barnet.iloc[1:]
    assert list(topped["distance"]) == sorted(topped["distance"])


def test_a_set_naming_an_unknown_authority_is_refused_saying_the_file_row_and_what_to_write(
    tmp_path,
):
    path = _sets(
        tmp_path,
        ["ours,Our group,groups,ours.csv,2026,LIIA,no", "fine,Fine,groups,fine.csv,2026,LIIA,no"],
        {
            "ours.csv": "group,authority\nNorth,Barnet\nNorth,Barnett\n",
            "fine.csv": "group,authority\nPair,E09000003\nPair,Brent\n",
        },
    )
    groups = load_group_sets(AUTHORITIES, path)
    (problem,) = groups.problems
    assert "'ours'" in problem and "ours.csv, row 3" in problem and "'Barnett'" in problem
    assert "LIIA code" in problem
    assert list(groups.sets["set_id"]) == ["fine"]  # the good set is kept
    assert set(groups.members["authority"]) == {"BAR", "BRE"}  # codes and names both resolved


def test_a_partition_that_leaves_out_or_doubles_an_authority_is_refused(tmp_path):
    everyone = "".join(f"All,{c}\n" for c in AUTHORITIES.codes if c != "SUT")
    path = _sets(
        tmp_path,
        [
            "short,Short,partition,short.csv,2026,LIIA,no",
            "double,Double,partition,double.csv,2026,LIIA,no",
        ],
        {
            "short.csv": "group,authority\n" + everyone,
            "double.csv": "group,authority\n" + everyone + "All,SUT\nOther,SUT\n",
        },
    )
    groups = load_group_sets(AUTHORITIES, path)
    assert groups.sets.empty
    short, double = groups.problems
    assert "'short' is a partition but leaves out Sutton" in short
    assert "puts Sutton in 2 groups (All, Other)" in double


def test_a_missing_file_an_unknown_kind_and_a_neighbour_of_itself_are_refused(tmp_path):
    path = _sets(
        tmp_path,
        [
            "gone,Gone,groups,gone.csv,2026,LIIA,no",
            "odd,Odd,clusters,odd.csv,2026,LIIA,no",
            "self,Self,neighbours,self.csv,2026,LIIA,no",
        ],
        {"odd.csv": "group,authority\n", "self.csv": "group,authority\nBAR,BAR\nBAR,BRE\n"},
    )
    gone, odd, self_ = load_group_sets(AUTHORITIES, path).problems
    assert "gone.csv is missing" in gone and "remove the set's row" in gone
    assert "kind 'clusters' is not one of partition, groups, neighbours" in odd
    assert "lists Barnet as its own neighbour" in self_


def test_an_operators_chosen_comparators_are_added_from_their_own_file(tmp_path, monkeypatch):
    path = _sets(
        tmp_path,
        ["barnet_chosen,Barnet's chosen comparators,neighbours,chosen.csv,2026,Barnet,no"],
        {"chosen.csv": "group,authority\nBarnet,Enfield\nBarnet,Harrow\nBarnet,Brent\n"},
    )
    monkeypatch.setenv("LIIA_GROUP_SETS", str(path))
    groups = load_group_sets(AUTHORITIES)
    assert groups.problems == ()
    assert sorted(groups.group_of("barnet_chosen", "BAR")) == ["BRE", "ENF", "HAW"]
    assert "london_neighbours" in set(groups.sets["set_id"])  # the catalogue's are still there


@pytest.mark.parametrize("header", ["group,who\n", "name\n"])
def test_a_members_file_without_its_columns_is_refused(tmp_path, header):
    path = _sets(tmp_path, ["x,X,groups,x.csv,2026,LIIA,no"], {"x.csv": header + "A,BAR\n"})
    (problem,) = load_group_sets(AUTHORITIES, path).problems
    assert "header must be group,authority" in problem


def _warehouse(latest_quarter_run):
    return duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)


def test_a_groups_figure_is_its_members_ratio_of_sums_as_london_and_inner_outer_are(
    latest_quarter_run,
):
    with _warehouse(latest_quarter_run) as con:
        for set_id, column in (
            ("inner_outer_ons", "inner_outer_value"),
            ("sub_region", "sub_region_value"),
        ):
            ((rows, differ),) = con.execute(
                f"""SELECT count(*), count(*) FILTER (
                        WHERE abs(g.group_value - b.{column}) > 1e-9
                           OR (g.group_value IS NULL) <> (b.{column} IS NULL))
                    FROM group_benchmarks AS g JOIN benchmarks AS b
                    USING (quarter, indicator_id, authority)
                    WHERE g.set_id = ?""",
                [set_id],
            ).fetchall()
            assert rows == 2 * 33 * 37 and differ == 0, set_id


def test_rank_among_neighbours_and_their_figure_follow_from_the_neighbours_own_rows(
    latest_quarter_run,
):
    quarter = "2026-27-Q2"
    with _warehouse(latest_quarter_run) as con:
        benchmarks = con.execute(
            "SELECT b.*, i.decimals, i.polarity, i.comparison FROM benchmarks AS b "
            "JOIN indicators AS i USING (indicator_id) WHERE quarter = ?",
            [quarter],
        ).df()
        fractions = con.execute(
            "SELECT * FROM indicator_fractions WHERE quarter = ?", [quarter]
        ).df()
        members = con.execute("SELECT * FROM group_members WHERE set_id = 'london_neighbours'").df()
        groups = con.execute(
            "SELECT * FROM group_benchmarks WHERE quarter = ? AND set_id = 'london_neighbours'",
            [quarter],
        ).df()
    checked = 0
    for authority in ("BAR", "BRO", "TOW", "KUT"):
        neighbours = set(members.loc[members["group_name"] == authority, "authority"])
        for indicator in ("WF-I01", "ADO-I08", "FIN-I02", "SEN-I04", "FIN-I01"):
            rows = benchmarks[benchmarks["indicator_id"] == indicator].set_index("authority")
            own = rows.loc[authority]
            # neighbours as reporting units: a joint partner is the authority itself
            others = rows.loc[sorted(neighbours)]
            others = others[others["reporting_unit"] != own["reporting_unit"]].drop_duplicates(
                "reporting_unit"
            )
            shown = lambda v, d=int(own["decimals"]): round(v, d)  # noqa: E731
            better = (
                (lambda a, b: a < b)
                if own["polarity"] == "lower_is_better"
                else (lambda a, b: a > b)
            )
            ranked = others[others["value"].notna() & ~others["low_reliability"].astype(bool)]
            (group,) = groups[
                (groups["authority"] == authority) & (groups["indicator_id"] == indicator)
            ].itertuples()
            if (
                own["comparison"] == "rate"
                and pd.notna(own["value"])
                and not own["low_reliability"]
            ):
                expected = 1 + sum(better(shown(v), shown(own["value"])) for v in ranked["value"])
                assert group.rank_in_group == expected, (authority, indicator)
                assert group.n_ranked == len(ranked) + 1
            f = fractions[
                (fractions["indicator_id"] == indicator)
                & fractions["reporting_unit"].isin(others["reporting_unit"])
            ].drop_duplicates("reporting_unit")
            f = f.dropna(subset=["numerator", "denominator"])
            total = own["comparison"] == "total"
            expected_value = f["numerator"].sum() / (1 if total else f["denominator"].sum())
            assert group.group_value == pytest.approx(expected_value), (authority, indicator)
            assert group.group_units == len(f)
            checked += 1
    assert checked == 20


def test_the_public_edition_publishes_no_comparator_group_figure(latest_quarter_run):
    """More overlapping group sums would give an intruder more to difference against the
    published London, Inner/Outer and sub-region figures: the public edition shows none of the
    new groups (the audit of what it does show passes in test_release)."""
    from openpyxl import load_workbook

    public = latest_quarter_run / "reports" / "public"
    words = (
        "neighbour",
        "Central London Forward",
        "West London Alliance",
        "Local London",
        "South London Partnership",
        "Achieving for Children",
        "Bi-borough",
    )
    looked = 0
    for path in sorted(public.rglob("*")):
        if path.suffix == ".xlsx":
            wb = load_workbook(path, read_only=True)
            assert "Neighbours" not in wb.sheetnames
            text = " ".join(
                str(v)
                for ws in wb.worksheets
                for row in ws.iter_rows(values_only=True)
                for v in row
                if v is not None
            )
        elif path.suffix in (".csv", ".html"):
            text = path.read_text()
        else:
            continue
        looked += 1
        found = [w for w in words if w.lower() in text.lower()]
        assert not found, (path.name, found)
    assert looked >= 10
    with _warehouse(latest_quarter_run) as con:
        groupings = {
            g for (g,) in con.sql("SELECT DISTINCT grouping FROM public_group_figures").fetchall()
        }
    assert groupings <= {"london", "inner_outer_ons", "sub_region"}


def test_a_region_of_londons_authorities_uses_every_set_less_the_authorities_outside_it(tmp_path):
    table = AUTHORITIES.table
    mine = ["BAR", "CAM", "KUT", "RUT"]
    region = Authorities(table[table["liia_code"].isin(mine)].reset_index(drop=True))
    sets = load_group_sets(region)
    assert sets.problems == ()  # nothing to warn of at every run
    assert list(sets.sets["set_id"]) == list(load_group_sets(AUTHORITIES).sets["set_id"])
    assert set(sets.members["authority"]) == set(mine)
    neighbours = sets.members[sets.members["set_id"] == "dfe_neighbours"]
    assert set(neighbours["group"]) <= set(mine)
    shared = sets.members[sets.members["set_id"] == "shared_services"]
    assert set(shared["authority"]) == {"KUT", "RUT"}  # their own; the tri-borough's has none here
    # An operator's sets: a London authority outside the region is left out, a group it leaves
    # with one member goes; a name that is no authority is still refused, saying which.
    path = _sets(
        tmp_path,
        ["mine,Mine,groups,mine.csv,2026,LIIA,no", "typo,Typo,groups,typo.csv,2026,LIIA,no"],
        {
            "mine.csv": "group,authority\nNorth,Barnet\nNorth,Camden\nNorth,Enfield\n"
            "West,Barnet\nWest,Ealing\n",
            "typo.csv": "group,authority\nPair,Barnet\nPair,Brentt\n",
        },
    )
    operator = load_group_sets(region, path)
    (problem,) = operator.problems
    assert "'Brentt' is not one of the region's authorities" in problem
    kept = operator.members[operator.members["set_id"] == "mine"]
    assert sorted(zip(kept["group"], kept["authority"], strict=True)) == [
        ("North", "BAR"),
        ("North", "CAM"),
    ]


def test_a_run_uses_an_operators_good_set_and_warns_of_a_bad_one_without_failing(
    tmp_path, monkeypatch
):
    from tests.conftest import check_evaluation, first_codes, run_quarter, some_returns, use_region

    # A region of the four whose returns are sent: the catalogue's sets warn of nothing, so the
    # operator's typo is the check's only problem.
    use_region(tmp_path / "region", first_codes(4), monkeypatch)

    path = _sets(
        tmp_path,
        [
            "barnet_chosen,Barnet's chosen,neighbours,chosen.csv,2026,Barnet,no",
            "typo,Typo,groups,typo.csv,2026,LIIA,no",
        ],
        {
            "chosen.csv": "group,authority\nBAR,Barking and Dagenham\nBAR,Bexley\n",
            "typo.csv": "group,authority\nPair,Barnet\nPair,Brentt\n",
        },
    )
    monkeypatch.setenv("LIIA_GROUP_SETS", str(path))
    inbox = tmp_path / "inbox"
    some_returns("2026-27-Q2", inbox, n=4)
    result = run_quarter(tmp_path / "run", inbox, "2026-27-Q2")
    assert result.success
    check = check_evaluation(result, "comparator_groups_valid")
    assert not check.passed and check.description.startswith("1 problem(s): group set 'typo'")
    assert "'Brentt'" in check.description
    with duckdb.connect(str(tmp_path / "run" / "liia.duckdb"), read_only=True) as con:
        sets = {s for (s,) in con.sql("SELECT DISTINCT set_id FROM group_benchmarks").fetchall()}
        (n,) = con.execute(
            "SELECT DISTINCT n_ranked FROM group_benchmarks WHERE set_id = 'barnet_chosen' "
            "AND indicator_id = 'FIN-I02'"
        ).fetchone()
    assert "barnet_chosen" in sets and "typo" not in sets
    assert n <= 3  # Barnet and its two chosen comparators, those of them that returned


def test_an_edited_members_file_is_read_again_and_an_unchanged_one_is_not(tmp_path):
    import os

    path = _sets(
        tmp_path,
        ["pair,Pair,groups,pair.csv,2026,LIIA,no"],
        {"pair.csv": "group,authority\nPair,Barnet\nPair,Brent\n"},
    )
    first = load_group_sets(AUTHORITIES, path)
    assert load_group_sets(AUTHORITIES, path) is first  # nothing changed: not read again
    (tmp_path / "pair.csv").write_text("group,authority\nPair,Barnet\nPair,Enfield\n")
    os.utime(tmp_path / "pair.csv", ns=(1, 10**18))  # a time the edit is sure to differ by
    assert set(load_group_sets(AUTHORITIES, path).members["authority"]) == {"BAR", "ENF"}
