"""Disclosure control for the public edition: what a quarter's release shows, figure by figure.

- **As shown.** Every figure is rounded to the decimals it is shown at; the file holds what the
  reader sees, so a rate and a public population give back no more than the rounded figure does.
- **Primary suppression.** A unit's value is `c` when any count item of its formula is from 1 to 5
  (numerator or denominator; for a joint unit, in either return).
- **Statistics over what is shown.** Ranks (k of the n shown), bands, fifths, lowest, highest,
  median and quartiles are taken over the shown values only, so none of them places a suppressed
  value; changes and earlier quarters come from those quarters' own public releases.
- **Complementary suppression, proven.** Group figures (London, Inner/Outer, sub-region) are
  ratios of sums over every member, suppressed ones included, so they constrain what is hidden.
  `pipelines.release.audit` finds, for every small count, the range an intruder is left with
  given every shown figure and the catalogue's consistency rules; while one is too narrow, a
  complementary unit (chosen by a cost of public facts only: the most groups shared with it, the
  fewest figures hidden, the smallest child population; never by its value) or, where none is
  left, a group figure (London last) is suppressed too, and the audit runs again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import duckdb
import numpy as np
import pandas as pd

from pipelines.benchmark.comparisons import FIFTH, UNIT_BENCHMARK_SQL
from pipelines.collection.catalogue import ONE, POPULATION, Catalogue, formula_refs, ratio_form
from pipelines.release.audit import (
    SMALL,
    VERSION_MARK,
    Finding,
    Model,
    Shown,
    audit,
    interval,
    programmes,
)

SUPPRESSED = "c"
SMALL_COUNTS = SMALL
# The group figures a theme workbook shows, with the benchmarks column that holds each.
GROUP_COLUMNS = {
    "london": "london_value",
    "inner_outer_ons": "inner_outer_value",
    "sub_region": "sub_region_value",
}
GROUP_NAME_COLUMNS = {"london": None, "inner_outer_ons": "inner_outer", "sub_region": "sub_region"}
ORDER_STATISTICS = [
    "london_min",
    "london_lower_quartile",
    "london_median",
    "london_upper_quartile",
    "london_max",
]
NUMERIC_COLUMNS = [
    "value",
    *GROUP_COLUMNS.values(),
    *ORDER_STATISTICS,
    "previous_value",
    "change_on_quarter",
    "year_earlier_value",
    "change_on_year",
]
SHOWN_STATUSES = ("ok", "no denominator")  # a unit in its groups' sums


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


@dataclass
class QuarterUnits:
    """One quarter's units as the release sees them, indicator by indicator."""

    rows: dict[str, dict[str, dict]]  # indicator -> unit -> first benchmarks row of the unit
    groups: dict[str, dict[tuple[str, str], tuple[str, ...]]]  # indicator -> group -> members
    group_values: dict[tuple[str, str, str], float]  # (indicator, grouping, name) -> as shown
    decimals: dict[str, int]


def _quarter_units(benchmarks: pd.DataFrame, groups: pd.DataFrame, catalogue) -> QuarterUnits:
    decimals = dict(zip(catalogue.indicators["id"], catalogue.indicators["decimals"], strict=True))
    rows: dict[str, dict[str, dict]] = {}
    members: dict[str, dict[tuple[str, str], list[str]]] = {}
    for r in benchmarks.to_dict("records"):
        units = rows.setdefault(r["indicator_id"], {})
        if r["reporting_unit"] in units:
            continue
        units[r["reporting_unit"]] = r
        if r["status"] not in SHOWN_STATUSES:
            continue
        for grouping, column in GROUP_NAME_COLUMNS.items():
            key = (grouping, "London" if column is None else r[column])
            members.setdefault(r["indicator_id"], {}).setdefault(key, []).append(
                r["reporting_unit"]
            )
    values = {
        (g.indicator_id, g.grouping, g.group_name): round(float(g.value), decimals[g.indicator_id])
        for g in groups.itertuples()
        if g.grouping in GROUP_COLUMNS and not pd.isna(g.value)
    }
    return QuarterUnits(
        rows,
        {i: {k: tuple(v) for k, v in m.items()} for i, m in members.items()},
        values,
        decimals,
    )


@dataclass
class Suppression:
    """What the release hides in one quarter, and why."""

    primary: set[tuple[str, str]]  # (indicator, unit)
    complementary: set[tuple[str, str]] = field(default_factory=set)
    groups: set[tuple[str, str, str]] = field(default_factory=set)  # (indicator, grouping, name)
    statuses: dict[tuple[str, str], str] = field(default_factory=dict)  # a hidden figure's status

    @property
    def units(self) -> set[tuple[str, str]]:
        return self.primary | self.complementary


@dataclass(frozen=True)
class EarlierRelease:
    """A release of the quarter that is still public, as an intruder reads it beside a revision:
    what it showed and hid, the small counts its audit protected, and the items that have
    changed since (a late return's, a correction's), which were other unknowns then (`versions`:
    (unit, ref) -> (unit@version, ref)). An item that has not changed is the same unknown."""

    units: QuarterUnits
    hidden: Suppression
    targets: list[tuple[str, str]]
    versions: dict[tuple[str, str], tuple[str, str]]

    @cached_property
    def changed_units(self) -> set[str]:
        return {unit for unit, _ in self.versions}


def earlier_release(
    shown: pd.DataFrame,
    groups: pd.DataFrame,
    suppressed: pd.DataFrame,
    targets: list[tuple[str, str]],
    changed: dict[str, tuple[str, set[str] | None]],
    catalogue,
) -> EarlierRelease:
    """An earlier release rebuilt from what the release stage stored of it: `shown`, its public
    benchmarks rows; `groups`, its group figures (value NULL and `suppressed` where hidden);
    `suppressed`, the restricted kind and status of each hidden figure; `targets`, the counts
    its audit protected; `changed`, each authority whose return differs now: the label of its
    return then and the refs whose values differ (None: every ref, as for a return not in then)."""
    rows = shown.copy()
    status = {
        (i, u): (st if isinstance(st, str) else "ok")
        for i, u, st in zip(
            suppressed["indicator_id"],
            suppressed["reporting_unit"],
            suppressed["status"],
            strict=True,
        )
    }
    keys = keys_of(rows)
    # a hidden figure's status is not public, but whether it was in its groups' sums is the truth
    # the intruder's constraints are built on
    rows["status"] = [status.get(k, st) for k, st in zip(keys, rows["status"], strict=True)]
    kinds = dict(zip(keys_of(suppressed), suppressed["kind"], strict=True))
    hidden = Suppression(
        {k for k, kind in kinds.items() if kind == "primary"},
        {k for k, kind in kinds.items() if kind == "complementary"},
        {(g.indicator_id, g.grouping, g.group_name) for g in groups.itertuples() if g.suppressed},
    )
    refs = set(catalogue.items["ref"])
    versions = {}
    for unit in set(rows["reporting_unit"]):
        mine = [changed[a] for a in unit.split("+") if a in changed]
        if not mine:
            continue
        label = unit + VERSION_MARK + "+".join(then for then, _ in mine)
        for ref in sorted(refs):
            if any(which is None or ref in which for _, which in mine):
                versions[(unit, ref)] = (label, ref)
    return EarlierRelease(
        _quarter_units(rows, groups[~groups["suppressed"].astype(bool)], catalogue),
        hidden,
        sorted(targets),
        versions,
    )


def base_unit(unit: str) -> str:
    """The unit an earlier version's unknowns belong to (`BAR@17` -> `BAR`)."""
    return unit.split(VERSION_MARK)[0]


def earlier_figures(
    earlier: tuple[EarlierRelease, ...], catalogue, population: dict[str, float]
) -> tuple[list[Shown], set, dict[int, dict]]:
    """What every earlier release still public tells the intruder: its shown figures (those over
    a changed item tagged with their release), the counts it showed were not small, and each
    release's versions of changed items. Fixed while a revision's suppression is chosen."""
    shown, not_small, versions = [], set(), {}
    for number, e in enumerate(earlier, 1):
        versions[number] = e.versions
        then = audit_model(e.units, e.hidden, catalogue, population)
        for figure in then.shown:
            changed = any(
                (unit, ref) in e.versions
                for unit in figure.members
                for part in then.forms[figure.indicator]
                for ref in part
            )
            # a figure over the same unknowns as now is the same constraint as now's, if shown
            shown.append(replace(figure, release=number) if changed else figure)
        not_small |= {e.versions.get(v, v) for v in then.not_small}
    return shown, not_small, versions


def joint_model(
    q: QuarterUnits,
    hidden: Suppression,
    catalogue,
    population: dict[str, float],
    earlier: tuple[EarlierRelease, ...] = (),
    figures: tuple[list[Shown], set, dict[int, dict]] | None = None,
) -> Model:
    """What an intruder knows of the quarter's counts from this edition and every earlier release
    still public: each earlier release's figures are constraints too, on the same unknowns where
    an item has not changed since, on its earlier version's where it has (`figures`: those of
    `earlier_figures`, when already worked out)."""
    model = audit_model(q, hidden, catalogue, population)
    shown, not_small, versions = figures or earlier_figures(earlier, catalogue, population)
    model.shown = list(dict.fromkeys(model.shown + shown))
    model.not_small |= not_small
    model.versions = versions
    return model


def joint_targets(targets: list, earlier: tuple[EarlierRelease, ...]) -> list[tuple[str, str]]:
    """This release's small counts and those each earlier release protected (a changed item's
    under its name then): a revision must not give back what an earlier release hid."""
    joint = set(targets)
    for e in earlier:
        joint |= {e.versions.get(t, t) for t in e.targets}
    return sorted(joint)


def audit_model(q: QuarterUnits, hidden: Suppression, catalogue, population) -> Model:
    """What an intruder knows of the quarter's counts from the public edition."""
    refs = count_refs(catalogue)
    items = catalogue.items.set_index("ref")
    forms = {
        i: ratio_form(f)
        for i, f in zip(catalogue.indicators["id"], catalogue.indicators["formula"], strict=True)
        if refs[i]
    }
    model = Model(
        forms=forms,
        population=population,
        counts=set(items.index[items["unit"] == "count"]),
        negative=set(items.index[items["can_be_negative"] == "yes"]),
        rules=[rule_row(rule) for rule in catalogue.rules],
    )
    for indicator in forms:
        for unit, r in q.rows.get(indicator, {}).items():
            if (indicator, unit) in hidden.units or r["status"] not in SHOWN_STATUSES:
                continue
            if r["status"] == "ok":
                low, high = interval(
                    round(float(r["value"]), q.decimals[indicator]), q.decimals[indicator]
                )
                model.shown.append(Shown(indicator, (unit,), low, high))
            else:
                model.shown.append(Shown(indicator, (unit,), zero_denominator=True))
            model.not_small |= {(unit, ref) for ref in refs[indicator]}
        for (grouping, name), members in q.groups.get(indicator, {}).items():
            value = q.group_values.get((indicator, grouping, name))
            if value is None or (indicator, grouping, name) in hidden.groups:
                continue
            low, high = interval(value, q.decimals[indicator])
            model.shown.append(Shown(indicator, members, low, high))
    return model


def rule_row(rule) -> tuple[dict[str, float], float, float]:
    """`ADO06 <= ADO12` as ({ADO06: 1, ADO12: -1}, -inf, 0)."""
    coefs = {rule.ref: 1.0}
    for term in rule.terms:
        coefs[term] = coefs.get(term, 0.0) - 1.0
    return (coefs, -np.inf, 0.0) if rule.op == "<=" else (coefs, 0.0, np.inf)


def _targets(q: QuarterUnits, items: pd.DataFrame, catalogue) -> list[tuple[str, str]]:
    """The small counts (unit, ref) that enter some figure: what the audit protects."""
    low, high = SMALL_COUNTS
    small = {
        (a, r)
        for a, r, v in zip(items["authority"], items["ref"], items["value"], strict=True)
        if low <= v <= high
    }
    targets = set()
    for indicator, refs in count_refs(catalogue).items():
        for unit, r in q.rows.get(indicator, {}).items():
            if r["status"] not in SHOWN_STATUSES:
                continue
            for ref in refs:
                if any((a, ref) in small for a in unit.split("+")):
                    targets.add((unit, ref))
    return sorted(targets)


def _complement(
    q: QuarterUnits,
    hidden: Suppression,
    target,
    forms: dict,
    population: dict[str, float],
    published: frozenset = frozenset(),
) -> bool:
    """Hide one more figure that covers `target`; False when nothing is left to hide.

    A complementary unit is hidden in every indicator that uses the count, as a small count is:
    hidden in one, its count would still be pinned down by the others. Which unit is chosen by a
    cost of public facts only: the most groups shared with the target (so the fewest group
    figures to hide), then the fewest figures hidden, then the smallest child population (the
    least read), then its code. Never by its value: an intruder who knows the rule would learn
    from "the smallest value first" that every other candidate's is larger. A figure an earlier
    release showed of the same return (`published`) is known for good: hiding it now protects
    nothing, so it is never a candidate, and a revision hides the group figures instead."""
    unit, ref = target
    involved = [
        i
        for i, units in q.rows.items()
        if ref in forms[i][0] | forms[i][1]
        and unit in units
        and units[unit]["status"] in SHOWN_STATUSES
    ]
    if not involved:
        return False
    # Groups are compared in the indicator whose denominator is public (children 0-17) if any:
    # there a shown figure gives the count back to its rounding.
    involved.sort(key=lambda i: not set(forms[i][1]) <= {ONE, POPULATION})
    lead = involved[0]
    mine = [
        k
        for k, members in q.groups.get(lead, {}).items()
        if unit in members and (lead, *k) not in hidden.groups and (lead, *k) in q.group_values
    ]

    def newly_hidden(other: str) -> set[tuple[str, str]]:
        return {
            (i, other)
            for i in involved
            if (i, other) not in hidden.units and q.rows[i].get(other, {}).get("status") == "ok"
        }

    candidates = []
    for other, r in q.rows[lead].items():
        if other == unit or r["status"] != "ok" or not newly_hidden(other):
            continue
        if (lead, other) in published:
            continue
        shared = sum(other in q.groups[lead][k] for k in mine)
        if shared:
            cost = (-shared, len(newly_hidden(other)), population.get(other, 0.0), other)
            candidates.append(cost)
    if candidates:
        hidden.complementary |= newly_hidden(min(candidates)[-1])
        return True
    for indicator in involved:
        shown = [
            (k[0] == "london", len(members), k)
            for k, members in q.groups.get(indicator, {}).items()
            if unit in members
            and (indicator, *k) not in hidden.groups
            and (indicator, *k) in q.group_values
        ]
        if shown:
            hidden.groups.add((indicator, *min(shown)[2]))
            return True
    return False


def choose_suppression(
    q: QuarterUnits,
    items: pd.DataFrame,
    primary: set,
    catalogue,
    population,
    earlier: tuple[EarlierRelease, ...] = (),
) -> tuple[Suppression, list[Finding]]:
    """Primary suppression, then complementary suppressions until the audit passes, this release
    read together with every `earlier` one still public."""
    hidden = Suppression(set(primary))
    targets = joint_targets(_targets(q, items, catalogue), earlier)
    forms = {
        i: ratio_form(f)
        for i, f in zip(catalogue.indicators["id"], catalogue.indicators["formula"], strict=True)
    }
    published = frozenset(
        (indicator, unit)
        for e in earlier
        for indicator, units in e.units.rows.items()
        for unit, r in units.items()
        if r["status"] == "ok"
        and (indicator, unit) not in e.hidden.units
        and unit not in e.changed_units
    )
    before = earlier_figures(earlier, catalogue, population)
    memo: dict = {}  # each part of the programme, solved once while nothing in it changes
    while True:
        model = joint_model(q, hidden, catalogue, population, figures=before)
        findings = audit(model, targets, memo=memo)
        failing = [(f.unit, f.ref) for f in findings if not f.protected]
        if not failing:
            return hidden, findings
        acted = False
        # an earlier version's count is protected by hiding more around its unit now
        for unit, ref in dict.fromkeys((base_unit(u), r) for u, r in failing):
            acted |= _complement(q, hidden, (unit, ref), forms, population, published)
        if not acted:  # nothing near is left to hide: every figure that uses the count goes
            before = len(hidden.complementary) + len(hidden.groups)
            for _, ref in failing:
                _hide_every_figure_using(q, hidden, ref, forms)
            if len(hidden.complementary) + len(hidden.groups) == before:
                return hidden, findings


def _hide_every_figure_using(q: QuarterUnits, hidden: Suppression, ref: str, forms) -> None:
    """The last resort: the indicators that use `ref` published for nobody. With no shown figure
    left that holds it, the count is free."""
    for indicator, units in q.rows.items():
        if ref in forms[indicator][0] | forms[indicator][1]:
            hidden.complementary |= {
                (indicator, u) for u, r in units.items() if r["status"] == "ok"
            } - hidden.primary
            hidden.groups |= {(indicator, *k) for k in q.groups.get(indicator, {})}


def exact_audit(
    benchmarks: pd.DataFrame,
    groups: pd.DataFrame,
    items: pd.DataFrame,
    hidden: Suppression,
    catalogue: Catalogue,
    population: pd.Series,
    bounds: bool = True,
    earlier: tuple[EarlierRelease, ...] = (),
) -> list[Finding]:
    """Each small count's smallest and largest possible value given the quarter as published with
    `hidden` suppressed, beside every `earlier` release still public (with `bounds` False, only
    whether it can be 0 and the margin: seconds, where the bounds of a quarter whose rules link
    many counts take minutes). Checks first that the true values (`items`, every unit) meet every
    constraint of the intruder's model: a model the truth breaks proves nothing. (An earlier
    version's values are not kept, so a part holding one is checked by the audit of its own
    release.)"""
    q = _quarter_units(benchmarks, groups, catalogue)
    model = joint_model(
        q, hidden, catalogue, unit_populations(benchmarks, population), tuple(earlier)
    )
    targets = joint_targets(_targets(q, items[items["unit"] == "count"], catalogue), earlier)
    truth = items.groupby(["authority", "ref"])["value"].sum().to_dict()
    for programme, _ in programmes(model, targets):
        if any(VERSION_MARK in unit for unit, _ in programme.vars):
            continue
        # a joint unit's item is its first authority's that has it, as comparisons takes it
        values = {
            (unit, ref): next((truth[a, ref] for a in unit.split("+") if (a, ref) in truth), 0.0)
            for unit, ref in programme.vars
        }
        if not programme.satisfied_by(values):
            raise ValueError(f"the audit model excludes the true values of {programme.vars}")
    return audit(model, targets, exact=bounds)


def keys_of(benchmarks: pd.DataFrame) -> list[tuple[str, str]]:
    """(indicator, unit) of each row."""
    return list(zip(benchmarks["indicator_id"], benchmarks["reporting_unit"], strict=True))


def unit_populations(benchmarks: pd.DataFrame, population: pd.Series) -> dict[str, float]:
    """Children 0-17 of each reporting unit (a joint unit's authorities added up)."""
    units = benchmarks[["authority", "reporting_unit"]].drop_duplicates()
    units = units.assign(population=units["authority"].map(population).astype(float))
    return units.groupby("reporting_unit")["population"].sum().to_dict()


@dataclass(frozen=True)
class PublicQuarter:
    """A quarter's public edition: its benchmarks rows and group figures, with `c` where hidden,
    and how it was protected."""

    benchmarks: pd.DataFrame
    groups: pd.DataFrame
    suppression: Suppression
    findings: list[Finding]

    def counts(self, catalogue) -> pd.DataFrame:
        """Suppressions of each kind, per indicator."""
        rows = []
        for ind in catalogue.indicators["id"]:
            rows.append(
                {
                    "indicator_id": ind,
                    "primary": sum(i == ind for i, _ in self.suppression.primary),
                    "complementary": sum(i == ind for i, _ in self.suppression.complementary),
                    "group_figures": sum(g[0] == ind for g in self.suppression.groups),
                }
            )
        return pd.DataFrame(rows)


def _direction(change, polarity) -> str | None:
    if change is None or isinstance(change, str) or pd.isna(change):
        return None
    if change == 0:
        return "no change"
    if polarity == "neutral":
        return "up" if change > 0 else "down"
    return "improved" if (change > 0) == (polarity == "higher_is_better") else "worsened"


def public_quarter(
    benchmarks: pd.DataFrame,
    groups: pd.DataFrame,
    items: pd.DataFrame,
    catalogue: Catalogue,
    population: pd.Series,
    earlier: pd.DataFrame | None = None,
    releases: tuple[EarlierRelease, ...] = (),
) -> PublicQuarter:
    """The public edition of one quarter's `benchmarks` rows and `group_aggregates`.

    `items`: the quarter's count items (authority, ref, value); `population`: children 0-17 by
    authority; `earlier`: the public benchmarks of earlier quarters (their own releases), for the
    previous-quarter and year-earlier figures; `releases`: this quarter's releases still public,
    which a revision is audited together with."""
    b = benchmarks.reset_index(drop=True)
    q = _quarter_units(b, groups, catalogue)
    primary_rows = primary_suppression(
        b,
        items.assign(quarter=b["quarter"].iloc[0]) if "quarter" not in items else items,
        catalogue,
    )
    primary = set(
        zip(b.loc[primary_rows, "indicator_id"], b.loc[primary_rows, "reporting_unit"], strict=True)
    )
    hidden, findings = choose_suppression(
        q, items, primary, catalogue, unit_populations(b, population), tuple(releases)
    )
    status = dict(zip(keys_of(b), b["status"], strict=True))
    hidden.statuses = {k: status[k] for k in sorted(hidden.units)}
    out = b.copy()
    keys = list(zip(out["indicator_id"], out["reporting_unit"], strict=True))
    is_hidden = np.array([k in hidden.units for k in keys])
    decimals = out["indicator_id"].map(q.decimals)
    out["value"] = [
        None if pd.isna(v) else round(float(v), int(d))
        for v, d in zip(out["value"], decimals, strict=True)
    ]
    out = _shown_statistics(out, is_hidden, catalogue)
    for grouping, column in GROUP_COLUMNS.items():
        names = (
            ["London"] * len(out)
            if GROUP_NAME_COLUMNS[grouping] is None
            else out[GROUP_NAME_COLUMNS[grouping]]
        )
        out[column] = [
            SUPPRESSED
            if (i, grouping, n) in hidden.groups
            else q.group_values.get((i, grouping, n))
            for i, n in zip(out["indicator_id"], names, strict=True)
        ]
    for column in NUMERIC_COLUMNS:
        out[column] = out[column].astype(object)
    out.loc[is_hidden, "value"] = SUPPRESSED
    out.loc[is_hidden, "symbol"] = SUPPRESSED
    # c and nothing else: a status or reliability flag would say something of the hidden value
    out["status"] = out["status"].astype(object).where(~is_hidden, None)
    out["low_reliability"] = out["low_reliability"].astype("boolean").where(~is_hidden, pd.NA)
    out = _earlier_figures(out, earlier, catalogue)
    shown = groups[groups["grouping"].isin(GROUP_COLUMNS)].copy()
    shown["value"] = [
        SUPPRESSED
        if (g.indicator_id, g.grouping, g.group_name) in hidden.groups
        else q.group_values.get((g.indicator_id, g.grouping, g.group_name))
        for g in shown.itertuples()
    ]
    shown["value"] = shown["value"].astype(object)
    return PublicQuarter(out, shown.reset_index(drop=True), hidden, findings)


def _shown_statistics(out: pd.DataFrame, is_hidden: np.ndarray, catalogue) -> pd.DataFrame:
    """Ranks, n, bands, fifths and order statistics over the shown values only, by the same SQL
    as the restricted edition's (pipelines.benchmark.comparisons)."""
    units = out[~out.duplicated(["indicator_id", "reporting_unit"])].copy()
    hidden_units = set(
        zip(out.loc[is_hidden, "indicator_id"], out.loc[is_hidden, "reporting_unit"], strict=True)
    )
    units["value"] = [
        None if (i, u) in hidden_units else v
        for i, u, v in zip(
            units["indicator_id"], units["reporting_unit"], units["value"], strict=True
        )
    ]
    frame = pd.DataFrame(
        {
            "scope": "any",
            "unit": units["reporting_unit"],
            "indicator_id": units["indicator_id"],
            "value": pd.to_numeric(units["value"]).astype("float64"),
            "status": units["status"],
            "low_reliability": units["low_reliability"].astype(bool),
        }
    )
    con = duckdb.connect()
    try:
        con.register("unit_indicators", frame)
        con.register("catalogue_indicators", catalogue.indicators)
        shown = con.execute(UNIT_BENCHMARK_SQL, {"fifth": FIFTH}).df()
    finally:
        con.close()
    columns = ["rank", "n_reporting", *ORDER_STATISTICS, "quartile_band", "top_bottom_20"]
    shown = shown.rename(columns={"unit": "reporting_unit"})[
        ["indicator_id", "reporting_unit", *columns]
    ]
    decimals = dict(zip(catalogue.indicators["id"], catalogue.indicators["decimals"], strict=True))
    for column in ORDER_STATISTICS:
        shown[column] = [
            None if pd.isna(v) else round(float(v), int(decimals[i]))
            for i, v in zip(shown["indicator_id"], shown[column], strict=True)
        ]
    merged = out.drop(columns=columns).merge(
        shown, on=["indicator_id", "reporting_unit"], how="left"
    )
    return merged[out.columns]


def _earlier_figures(out: pd.DataFrame, earlier: pd.DataFrame | None, catalogue) -> pd.DataFrame:
    """Previous-quarter and year-earlier figures from those quarters' public releases, and the
    changes between the figures as shown (so a change says nothing the two figures do not)."""
    from pipelines.collection.quarters import parse_quarter

    quarter = parse_quarter(out["quarter"].iloc[0])
    polarity = out["indicator_id"].map(catalogue.indicators.set_index("id")["polarity"])
    decimals = out["indicator_id"].map(catalogue.indicators.set_index("id")["decimals"])
    for then, value_col, change_col, direction_col in (
        (quarter.previous().key, "previous_value", "change_on_quarter", "direction_on_quarter"),
        (quarter.year_earlier().key, "year_earlier_value", "change_on_year", "direction_on_year"),
    ):
        found = {}
        if earlier is not None and len(earlier):
            rows = earlier[earlier["quarter"] == then]
            found = {
                (i, a): (v, u)
                for i, a, v, u in zip(
                    rows["indicator_id"],
                    rows["authority"],
                    rows["value"],
                    rows["reporting_unit"],
                    strict=True,
                )
            }
        values, changes, directions = [], [], []
        for i, a, unit, now, pol, d in zip(
            out["indicator_id"],
            out["authority"],
            out["reporting_unit"],
            out["value"],
            polarity,
            decimals,
            strict=True,
        ):
            before, before_unit = found.get((i, a), (None, None))
            before = None if not isinstance(before, str) and pd.isna(before) else before
            values.append(before)
            if SUPPRESSED in (before, now):
                change = (
                    SUPPRESSED
                    if before is not None and now is not None and not pd.isna(now)
                    else None
                )
            elif before is None or now is None or pd.isna(now) or before_unit != unit:
                change = None
            else:
                change = round(float(now) - float(before), int(d))
            changes.append(change)
            directions.append(_direction(change, pol))
        out[value_col] = pd.Series(values, index=out.index, dtype=object)
        out[change_col] = pd.Series(changes, index=out.index, dtype=object)
        out[direction_col] = directions
    return out
