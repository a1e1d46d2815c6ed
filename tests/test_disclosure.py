"""Disclosure control of the publishable edition: small counts become c, and nothing published lets
one be worked back."""

import duckdb
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines.catalogue import THEMES, formula_refs, load_authorities, load_catalogue
from pipelines.disclosure import (
    Unit,
    order_statistics_to_suppress,
    primary_suppression,
    secondary_suppression,
)

QUARTER = "2026-27-Q2"


def _pinned_down(units: list[Unit], hidden: set[str], hidden_groups: set) -> set[str]:
    """Hidden units whose value follows from the published group sums: those on which every
    solution of the sums agrees, found from the null space of the sums (an SVD, not ranks)."""
    columns = sorted(hidden)
    groups = {k for u in units for k in u.groups} - hidden_groups
    rows = [[1.0 if k in u.groups else 0.0 for u in units if u.name in hidden] for k in groups]
    rows = [r for r in rows if any(r)]
    if not rows:
        return set()
    names = [u.name for u in units if u.name in hidden]
    _, s, vt = np.linalg.svd(np.array(rows))
    null = vt[int((s > 1e-9).sum()) :]
    free = np.abs(null).sum(axis=0) > 1e-9 if len(null) else np.zeros(len(names), dtype=bool)
    return {n for n, f in zip(names, free, strict=True) if not f} & set(columns)


def _unit(name, suppressed, value, inner_outer, sub_region):
    groups = (("london", "London"), ("inner_outer_ons", inner_outer), ("sub_region", sub_region))
    return Unit(name, suppressed, value, groups)


def test_a_lone_small_count_is_covered_by_its_neighbour_not_by_hiding_london():
    units = [
        _unit("CIT", True, 40.0, "Inner", "North"),
        _unit("CAM", False, 12.0, "Inner", "North"),
        _unit("ISL", False, 9.0, "Inner", "North"),
        _unit("BAR", False, 3.0, "Outer", "North"),
        _unit("LAM", False, 11.0, "Inner", "South"),
        _unit("BEX", False, 8.0, "Outer", "South"),
    ]
    extra, hidden_groups = secondary_suppression(units)
    # ISL shares every group with CIT and has the smaller value; BAR is smaller but not Inner.
    assert extra == {"ISL"} and hidden_groups == set()
    assert _pinned_down(units, {"CIT", "ISL"}, set()) == set()
    # Without the complement, London less the others gives CIT away.
    assert _pinned_down(units, {"CIT"}, set()) == {"CIT"}


def test_crossing_groups_never_isolate_a_suppressed_value():
    # Inner/Outer cross the sub-regions: differences between groups can isolate a unit even when
    # no group holds exactly one suppressed unit.
    units = [
        _unit("A", True, 1.0, "Inner", "North"),
        _unit("B", True, 2.0, "Outer", "North"),
        _unit("C", True, 3.0, "Inner", "South"),
        _unit("D", False, 4.0, "Outer", "South"),
        _unit("E", False, 5.0, "Outer", "East"),
        _unit("F", False, 6.0, "Inner", "East"),
    ]
    assert _pinned_down(units, {"A", "B", "C"}, set())  # unsafe as it stands
    extra, hidden_groups = secondary_suppression(units)
    assert extra
    assert _pinned_down(units, {"A", "B", "C"} | extra, hidden_groups) == set()
    assert ("london", "London") not in hidden_groups


def test_a_group_figure_is_hidden_only_when_no_unit_is_left_to_hide():
    units = [
        _unit("A", True, 1.0, "Inner", "North"),
        _unit("B", False, None, "Inner", "North"),  # no published value: nothing to hide
    ]
    extra, hidden_groups = secondary_suppression(units)
    assert extra == set()
    assert _pinned_down(units, {"A"}, hidden_groups) == set()
    assert ("london", "London") in hidden_groups  # every group holds A alone


def test_order_statistics_from_a_suppressed_value_are_hidden():
    # Five ranked values: min, lower quartile, median, upper quartile, max at positions 0 to 4.
    values = [(10.0, False), (20.0, False), (30.0, True), (40.0, False), (50.0, False)]
    assert order_statistics_to_suppress(values) == {"london_median"}
    # Six values: the median interpolates between positions 2 and 3, quartiles 1-2 and 3-4.
    six = [(v, v == 40.0) for v in (10.0, 20.0, 30.0, 40.0, 50.0, 60.0)]
    assert order_statistics_to_suppress(six) == {"london_median", "london_upper_quartile"}
    assert order_statistics_to_suppress([(1.0, True)]) == set(
        ["london_min", "london_lower_quartile", "london_median"]
        + ["london_upper_quartile", "london_max"]
    )


def test_a_joint_unit_is_suppressed_on_both_rows_when_one_return_has_a_small_count():
    catalogue = load_catalogue()
    benchmarks = pd.DataFrame(
        {
            "quarter": [QUARTER] * 3,
            "indicator_id": ["WF-I07"] * 3,
            "authority": ["KUT", "RUT", "CAM"],
            "reporting_unit": ["KUT+RUT", "KUT+RUT", "CAM"],
        }
    )
    items = pd.DataFrame(
        {
            "quarter": [QUARTER] * 3,
            "authority": ["KUT", "RUT", "CAM"],
            "ref": ["WF10", "WF10", "WF10"],
            "value": [3.0, 0.0, 6.0],
        }
    )
    assert primary_suppression(benchmarks, items, catalogue).tolist() == [True, True, False]


def _shown_rows(ws, n: int) -> pd.DataFrame:
    rows = list(ws[ws.tables[f"Indicator{n}"].ref])
    header = [c.value for c in rows[0]]
    return pd.DataFrame([[c.value for c in r] for r in rows[1:]], columns=header, dtype=object)


def _small_count_units(con, catalogue) -> pd.DataFrame:
    """(indicator_id, authority) whose unit has a count item of the formula from 1 to 5: worked
    out here from the warehouse's items, not by the code under test."""
    counts = set(catalogue.items.loc[catalogue.items["unit"] == "count", "ref"])
    pairs = pd.DataFrame(
        [
            (ind.id, ref)
            for ind in catalogue.indicators.itertuples()
            for ref in formula_refs(ind.formula)
            if ref in counts
        ],
        columns=["indicator_id", "ref"],
    )
    con.register("pairs", pairs)
    return con.execute(
        """SELECT DISTINCT b.indicator_id, b.authority
        FROM benchmarks AS b
        JOIN benchmarks AS mate USING (quarter, indicator_id, reporting_unit)
        JOIN pairs AS p ON p.indicator_id = b.indicator_id
        JOIN indicator_values AS v ON v.quarter = b.quarter AND v.authority = mate.authority
             AND v.indicator_id = p.ref AND v.kind = 'item'
        WHERE b.quarter = ? AND v.value BETWEEN 1 AND 5""",
        [QUARTER],
    ).df()


@pytest.mark.parametrize("theme", list(THEMES))
def test_publishable_edition_holds_no_count_from_1_to_5(latest_quarter_run, theme):
    catalogue, authorities = load_catalogue(), load_authorities()
    table = authorities.table.set_index("name")
    path = (
        latest_quarter_run
        / "reports"
        / QUARTER
        / "publishable"
        / f"LIIA {theme} benchmarks {QUARTER} publishable.xlsx"
    )
    wb = load_workbook(path)
    cells = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not any("RESTRICTED" in c for c in cells)
    assert all(ws["A2"].value.startswith("OFFICIAL: publishable") for ws in wb.worksheets)

    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    small = _small_count_units(con, catalogue)
    indicators = catalogue.indicators[catalogue.indicators["theme"] == theme]
    suppressed_seen = 0
    for n, ind in enumerate(indicators.itertuples(), start=1):
        shown = _shown_rows(wb[ind.id], n).set_index("Authority")
        value = next(c for c in shown.columns if c.startswith("Value"))
        names = set(small.loc[small["indicator_id"] == ind.id, "authority"].map(authorities.name))
        for name in names:
            assert shown.at[name, value] == "c", (ind.id, name)
            for column in ("Rank", "Quartile band", "Quarter of London (Q1 lowest, Q4 highest)"):
                if column in shown:
                    assert shown.at[name, column] in (None, ""), (ind.id, name, column)
        suppressed_seen += len(names)
        # A rate per 10,000 children gives the count back with the public population.
        if formula_refs(ind.formula)[-1] == "population_0_17" and "+" not in ind.formula:
            values = pd.to_numeric(shown[value], errors="coerce").dropna()
            population = table.loc[values.index, "population_0_17"].astype(float)
            counts = (values * population / 10000).round()
            assert not counts.between(1, 5).any(), (ind.id, counts[counts.between(1, 5)])
    if theme == "adolescents":
        assert suppressed_seen > 30  # the sample holds many small counts of remands and PACE
