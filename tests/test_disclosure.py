"""Disclosure control of the publishable edition: small counts become c (the audit that nothing
published lets one be worked back is in test_release.py)."""

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines.catalogue import THEMES, formula_refs, load_authorities, load_catalogue
from pipelines.disclosure import primary_suppression

QUARTER = "2026-27-Q2"


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
        / "public"
        / QUARTER
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
            assert shown.at[name, value] == "[c]", (ind.id, name)
            for column in ("Rank", "Quartile band", "Place in London (lowest, low, high, highest)"):
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
