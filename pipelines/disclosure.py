"""Disclosure control for the publishable edition: counts from 1 to 5 become `c`, and so does every
figure from which one could be worked back.

Primary suppression: a unit's indicator value is `c` when any count item of its formula is from 1
to 5 (numerator or denominator: a rate per 10,000 children gives the count back with the public
population, and a percentage of a small denominator is a small count).

Secondary suppression: group figures are ratios of sums, so a published London, Inner/Outer or
sub-region figure, less the published members, leaves the suppressed members' sum. A suppressed
value is safe while no combination of the published group figures isolates it; where one does, the
smallest group figure involved is suppressed too, until none does. Order statistics (lowest,
highest, median, quartiles) that are, or are interpolated from, a suppressed value are `c`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.catalogue import Catalogue, formula_refs
from pipelines.quarters import Quarter, parse_quarter

SUPPRESSED = "c"
SMALL_COUNTS = (1, 5)
# The group figures a theme workbook shows, with the benchmarks column that holds each.
GROUP_COLUMNS = {
    "london": "london_value",
    "inner_outer_ons": "inner_outer_value",
    "sub_region": "sub_region_value",
}
GROUP_NAME_COLUMNS = {"london": None, "inner_outer_ons": "inner_outer", "sub_region": "sub_region"}
ORDER_STATISTICS = {
    "london_min": 0.0,
    "london_lower_quartile": 0.25,
    "london_median": 0.5,
    "london_upper_quartile": 0.75,
    "london_max": 1.0,
}


def count_refs(catalogue: Catalogue) -> dict[str, list[str]]:
    """Each indicator's count items."""
    counts = set(catalogue.items.loc[catalogue.items["unit"] == "count", "ref"])
    return {
        ind.id: [r for r in formula_refs(ind.formula) if r in counts]
        for ind in catalogue.indicators.itertuples()
    }


def primary_suppression(
    benchmarks: pd.DataFrame, items: pd.DataFrame, catalogue: Catalogue
) -> pd.Series:
    """True for each benchmarks row whose unit has a count item of the formula from 1 to 5 in any
    of its authorities' returns. `items`: quarter, authority, ref, value."""
    low, high = SMALL_COUNTS
    small = items[items["value"].between(low, high)][["quarter", "authority", "ref"]]
    pairs = pd.DataFrame(
        [(i, r) for i, refs in count_refs(catalogue).items() for r in refs],
        columns=["indicator_id", "ref"],
    )
    rows = benchmarks[["quarter", "indicator_id", "authority", "reporting_unit"]]
    hits = rows.merge(pairs, on="indicator_id").merge(small, on=["quarter", "authority", "ref"])
    units = set(hits[["quarter", "indicator_id", "reporting_unit"]].itertuples(index=False))
    keys = rows[["quarter", "indicator_id", "reporting_unit"]].itertuples(index=False)
    return pd.Series([k in units for k in keys], index=benchmarks.index, dtype=bool)


def _determined(members: np.ndarray) -> np.ndarray:
    """Which unknowns (columns) a set of published sums (rows of 0/1) pins down exactly: column j
    is determined when the unit vector e_j lies in the rows' span."""
    if members.size == 0:
        return np.zeros(members.shape[1], dtype=bool)
    base = np.linalg.matrix_rank(members)
    return np.array(
        [
            np.linalg.matrix_rank(np.vstack([members, np.eye(members.shape[1])[j]])) == base
            for j in range(members.shape[1])
        ]
    )


@dataclass
class Unit:
    """A unit in one quarter's and indicator's group sums."""

    name: str
    suppressed: bool
    value: float | None  # the published value, None if none
    groups: tuple[tuple[str, str], ...]  # (grouping, group name) of each published group figure


def _exposed(members: dict, hidden: list[str], hidden_groups: set) -> str | None:
    """The first hidden unit that the published group figures pin down, if any."""
    column = {u: j for j, u in enumerate(hidden)}
    matrix = np.zeros((len(members), len(hidden)))
    for r, (key, names) in enumerate(members.items()):
        if key not in hidden_groups:
            matrix[r, [column[u] for u in names if u in column]] = 1
    exposed = np.flatnonzero(_determined(matrix[matrix.any(axis=1)]))
    return hidden[exposed[0]] if len(exposed) else None


def secondary_suppression(units: list[Unit]) -> tuple[set[str], set[tuple[str, str]]]:
    """The further unit values and group figures to suppress so that no suppressed value can be
    worked back from the published group figures.

    An exposed unit is covered by suppressing a complementary unit: the one sharing the most groups
    with it, the smallest value first, as is usual. A group figure (London last) is suppressed only
    where no unit is left to hide."""
    by_name = {u.name: u for u in units}
    members: dict[tuple[str, str], list[str]] = {}
    for u in units:
        for key in u.groups:
            members.setdefault(key, []).append(u.name)
    hidden = sorted(u.name for u in units if u.suppressed)
    extra: set[str] = set()
    hidden_groups: set[tuple[str, str]] = set()
    while hidden and (exposed := _exposed(members, hidden, hidden_groups)) is not None:
        shared = set(by_name[exposed].groups) - hidden_groups
        candidates = [
            (-len(shared & set(u.groups)), u.value, u.name)
            for u in units
            if u.name not in hidden and u.value is not None and shared & set(u.groups)
        ]
        if candidates:
            chosen = min(candidates)[2]
            extra.add(chosen)
            hidden = sorted([*hidden, chosen])
        else:
            hidden_groups.add(min(shared, key=lambda k: (k[0] == "london", len(members[k]), k[1])))
    return extra, hidden_groups


def _interpolated_from(n: int, p: float) -> list[int]:
    """Positions (in ascending order) a quantile_cont at p interpolates between."""
    h = (n - 1) * p
    return sorted({math.floor(h), math.ceil(h)})


def order_statistics_to_suppress(ranked: list[tuple[float, bool]]) -> set[str]:
    """The London distribution columns that are, or are interpolated from, a suppressed value.
    `ranked`: (value, suppressed) of each ranked unit."""
    ordered = sorted(ranked, key=lambda r: r[0])
    return {
        column
        for column, p in ORDER_STATISTICS.items()
        if ordered and any(ordered[k][1] for k in _interpolated_from(len(ordered), p))
    }


NUMERIC_COLUMNS = [
    "value",
    *GROUP_COLUMNS.values(),
    *ORDER_STATISTICS,
    "previous_value",
    "change_on_quarter",
    "year_earlier_value",
    "change_on_year",
]


def publishable(
    benchmarks: pd.DataFrame,
    groups: pd.DataFrame,
    items: pd.DataFrame,
    catalogue: Catalogue,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The benchmarks (any quarters) and group aggregates with disclosure control applied:
    suppressed figures hold the text `c`; the rank, band and 20% flag of a suppressed value are
    removed. Statutory Inner/Outer figures are dropped (the workbooks do not show them)."""
    benchmarks = benchmarks.reset_index(drop=True)
    suppressed = primary_suppression(benchmarks, items, catalogue).to_numpy().copy()
    hide = {column: np.zeros(len(benchmarks), dtype=bool) for column in NUMERIC_COLUMNS}
    hidden_groups: set[tuple] = set()
    columns = ["quarter", "indicator_id", "reporting_unit", "value", "status", "low_reliability"]
    columns += [*GROUP_COLUMNS.values(), *GROUP_NAME_COLUMNS.values()]
    records = benchmarks[[c for c in dict.fromkeys(columns) if c]].to_dict("records")
    by_indicator: dict[tuple[str, str], list[int]] = {}
    for position, r in enumerate(records):
        by_indicator.setdefault((r["quarter"], r["indicator_id"]), []).append(position)

    for (quarter, indicator), positions in by_indicator.items():
        units = _units([records[p] for p in positions], suppressed[positions])
        extra, hidden = secondary_suppression(units)
        for p in positions:
            r = records[p]
            suppressed[p] |= r["reporting_unit"] in extra
            for grouping, name in hidden:
                column = GROUP_NAME_COLUMNS[grouping]
                if column is None or r[column] == name:
                    hide[GROUP_COLUMNS[grouping]][p] = True
        hidden_groups |= {(quarter, indicator, g, n) for g, n in hidden}
        # the values the order statistics are taken over (totals are not ranked, but have them)
        ranked = {
            records[p]["reporting_unit"]: (records[p]["value"], bool(suppressed[p]))
            for p in positions
            if not pd.isna(records[p]["value"]) and not records[p]["low_reliability"]
        }
        for column in order_statistics_to_suppress(list(ranked.values())):
            hide[column][positions] = True

    hide["value"] |= suppressed
    keys = list(
        zip(benchmarks["quarter"], benchmarks["indicator_id"], benchmarks["authority"], strict=True)
    )
    hidden_rows = {k for k, s in zip(keys, suppressed, strict=True) if s}
    known_rows = set(keys)
    quarters = {q: parse_quarter(q) for q in benchmarks["quarter"].unique()}
    for value, change, before in (
        ("previous_value", "change_on_quarter", Quarter.previous),
        ("year_earlier_value", "change_on_year", Quarter.year_earlier),
    ):
        # An earlier quarter outside the frame cannot be checked, so its figure is hidden.
        then_keys = {q: before(quarter).key for q, quarter in quarters.items()}
        earlier = [(then_keys[q], i, a) for q, i, a in keys]
        then = np.array([k in hidden_rows or k not in known_rows for k in earlier], dtype=bool)
        hide[value] |= then
        hide[change] |= then | suppressed

    out = benchmarks.copy()
    for column, mask in hide.items():
        out[column] = out[column].astype(object)
        out.loc[mask & out[column].notna().to_numpy(), column] = SUPPRESSED
    out.loc[suppressed, "symbol"] = SUPPRESSED
    out.loc[suppressed, ["rank", "quartile_band", "top_bottom_20"]] = None
    out.loc[hide["change_on_quarter"], "direction_on_quarter"] = None
    out.loc[hide["change_on_year"], "direction_on_year"] = None

    shown = groups[groups["grouping"].isin(GROUP_COLUMNS)].copy()
    shown["value"] = shown["value"].astype(object)
    group_keys = shown[["quarter", "indicator_id", "grouping", "group_name"]]
    shown.loc[[tuple(k) in hidden_groups for k in group_keys.itertuples(index=False)], "value"] = (
        SUPPRESSED
    )
    return out, shown


def _units(rows: list[dict], suppressed: np.ndarray) -> list[Unit]:
    """The units in the group sums of one quarter and indicator. A zero denominator gives no value,
    but the unit's numerator is still in its groups' sums."""
    units: dict[str, Unit] = {}
    for r, hit in zip(rows, suppressed, strict=True):
        if r["status"] not in ("ok", "no denominator") or r["reporting_unit"] in units:
            continue
        groups = tuple(
            (grouping, "London" if name_column is None else r[name_column])
            for grouping, name_column in GROUP_NAME_COLUMNS.items()
            if not pd.isna(r[GROUP_COLUMNS[grouping]])
        )
        value = r["value"] if r["status"] == "ok" else None
        units[r["reporting_unit"]] = Unit(r["reporting_unit"], bool(hit), value, groups)
    return list(units.values())
