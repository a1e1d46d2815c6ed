"""The regional comparison of one quarter: item statuses, reporting units, derived indicators, London
and group aggregates, ranks, quartiles and the top/bottom fifth.

A *reporting unit* is what is compared: an authority, or for workforce indicators Kingston upon
Thames with Richmond upon Thames where their current returns say they reported workforce jointly.
Each unit is counted once (in ranks, n, quartiles and sums) and each of its authorities gets its
row. The indicator arithmetic is generated from the catalogue's formulas, never typed here; the SQL
that compares units is written out below for analysts to read."""

from __future__ import annotations

import duckdb
import pandas as pd

from pipelines.benchmark.groups import GroupSets
from pipelines.collection.catalogue import (
    ONE,
    POPULATION,
    Authorities,
    Catalogue,
    formula_refs,
    formula_sql,
    ratio_form,
)
from pipelines.collection.quarters import Quarter

# Why an item or indicator has no value, most serious first; an indicator takes its items' worst.
STATUS_ORDER = [
    "not returned",
    "return rejected",
    "value rejected",
    "not available",
    "not collected",
    "ok",
]
RELIABILITY_MINIMUM = 10  # a ratio whose denominator is below this is shown, marked u, not ranked
FIFTH = 0.2
GROUPINGS = ["inner_outer_ons", "inner_outer_statutory", "sub_region"]
# The groups the workbooks and the public edition show figures of; group_aggregates holds every
# comparator group's too, for analysts.
AREA_GROUPINGS = ["london", *GROUPINGS]
MEMBERSHIP = ["set_id", "group_name", "authority", "left_out"]
JOINT_SCOPE_THEME = "workforce"


def indicator_scope(theme: str) -> str:
    """Units of the `workforce` scope pair joint reporters; every other theme compares authorities."""
    return "workforce" if theme == JOINT_SCOPE_THEME else "authority"


def item_status(
    quarter: Quarter,
    values: pd.DataFrame,
    submissions: pd.DataFrame,
    authorities: Authorities,
    catalogue: Catalogue,
) -> pd.DataFrame:
    """One row per authority and item from the current returns: value, and status (ok, not
    available, not collected, value rejected, return rejected, not returned)."""
    current = values[values["is_current"]]
    grid = pd.MultiIndex.from_product(
        [authorities.codes, list(catalogue.items["ref"])], names=["authority", "ref"]
    ).to_frame(index=False)
    out = grid.merge(
        current[["authority", "ref", "value", "status"]], on=["authority", "ref"], how="left"
    )
    out["status"] = (
        out["status"].astype(object).replace({"x": "not available", "error": "value rejected"})
    )
    has_current = set(submissions.loc[submissions["is_current"], "authority"])
    rejected_only = set(submissions["authority"].dropna()) - has_current
    # Not collected: an item the quarter's template does not have, or (a return made on an older
    # template) that the authority's own return could not hold.
    current_subs = submissions[submissions["is_current"]]
    quarter_version = catalogue.template_version(quarter)
    own_version = out["authority"].map(
        current_subs.set_index("authority")["template_version"].astype("float64")
    )
    since = out["ref"].map(catalogue.items.set_index("ref")["since_template"])
    not_collected = (since > quarter_version) | (since > own_version.fillna(quarter_version))
    out.loc[not_collected, ["status", "value"]] = ["not collected", None]
    # An authority without a return is that, whatever its template would have held.
    out.loc[out["authority"].isin(rejected_only), "status"] = "return rejected"
    out.loc[~out["authority"].isin(has_current | rejected_only), "status"] = "not returned"
    # a required item absent from an accepted return was reported as an error on that return
    out["status"] = out["status"].fillna("value rejected")
    out.loc[out["status"] != "ok", "value"] = None
    return out


def reporting_units(submissions: pd.DataFrame, authorities: Authorities) -> pd.DataFrame:
    """(authority, scope, unit): each authority is its own unit, except in the workforce scope
    where a current return names a joint workforce partner: then both are the unit `A+B`."""
    unit = {code: code for code in authorities.codes}
    joint = submissions[submissions["is_current"] & submissions["joint_workforce_with"].notna()]
    for a, b in zip(joint["authority"], joint["joint_workforce_with"], strict=True):
        if a in unit and b in unit and a != b:
            pair = "+".join(sorted({a, b}))
            unit[a] = unit[b] = pair
    codes = authorities.codes
    return pd.concat(
        [
            pd.DataFrame({"authority": codes, "scope": "authority", "unit": codes}),
            pd.DataFrame(
                {"authority": codes, "scope": "workforce", "unit": [unit[c] for c in codes]}
            ),
        ],
        ignore_index=True,
    )


def unit_items(
    items: pd.DataFrame,
    units: pd.DataFrame,
    authorities: Authorities,
    memberships: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The item values and statuses of every unit, wide (one column per item, plus the unit's 0-17
    population), and the groups each unit belongs to: London, the authorities file's groupings
    and every group of `memberships` (GroupSets.memberships) from the group sets.

    A joint unit's item is the first of its authorities' returns that has it (both send the pair's
    combined figures); the unit's population is the sum of its authorities'."""
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    long = units.merge(items, on="authority")
    long = long.assign(order=-long["status"].map(rank)).sort_values(
        ["scope", "unit", "ref", "order", "authority"]
    )
    best = long.groupby(["scope", "unit", "ref"], sort=False).head(1)
    values = best.pivot(index=["scope", "unit"], columns="ref", values="value")
    values = values.reindex(columns=list(dict.fromkeys(items["ref"]))).astype("float64")
    statuses = best.assign(status=best["status"].map(lambda s: f"{rank[s]}:{s}")).pivot(
        index=["scope", "unit"], columns="ref", values="status"
    )
    table = authorities.table.set_index("liia_code")
    population = (
        units.assign(population=units["authority"].map(table["population_0_17"]).astype("float64"))
        .groupby(["scope", "unit"])["population"]
        .sum()
    )
    values[POPULATION] = population
    members = units.merge(table[GROUPINGS], left_on="authority", right_index=True)
    in_sets = units.merge(
        (memberships if memberships is not None else pd.DataFrame(columns=MEMBERSHIP)).rename(
            columns={"set_id": "grouping"}
        ),
        on="authority",
    )
    own = units.rename(columns={"authority": "left_out", "unit": "own_unit"})
    in_sets = in_sets.merge(own, on=["scope", "left_out"], how="left")
    in_sets = in_sets[in_sets["unit"] != in_sets["own_unit"]]  # NaN own_unit: nothing left out
    groups = pd.concat(
        [members.assign(grouping="london", group_name="London")]
        + [members.assign(grouping=g, group_name=members[g]) for g in GROUPINGS]
        + [in_sets]
    )[["scope", "unit", "grouping", "group_name"]].drop_duplicates()
    return values.reset_index(), statuses.reset_index(), groups.reset_index(drop=True)


def _unit_indicator_sql(row, item_refs: set[str]) -> str:
    refs = formula_refs(row.formula)
    value = formula_sql(row.formula, lambda n: f'v."{n}"')
    statuses = ", ".join(f's."{r}"' for r in refs if r in item_refs) or "'5:ok'"
    denominator = (
        f'v."{row.reliability_denominator}"'
        if isinstance(row.reliability_denominator, str)
        else "NULL"
    )
    return f"""
    SELECT v.scope, v.unit, '{row.id}' AS indicator_id, {value} AS value,
           list_sort([{statuses}])[1] AS worst_item_status,
           {denominator} AS reliability_denominator
    FROM unit_values AS v JOIN unit_statuses AS s USING (scope, unit)
    WHERE v.scope = '{indicator_scope(row.theme)}'"""


def _group_aggregate_sql(row) -> str:
    refs = [r for r in formula_refs(row.formula) if r != POPULATION]
    value = formula_sql(row.formula, lambda n: f'sum(v."{n}")')
    reporting = " AND ".join(f'v."{r}" IS NOT NULL' for r in refs) or "true"
    return f"""
    SELECT '{row.id}' AS indicator_id, g.grouping, g.group_name,
           {value} AS value, count(*) AS units,
           -- a joint unit's code is its authorities' joined by + (KUT+RUT)
           sum(len(string_split(v.unit, '+')))::INTEGER AS authorities
    FROM unit_values AS v JOIN unit_groups AS g USING (scope, unit)
    WHERE v.scope = '{indicator_scope(row.theme)}' AND {reporting}
    GROUP BY g.grouping, g.group_name"""


def _linear_sql(form: dict[str, float]) -> str:
    return " + ".join(
        repr(coef) if name == ONE else f'{coef!r} * v."{name}"' for name, coef in form.items()
    )


def _unit_fraction_sql(row) -> str:
    """The indicator's numerator and denominator for each unit: what a group's ratio of sums adds."""
    numerator, denominator = ratio_form(row.formula)
    return f"""
    SELECT v.scope, v.unit, '{row.id}' AS indicator_id,
           {_linear_sql(numerator)} AS numerator, {_linear_sql(denominator)} AS denominator
    FROM unit_values AS v
    WHERE v.scope = '{indicator_scope(row.theme)}'"""


# Ranks: 1 = best by polarity (neutral: highest first); ties share the best rank (1, 2, 2, 4).
# Quartiles: DuckDB quantile_cont, linear interpolation between the ranked values (as Excel's
# QUARTILE.INC). Only ranked values (not low reliability) enter the ranks and the distribution; the
# aggregates are ratios of sums over every unit reporting all the formula's items.
# Ranks, quartiles, bands and fifths are worked out on each value as shown (rounded to the
# indicator's decimals): two authorities shown as 1.0 share a rank and a band.
UNIT_BENCHMARK_SQL = """
WITH unit_rows AS (
    SELECT u.*, i.polarity, i.comparison,
           round(u.value, i.decimals::INTEGER) AS shown,
           u.value IS NOT NULL AND NOT u.low_reliability AS ranked,
           CASE WHEN i.polarity = 'lower_is_better' THEN round(u.value, i.decimals::INTEGER)
                ELSE -round(u.value, i.decimals::INTEGER) END AS badness
    FROM unit_indicators AS u
    JOIN catalogue_indicators AS i ON i.id = u.indicator_id
),
ranked AS (
    SELECT *,
           CASE WHEN ranked THEN rank() OVER (PARTITION BY indicator_id, ranked ORDER BY badness)
           END AS rank,
           CASE WHEN ranked THEN rank() OVER (PARTITION BY indicator_id, ranked ORDER BY -badness)
           END AS rank_from_bottom
    FROM unit_rows
),
distribution AS (
    SELECT indicator_id,
           count(*) AS n_units,
           count(*) FILTER (WHERE ranked) AS n_reporting,
           quantile_cont(shown, 0.25) FILTER (WHERE ranked) AS london_lower_quartile,
           quantile_cont(shown, 0.5) FILTER (WHERE ranked) AS london_median,
           quantile_cont(shown, 0.75) FILTER (WHERE ranked) AS london_upper_quartile,
           min(value) FILTER (WHERE ranked) AS london_min,
           max(value) FILTER (WHERE ranked) AS london_max
    FROM ranked
    GROUP BY indicator_id
)
SELECT r.scope, r.unit, r.indicator_id, r.value, r.status, r.low_reliability,
       -- a size-driven total is not ranked against authorities of other sizes
       CASE WHEN r.comparison = 'rate' THEN r.rank END AS rank,
       d.n_reporting, d.n_units,
       d.london_median, d.london_lower_quartile, d.london_upper_quartile,
       d.london_min, d.london_max,
       -- A = the best quarter of London by polarity; a neutral indicator's quarters are placed
       -- by value, Q1 lowest to Q4 highest, with no better or worse
       CASE WHEN NOT r.ranked OR r.comparison <> 'rate' THEN NULL
            WHEN r.polarity = 'neutral' THEN
                CASE WHEN r.shown <= d.london_lower_quartile THEN 'Q1'
                     WHEN r.shown <= d.london_median THEN 'Q2'
                     WHEN r.shown <= d.london_upper_quartile THEN 'Q3'
                     ELSE 'Q4' END
            WHEN r.polarity = 'lower_is_better' THEN
                CASE WHEN r.shown <= d.london_lower_quartile THEN 'A'
                     WHEN r.shown <= d.london_median THEN 'B'
                     WHEN r.shown <= d.london_upper_quartile THEN 'C'
                     ELSE 'D' END
            ELSE
                CASE WHEN r.shown >= d.london_upper_quartile THEN 'A'
                     WHEN r.shown >= d.london_median THEN 'B'
                     WHEN r.shown >= d.london_lower_quartile THEN 'C'
                     ELSE 'D' END
       END AS quartile_band,
       -- the fifth of ranked units at each end, ceil(0.2 * n) ranks; a value shared (as shown)
       -- by units beyond that fifth is in no fifth: equal figures are flagged alike
       CASE WHEN NOT r.ranked OR r.comparison <> 'rate' THEN NULL
            WHEN r.rank <= ceil($fifth * d.n_reporting)
             AND r.rank_from_bottom > d.n_reporting - ceil($fifth * d.n_reporting) THEN
                CASE WHEN r.polarity = 'neutral' THEN 'highest 20%' ELSE 'top 20%' END
            WHEN r.rank_from_bottom <= ceil($fifth * d.n_reporting)
             AND r.rank > d.n_reporting - ceil($fifth * d.n_reporting) THEN
                CASE WHEN r.polarity = 'neutral' THEN 'lowest 20%' ELSE 'bottom 20%' END
       END AS top_bottom_20
FROM ranked AS r
JOIN distribution AS d USING (indicator_id)
"""

# Each authority's row: its unit's comparison, and the aggregates of London and of its own groups.
AUTHORITY_BENCHMARK_SQL = """
SELECT m.authority, b.indicator_id, b.unit AS reporting_unit,
       b.value, b.status,
       -- z not applicable (not collected, or a zero denominator), x not available, u unreliable
       CASE WHEN b.status IN ('not collected', 'no denominator') THEN 'z'
            WHEN b.status <> 'ok' THEN 'x'
            WHEN b.low_reliability THEN 'u'
       END AS symbol,
       b.low_reliability, b.rank, b.n_reporting, b.n_units,
       london.value AS london_value,
       b.london_median, b.london_lower_quartile, b.london_upper_quartile,
       b.london_min, b.london_max, b.quartile_band, b.top_bottom_20,
       a.inner_outer_ons AS inner_outer, inner_outer.value AS inner_outer_value,
       a.sub_region, sub_region.value AS sub_region_value
FROM unit_benchmarks AS b
JOIN authority_units AS m ON m.scope = b.scope AND m.unit = b.unit
JOIN region_authorities AS a ON a.liia_code = m.authority
LEFT JOIN group_aggregates AS london
       ON london.indicator_id = b.indicator_id AND london.grouping = 'london'
LEFT JOIN group_aggregates AS inner_outer
       ON inner_outer.indicator_id = b.indicator_id AND inner_outer.grouping = 'inner_outer_ons'
      AND inner_outer.group_name = a.inner_outer_ons
LEFT JOIN group_aggregates AS sub_region
       ON sub_region.indicator_id = b.indicator_id AND sub_region.grouping = 'sub_region'
      AND sub_region.group_name = a.sub_region
ORDER BY b.indicator_id, m.authority
"""


# Each authority against each group it is compared within (group_comparisons: its own Inner/Outer
# London, sub-region, partnership, shared service; its neighbours). Reporting units are counted once;
# a neighbour that reports jointly with the authority is the authority. The group's figure is a
# ratio of sums (a total: the sum) over the members reporting; in a neighbours set the authority
# joins the rank but not the figure. Rank k of n is on values as shown, ties sharing the best rank.
GROUP_BENCHMARK_SQL = """
WITH group_units AS (
    -- each group's members as units, once each (two members may send one joint return); in a
    -- group of neighbours, its one authority's own unit is left out of the group's figures
    SELECT c.set_id, c.group_name, member.scope, member.unit,
           s.kind = 'neighbours' AND bool_or(c.is_self OR member.unit = own.unit) AS left_out
    FROM group_comparisons AS c
    JOIN group_set_kinds AS s USING (set_id)
    JOIN authority_units AS member ON member.authority = c.member
    JOIN authority_units AS own ON own.authority = c.authority AND own.scope = member.scope
    GROUP BY c.set_id, c.group_name, member.scope, member.unit, s.kind
),
valued AS (
    SELECT g.set_id, g.group_name, i.id AS indicator_id, i.comparison, g.unit, g.left_out,
           b.value, round(b.value, i.decimals::INTEGER) AS shown,
           b.value IS NOT NULL AND NOT b.low_reliability AS ranked,
           CASE WHEN i.polarity = 'lower_is_better' THEN 1 ELSE -1 END
               * round(b.value, i.decimals::INTEGER) AS badness,
           f.numerator, f.denominator,
           NOT g.left_out AND f.numerator IS NOT NULL AND f.denominator IS NOT NULL AS in_figure
    FROM group_units AS g
    JOIN catalogue_indicators AS i USING (scope)
    JOIN unit_benchmarks AS b ON b.unit = g.unit AND b.indicator_id = i.id
    JOIN unit_fractions AS f ON f.unit = g.unit AND f.indicator_id = i.id AND f.scope = b.scope
),
places AS (
    -- 1 and the number of the group's ranked units doing better
    SELECT set_id, group_name, indicator_id, unit,
           rank() OVER (PARTITION BY set_id, group_name, indicator_id ORDER BY badness) AS place
    FROM valued
    WHERE ranked
),
figures AS (
    -- the group's own figures, the same for each of its authorities
    SELECT set_id, group_name, indicator_id,
           any_value(comparison) AS comparison,
           count(*) FILTER (WHERE ranked) AS n_ranked,
           -- summed in a fixed order: a float sum's last digit must not depend on threads
           sum(numerator ORDER BY unit) FILTER (WHERE in_figure) AS group_numerator,
           sum(denominator ORDER BY unit) FILTER (WHERE in_figure) AS group_denominator,
           count(*) FILTER (WHERE in_figure) AS group_units,
           count(*) FILTER (WHERE NOT left_out) AS group_members,
           median(shown) FILTER (WHERE ranked AND NOT left_out) AS group_median,
           min(value) FILTER (WHERE ranked AND NOT left_out) AS group_min,
           max(value) FILTER (WHERE ranked AND NOT left_out) AS group_max
    FROM valued
    GROUP BY set_id, group_name, indicator_id
),
authorities AS (
    -- each authority of each group, with its own unit for each indicator
    SELECT DISTINCT c.set_id, c.group_name, c.authority, i.id AS indicator_id, own.unit
    FROM group_comparisons AS c
    JOIN authority_units AS own ON own.authority = c.authority
    JOIN catalogue_indicators AS i USING (scope)
),
summed AS (
    SELECT a.set_id, a.group_name, a.authority, a.indicator_id, g.comparison, g.n_ranked,
           g.group_numerator, g.group_denominator, g.group_units, g.group_members,
           g.group_median, g.group_min, g.group_max,
           mine.value, coalesce(mine.ranked, false) AS own_ranked, p.place
    FROM authorities AS a
    JOIN figures AS g USING (set_id, group_name, indicator_id)
    LEFT JOIN valued AS mine USING (set_id, group_name, indicator_id, unit)
    LEFT JOIN places AS p USING (set_id, group_name, indicator_id, unit)
)
SELECT indicator_id, authority, set_id, group_name, value,
       CASE WHEN comparison = 'rate' AND own_ranked THEN place END AS rank_in_group,
       CASE WHEN comparison = 'rate' THEN n_ranked END AS n_ranked,
       CASE WHEN comparison = 'total' THEN group_numerator
            ELSE group_numerator / NULLIF(group_denominator, 0) END AS group_value,
       group_numerator, group_denominator, group_units, group_members,
       group_median, group_min, group_max,
       value - CASE WHEN comparison = 'total' THEN group_median
                    ELSE group_numerator / NULLIF(group_denominator, 0) END AS difference
FROM summed
ORDER BY indicator_id, authority, set_id, group_name
"""


def _temp_table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    con.register("_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _frame")
    finally:
        con.unregister("_frame")


def compare_quarter(
    con: duckdb.DuckDBPyConnection,
    items: pd.DataFrame,
    units: pd.DataFrame,
    authorities: Authorities,
    catalogue: Catalogue,
    group_sets: GroupSets | None = None,
) -> dict[str, pd.DataFrame]:
    """The quarter's derived indicators and comparisons, computed in `con`:
    `indicators` (authority, indicator_id, reporting_unit, value, status),
    `group_aggregates` (indicator_id, grouping, group_name, value, units, authorities),
    `benchmarks` (one row per authority and indicator, without trends),
    `fractions` (each authority's numerator and denominator of each indicator) and
    `group_benchmarks` (each authority against each of its comparator groups)."""
    values, statuses, groups = unit_items(
        items, units, authorities, group_sets.memberships() if group_sets is not None else None
    )
    indicators = catalogue.indicators.assign(
        scope=catalogue.indicators["theme"].map(indicator_scope)
    )
    comparisons = (
        group_sets.comparisons()
        if group_sets is not None
        else pd.DataFrame(columns=["set_id", "group_name", "authority", "member", "is_self"])
    )
    kinds = (
        group_sets.sets[["set_id", "kind"]]
        if group_sets is not None
        else pd.DataFrame(columns=["set_id", "kind"])
    )
    registered = {
        "unit_values": values,
        "unit_statuses": statuses,
        "unit_groups": groups,
        "authority_units": units,
        "catalogue_indicators": indicators,
        "region_authorities": authorities.table,
        "group_comparisons": comparisons.astype({"is_self": bool}),
        "group_set_kinds": kinds.astype(str),
    }
    # Native temporary tables: the generated SQL reads these frames dozens of times, and scanning
    # a pandas frame costs far more per read than a table.
    for name, frame in registered.items():
        _temp_table(con, name, frame)
    try:
        indicator_rows = list(catalogue.indicators.itertuples())
        item_refs = set(catalogue.items["ref"])
        unit_indicators = con.sql(
            " UNION ALL ".join(_unit_indicator_sql(r, item_refs) for r in indicator_rows)
        ).df()
        worst = unit_indicators["worst_item_status"].str.split(":").str[1]
        unit_indicators["status"] = worst
        unit_indicators.loc[(worst == "ok") & unit_indicators["value"].isna(), "status"] = (
            "no denominator"
        )
        unit_indicators.loc[unit_indicators["status"] != "ok", "value"] = None
        unit_indicators["low_reliability"] = (unit_indicators["status"] == "ok") & (
            unit_indicators["reliability_denominator"] < RELIABILITY_MINIMUM
        ).fillna(False)
        group_aggregates = con.sql(
            " UNION ALL ".join(_group_aggregate_sql(r) for r in indicator_rows)
        ).df()
        _temp_table(con, "unit_indicators", unit_indicators)
        _temp_table(con, "group_aggregates", group_aggregates)
        unit_benchmarks = con.execute(UNIT_BENCHMARK_SQL, {"fifth": FIFTH}).df()
        _temp_table(con, "unit_benchmarks", unit_benchmarks)
        benchmarks = con.sql(AUTHORITY_BENCHMARK_SQL).df()
        fractions = con.sql(" UNION ALL ".join(_unit_fraction_sql(r) for r in indicator_rows)).df()
        # a group adds the units reporting every item of the formula, as group_aggregates does
        # (a zero denominator included: its numerator still counts)
        reported = unit_indicators["status"].isin(["ok", "no denominator"])
        keys = unit_indicators.loc[reported, ["scope", "unit", "indicator_id"]]
        fractions = fractions.merge(
            keys, on=["scope", "unit", "indicator_id"], how="left", indicator=True
        )
        fractions.loc[fractions["_merge"] != "both", ["numerator", "denominator"]] = None
        fractions = fractions.drop(columns="_merge")
        _temp_table(con, "unit_fractions", fractions)
        group_benchmarks = con.sql(GROUP_BENCHMARK_SQL).df()
    finally:
        for name in [
            *registered,
            "unit_indicators",
            "group_aggregates",
            "unit_benchmarks",
            "unit_fractions",
        ]:
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")
    authority_fractions = units.merge(fractions, on=["scope", "unit"]).rename(
        columns={"unit": "reporting_unit"}
    )[["authority", "indicator_id", "reporting_unit", "numerator", "denominator"]]
    return {
        "indicators": benchmarks[
            ["authority", "indicator_id", "reporting_unit", "value", "status"]
        ],
        "group_aggregates": group_aggregates,
        "benchmarks": benchmarks,
        "fractions": authority_fractions.sort_values(["indicator_id", "authority"]),
        "group_benchmarks": group_benchmarks,
    }


# A neutral indicator's quarter of London (Q1 the lowest), as every output writes it in words.
POSITION_WORDS = {"Q1": "lowest", "Q2": "low", "Q3": "high", "Q4": "highest"}


def printed_band(band: str) -> str:
    """A quartile band as printed: A-D for rates, the place in words for neutral indicators."""
    return POSITION_WORDS.get(band, band)
