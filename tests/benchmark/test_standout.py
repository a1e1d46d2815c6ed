"""Which figures stand out from London beyond chance (pipelines.benchmark.standout), worked out on
made-up Londons where the answer is known, without a workbook or a run."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipelines.benchmark.standout import (
    CONTROL_LIMIT,
    events_scale,
    indicator_standings,
    overdispersion,
    picks,
    quarter_standings,
    tail_z,
)
from pipelines.collection.catalogue import load_catalogue

RATE = "ADO04 / population_0_17 * 10000"  # a rate per 10,000 children: Poisson events
SHARE = "ADO03 / ADO01 * 100"  # a percentage of requests: binomial events


def _ind(id="X", formula=RATE, basis="poisson", polarity="lower_is_better"):
    return SimpleNamespace(
        id=id,
        name=f"Indicator {id}",
        formula=formula,
        count_basis=basis,
        polarity=polarity,
        comparison="rate",
    )


def _london(people, events, scale=10000, flags=None, ind="X"):
    """Benchmarks rows with their fractions: one authority per (population, events), ranked
    by value (lowest first, as for lower_is_better), flagged as `flags` says (else by fifth)."""
    units = [f"A{k:02d}" for k in range(len(people))]
    value = [scale * e / n for e, n in zip(events, people, strict=True)]
    rank = pd.Series(value).rank(method="min").astype(int).tolist()
    n = len(units)
    if flags is None:
        flags = ["top 20%" if r <= n * 0.2 else "bottom 20%" if r > n * 0.8 else None for r in rank]
    london = scale * sum(events) / sum(people)
    return pd.DataFrame(
        {
            "indicator_id": ind,
            "authority": units,
            "reporting_unit": units,
            "value": value,
            "rank": rank,
            "n_reporting": n,
            "top_bottom_20": flags,
            "london_value": london,
            "numerator": [scale * e for e in events],
            "denominator": people,
        }
    )


def _mine(rows, unit):
    return {r["indicator_id"]: r for r in rows[rows["authority"] == unit].to_dict("records")}


def test_the_tail_is_the_exact_binomial_and_poisson_tail_for_whole_counts():
    for events, expected in ((0, 0.35), (0, 10.0), (3, 12.0), (25, 12.0)):
        z = tail_z(events, 20000, expected / 20000, "poisson")
        tail = (
            stats.poisson.cdf(events, expected)
            if events < expected
            else stats.poisson.sf(events - 1, expected)
        )
        assert abs(z) == pytest.approx(stats.norm.isf(min(tail, 0.5)), rel=1e-6)
    for events, n, p in ((0, 14, 0.11), (9, 14, 0.11), (40, 300, 0.2)):
        z = tail_z(events, n, p, "binomial")
        tail = stats.binom.cdf(events, n, p) if events < n * p else stats.binom.sf(events - 1, n, p)
        assert abs(z) == pytest.approx(stats.norm.isf(min(tail, 0.5)), rel=1e-6)


def test_a_zero_among_few_children_never_stands_out_but_among_many_it_does():
    # London's rate is 5 per 10,000; the City's 700 children expect 0.35 events, a large
    # borough's 30,000 expect 15.
    people = [50_000] * 30 + [700, 30_000]
    events = [25] * 30 + [0, 0]
    rows = _london(people, events)
    standings = indicator_standings(rows, _ind())
    small, large = standings["A30"], standings["A31"]
    assert small.expected == pytest.approx(0.35, rel=0.05) and not small.stands_out
    assert large.stands_out and large.z <= -CONTROL_LIMIT
    # both are in the better fifth by rank; only the large borough's zero is its strength
    mine = {u: _mine(rows, u) for u in ("A30", "A31")}
    assert mine["A30"]["X"]["top_bottom_20"] == "top 20%"
    assert picks(mine["A30"], [_ind()], {(u, "X"): s for u, s in standings.items()}, rows) == (
        [],
        [],
    )
    _, strengths = picks(mine["A31"], [_ind()], {(u, "X"): s for u, s in standings.items()}, rows)
    assert [p.indicator.id for p in strengths] == ["X"]


def test_a_tie_across_the_fifths_edge_or_a_figure_outside_its_fifth_is_never_picked():
    people = [10_000] * 30
    events = [20] * 28 + [80, 80]  # two tied far above London
    flags = [None] * 28 + ["bottom 20%", None]  # the tie straddles the worse fifth's edge
    rows = _london(people, events, flags=flags)
    standings = {(u, "X"): s for u, s in indicator_standings(rows, _ind()).items()}
    assert standings[("A28", "X")].stands_out and standings[("A29", "X")].stands_out
    for unit in ("A28", "A29"):  # one in the fifth but tied across its edge, one outside it
        assert picks(_mine(rows, unit), [_ind()], standings, rows) == ([], [])
    # The same figures, both in the fifth: each is a concern.
    rows["top_bottom_20"] = [None] * 28 + ["bottom 20%"] * 2
    for unit in ("A28", "A29"):
        concerns, strengths = picks(_mine(rows, unit), [_ind()], standings, rows)
        assert [p.indicator.id for p in concerns] == ["X"] and strengths == []


def test_size_is_allowed_for_and_the_furthest_from_london_comes_first():
    # A: a small authority with a much higher rate; B: a large one a little higher. The large
    # one's figure is the firmer evidence, and stands out; the small one's does not.
    people = [20_000] * 28 + [1_000, 200_000]
    events = [40] * 28 + [5, 520]
    rows = _london(people, events)
    standings = indicator_standings(rows, _ind())
    assert rows.loc[28, "value"] > rows.loc[29, "value"]  # the small one's rate is higher
    assert not standings["A28"].stands_out and standings["A29"].stands_out
    # Of an authority's picks, the furthest from London first, on any indicator.
    one = _london(people, [40] * 28 + [5, 520], ind="P")
    two = _london(people, [40] * 28 + [5, 700], ind="Q")
    both = pd.concat([one, two])
    indicators = [_ind("P"), _ind("Q")]
    found = quarter_standings(both.drop(columns=["numerator", "denominator"]), both, indicators)
    concerns, _ = picks(_mine(both, "A29"), indicators, found, both)
    assert [p.indicator.id for p in concerns] == ["Q", "P"]


def test_londons_own_spread_widens_the_limits():
    rng = np.random.default_rng(7)
    people = [20_000] * 32
    calm = [int(x) for x in rng.poisson(40, 31)] + [75]
    wild = [int(x) for x in rng.normal(40, 15, 31).clip(1)] + [75]
    assert overdispersion(np.zeros(10)) == 1.0  # never narrower than chance
    in_calm = indicator_standings(_london(people, calm), _ind())["A31"]
    in_wild = indicator_standings(_london(people, wild), _ind())["A31"]
    assert in_calm.stands_out and not in_wild.stands_out


def test_a_share_and_a_figure_without_counts_are_tested_too():
    # a binomial share: 2 of 14 PACE requests is chance; 60 of 100 against London's 11% is not
    people = [100] * 30 + [14, 100]
    events = [11] * 30 + [2, 60]
    rows = _london(people, events, scale=100)
    standings = indicator_standings(rows, _ind(formula=SHARE, basis="binomial"))
    assert not standings["A30"].stands_out and standings["A31"].stands_out
    # a cost: compared with London's spread in robust standard deviations
    rows = _london([1] * 30, [1000 + 10 * k for k in range(29)] + [5000], scale=1)
    standings = indicator_standings(rows, _ind(formula="FIN06 / FIN07", basis=""))
    assert standings["A29"].stands_out and not standings["A15"].stands_out


def test_every_counted_indicator_counts_one_kind_of_event():
    counted = load_catalogue().indicators.query("count_basis != ''")
    assert len(counted) >= 20
    for ind in counted.itertuples():
        assert events_scale(ind.formula) in (1, 100, 1000, 10000), ind.id
