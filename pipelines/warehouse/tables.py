"""The warehouse's tables, each column with its type and comment: the dictionary that creates the
schema, comments it in DuckDB and is checked against warehouse/README.md."""

from __future__ import annotations

from dataclasses import dataclass, replace

# The oldest DuckDB the analysts' copy opens in (the duckdb-cli on PyPI, DBeaver, R are still 1.x).
ANALYST_STORAGE_VERSION = "v1.0.0"


CONTACTS = "submission_contacts"  # never published: see publish()


@dataclass(frozen=True)
class Table:
    name: str
    comment: str
    columns: tuple[tuple[str, str, str], ...]  # name, type, comment
    per_quarter: bool = True


TABLES = [
    Table(
        "authorities",
        "The region's authorities (reference data from schemas/catalogue/authorities.csv).",
        (
            ("authority", "VARCHAR", "LIIA code, e.g. BAR; the key every other table uses"),
            ("name", "VARCHAR", "Authority name"),
            ("ons_code", "VARCHAR", "ONS code, e.g. E09000003"),
            ("dfe_la_code", "VARCHAR", "DfE local authority code, e.g. 302"),
            ("inner_outer_ons", "VARCHAR", "Inner or Outer London, ONS definition (the default)"),
            ("inner_outer_statutory", "VARCHAR", "Inner or Outer London, statutory definition"),
            ("sub_region", "VARCHAR", "LIIA sub-region (provisional)"),
            ("population_0_17", "BIGINT", "Population aged 0-17 used in the per-child rates"),
            ("population_vintage", "VARCHAR", "Which estimate of the 0-17 population it is"),
            ("population_source", "VARCHAR", "Where the 0-17 population comes from"),
        ),
        per_quarter=False,
    ),
    Table(
        "quarters",
        "Financial-year quarters the pipeline knows: dates, return deadline, release state and the "
        "template version each used.",
        (
            ("quarter", "VARCHAR", "Quarter key, e.g. 2026-27-Q2"),
            ("label", "VARCHAR", "Quarter as people read it, e.g. 2026-27 Q2"),
            ("start_date", "DATE", "First day of the quarter"),
            ("end_date", "DATE", "Last day of the quarter"),
            ("template_version", "INTEGER", "Return template version in use that quarter"),
            ("previous_quarter", "VARCHAR", "Key of the quarter before"),
            ("year_earlier_quarter", "VARCHAR", "Key of the same quarter a year earlier"),
            (
                "deadline",
                "DATE",
                "Day returns are due: the quarter is released then (or earlier, by the data lead)",
            ),
            ("released", "BOOLEAN", "Released: its figures are final and the public edition out"),
            ("first_released_at", "TIMESTAMPTZ", "When it was first released (NULL: not yet)"),
            ("latest_release", "INTEGER", "Its latest release (releases.release); NULL: not yet"),
        ),
        per_quarter=False,
    ),
    Table(
        "indicators",
        "Every collected item and every derived indicator, with its definition (the catalogue).",
        (
            ("indicator_id", "VARCHAR", "Item Ref (e.g. WF01) or indicator id (e.g. WF-I01)"),
            ("kind", "VARCHAR", "item (collected) or indicator (derived centrally)"),
            ("theme", "VARCHAR", "finance, adolescents, workforce or send"),
            ("name", "VARCHAR", "What it measures"),
            ("unit", "VARCHAR", "count, gbp, fte, weeks, days, percent, rate_10k, ratio, gbp_m"),
            (
                "period",
                "VARCHAR",
                "What the figure covers: in_quarter (a flow over the quarter), quarter_end (a "
                "snapshot at its last day), year_to_date, full_year (the financial year: budget or "
                "forecast) or rolling_12m; an indicator lists its items' periods",
            ),
            ("polarity", "VARCHAR", "higher_is_better, lower_is_better or neutral (indicators)"),
            ("decimals", "INTEGER", "Decimal places to show (indicators)"),
            ("formula", "VARCHAR", "Formula over item Refs and population_0_17 (indicators)"),
            (
                "comparison",
                "VARCHAR",
                "rate (ratio of sums, ranked) or total (size-driven: London's total, not ranked)",
            ),
            ("comparison_note", "VARCHAR", "Why the indicator is compared as it is"),
            (
                "reliability_denominator",
                "VARCHAR",
                "Item whose value under 10 marks the indicator low reliability (u)",
            ),
            ("since_template", "INTEGER", "First template version that collects the item"),
            ("rule", "VARCHAR", "Consistency rule the item must meet (items)"),
            (
                "published_measure",
                "VARCHAR",
                "DfE's published (LAIT) measure it corresponds to, where one does "
                "(published_figures has the figures and how the definitions differ)",
            ),
            (
                "count_basis",
                "VARCHAR",
                "What the figure counts, for whether it stands out from London: binomial (events "
                "among a population), poisson (events over an exposure), or NULL (no count)",
            ),
            ("unit_words", "VARCHAR", "A ratio's unit in words, e.g. days lost per FTE"),
            (
                "dfe_polarity",
                "VARCHAR",
                "DfE's polarity of its corresponding measure (high, low or none): England ranks",
            ),
        ),
        per_quarter=False,
    ),
    Table(
        "submissions",
        "Every file ever received, one row per distinct content (SHA-256), with its status.",
        (
            (
                "quarter",
                "VARCHAR",
                "Quarter the cover names, else its folder, else when it arrived",
            ),
            ("submission_id", "VARCHAR", "First 16 hex digits of the SHA-256"),
            ("authority", "VARCHAR", "LIIA code read from the cover (NULL if unresolved)"),
            ("file_name", "VARCHAR", "File name as received"),
            ("relative_path", "VARCHAR", "Path under the inbox"),
            ("size_bytes", "BIGINT", "File size"),
            ("sha256", "VARCHAR", "SHA-256 of the bytes; the archive file name"),
            (
                "received_at",
                "TIMESTAMP",
                "When these bytes arrived: the file's time in the inbox, or when the pipeline first saw it if that time is later",
            ),
            ("completed_on", "DATE", "Date completed, from the cover (NULL: not a date)"),
            ("completed_on_as_written", "VARCHAR", "Date completed as the cover has it"),
            ("template_version", "INTEGER", "Template version on the cover"),
            ("joint_workforce_with", "VARCHAR", "Partner named for a joint workforce return"),
            (
                "status",
                "VARCHAR",
                "accepted, accepted with value errors, superseded, rejected, or not a workbook",
            ),
            ("is_current", "BOOLEAN", "The authority's return used for the quarter"),
        ),
    ),
    Table(
        "validation_issues",
        "Every error and warning found in a submission, as sent back in the feedback workbook.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("submission_id", "VARCHAR", "The submission it was found in"),
            ("authority", "VARCHAR", "LIIA code of the submission (NULL if unresolved)"),
            ("severity", "VARCHAR", "error (value or return excluded) or warning (kept)"),
            ("sheet", "VARCHAR", "Sheet of the return"),
            ("cell", "VARCHAR", "Cell, e.g. D14"),
            ("ref", "VARCHAR", "Item Ref, where the issue is about one item"),
            ("found", "VARCHAR", "The value found, as shown to the authority"),
            ("problem", "VARCHAR", "What is wrong"),
            ("fix", "VARCHAR", "How to fix it"),
            (
                "rule",
                "VARCHAR",
                "Which check found it: unreadable file: (why), not a return, sheet missing, sheet "
                "unreadable, no header, cover: (field), old template, quarter folder, not a "
                "number, x without a reason, unknown Ref, duplicated Ref, negative, not whole, "
                "missing Ref, rule: (the consistency rule), change on previous quarter, outside "
                "London's range",
            ),
        ),
    ),
    Table(
        "return_values",
        "Every value of every submission with its source cell: the history, superseded included.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("submission_id", "VARCHAR", "The submission it came from"),
            ("authority", "VARCHAR", "LIIA code"),
            ("sheet", "VARCHAR", "Sheet of the return"),
            ("ref", "VARCHAR", "Item Ref"),
            ("cell", "VARCHAR", "Cell the value was read from"),
            ("raw", "VARCHAR", "What the cell held, as text"),
            ("note", "VARCHAR", "The Notes cell; NULL when empty (see notes)"),
            ("value", "DOUBLE", "The number understood (NULL for x or an error)"),
            ("status", "VARCHAR", "ok, x (not available) or error (excluded)"),
            ("is_current", "BOOLEAN", "From the authority's current return"),
        ),
    ),
    Table(
        "indicator_values",
        "The current figures: each authority's items from its current return and the derived "
        "indicators, with a status where there is no value.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("authority", "VARCHAR", "LIIA code"),
            ("indicator_id", "VARCHAR", "Item Ref or indicator id (see indicators)"),
            ("kind", "VARCHAR", "item or indicator"),
            (
                "reporting_unit",
                "VARCHAR",
                "Authority, or KUT+RUT for the workforce figures of a joint return (stored under "
                "both authorities as each sent it: sum unit_values to count it once)",
            ),
            ("value", "DOUBLE", "The figure (NULL when status is not ok)"),
            (
                "status",
                "VARCHAR",
                "ok, not returned, return rejected, value rejected, not available, "
                "not collected, no denominator",
            ),
        ),
    ),
    Table(
        "group_aggregates",
        "Each indicator's figure for London and every comparator group of group_sets: a ratio of "
        "sums over the reporting units, never a mean of rates.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("indicator_id", "VARCHAR", "Indicator id"),
            ("grouping", "VARCHAR", "The group set (group_sets.set_id): london, sub_region, ..."),
            (
                "group_name",
                "VARCHAR",
                "The group (group_members.group_name); of a neighbours set, the authority whose "
                "neighbours these are (its LIIA code), its own figure left out",
            ),
            ("value", "DOUBLE", "The formula over the summed items of the units reporting"),
            ("units", "INTEGER", "Reporting units summed"),
            ("authorities", "INTEGER", "Authorities those units cover (KUT+RUT covers two)"),
        ),
    ),
    Table(
        "benchmarks",
        "One row per quarter, indicator and authority with every comparison measure.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("indicator_id", "VARCHAR", "Indicator id (see indicators)"),
            ("authority", "VARCHAR", "LIIA code"),
            ("reporting_unit", "VARCHAR", "What was compared: the authority, or KUT+RUT jointly"),
            ("value", "DOUBLE", "The authority's (or its unit's) value"),
            ("status", "VARCHAR", "ok, or why there is no value (see indicator_values)"),
            (
                "symbol",
                "VARCHAR",
                "x not available; z not applicable (not collected, or a zero denominator); u low "
                "reliability (see symbols)",
            ),
            ("low_reliability", "BOOLEAN", "Denominator under 10: shown, not ranked"),
            (
                "rank",
                "INTEGER",
                "1 = best by polarity; ties share; a neutral indicator's is only its position by "
                "value, 1 = highest (the workbooks show none); NULL for totals and low reliability",
            ),
            ("n_reporting", "INTEGER", "Units ranked (the n of 'rank r of n')"),
            ("n_units", "INTEGER", "Units compared (33, or 32 when two report jointly)"),
            (
                "london_value",
                "DOUBLE",
                "London: ratio of sums over the units reporting (a total: London's total)",
            ),
            ("london_median", "DOUBLE", "Median of the ranked values"),
            ("london_lower_quartile", "DOUBLE", "Lower quartile (quantile_cont, as QUARTILE.INC)"),
            ("london_upper_quartile", "DOUBLE", "Upper quartile (quantile_cont)"),
            ("london_min", "DOUBLE", "Lowest ranked value"),
            ("london_max", "DOUBLE", "Highest ranked value"),
            (
                "quartile_band",
                "VARCHAR",
                "A (best quarter by polarity) to D; neutral: Q1 (lowest) to Q4; totals: none",
            ),
            (
                "top_bottom_20",
                "VARCHAR",
                "top/bottom 20% (neutral: highest/lowest 20%): the fifth asked to explain",
            ),
            ("inner_outer", "VARCHAR", "Inner or Outer London (ONS definition)"),
            ("inner_outer_value", "DOUBLE", "Aggregate of the authority's Inner/Outer group"),
            ("sub_region", "VARCHAR", "The authority's sub-region"),
            ("sub_region_value", "DOUBLE", "Aggregate of the authority's sub-region"),
            ("previous_value", "DOUBLE", "Value in the previous quarter"),
            (
                "change_on_quarter",
                "DOUBLE",
                "Value less previous_value, where compared as the same unit in both quarters",
            ),
            ("direction_on_quarter", "VARCHAR", "improved, worsened, no change; neutral: up/down"),
            ("year_earlier_value", "DOUBLE", "Value in the same quarter a year earlier"),
            ("change_on_year", "DOUBLE", "Value less year_earlier_value, as change_on_quarter"),
            ("direction_on_year", "VARCHAR", "As direction_on_quarter, against a year earlier"),
        ),
    ),
]

TABLES += [
    Table(
        "group_sets",
        "Every set of comparator groups (schemas/catalogue/group_sets.csv): Inner/Outer London, "
        "sub-regions, partnerships, shared services, neighbours, chosen comparators.",
        (
            ("set_id", "VARCHAR", "Key of the set, e.g. london_neighbours"),
            ("name", "VARCHAR", "The set as people read it"),
            (
                "kind",
                "VARCHAR",
                "partition (every authority in one group), groups, or neighbours (one list per "
                "authority, group_name = that authority)",
            ),
            ("vintage", "VARCHAR", "Which edition of the grouping"),
            ("source", "VARCHAR", "Where it comes from"),
            ("provisional", "VARCHAR", "yes where the grouping is a placeholder to be replaced"),
            ("description", "VARCHAR", "What the set is"),
        ),
        per_quarter=False,
    ),
    Table(
        "group_members",
        "Who is in each comparator group; for a neighbours set, each authority's neighbours.",
        (
            ("set_id", "VARCHAR", "The set (group_sets.set_id)"),
            ("group_name", "VARCHAR", "The group; in a neighbours set, the authority (LIIA code)"),
            ("authority", "VARCHAR", "A member (LIIA code)"),
            ("position", "INTEGER", "Neighbours: 1 = nearest (DfE's own order for DfE's)"),
            ("closeness", "VARCHAR", "Neighbours: Extremely close ... Not close, in words"),
            (
                "distance",
                "DOUBLE",
                "London neighbours: the model's distance, in standard deviations",
            ),
            ("source", "VARCHAR", "DfE statistical neighbour, London model, or who chose it"),
        ),
        per_quarter=False,
    ),
    Table(
        "indicator_fractions",
        "Each indicator's numerator and denominator for each authority: a group's figure is the "
        "sum of its members' numerators over the sum of their denominators.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("indicator_id", "VARCHAR", "Indicator id"),
            ("authority", "VARCHAR", "LIIA code"),
            ("reporting_unit", "VARCHAR", "What was compared: the authority, or KUT+RUT jointly"),
            ("numerator", "DOUBLE", "The formula's numerator (NULL where an item is not reported)"),
            ("denominator", "DOUBLE", "Its denominator (1 for a total)"),
        ),
    ),
    Table(
        "group_benchmarks",
        "Each authority against each comparator group it is compared within: rank k of n, the "
        "group's ratio of sums, median and range, and the difference.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("indicator_id", "VARCHAR", "Indicator id"),
            ("authority", "VARCHAR", "The authority compared (LIIA code)"),
            ("set_id", "VARCHAR", "The group set (group_sets.set_id)"),
            ("group_name", "VARCHAR", "The group; in a neighbours set, the authority itself"),
            ("value", "DOUBLE", "The authority's value"),
            (
                "rank_in_group",
                "INTEGER",
                "k of 'k of n': 1 = best by polarity on values as shown (neighbours: among "
                "them and the authority); totals and unranked values: NULL",
            ),
            ("n_ranked", "INTEGER", "n of 'k of n': ranked units, the authority included"),
            (
                "group_value",
                "DOUBLE",
                "The group's figure: sum of numerators over sum of denominators of its members "
                "reporting (a total: their sum); a neighbours group leaves the authority out",
            ),
            ("group_numerator", "DOUBLE", "Sum of the members' numerators"),
            ("group_denominator", "DOUBLE", "Sum of the members' denominators"),
            ("group_units", "INTEGER", "Members in the group's figure (reporting units)"),
            ("group_members", "INTEGER", "Members of the group (reporting units)"),
            ("group_median", "DOUBLE", "Median of the members' ranked values as shown"),
            ("group_min", "DOUBLE", "Lowest ranked member value"),
            ("group_max", "DOUBLE", "Highest ranked member value"),
            (
                "difference",
                "DOUBLE",
                "value less group_value (a total: less group_median)",
            ),
        ),
    ),
]

RESTRICTED_MARKING = "RESTRICTED: for the 33 LIIA authorities only. Do not publish or forward."
PUBLIC_MARKING = "OFFICIAL: publishable edition, as released to the public."


def _public_columns() -> tuple[tuple[str, str, str], ...]:
    shown = {name: (kind, comment) for name, kind, comment in TABLE_BY_NAME["benchmarks"].columns}
    kept = list(shown)
    columns = [("release", "INTEGER", "Release of the quarter these figures were published in")]
    for name in kept:
        kind, comment = shown[name]
        columns.append(
            (name, kind, f"As published (rounded as shown; NULL where suppressed): {comment}")
        )
    columns += [
        (
            "suppressed_columns",
            "VARCHAR",
            "Comma-separated columns shown as c (suppressed) on this row",
        ),
    ]
    return tuple(columns)


TABLE_BY_NAME = {t.name: t for t in TABLES}
TABLES += [
    Table(
        "releases",
        f"{PUBLIC_MARKING} Every release of a quarter: the first, and each revision, kept.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("release", "INTEGER", "1 for the first release, 2, 3, ... for revisions"),
            ("released_at", "TIMESTAMPTZ", "When the release was made"),
            ("reason", "VARCHAR", "deadline, data lead (released early by hand) or revision"),
            ("changes", "VARCHAR", "What changed since the release before, in words"),
            ("figures_changed", "INTEGER", "Published figures that differ from the release before"),
            (
                "submissions",
                "VARCHAR[]",
                "The current returns it was made from, CODE:submission_id",
            ),
        ),
    ),
    Table(
        "public_benchmarks",
        f"{PUBLIC_MARKING} What the public edition shows of each figure, release by release: "
        "values rounded as shown, c where suppressed (and nothing else of a suppressed figure: "
        "no status, no reliability flag, no kind of suppression); ranks, bands and order "
        "statistics over the shown values only.",
        _public_columns(),
    ),
    Table(
        "public_group_figures",
        f"{PUBLIC_MARKING} London, Inner/Outer and sub-region figures as published, by release.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("release", "INTEGER", "Release of the quarter"),
            ("indicator_id", "VARCHAR", "Indicator id"),
            ("grouping", "VARCHAR", "london, inner_outer_ons or sub_region"),
            ("group_name", "VARCHAR", "The group"),
            ("value", "DOUBLE", "As published, rounded as shown; NULL where suppressed"),
            ("suppressed", "BOOLEAN", "Shown as c"),
            ("units", "INTEGER", "Units reporting (published)"),
        ),
    ),
    Table(
        "suppressions",
        f"{RESTRICTED_MARKING} Why each figure the public edition shows as c was suppressed, "
        "release by release. Never published: knowing which are complements narrows them.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("release", "INTEGER", "Release of the quarter"),
            ("indicator_id", "VARCHAR", "Indicator id"),
            ("reporting_unit", "VARCHAR", "The unit suppressed (an authority, or KUT+RUT)"),
            (
                "kind",
                "VARCHAR",
                "primary (a count item of its formula from 1 to 5) or complementary (hidden so "
                "that a primary one cannot be worked back)",
            ),
            (
                "status",
                "VARCHAR",
                "The figure's status before it was hidden (ok, no denominator, ...): whether it "
                "was in its groups' sums, which the audit of a later revision needs; NULL before "
                "December 2026, read as ok",
            ),
        ),
    ),
    Table(
        "disclosure_audit",
        f"{RESTRICTED_MARKING} The audit of each release: for each small count, whether the "
        "published figures leave an intruder a range from 0 to at least the protection margin.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("release", "INTEGER", "Release of the quarter"),
            ("reporting_unit", "VARCHAR", "Unit whose count is protected"),
            ("ref", "VARCHAR", "The count item"),
            ("protected", "BOOLEAN", "The published figures leave it a range from 0 to the margin"),
            ("smallest", "DOUBLE", "Smallest value it could take (where computed exactly)"),
            ("largest", "DOUBLE", "Largest value it could take (where computed exactly)"),
        ),
    ),
    Table(
        CONTACTS,
        "LIIA team only: the person each return's cover names, to chase with. Personal data: "
        "kept in the pipeline's own database, never in the analysts' copy or the exports.",
        (
            ("quarter", "VARCHAR", "Quarter key"),
            ("submission_id", "VARCHAR", "The submission (submissions.submission_id)"),
            ("completed_by", "VARCHAR", "Completed by, from the cover"),
            ("email", "VARCHAR", "Email, from the cover"),
        ),
    ),
]
PUBLISHED = "Published by the Department for Education (LAIT), annual, as published: context only."
TABLES += [
    Table(
        "published_files",
        f"{PUBLISHED} The file the published figures were loaded from.",
        (
            ("file_name", "VARCHAR", "The Parquet file's name in the published folder"),
            ("sha256", "VARCHAR", "SHA-256 of its bytes"),
            ("loaded_at", "TIMESTAMPTZ", "When the pipeline loaded it"),
            ("rows", "BIGINT", "Rows in the file"),
            ("measures", "INTEGER", "Measures in the file"),
            (
                "read_with",
                "VARCHAR",
                "A key of what it was read with (our mappings to DfE's measures, DfE's dictionary "
                "and neighbours, the region, the queries): another key reads the file again",
            ),
        ),
        per_quarter=False,
    ),
    Table(
        "published_figures",
        f"{PUBLISHED} Our indicators in DfE's figures, where the definitions correspond "
        "(schemas/catalogue/published_measures.csv): every year and area.",
        (
            ("indicator_id", "VARCHAR", "Our indicator"),
            ("measure", "VARCHAR", "LAIT's measure"),
            ("denominator_measure", "VARCHAR", "A measure it is divided by (a count over a count)"),
            ("year", "VARCHAR", "The year as DfE labels it"),
            ("year_ending", "INTEGER", "The calendar year the period ends in"),
            ("year_note", "VARCHAR", "provisional, outturn, revised or final"),
            ("area", "VARCHAR", "England, London, Inner London, Outer London, region or authority"),
            ("la_code", "VARCHAR", "DfE LA number"),
            ("area_name", "VARCHAR", "The area as DfE spells it"),
            ("region", "VARCHAR", "DfE's region of an authority"),
            ("authority", "VARCHAR", "LIIA code of a London authority; NULL elsewhere"),
            ("value", "DOUBLE", "The published figure"),
            ("period", "VARCHAR", "When it is measured: at 31 March, year to 30 September, ..."),
            ("difference", "VARCHAR", "How DfE's definition differs from ours"),
            ("last_update", "DATE", "When DfE last updated the measure"),
            (
                "england_rank",
                "INTEGER",
                "An authority's rank among every English authority with a figure that year: 1 the "
                "best by DfE's polarity (where DfE gives none, 1 the lowest); ties share",
            ),
            ("england_ranked", "INTEGER", "English authorities with a figure that year"),
            (
                "dfe_neighbours_mean",
                "DOUBLE",
                "A London authority's ten DfE statistical neighbours' mean that year (all of "
                "England), of those with a figure",
            ),
            ("dfe_neighbours_reporting", "INTEGER", "Its DfE neighbours with a figure that year"),
            (
                "england_band",
                "VARCHAR",
                "Its quarter of England: A (best) to D by DfE's polarity; Q1 (lowest) to Q4 where "
                "DfE gives none",
            ),
        ),
        per_quarter=False,
    ),
    Table(
        "published_context",
        f"{PUBLISHED} Each London authority's latest published figure beside England, London, "
        "its Inner/Outer London (DfE's definition) and its ten DfE neighbours' mean.",
        (
            ("indicator_id", "VARCHAR", "Our indicator"),
            ("authority", "VARCHAR", "LIIA code"),
            ("year", "VARCHAR", "The published year"),
            ("year_ending", "INTEGER", "The calendar year it ends in"),
            ("own_value", "DOUBLE", "The authority's published figure"),
            ("england_value", "DOUBLE", "England"),
            ("london_value", "DOUBLE", "London"),
            ("inner_outer", "VARCHAR", "Inner London or Outer London, as DfE places the authority"),
            ("inner_outer_value", "DOUBLE", "That half of London"),
            (
                "neighbours_mean",
                "DOUBLE",
                "Mean of its DfE statistical neighbours' figures (all England)",
            ),
            ("neighbours_reporting", "INTEGER", "Neighbours with a figure"),
            ("measure", "VARCHAR", "LAIT's measure"),
            ("period", "VARCHAR", "When it is measured"),
            ("difference", "VARCHAR", "How DfE's definition differs from ours"),
            ("last_update", "DATE", "When DfE last updated the measure"),
        ),
        per_quarter=False,
    ),
]
TABLES += [
    Table(
        "items",
        "Every item the return collects (schemas/catalogue/items.csv), one row per Ref.",
        (
            ("ref", "VARCHAR", "Item Ref, e.g. WF01 (indicators.indicator_id of kind item)"),
            ("theme", "VARCHAR", "finance, adolescents, workforce or send: its sheet"),
            ("name", "VARCHAR", "What it measures, as the return asks it"),
            ("unit", "VARCHAR", "count, gbp, fte, weeks, days or percent"),
            (
                "period",
                "VARCHAR",
                "in_quarter (a flow over the quarter), quarter_end (a snapshot), year_to_date, "
                "full_year or rolling_12m",
            ),
            ("since_template", "INTEGER", "First template version that collects it"),
            ("rule", "VARCHAR", "Consistency rule it must meet, e.g. <= WF01"),
        ),
        per_quarter=False,
    ),
    Table(
        "indicator_items",
        "Which items each derived indicator is computed from (its formula, read by the "
        "catalogue): join notes and values to indicators through this.",
        (
            ("indicator_id", "VARCHAR", "The derived indicator"),
            ("ref", "VARCHAR", "An item its formula uses"),
            ("in_numerator", "BOOLEAN", "The item is in the formula's numerator"),
            ("in_denominator", "BOOLEAN", "The item is in the formula's denominator"),
            (
                "is_reliability_denominator",
                "BOOLEAN",
                "Under 10, this item marks the indicator low reliability (u)",
            ),
        ),
        per_quarter=False,
    ),
    Table(
        "builds",
        "Each time the analysts' copy was built: when, by which version of the pipeline, from "
        "which returns and template versions.",
        (
            ("built_at", "TIMESTAMPTZ", "When the copy was made"),
            ("run_id", "VARCHAR", "The Dagster run that made it"),
            ("pipeline_version", "VARCHAR", "Version of the LIIA benchmarking pipeline"),
            ("duckdb_version", "VARCHAR", "DuckDB version that wrote it"),
            ("quarters", "VARCHAR[]", "Quarters with at least one current return"),
            ("returns", "INTEGER", "Current returns, over every quarter"),
            (
                "files",
                "VARCHAR[]",
                "Each current return: quarter, LIIA code, submission_id and file name",
            ),
            ("template_versions", "INTEGER[]", "Template versions of the current returns"),
            ("catalogue_sha256", "VARCHAR", "SHA-256 over the catalogue files it used"),
        ),
        per_quarter=False,
    ),
]
TABLES.insert(
    3,
    Table(
        "symbols",
        "What each symbol shown in place of a figure means, and the statuses it stands for.",
        (
            ("symbol", "VARCHAR", "x, z, u or c"),
            ("meaning", "VARCHAR", "What it means, in words"),
            ("shown_when", "VARCHAR", "When a figure shows it"),
            ("statuses", "VARCHAR[]", "The statuses (benchmarks.status) it stands for"),
        ),
        per_quarter=False,
    ),
)
# Every row of the quarterly tables says whether its quarter is released, so that figures from
# the few returns in so far for the quarter under way are never read as the quarter's.
RELEASE_STATE_COLUMNS = (
    (
        "released",
        "BOOLEAN",
        "Whether the quarter is released (quarters.released); until then its figures are "
        "provisional, from the returns in so far",
    ),
    ("latest_release", "INTEGER", "The quarter's latest release (NULL until it is released)"),
)
QUARTERLY_TABLES = (
    "submissions",
    "validation_issues",
    "return_values",
    "indicator_values",
    "group_aggregates",
    "benchmarks",
    "indicator_fractions",
    "group_benchmarks",
)
TABLES = [
    replace(t, columns=t.columns + RELEASE_STATE_COLUMNS) if t.name in QUARTERLY_TABLES else t
    for t in TABLES
]
TABLE_BY_NAME = {t.name: t for t in TABLES}


def sql_text(text: str) -> str:
    """A SQL string literal of `text`."""
    return "'" + text.replace("'", "''") + "'"


DIMENSIONS = ("authorities", "quarters", "indicators", "items", "indicator_items", "symbols")
# What the public edition shows: the releases and their figures, and the reference data (the
# authorities, their groups and DfE's published figures are public already).
PUBLIC_TABLES = (
    *DIMENSIONS,
    "group_sets",
    "group_members",
    "releases",
    "public_benchmarks",
    "public_group_figures",
    "published_files",
    "published_figures",
    "published_context",
)
# Of these tables, the public edition shows only some rows: the groupings it publishes figures of
# (not, say, an authority's chosen comparators).
PUBLIC_ROWS = {
    "group_sets": "t.set_id IN (SELECT grouping FROM public_group_figures)",
    "group_members": "t.set_id IN (SELECT grouping FROM public_group_figures)",
}
