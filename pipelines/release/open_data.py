"""The public figures in DfE's open data standard for statistics files (explore-education-
statistics, "EES"): a data file with the standard time and geography columns, one row per area and
indicator, and its metadata file (`.meta.csv`) naming each column, so that the file loads in tools
built for DfE's files. Made from the public CSV's rows (pipelines.release.public_edition), nothing
else: the same figures, the same suppression.

Choices, where the standard leaves them to the publisher: the quarter of a financial year is
time_period `202627` with time_identifier `Financial year Q2`; London is geographic_level
`Regional` (E12000007) and each authority `Local authority`; Inner/Outer London and the LIIA
sub-regions, which the standard's geographic levels do not have, are left out (their figures are in
the public CSV). The indicator is a filter and the value its one indicator column, as in DfE's
long-format files, because the 37 indicators have different units; a suppressed figure is `c`,
not available `x`, not applicable `z` and low reliability `u`, in the value column itself."""

from __future__ import annotations

from pathlib import Path

from pipelines.release.public_edition import write_csv

DATA_COLUMNS = [
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "new_la_code",
    "la_name",
    "old_la_code",
    "theme",
    "indicator_id",
    "indicator",
    "unit",
    "value",
]
META_COLUMNS = [
    "col_name",
    "col_type",
    "label",
    "indicator_grouping",
    "indicator_unit",
    "indicator_dp",
    "filter_hint",
    "filter_grouping_column",
]
LONDON_CODE, ENGLAND_CODE = "E12000007", "E92000001"
# How the standard writes each of our units in `indicator_unit` (blank for a plain number)
UNITS = {"percent": "%", "gbp": "£", "gbp_m": "£m"}


def time_columns(quarter_key: str) -> tuple[str, str]:
    """`2026-27-Q2` as (time_period, time_identifier): ("202627", "Financial year Q2")."""
    year, quarter = quarter_key[:7], quarter_key[-2:]
    return year.replace("-", ""), f"Financial year {quarter}"


def ees_rows(rows: list[dict]) -> list[dict]:
    """The public CSV's rows of London and its authorities in the standard's columns."""
    out = []
    for r in rows:
        if r["area_type"] not in ("authority", "London"):
            continue
        period, identifier = time_columns(r["quarter"])
        authority = r["area_type"] == "authority"
        value = r["value"]
        shown = r["symbol"] if value is None or value == "" else value
        out.append(
            {
                "time_period": period,
                "time_identifier": identifier,
                "geographic_level": "Local authority" if authority else "Regional",
                "country_code": ENGLAND_CODE,
                "country_name": "England",
                "region_code": LONDON_CODE,
                "region_name": "London",
                "new_la_code": r["ons_code"] if authority else "",
                "la_name": r["area_name"] if authority else "",
                "old_la_code": r["dfe_la_code"] if authority else "",
                "theme": r["theme"],
                "indicator_id": r["indicator_id"],
                "indicator": r["indicator"],
                "unit": r["unit"],
                "value": shown if shown not in (None, "") else "x",
            }
        )
    return out


def ees_metadata() -> list[dict]:
    """The metadata file's rows: each filter and the indicator, as the standard asks."""
    blank = dict.fromkeys(META_COLUMNS, "")
    return [
        blank | {"col_name": "theme", "col_type": "Filter", "label": "Theme",
                 "filter_hint": "The LIIA theme"},
        blank | {"col_name": "indicator_id", "col_type": "Filter", "label": "Indicator code",
                 "filter_grouping_column": "theme"},
        blank | {"col_name": "indicator", "col_type": "Filter", "label": "Indicator",
                 "filter_grouping_column": "theme"},
        blank | {"col_name": "unit", "col_type": "Filter", "label": "Unit",
                 "filter_hint": "percent, gbp, gbp_m, rate_10k, ratio or fte"},
        blank | {"col_name": "value", "col_type": "Indicator", "label": "Value",
                 "indicator_dp": ""},
    ]  # fmt: skip


def write_ees(folder: Path, stem: str, rows: list[dict]) -> list[Path]:
    """The data file and its metadata file, `stem`.csv and `stem`.meta.csv, in `folder`; each
    written beside and renamed into place."""
    return [
        write_csv(folder / f"{stem}.csv", DATA_COLUMNS, ees_rows(rows)),
        write_csv(folder / f"{stem}.meta.csv", META_COLUMNS, ees_metadata()),
    ]
