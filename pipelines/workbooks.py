"""Benchmark workbooks written with openpyxl: one per theme and quarter, and the submission status
workbook. Figures come from the warehouse's `benchmarks` and `group_aggregates`, never recomputed."""

from __future__ import annotations

import multiprocessing
import os
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile

import duckdb
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.marker import DataPoint
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.writer.excel import ExcelWriter

from pipelines.catalogue import THEME_TITLES, THEMES, Authorities, Catalogue, formula_refs
from pipelines.disclosure import publishable
from pipelines.quarters import Quarter, parse_quarter
from pipelines.reader import die_with_parent
from pipelines.settlement import (
    missing_authorities,
    submission_tracker,
    unmatched_files,
    unmatched_text,
)

NUMBER_FORMATS = {
    "gbp": "£#,##0",
    "gbp_m": "£#,##0.0",
    "percent": '0.0"%"',
    "rate_10k": "0.0",
    "ratio": "0.0",
    "fte": "0.0",
}
RESTRICTED = "RESTRICTED: for the 33 LIIA authorities only. Do not publish or forward."
PUBLISHABLE = (
    "OFFICIAL: publishable edition. Counts from 1 to 5, and any figure from which one could be "
    "worked back, are shown as c."
)
SYMBOL_LEGEND = (
    "Symbols: x not available (not returned, rejected or not held); z not applicable (not collected "
    "that quarter, or a zero denominator); u low reliability (denominator under 10: shown, not "
    "ranked); c suppressed (publishable edition only)."
)
# Light fills, so black text stays readable; the band letter is always written beside the value.
BAND_FILLS = {
    "A": PatternFill("solid", fgColor="C6EFCE"),
    "B": PatternFill("solid", fgColor="E2F0D9"),
    "C": PatternFill("solid", fgColor="FFF2CC"),
    "D": PatternFill("solid", fgColor="F8CBAD"),
}
BOLD = Font(bold=True)
RED_BOLD = Font(bold=True, color="C00000")
TRENDS_QUARTERS = 8


def write_text(ws, row: int, col: int, value: object):
    """Text from a return or the catalogue is always stored as text: openpyxl would otherwise store
    a string starting with `=` as a formula."""
    cell = ws.cell(row, col, value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


# openpyxl has no API for a chart's alternative text; screen readers read `descr` on the frame.
_chart_frame = SpreadsheetDrawing._chart_frame


def _chart_frame_with_alt_text(self, idx):
    frame = _chart_frame(self, idx)
    chart = self.charts[idx - 1] if idx <= len(self.charts) else None
    if getattr(chart, "alt_text", None):
        frame.nvGraphicFramePr.cNvPr.descr = chart.alt_text
    return frame


SpreadsheetDrawing._chart_frame = _chart_frame_with_alt_text


def _sheet_title(text: str) -> str:
    return "".join(c for c in text if c not in "[]:*?/\\")[:31]


def _number(ws, row: int, col: int, value, unit: str, decimals: int):
    if isinstance(value, str):  # a symbol in place of the figure, such as c (suppressed)
        return write_text(ws, row, col, value)
    cell = ws.cell(row, col, None if pd.isna(value) else round(float(value), int(decimals)))
    cell.number_format = NUMBER_FORMATS.get(unit, "#,##0")
    return cell


def _shown(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _header(ws, row: int, labels: list[str]) -> None:
    for c, label in enumerate(labels, start=1):
        ws.cell(row, c, label).font = BOLD


def _table(ws, name: str, first_row: int, last_row: int, columns: int) -> None:
    if last_row > first_row:
        ws.add_table(
            Table(
                displayName=name,
                ref=f"A{first_row}:{get_column_letter(columns)}{last_row}",
                tableStyleInfo=TableStyleInfo(name="TableStyleMedium2", showRowStripes=True),
            )
        )


def _widths(ws, widths: list[int]) -> None:
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = width


def _print_setup(ws, title: str, marking: str) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.oddHeader.center.text = marking.split(":")[0]
    ws.oddFooter.left.text = title
    ws.oddFooter.right.text = "Page &P of &N"


def _titles(ws, title: str, subtitle: str | None = None, marking: str = RESTRICTED) -> int:
    ws.cell(1, 1, title).font = Font(bold=True, size=14)
    ws.cell(2, 1, marking).font = RED_BOLD
    if subtitle:
        write_text(ws, 3, 1, subtitle)
    _print_setup(ws, title, marking)
    return 5


@dataclass(frozen=True)
class QuarterFigures:
    """What a quarter's workbooks show, read from the warehouse."""

    quarter: Quarter
    benchmarks: pd.DataFrame  # this quarter and up to seven before it
    groups: pd.DataFrame  # group_aggregates of this quarter
    submissions: pd.DataFrame  # submissions of this quarter
    # count items (quarter, authority, ref, value) of the same quarters, for disclosure control
    items: pd.DataFrame = field(default_factory=pd.DataFrame)

    @cached_property
    def current(self) -> pd.DataFrame:
        return self.benchmarks[self.benchmarks["quarter"] == self.quarter.key]

    @property
    def has_returns(self) -> bool:
        """Whether any authority's return was accepted: a quarter without is not published."""
        return bool(len(self.submissions)) and bool(self.submissions["is_current"].any())


def quarter_figures(con: duckdb.DuckDBPyConnection, quarter: Quarter, quarters: int = 8):
    """What the quarter's workbooks show: its benchmarks with the seven quarters before, its group
    aggregates and submissions; and its validation issues."""
    keys = [quarter.key]
    while len(keys) < quarters:
        keys.append(parse_quarter(keys[-1]).previous().key)
    benchmarks = con.execute(
        "SELECT * FROM benchmarks WHERE list_contains($keys, quarter)", {"keys": keys}
    ).df()
    one = {"q": quarter.key}
    groups = con.execute("SELECT * FROM group_aggregates WHERE quarter = $q", one).df()
    submissions = con.execute("SELECT * FROM submissions WHERE quarter = $q", one).df()
    issues = con.execute("SELECT * FROM validation_issues WHERE quarter = $q", one).df()
    items = con.execute(
        """SELECT v.quarter, v.authority, v.indicator_id AS ref, v.value
        FROM indicator_values AS v
        JOIN indicators AS i USING (indicator_id, kind)
        WHERE v.kind = 'item' AND i.unit = 'count' AND list_contains($keys, v.quarter)""",
        {"keys": keys},
    ).df()
    return QuarterFigures(quarter, benchmarks, groups, submissions, items), issues


def publishable_figures(figures: QuarterFigures, catalogue: Catalogue) -> QuarterFigures:
    """The figures with the spec's disclosure control applied (see pipelines.disclosure)."""
    benchmarks, groups = publishable(figures.benchmarks, figures.groups, figures.items, catalogue)
    return replace(figures, benchmarks=benchmarks, groups=groups)


def completeness(figures: QuarterFigures, authorities: Authorities) -> tuple[int, list[str]]:
    """(authorities with an accepted current return, names of those without one)."""
    missing = missing_authorities(figures.submissions, authorities)
    return len(authorities.codes) - len(missing), missing


def _about(wb, figures: QuarterFigures, theme: str, authorities: Authorities, marking: str):
    ws = wb.active
    ws.title = "About"
    row = _titles(
        ws, f"LIIA benchmarks: {THEME_TITLES[theme]}, {figures.quarter.label}", marking=marking
    )
    accepted, missing = completeness(figures, authorities)
    lines = [
        f"Quarter: {figures.quarter.label} ({figures.quarter.start:%d %B %Y} to "
        f"{figures.quarter.end:%d %B %Y})",
        f"Produced: {datetime.now():%d %B %Y %H:%M}",
        f"Returns accepted: {accepted} of {len(authorities.codes)}",
        "Missing or rejected: " + (", ".join(missing) if missing else "none"),
        SYMBOL_LEGEND,
        "Rank 1 is best by the indicator's polarity (for neutral indicators, the highest value); "
        "authorities with equal values share a rank.",
        "Quartile band A is London's best quarter by polarity, D the worst; top or bottom 20% "
        "marks the figures LIIA asks authorities to explain.",
        "London, Inner, Outer and sub-region figures are sums of numerators over sums of "
        "denominators, never averages of rates. Inner/Outer use the ONS definition.",
        "Kingston upon Thames and Richmond upon Thames report workforce jointly: in workforce "
        "indicators they are one unit, shown on both rows and counted once.",
        "Sheets: Summary (every indicator by authority), one sheet per indicator with a chart, "
        "Trends (last eight quarters), Definitions.",
    ]
    for i, line in enumerate(lines):
        write_text(ws, row + i, 1, line)
    ws.column_dimensions["A"].width = 120


def _summary(wb, figures: QuarterFigures, indicators: pd.DataFrame, names: pd.Series, marking):
    ws = wb.create_sheet("Summary")
    row = _titles(
        ws,
        f"Summary: every indicator, {figures.quarter.label}",
        "Each value is followed by its quartile band (A best to D); colour repeats the band.",
        marking,
    )
    inds = list(indicators.itertuples())
    header = ["Authority"]
    for ind in inds:
        header += [f"{ind.id} {ind.name}", f"{ind.id} band"]
    _header(ws, row, header)
    by_key = {(b["authority"], b["indicator_id"]): b for b in figures.current.to_dict("records")}
    for r, (code, name) in enumerate(names.sort_values().items(), start=row + 1):
        write_text(ws, r, 1, name)
        for k, ind in enumerate(inds):
            b = by_key[(code, ind.id)]
            col = 2 + 2 * k
            if pd.isna(b["value"]):
                write_text(ws, r, col, b["symbol"])
            else:
                _number(ws, r, col, b["value"], ind.unit, ind.decimals)
            band = _shown(b["quartile_band"]) or _shown(b["symbol"])
            cell = write_text(ws, r, col + 1, band)
            if band in BAND_FILLS:
                ws.cell(r, col).fill = cell.fill = BAND_FILLS[band]
    _table(ws, "Summary", row, row + len(names), len(header))
    _widths(ws, [26] + [14, 7] * len(indicators))
    ws.freeze_panes = ws.cell(row + 1, 2)


INDICATOR_COLUMNS = [
    "Rank",
    "Authority",
    "Value",
    "Symbol",
    "Quartile band",
    "Top/bottom 20%",
    "Previous quarter",
    "Change",
    "Direction",
    "Same quarter last year",
    "Sub-region",
    "London median",
]


def _indicator_sheet(wb, n: int, ind, figures: QuarterFigures, names: pd.Series, marking):
    ws = wb.create_sheet(_sheet_title(f"{n} {ind.name}"))
    row = _titles(ws, f"{ind.name}, {figures.quarter.label}", f"{ind.id}: {ind.formula}", marking)
    rows = figures.current[figures.current["indicator_id"] == ind.id].copy()
    rows["name"] = rows["authority"].map(names)
    rows = rows.sort_values(["rank", "name"], na_position="last")
    _header(ws, row, INDICATOR_COLUMNS)
    first = row + 1
    for r, b in enumerate(rows.itertuples(), start=first):
        ws.cell(r, 1, None if pd.isna(b.rank) else int(b.rank))
        write_text(ws, r, 2, b.name)
        if pd.isna(b.value):
            write_text(ws, r, 3, b.symbol)
        else:
            _number(ws, r, 3, b.value, ind.unit, ind.decimals)
        write_text(ws, r, 4, _shown(b.symbol))
        write_text(ws, r, 5, _shown(b.quartile_band))
        if _shown(b.quartile_band) in BAND_FILLS:
            ws.cell(r, 5).fill = BAND_FILLS[b.quartile_band]
        write_text(ws, r, 6, _shown(b.top_bottom_20))
        _number(ws, r, 7, b.previous_value, ind.unit, ind.decimals)
        _number(ws, r, 8, b.change_on_quarter, ind.unit, ind.decimals)
        write_text(ws, r, 9, _shown(b.direction_on_quarter))
        _number(ws, r, 10, b.year_earlier_value, ind.unit, ind.decimals)
        write_text(ws, r, 11, b.sub_region)
        _number(ws, r, 12, b.london_median, ind.unit, ind.decimals)
    last = first + len(rows) - 1
    _table(ws, f"Indicator{n}", row, last, len(INDICATOR_COLUMNS))

    b0 = rows.iloc[0]
    groups = figures.groups[figures.groups["indicator_id"] == ind.id]
    lines = [
        ("London (sum of numerators over sum of denominators)", b0.london_value),
        ("London median", b0.london_median),
        ("London lower quartile", b0.london_lower_quartile),
        ("London upper quartile", b0.london_upper_quartile),
        ("Lowest", b0.london_min),
        ("Highest", b0.london_max),
    ]
    for g in groups[groups["grouping"] == "inner_outer_ons"].sort_values("group_name").itertuples():
        lines.append((f"{g.group_name} London", g.value))
    for g in groups[groups["grouping"] == "sub_region"].sort_values("group_name").itertuples():
        lines.append((f"Sub-region {g.group_name}", g.value))
    g_row = last + 2
    ws.cell(g_row, 2, "London and groups").font = BOLD
    for k, (label, value) in enumerate(lines, start=g_row + 1):
        write_text(ws, k, 2, label)
        _number(ws, k, 3, value, ind.unit, ind.decimals)
    ws.cell(g_row, 4, f"Ranked: {int(b0.n_reporting)} of {int(b0.n_units)}")

    ranked = pd.to_numeric(rows["value"], errors="coerce").notna()
    chart = BarChart()
    chart.type = "col"
    chart.title = f"{ind.name}: every authority, London median marked"
    chart.y_axis.title = ind.name
    chart.add_data(Reference(ws, min_col=3, min_row=row, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=2, min_row=first, max_row=last))
    median = LineChart()
    median.add_data(Reference(ws, min_col=12, min_row=row, max_row=last), titles_from_data=True)
    chart += median
    chart.height, chart.width = 16, 22
    best, worst = (rows[ranked].iloc[0], rows[ranked].iloc[-1]) if ranked.any() else (None, None)
    chart.alt_text = (
        f"Bar chart of {ind.name} for {int(ranked.sum())} authorities with a value in "
        f"{figures.quarter.label}"
        + (
            f": best {best['name']} ({format_value(best['value'], ind)}), "
            f"worst {worst['name']} ({format_value(worst['value'], ind)}), "
            f"London median {format_value(b0.london_median, ind)}, London {format_value(b0.london_value, ind)}."
            if best is not None
            else "."
        )
    )
    ws.add_chart(chart, f"N{row}")
    _widths(ws, [7, 28, 12, 8, 9, 13, 11, 10, 11, 12, 11, 11])
    ws.freeze_panes = ws.cell(first, 1)


def format_value(value, ind) -> str:
    if isinstance(value, str):
        return "suppressed" if value == "c" else value
    if pd.isna(value):
        return "none"
    text = f"{float(value):,.{int(ind.decimals)}f}"
    return (
        f"£{text}"
        if ind.unit in ("gbp", "gbp_m")
        else f"{text}%"
        if ind.unit == "percent"
        else text
    )


def _trends(wb, figures: QuarterFigures, indicators: pd.DataFrame, marking):
    ws = wb.create_sheet("Trends")
    row = _titles(
        ws,
        f"Trends: London over the last {TRENDS_QUARTERS} quarters",
        "London figure (sum of numerators over sum of denominators) and median, by quarter.",
        marking,
    )
    london = (
        figures.benchmarks.groupby(["quarter", "indicator_id"])[["london_value", "london_median"]]
        .first()
        .reset_index()
    )
    quarters = sorted(london["quarter"].unique())[-TRENDS_QUARTERS:]
    header = ["Quarter"]
    for ind in indicators.itertuples():
        header += [f"{ind.id} London", f"{ind.id} median"]
    _header(ws, row, header)
    table = london.set_index(["quarter", "indicator_id"])
    for r, q in enumerate(quarters, start=row + 1):
        write_text(ws, r, 1, q.replace("-Q", " Q"))
        for k, ind in enumerate(indicators.itertuples()):
            key = (q, ind.id)
            if key in table.index:
                _number(ws, r, 2 + 2 * k, table.at[key, "london_value"], ind.unit, ind.decimals)
                _number(ws, r, 3 + 2 * k, table.at[key, "london_median"], ind.unit, ind.decimals)
    last = row + len(quarters)
    _table(ws, "Trends", row, last, len(header))
    for k, ind in enumerate(indicators.itertuples()):
        chart = LineChart()
        chart.title = f"{ind.name}: London and median by quarter"
        chart.add_data(
            Reference(ws, min_col=2 + 2 * k, max_col=3 + 2 * k, min_row=row, max_row=last),
            titles_from_data=True,
        )
        chart.set_categories(Reference(ws, min_col=1, min_row=row + 1, max_row=last))
        chart.height, chart.width = 7, 16
        values = [
            table.at[(q, ind.id), "london_value"] for q in quarters if (q, ind.id) in table.index
        ]
        chart.alt_text = f"Line chart of London's {ind.name} over {len(quarters)} quarters" + (
            f", from {format_value(values[0], ind)} to {format_value(values[-1], ind)}."
            if values
            else "."
        )
        ws.add_chart(chart, f"{get_column_letter(len(header) + 2)}{row + 15 * k}")
    _widths(ws, [12] + [13] * (len(header) - 1))
    ws.freeze_panes = ws.cell(row + 1, 2)


def _definitions(wb, indicators: pd.DataFrame, catalogue: Catalogue, marking):
    ws = wb.create_sheet("Definitions")
    row = _titles(
        ws, "Definitions", "Every indicator is derived centrally from items in the return.", marking
    )
    measures = catalogue.items.set_index("ref")["measure"]
    header = [
        "Id",
        "Indicator",
        "Formula",
        "Items used",
        "Unit",
        "Polarity",
        "Low reliability when",
        "Source",
    ]
    _header(ws, row, header)
    for r, ind in enumerate(indicators.itertuples(), start=row + 1):
        used = "; ".join(
            f"{ref} {measures[ref]}" if ref in measures else "population aged 0-17 (ONS)"
            for ref in formula_refs(ind.formula)
        )
        reliability = (
            f"{ind.reliability_denominator} under 10"
            if isinstance(ind.reliability_denominator, str)
            else ""
        )
        cells = [
            ind.id,
            ind.name,
            ind.formula,
            used,
            ind.unit,
            ind.polarity.replace("_", " "),
            reliability,
            "LIIA quarterly data return",
        ]
        for c, v in enumerate(cells, start=1):
            write_text(ws, r, c, v)
    _table(ws, "Definitions", row, row + len(indicators), len(header))
    _widths(ws, [9, 50, 34, 70, 10, 16, 18, 26])
    ws.freeze_panes = ws.cell(row + 1, 1)


def partial_path(path: Path) -> Path:
    """A hidden name beside `path`, unique to this writer: two runs writing the same file at once
    each rename their own complete copy into place."""
    return path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")


def save(wb: Workbook, path: Path) -> Path:
    """Save next to the target and rename, so a reader never opens a half-written workbook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    # As Workbook.save, with faster compression: the files are small either way.
    with ZipFile(partial, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=1) as archive:
        ExcelWriter(wb, archive).save()
    partial.replace(path)
    return path


def save_text(text: str, path: Path) -> Path:
    """As save(), for a text file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path


def write_theme_workbook(
    path: Path,
    figures: QuarterFigures,
    theme: str,
    authorities: Authorities,
    catalogue: Catalogue,
    marking: str = RESTRICTED,
) -> Path:
    """The theme's indicators for the quarter, all authorities side by side."""
    indicators = catalogue.indicators[catalogue.indicators["theme"] == theme]
    names = authorities.table.set_index("liia_code")["name"]
    wb = Workbook()
    _about(wb, figures, theme, authorities, marking)
    _summary(wb, figures, indicators, names, marking)
    for n, ind in enumerate(indicators.itertuples(), start=1):
        _indicator_sheet(wb, n, ind, figures, names, marking)
    _trends(wb, figures, indicators, marking)
    _definitions(wb, indicators, catalogue, marking)
    return save(wb, path)


def write_status_workbook(
    path: Path, figures: QuarterFigures, issues: pd.DataFrame, authorities: Authorities
) -> Path:
    """For LIIA's data lead: every authority, its current submission, status and issue counts."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Submissions"
    accepted, _ = completeness(figures, authorities)
    unmatched = unmatched_text(figures.submissions)
    row = _titles(
        ws,
        f"LIIA return status, {figures.quarter.label}",
        f"Accepted: {accepted} of {len(authorities.codes)}. "
        + (f"{unmatched} (sheet Unmatched files). " if unmatched else "")
        + f"Produced {datetime.now():%d %B %Y %H:%M}.",
    )
    tracker = submission_tracker(figures.submissions, issues, authorities)
    _header(ws, row, list(tracker.columns))
    for r, t in enumerate(tracker.to_dict("records"), start=row + 1):
        for c, column in enumerate(tracker.columns, start=1):
            value = t[column]
            if pd.isna(value):
                continue
            if column == "Received":
                ws.cell(r, c, value.to_pydatetime()).number_format = "dd/mm/yyyy hh:mm"
            elif isinstance(value, str):
                write_text(ws, r, c, value)
            else:
                ws.cell(r, c, int(value))
    _table(ws, "Submissions", row, row + len(tracker), len(tracker.columns))
    _widths(ws, [26, 26, 46, 17, 15, 10, 8, 9, 9])
    ws.freeze_panes = ws.cell(row + 1, 2)
    files = unmatched_files(figures.submissions)
    if len(files):
        files = files.sort_values("relative_path")
        ws = wb.create_sheet("Unmatched files")
        row = _titles(ws, f"Files not matched to an authority, {figures.quarter.label}", unmatched)
        first_error = (
            issues[issues["severity"] == "error"].groupby("submission_id")["problem"].first()
        )
        _header(ws, row, ["File", "Received", "Status", "What is wrong"])
        for r, f in enumerate(files.itertuples(), start=row + 1):
            write_text(ws, r, 1, f.relative_path)
            ws.cell(
                r, 2, pd.Timestamp(f.received_at).to_pydatetime()
            ).number_format = "dd/mm/yyyy hh:mm"
            write_text(ws, r, 3, f.status)
            write_text(ws, r, 4, first_error.get(f.submission_id, ""))
        _table(ws, "UnmatchedFiles", row, row + len(files), 4)
        _widths(ws, [50, 17, 16, 100])
    return save(wb, path)


PACK_COLUMNS = [
    "Theme",
    "Indicator",
    "Value",
    "Symbol",
    "Rank",
    "Of",
    "Quartile band",
    "Top/bottom 20%",
    "London",
    "Direction on quarter",
    "Direction on year",
]
OWN_BAR = "C00000"


@dataclass(frozen=True)
class _PackInputs:
    """What every pack of a quarter shares, worked out once."""

    figures: QuarterFigures
    indicators: list  # catalogue rows, as named tuples
    by_theme: dict[str, list]
    order: list[tuple[str, str]]  # (code, name) by name
    values: dict[str, dict[str, float]]  # indicator id -> authority -> value
    rows: dict[str, dict[str, dict]]  # authority -> indicator id -> benchmarks row


def _pack_inputs(figures: QuarterFigures, authorities: Authorities, catalogue: Catalogue):
    indicators = list(catalogue.indicators.itertuples())
    current = figures.current
    rows: dict[str, dict[str, dict]] = {}
    for r in current.to_dict("records"):
        rows.setdefault(r["authority"], {})[r["indicator_id"]] = r
    values = {
        i: {a: (None if pd.isna(v) else v) for a, v in g.items()}
        for i, g in current.set_index("authority").groupby("indicator_id")["value"]
    }
    return _PackInputs(
        figures,
        indicators,
        {t: [i for i in indicators if i.theme == t] for t in THEME_TITLES},
        sorted(((c, authorities.name(c)) for c in authorities.codes), key=lambda x: x[1]),
        values,
        rows,
    )


def _write_pack(path: Path, shared: _PackInputs, code: str, name: str) -> Path:
    """One authority against London on every indicator of the four themes, with the figures LIIA
    will ask it to explain, and a chart per indicator with its own bar highlighted."""
    figures = shared.figures
    mine = shared.rows[code]
    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    row = _titles(ws, f"{name} against London, {figures.quarter.label}", SYMBOL_LEGEND)
    flagged = [i.name for i in shared.indicators if _shown(mine[i.id]["top_bottom_20"])]
    write_text(
        ws,
        4,
        1,
        f"Figures in London's top or bottom 20%, which LIIA will ask you to explain: {len(flagged)}",
    )
    _header(ws, row, PACK_COLUMNS)
    for r, ind in enumerate(shared.indicators, start=row + 1):
        b = mine[ind.id]
        write_text(ws, r, 1, THEME_TITLES[ind.theme])
        write_text(ws, r, 2, ind.name)
        if pd.isna(b["value"]):
            write_text(ws, r, 3, b["symbol"])
        else:
            _number(ws, r, 3, b["value"], ind.unit, ind.decimals)
        write_text(ws, r, 4, _shown(b["symbol"]))
        ws.cell(r, 5, None if pd.isna(b["rank"]) else int(b["rank"]))
        ws.cell(r, 6, int(b["n_reporting"]))
        write_text(ws, r, 7, _shown(b["quartile_band"]))
        if _shown(b["quartile_band"]) in BAND_FILLS:
            ws.cell(r, 7).fill = BAND_FILLS[b["quartile_band"]]
        write_text(ws, r, 8, _shown(b["top_bottom_20"]))
        _number(ws, r, 9, b["london_value"], ind.unit, ind.decimals)
        write_text(ws, r, 10, _shown(b["direction_on_quarter"]))
        write_text(ws, r, 11, _shown(b["direction_on_year"]))
    _table(ws, "Pack", row, row + len(shared.indicators), len(PACK_COLUMNS))
    _widths(ws, [24, 58, 12, 8, 7, 5, 9, 13, 12, 12, 12])
    ws.freeze_panes = ws.cell(row + 1, 3)

    own = [c for c, _ in shared.order].index(code)
    for theme, indicators in shared.by_theme.items():
        sheet = wb.create_sheet(THEMES[theme])
        top = _titles(sheet, f"{THEME_TITLES[theme]}: {name} among London authorities")
        _header(sheet, top, ["Authority"] + [f"{i.id} {i.name}" for i in indicators])
        for r, (other, other_name) in enumerate(shared.order, start=top + 1):
            cell = write_text(sheet, r, 1, other_name)
            if other == code:
                cell.font = BOLD
            for c, ind in enumerate(indicators, start=2):
                _number(sheet, r, c, shared.values[ind.id].get(other), ind.unit, ind.decimals)
        last = top + len(shared.order)
        _table(sheet, f"Theme{theme.title()}", top, last, 1 + len(indicators))
        for k, ind in enumerate(indicators):
            chart = BarChart()
            chart.type = "col"
            chart.title = f"{ind.name}: {name} highlighted"
            chart.add_data(
                Reference(sheet, min_col=2 + k, min_row=top, max_row=last), titles_from_data=True
            )
            chart.set_categories(Reference(sheet, min_col=1, min_row=top + 1, max_row=last))
            chart.legend = None
            point = DataPoint(idx=own)
            point.graphicalProperties.solidFill = OWN_BAR
            chart.series[0].dPt.append(point)
            chart.height, chart.width = 8, 18
            b = mine[ind.id]
            chart.alt_text = (
                f"Column chart of {ind.name} for every London authority in "
                f"{figures.quarter.label}, {name} highlighted: {name} "
                f"{format_value(b['value'], ind)}"
                + (
                    f", rank {int(b['rank'])} of {int(b['n_reporting'])}"
                    if not pd.isna(b["rank"])
                    else ""
                )
                + f"; London {format_value(b['london_value'], ind)}."
            )
            sheet.add_chart(chart, f"{get_column_letter(len(indicators) + 3)}{top + 17 * k}")
        _widths(sheet, [26] + [14] * len(indicators))
        sheet.freeze_panes = sheet.cell(top + 1, 2)
    return save(wb, path)


def theme_workbook_path(
    reports: Path, quarter: Quarter, theme: str, publishable: bool = False
) -> Path:
    if publishable:
        name = f"LIIA {theme} benchmarks {quarter.key} publishable.xlsx"
        return reports / quarter.key / "publishable" / name
    return reports / quarter.key / f"LIIA {theme} benchmarks {quarter.key}.xlsx"


def status_workbook_path(reports: Path, quarter: Quarter) -> Path:
    return reports / quarter.key / f"LIIA return status {quarter.key}.xlsx"


def pack_path(reports: Path, quarter: Quarter, name: str) -> Path:
    return reports / quarter.key / "packs" / f"LIIA pack {quarter.key} {name}.xlsx"


# The quarter's workbooks are independent files: written by a pool of forked workers, which inherit
# the figures instead of having them pickled. Each task is a call; workers get its index.
_TASKS: list = []


@dataclass(frozen=True)
class WriteFailure:
    """A file that could not be written, and why: the others are written all the same."""

    path: str
    reason: str


def _attempt(function, args, kwargs):
    try:
        return function(*args, **kwargs)
    except Exception as exc:
        return WriteFailure(str(args[0]) if args else "", f"{type(exc).__name__}: {exc}"[:300])


def _run_task(index: int):
    return _attempt(*_TASKS[index])


def in_parallel(calls: list[tuple], workers: int | None = None) -> list:
    """The results of (function, args, kwargs) calls, in order, across the machine's cores; a
    call that raises gives a WriteFailure instead of stopping the rest. Workers end with this
    process, however it ends."""
    workers = min(workers or os.cpu_count() or 1, len(calls))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [_attempt(*call) for call in calls]
    _TASKS[:] = calls
    try:
        with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            return list(pool.map(_run_task, range(len(calls))))
    finally:
        _TASKS.clear()


def write_quarter_workbooks(
    reports: Path,
    figures: QuarterFigures,
    issues: pd.DataFrame,
    authorities: Authorities,
    catalogue: Catalogue,
    workers: int | None = None,
) -> dict[str, list[Path]]:
    """Every workbook of the quarter: the four theme workbooks and their publishable editions,
    the status workbook and a pack for each authority."""
    quarter = figures.quarter
    published = publishable_figures(figures, catalogue)
    shared = _pack_inputs(figures, authorities, catalogue)
    tasks = {"themes": [], "status": [], "packs": []}
    for edition, marking in ((figures, RESTRICTED), (published, PUBLISHABLE)):
        for theme in THEMES:
            path = theme_workbook_path(reports, quarter, theme, publishable=edition is published)
            args = (path, edition, theme, authorities, catalogue)
            tasks["themes"].append((write_theme_workbook, args, {"marking": marking}))
    status = status_workbook_path(reports, quarter)
    tasks["status"].append((write_status_workbook, (status, figures, issues, authorities), {}))
    for code, name in shared.order:
        args = (pack_path(reports, quarter, name), shared, code, name)
        tasks["packs"].append((_write_pack, args, {}))
    paths = in_parallel([t for kind in tasks.values() for t in kind], workers)
    out, start = {}, 0
    for kind, kind_tasks in tasks.items():
        out[kind] = paths[start : start + len(kind_tasks)]
        start += len(kind_tasks)
    return out
