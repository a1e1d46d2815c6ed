"""Which figures stand out from London beyond chance: a funnel plot's test, as public health and
NHS benchmarking use it (Spiegelhalter, "Funnel plots for comparing institutional performance",
Statistics in Medicine 2005), for the concerns and strengths a pack leads with.

An indicator's `count_basis` in the catalogue says what its figure counts:
- `binomial`: events among a population that can each have one (2 of 14 PACE requests ended in a
  transfer); the formula's numerator, without its scale (* 100), is the events, its denominator
  the population.
- `poisson`: events over an exposure that any number can fall on (detentions per 10,000 children,
  missing incidents per child who went missing).
- blank: no count behind the figure (a cost, a variance, a balance per child): it is compared with
  London's spread, in robust standard deviations (1.4826 times the median absolute deviation).

For a count, the chance of a figure at least as far from London as the authority's, were its rate
London's, is the exact binomial or Poisson tail (continuous in the count, as FTE and days are not
whole), written as a standard normal deviate z. When London's authorities differ from each other
more than chance gives (overdispersion, estimated from the z of every authority, Winsorised at
10% each side), z is divided by the square root of that factor. A figure stands out when |z| is at
least 3.09, the funnel's 99.8% control limit: chance alone puts a figure there once in 1000, so
across a pack's 19 ranked indicators a pick is almost never chance. A zero among few children
cannot stand out: at London's rate of 5 per 10,000, the City of London's 700 children expect 0.35
events and a zero comes by chance 70 times in 100; a zero stands out only where London's rate
expects about 7 or more (the chance of none is then under 1 in 1000)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from pipelines.collection.catalogue import ratio_form

CONTROL_LIMIT = 3.09  # the 99.8% funnel limit (two-sided), as a standard normal deviate
WINSOR = 0.10  # the share of z trimmed at each end when estimating overdispersion
COUNT_BASES = ("binomial", "poisson")


@dataclass(frozen=True)
class Standing:
    """How far one figure stands from London, allowing for the authority's size."""

    z: float  # signed: positive above London's figure
    stands_out: bool  # beyond the control limit
    expected: float | None  # events at London's rate (a count basis only)
    events: float | None


def events_scale(formula: str) -> float:
    """The constant the formula's numerator carries (100 for a percentage, 10,000 for a rate per
    10,000 children): the numerator over it is the events counted."""
    numerator, _ = ratio_form(formula)
    scales = {abs(c) for c in numerator.values()}
    if len(scales) != 1:
        raise ValueError(f"formula '{formula}' does not count one kind of event")
    return scales.pop()


def _deviate(tail: float) -> float:
    """The standard normal deviate beyond which `tail` of the distribution lies (0 at a half)."""
    return float(-special.ndtri(min(max(tail, 1e-300), 0.5)))


def tail_z(events: float, population: float, rate: float, basis: str) -> float:
    """The standard normal deviate of the exact tail beyond `events` among `population` were the
    rate London's `rate`: positive above what London's rate expects, negative below."""
    expected = rate * population
    if events >= expected:
        if events <= 0:
            return 0.0
        if basis == "binomial":  # P(X >= k) = I_p(k, n - k + 1)
            tail = special.betainc(events, max(population - events, 0.0) + 1.0, rate)
        else:  # P(X >= y) = P(y, E), the regularised lower incomplete gamma
            tail = special.gammainc(events, expected)
        return _deviate(tail)
    if basis == "binomial":  # P(X <= k) = I_{1-p}(n - k, k + 1)
        tail = special.betainc(population - events, events + 1.0, 1.0 - rate)
    else:  # P(X <= y) = Q(y + 1, E)
        tail = special.gammaincc(events + 1.0, expected)
    return -_deviate(tail)


def overdispersion(z: np.ndarray) -> float:
    """The factor by which London's figures vary more than chance gives: the mean square of the
    Winsorised z (at least 1: London is never taken as less varied than chance)."""
    z = np.asarray(z, dtype=float)
    z = z[np.isfinite(z)]
    if len(z) < 5:
        return 1.0
    low, high = np.quantile(z, [WINSOR, 1 - WINSOR])
    return max(float(np.mean(np.clip(z, low, high) ** 2)), 1.0)


def indicator_standings(rows: pd.DataFrame, indicator) -> dict[str, Standing]:
    """Each ranked reporting unit's standing on one indicator, by reporting unit. `rows`: the
    quarter's benchmarks rows of the indicator with their `numerator` and `denominator`
    (indicator_fractions)."""
    ranked = rows[rows["rank"].notna() & rows["value"].notna()].drop_duplicates("reporting_unit")
    if len(ranked) < 3:
        return {}
    basis = getattr(indicator, "count_basis", "") or ""
    units = ranked["reporting_unit"].tolist()
    if basis in COUNT_BASES:
        scale = events_scale(indicator.formula)
        events = (pd.to_numeric(ranked["numerator"]) / scale).to_numpy(dtype=float)
        population = pd.to_numeric(ranked["denominator"]).to_numpy(dtype=float)
        usable = np.isfinite(events) & np.isfinite(population) & (population > 0)
        if usable.sum() < 3:
            return {}
        rate = events[usable].sum() / population[usable].sum()
        if not 0 < rate < (1 if basis == "binomial" else math.inf):
            return {}
        z = np.array(
            [
                tail_z(e, n, rate, basis) if ok else np.nan
                for e, n, ok in zip(events, population, usable, strict=True)
            ]
        )
        z = z / math.sqrt(overdispersion(z))
        return {
            unit: Standing(float(zi), bool(abs(zi) >= CONTROL_LIMIT), rate * n, e)
            for unit, zi, n, e, ok in zip(units, z, population, events, usable, strict=True)
            if ok
        }
    values = pd.to_numeric(ranked["value"]).to_numpy(dtype=float)
    london = pd.to_numeric(ranked["london_value"]).dropna()
    centre = float(london.iloc[0]) if len(london) else float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - np.median(values))))
    if spread <= 0:
        return {}
    z = (values - centre) / spread
    return {
        unit: Standing(float(zi), bool(abs(zi) >= CONTROL_LIMIT), None, None)
        for unit, zi in zip(units, z, strict=True)
    }


def quarter_standings(
    current: pd.DataFrame, fractions: pd.DataFrame, indicators: list
) -> dict[tuple[str, str], Standing]:
    """Every ranked figure's standing in the quarter, by (reporting unit, indicator id); neutral
    indicators and totals have none (they are neither concern nor strength)."""
    if current.empty:
        return {}
    if fractions.empty:
        rows = current.assign(numerator=np.nan, denominator=np.nan)
    else:
        keys = ["indicator_id", "authority"]
        rows = current.merge(fractions[[*keys, "numerator", "denominator"]], on=keys, how="left")
    out = {}
    by_indicator = dict(tuple(rows.groupby("indicator_id", sort=False)))
    for ind in indicators:
        if ind.polarity == "neutral" or getattr(ind, "comparison", "rate") == "total":
            continue
        if ind.id in by_indicator:
            for unit, standing in indicator_standings(by_indicator[ind.id], ind).items():
                out[(unit, ind.id)] = standing
    return out


def worse_by(z: float, polarity: str) -> float:
    """z turned so that positive is worse for the indicator."""
    return z if polarity == "lower_is_better" else -z


def tie_across_the_edge(b: dict, current: pd.DataFrame) -> bool:
    """Whether the figure shares its rank with one that is outside its fifth: a tie spread over
    the fifth's edge says nothing about this authority in particular."""
    same = current[
        (current["indicator_id"] == b["indicator_id"]) & (current["rank"] == b["rank"])
    ].drop_duplicates("reporting_unit")
    return bool((same["top_bottom_20"].fillna("") != (b["top_bottom_20"] or "")).any())


@dataclass(frozen=True)
class Pick:
    """A concern or a strength: the indicator and how far its figure stands from London."""

    indicator: object  # a catalogue row
    standing: Standing


def picks(
    mine: dict[str, dict],
    indicators: list,
    standings: dict[tuple[str, str], Standing],
    current: pd.DataFrame,
    n: int = 3,
) -> tuple[list[Pick], list[Pick]]:
    """An authority's `n` concerns and strengths (its figures by indicator id, as `benchmarks`
    rows): each in London's worse (or better) fifth, not a tie across the fifth's edge, and beyond
    the control limit on the worse (or better) side; furthest from London first."""
    concerns, strengths = [], []
    for ind in indicators:
        b = mine.get(ind.id)
        if b is None or b.get("top_bottom_20") not in ("bottom 20%", "top 20%"):
            continue
        standing = standings.get((b["reporting_unit"], ind.id))
        if standing is None or not standing.stands_out or tie_across_the_edge(b, current):
            continue
        worse = worse_by(standing.z, ind.polarity)
        if b["top_bottom_20"] == "bottom 20%" and worse > 0:
            concerns.append(Pick(ind, standing))
        elif b["top_bottom_20"] == "top 20%" and worse < 0:
            strengths.append(Pick(ind, standing))

    def furthest(p: Pick):
        return (-abs(p.standing.z), p.indicator.id)

    return sorted(concerns, key=furthest)[:n], sorted(strengths, key=furthest)[:n]
