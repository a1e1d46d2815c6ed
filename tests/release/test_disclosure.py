"""Disclosure control of the publishable edition: small counts become c (the audit that nothing
published lets one be worked back is in test_release.py)."""

import copy
import json
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines.collection.catalogue import (
    THEMES,
    formula_refs,
    load_authorities,
    load_catalogue,
    ratio_form,
)
from pipelines.release.audit import (
    COUNT_CEILING,
    PROTECTION_MARGIN,
    Model,
    Programme,
    Shown,
    _reachable,
    audit,
    interval,
)
from pipelines.release.disclosure import (
    Suppression,
    _complement,
    _quarter_units,
    primary_suppression,
    rule_row,
    unit_populations,
)

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


def test_the_intruder_knows_the_catalogues_rules_and_they_narrow_a_hidden_count():
    """A's costly placements (FIN04) are hidden; with C's they add up to 40 (their group's
    figure: 20 per 10,000 of their 20,000 children). Alone that leaves A anywhere from 0 to 40;
    the public rule FIN04 <= ADO12 with A's shown ADO12 of 3 leaves it 0 to 3. The audit must
    know the rule."""
    catalogue = load_catalogue()
    (rule,) = [r for r in catalogue.rules if r.ref == "FIN04"]
    forms = {
        "FIN-I03": ratio_form("FIN04 / population_0_17 * 10000"),
        "ADO-I08": ratio_form("ADO12 / population_0_17 * 10000"),
    }

    def model(rules):
        m = Model(forms, {"A": 10_000.0, "C": 10_000.0}, {"FIN04", "ADO12"}, set(), rules=rules)
        m.shown += [
            Shown("ADO-I08", ("A",), *interval(3.0, 1)),
            Shown("ADO-I08", ("C",), *interval(100.0, 1)),
            Shown("FIN-I03", ("A", "C"), *interval(20.0, 1)),
        ]
        return m

    (blind,) = audit(model([]), [("A", "FIN04")], exact=True)
    assert (blind.smallest, blind.largest, blind.protected) == (0, 40, True)
    (knowing,) = audit(model([rule_row(rule)]), [("A", "FIN04")], exact=True)
    assert (knowing.smallest, knowing.largest, knowing.protected) == (0, 3, False)


def _part(name: str) -> tuple[Programme, list[tuple[str, str]]]:
    """A part of an audit as the release step built it, dumped to tests/release/data/: its
    programme and its targets."""
    part = json.loads((Path(__file__).parent / "data" / name).read_text())

    def var(text: str) -> tuple[str, str]:
        unit, ref = text.split("|")
        return unit, ref

    model = Model({}, {}, set(part["counts"]), set(part["negative"]))
    model.not_small = {var(v) for v in part["not_small"]}
    rows = [({var(k): c for k, c in coefs.items()}, lo, hi) for coefs, lo, hi in part["rows"]]
    return Programme(model, rows, [var(v) for v in part["variables"]]), [
        var(t) for t in part["targets"]
    ]


def test_a_part_highs_searched_for_minutes_is_answered_by_a_point_checked_against_every_row():
    """A part of a revision's audit (tests/release/data/hard_part.json: 81 counts, 314 rows)
    where HiGHS without its presolve finds no point with the 54 hidden counts at the margin
    within its time limit (it ran 45 s past it), so each count was then tried alone, each as
    long, and the release step took an hour. With its presolve it finds one in under a second;
    that point is kept only once it is checked against every row and bound."""
    programme, targets = _part("hard_part.json")
    margin = (PROTECTION_MARGIN, COUNT_CEILING)

    status, _ = programme.solve({}, dict.fromkeys(targets, margin))
    assert status == "optimal"
    point = programme.last_solution
    assert all(point[programme.index[t]] >= PROTECTION_MARGIN for t in targets)
    assert programme._holds(point, programme.lower, programme.upper)
    assert _reachable(programme, targets, margin) == dict.fromkeys(targets, True)
    # the check refuses a point one count off where a figure's interval allows no other
    nudged = point.copy()
    nudged[programme.index[targets[0]]] += 1
    assert not programme._holds(nudged, programme.lower, programme.upper)


def test_a_search_without_presolve_stops_after_its_nodes_and_settles_nothing(monkeypatch):
    """The same part as above, asked without presolve whether its 54 hidden counts can all reach
    the margin, searched 45-150 s on a time limit of 20 s: HiGHS does not keep it. The search
    stops after SOLVE_NODES nodes (here 50), the same on any machine, and what it did not settle
    is 'unknown', which the audit takes as not protected."""
    programme, targets = _part("hard_part.json")
    monkeypatch.setattr("pipelines.release.audit.SOLVE_NODES", 50)
    problem = programme.problem({}, dict.fromkeys(targets, (PROTECTION_MARGIN, COUNT_CEILING)))
    started = time.process_time()
    assert programme.search(problem) == ("unknown", None)
    assert time.process_time() - started < 10


def test_a_part_highs_searches_without_end_with_its_presolve_is_answered_without_it():
    """The other way round (tests/release/data/six_authorities_part.json: 18 counts of a region
    of six): with its presolve HiGHS searched 24,086 nodes for a point with the 12 hidden counts
    at the margin and found none, 6 s on a time limit of 1 s, in every run of that region; without
    it, one is found in 0.02 s. The first try stops after QUICK_NODES nodes. (Bounded in the
    process's CPU time, ten times over, not in time on the clock: scipy reports no node count for
    a search stopped at a limit.)"""
    programme, targets = _part("six_authorities_part.json")

    started = time.process_time()
    status, _ = programme.solve({}, dict.fromkeys(targets, (PROTECTION_MARGIN, COUNT_CEILING)))
    assert time.process_time() - started < 1.5
    assert status == "optimal"
    point = programme.last_solution
    assert all(point[programme.index[t]] >= PROTECTION_MARGIN for t in targets)
    assert programme._holds(point, programme.lower, programme.upper)


def test_which_complement_is_chosen_says_nothing_of_the_values_hidden():
    """The same quarter with every figure's value shuffled among the candidates chooses the same
    complements: the choice is made from public facts only (never the smallest value first)."""
    from tests.release.test_release import _hard_quarter

    benchmarks, groups, items = _hard_quarter()
    catalogue = load_catalogue()
    population = load_authorities().table.set_index("liia_code")["population_0_17"]
    units = unit_populations(benchmarks, population)
    forms = {
        i: ratio_form(f)
        for i, f in zip(catalogue.indicators["id"], catalogue.indicators["formula"], strict=True)
    }
    q = _quarter_units(benchmarks, groups, catalogue)
    primary = {("ADO-I08", "CIT"), ("ADO-I05", "CIT"), ("ADO-I10", "CIT"), ("FIN-I09", "CIT")}
    rng = np.random.default_rng(1)
    chosen = []
    for values in range(3):
        shuffled = copy.deepcopy(q)
        if values:
            for rows in shuffled.rows.values():
                for r in rows.values():
                    r["value"] = float(rng.uniform(0.1, 500))
        hidden = Suppression(set(primary))
        assert _complement(shuffled, hidden, ("CIT", "ADO12"), forms, units)
        chosen.append(hidden.complementary)
    assert chosen[0] == chosen[1] == chosen[2] and chosen[0]
