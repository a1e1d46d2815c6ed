"""Benchmark workbooks written with openpyxl: one per theme and quarter."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo

from pipelines.catalogue import THEME_TITLES, Authorities, Catalogue
from pipelines.quarters import Quarter

NUMBER_FORMATS = {
    "gbp": "£#,##0",
    "gbp_m": "£#,##0.0",
    "percent": "0.0",
    "rate_10k": "0.0",
    "ratio": "0.0",
    "fte": "0.0",
}
RESTRICTED = "RESTRICTED: for the 33 LIIA authorities only. Do not publish."


def write_text(ws, row: int, col: int, value: object):
    """Text from a return or the catalogue is always stored as text: openpyxl would otherwise store
    a string starting with `=` as a formula."""
    cell = ws.cell(row, col, value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _sheet_title(text: str) -> str:
    return "".join(c for c in text if c not in "[]:*?/\\")[:31]


def write_theme_workbook(
    path: Path,
    quarter: Quarter,
    theme: str,
    benchmarks: pd.DataFrame,
    authorities: Authorities,
    catalogue: Catalogue,
) -> Path:
    """The theme's indicators for `quarter`, all authorities side by side, ranked."""
    indicators = catalogue.indicators[catalogue.indicators["theme"] == theme]
    names = authorities.table.set_index("liia_code")["name"]
    wb = Workbook()
    about = wb.active
    about.title = "About"
    reporting = benchmarks.dropna(subset=["value"])["authority"].nunique()
    lines = [
        (f"LIIA benchmarks: {THEME_TITLES[theme]}, {quarter.label}", Font(bold=True, size=14)),
        (RESTRICTED, Font(bold=True, color="C00000")),
        (f"Produced {datetime.now():%d %B %Y %H:%M}", None),
        (f"Authorities with at least one figure: {reporting} of {len(authorities.codes)}", None),
        ("Symbols: x not available, z not collected, u low reliability, c suppressed", None),
    ]
    for i, (text, font) in enumerate(lines, start=1):
        about.cell(i, 1, text).font = font or Font()
    about.column_dimensions["A"].width = 90

    for n, ind in enumerate(indicators.itertuples(), start=1):
        ws = wb.create_sheet(_sheet_title(f"{n} {ind.name}"))
        ws.cell(1, 1, ind.name).font = Font(bold=True, size=12)
        ws.cell(2, 1, RESTRICTED).font = Font(bold=True, color="C00000")
        rows = benchmarks[benchmarks["indicator_id"] == ind.id].copy()
        rows["name"] = rows["authority"].map(names)
        rows = rows.sort_values(["rank", "name"], na_position="last")
        header = ["Rank", "Authority", "Value", "Status"]
        for c, h in enumerate(header, start=1):
            ws.cell(4, c, h).font = Font(bold=True)
        r = 4
        for r, row in enumerate(rows.itertuples(), start=5):
            ws.cell(r, 1, None if pd.isna(row.rank) else int(row.rank))
            write_text(ws, r, 2, row.name)
            value = ws.cell(
                r, 3, None if pd.isna(row.value) else round(float(row.value), int(ind.decimals))
            )
            value.number_format = NUMBER_FORMATS.get(ind.unit, "0.0")
            ws.cell(r, 4, row.status)
        if r > 4:
            ws.add_table(
                Table(
                    displayName=f"T{n}",
                    ref=f"A4:D{r}",
                    tableStyleInfo=TableStyleInfo(name="TableStyleMedium2", showRowStripes=True),
                )
            )
        first = rows.iloc[0]
        summary = [
            ("London (sum of numerators over sum of denominators)", first.london_value),
            ("London median", first.london_median),
            ("London lower quartile", first.london_lower_quartile),
            ("London upper quartile", first.london_upper_quartile),
        ]
        for k, (label, v) in enumerate(summary, start=r + 2):
            ws.cell(k, 2, label).font = Font(bold=True)
            cell = ws.cell(k, 3, None if pd.isna(v) else round(float(v), int(ind.decimals)))
            cell.number_format = NUMBER_FORMATS.get(ind.unit, "0.0")
        for col, width in zip("ABCD", [8, 34, 14, 16], strict=True):
            ws.column_dimensions[col].width = width
        ws.freeze_panes = "A5"

    defs = wb.create_sheet("Definitions")
    cols = ["id", "name", "formula", "unit", "polarity", "reliability_denominator"]
    for c, h in enumerate(cols, start=1):
        defs.cell(1, c, h).font = Font(bold=True)
    for r, row in enumerate(indicators[cols].itertuples(index=False), start=2):
        for c, v in enumerate(row, start=1):
            write_text(defs, r, c, None if pd.isna(v) else v)
    for c in range(1, len(cols) + 1):
        defs.column_dimensions[get_column_letter(c)].width = 22 if c != 2 else 60
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.xlsx")
    wb.save(tmp)
    tmp.replace(path)
    return path
