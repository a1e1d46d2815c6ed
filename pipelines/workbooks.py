"""Benchmark workbooks, written with XlsxWriter in the house style of pipelines.layout: one per
theme and quarter (RESTRICTED, and a publishable edition), a pack for each authority, and the
return status workbook. Figures come from the warehouse's `benchmarks` and `group_aggregates`,
never recomputed.

How an indicator is compared comes from the catalogue (`comparison`, `polarity`): a rate, share or
average is ranked, banded A (best) to D and flagged in the top or bottom fifth; a neutral one is
placed in quarters Q1 (lowest) to Q4 (highest) with no better or worse; a size-driven total shows
London's total and the median authority, and is neither ranked nor banded."""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.catalogue import THEME_TITLES, THEMES, Authorities, Catalogue, formula_refs
from pipelines.feedback import authority_folder
from pipelines.layout import (
    BLUE,
    DARK,
    GREY,
    NUMBER_FORMATS,
    RED,
    UNIT_WORDS,
    Book,
    Sheet,
    stored,
)
from pipelines.quarters import Quarter, parse_quarter
from pipelines.reader import die_with_parent
from pipelines.settlement import (
    missing_authorities,
    submission_tracker,
    unmatched_files,
    unmatched_text,
)

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
# Light fills, so black text stays readable; the band is always written beside the value.
BAND_FILLS = {"A": "#C6EFCE", "B": "#E2F0D9", "C": "#FFF2CC", "D": "#F8CBAD"}
POSITION_FILLS = {"Q1": "#F2F2F2", "Q2": "#E6E6E6", "Q3": "#D9D9D9", "Q4": "#CCCCCC"}
TRENDS_QUARTERS = 8
BAR_PX = 15  # height of one bar, with its gap, in a chart of every authority
AXIS_RULE = (
    "Every chart's value axis includes zero, so a small change looks small; bars are sorted by "
    "value, and lines join quarters straight, without smoothing."
)


def format_value(value, ind) -> str:
    """A figure as words for alternative text and the page: `£1,234`, `14.0%`, `suppressed`."""
    if isinstance(value, str):
        return "suppressed" if value == "c" else value
    if value is None or pd.isna(value):
        return "none"
    text = f"{float(value):,.{int(ind.decimals)}f}"
    if ind.unit == "gbp_m":
        return f"£{text}m"
    if ind.unit == "gbp":
        return f"£{text}"
    return f"{text}%" if ind.unit == "percent" else text


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _shown(value) -> str:
    return "" if _missing(value) else str(value)


def is_total(ind) -> bool:
    return getattr(ind, "comparison", "rate") == "total"


def is_neutral(ind) -> bool:
    return ind.polarity == "neutral"


def london_label(ind, n: int | None = None, of: int | None = None) -> str:
    if is_total(ind):
        reporting = f", {n} of {of} reporting" if n is not None else ""
        return f"London total{reporting}"
    return "London (sum of numerators over sum of denominators)"


def _records_by_indicator(frame: pd.DataFrame) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in frame.to_dict("records"):
        out.setdefault(r["indicator_id"], []).append(r)
    return out


@dataclass(frozen=True)
class QuarterFigures:
    """What a quarter's workbooks show, read from the warehouse."""

    quarter: Quarter
    benchmarks: pd.DataFrame  # this quarter and up to seven before it
    groups: pd.DataFrame  # group_aggregates of this quarter
    submissions: pd.DataFrame  # submissions of this quarter
    # count items (quarter, authority, ref, value) of the same quarters, for disclosure control
    items: pd.DataFrame = field(default_factory=pd.DataFrame)
    # what each authority wrote in Notes beside an item of its current return (authority, ref, note)
    notes: pd.DataFrame = field(default_factory=pd.DataFrame)

    @cached_property
    def current(self) -> pd.DataFrame:
        return self.benchmarks[self.benchmarks["quarter"] == self.quarter.key]

    @property
    def has_returns(self) -> bool:
        """Whether any authority's return was accepted: a quarter without is not published."""
        return bool(len(self.submissions)) and bool(self.submissions["is_current"].any())

    @cached_property
    def records(self) -> dict[str, list[dict]]:
        """The quarter's benchmarks rows as plain records, by indicator (read once, not per sheet)."""
        return _records_by_indicator(self.current)

    @cached_property
    def group_records(self) -> dict[str, list[dict]]:
        return _records_by_indicator(self.groups)

    @cached_property
    def notes_by_item(self) -> dict[tuple[str, str], str]:
        if self.notes.empty:
            return {}
        return {(n.authority, n.ref): n.note for n in self.notes.itertuples()}

    def note(self, authority: str, ind) -> str:
        """The authority's own words on the items behind an indicator, `FIN06: ...; FIN07: ...`."""
        notes = self.notes_by_item
        found = [
            f"{ref}: {notes[(authority, ref)]}"
            for ref in formula_refs(ind.formula)
            if (authority, ref) in notes
        ]
        return "; ".join(found)


def quarter_figures(con: duckdb.DuckDBPyConnection, quarter: Quarter, quarters: int = 8):
    """What the quarter's workbooks show: its benchmarks with the seven quarters before, its group
    aggregates, submissions and notes; and its validation issues."""
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
    notes = con.execute(
        """SELECT authority, ref, note FROM return_values
        WHERE quarter = $q AND is_current AND coalesce(note, '') <> ''""",
        one,
    ).df()
    return QuarterFigures(quarter, benchmarks, groups, submissions, items, notes), issues


def public_figures(con: duckdb.DuckDBPyConnection, figures: QuarterFigures) -> QuarterFigures:
    """What the public edition shows, as stored by the quarter's latest release (the release stage,
    pipelines.public_edition), with the earlier quarters as they were released; no notes."""
    from pipelines.public_edition import public_benchmarks, public_groups

    keys = list(dict.fromkeys(figures.benchmarks["quarter"])) or [figures.quarter.key]
    return replace(
        figures,
        benchmarks=public_benchmarks(con, keys),
        groups=public_groups(con, figures.quarter),
        items=pd.DataFrame(),
        notes=pd.DataFrame(),
    )


def completeness(figures: QuarterFigures, authorities: Authorities) -> tuple[int, list[str]]:
    """(authorities with an accepted current return, names of those without one)."""
    missing = missing_authorities(figures.submissions, authorities)
    return len(authorities.codes) - len(missing), missing


# --- charts -----------------------------------------------------------------------------------


def _axis_bounds(values: list[float]) -> dict:
    """The value axis always includes zero."""
    low, high = min([0.0, *values]), max([0.0, *values])
    bounds = {}
    if low >= 0:
        bounds["min"] = 0
    if high <= 0:
        bounds["max"] = 0
    return bounds


def bar_chart(
    book: Book,
    sheet: Sheet,
    first: int,
    last: int,
    col: int,
    ind,
    title: str,
    colours: dict[int, str],
    width: int = 760,
    bar: int = BAR_PX,
):
    """Horizontal bars, one per row from `first` to `last` (names in `col`, figures beside),
    sorted as the rows are; `colours` picks out rows (the comparator, an authority's own bar).
    `width` and `bar` (pixels) size it for the page it prints on."""
    chart = book.workbook.add_chart({"type": "bar"})
    unit = ind.unit
    fmt = NUMBER_FORMATS.get(unit, "#,##0.0")
    chart.add_series(
        {
            "name": ind.name,
            "categories": [sheet.name, first, col, last, col],
            "values": [sheet.name, first, col + 1, last, col + 1],
            "fill": {"color": BLUE},
            "border": {"none": True},
            "gap": 40,
            "points": [
                {"fill": {"color": colours[r]}} if r in colours else None
                for r in range(first, last + 1)
            ],
            "data_labels": {"value": True, "num_format": fmt, "font": {"size": 7}},
        }
    )
    chart.set_title({"name": title, "name_font": {"size": 10, "bold": True}})
    chart.set_legend({"none": True})
    values = sheet.chart_values
    chart.set_x_axis(
        {
            "name": UNIT_WORDS.get(unit, ""),
            "name_font": {"size": 8, "bold": False},
            "num_format": fmt,
            "num_font": {"size": 8},
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
            **_axis_bounds([stored(v, unit) for v in values]),
        }
    )
    # names at the left edge, clear of bars below zero; every one shown, the largest at the top
    chart.set_y_axis(
        {"reverse": True, "num_font": {"size": 7}, "interval_unit": 1, "label_position": "low"}
    )
    chart.set_size({"width": width, "height": 70 + bar * (last - first + 1)})
    return chart


def chart_rows(
    sheet: Sheet,
    top: int,
    col: int,
    rows: list[tuple[str, float]],
    comparator: tuple[str, float] | None,
    unit: str,
) -> tuple[int, int, dict[int, str]]:
    """The figures a chart draws, written in two columns from `top`: every authority with a
    figure, largest first, and the comparator (London, or the median authority) among them.
    (first row, last row, {row: colour of the comparator})."""
    sheet.header(top, ["Chart: authority", "Chart: figure"], col)
    plotted = sorted(rows, key=lambda r: -r[1])
    colours = {}
    if (
        comparator is not None
        and not _missing(comparator[1])
        and not isinstance(comparator[1], str)
    ):
        plotted = sorted([*plotted, comparator], key=lambda r: -r[1])
    sheet.chart_values = [v for _, v in plotted]
    sheet.chart_names = [n for n, _ in plotted]
    for i, (name, value) in enumerate(plotted, start=top + 1):
        sheet.text(i, col, name)
        sheet.number(i, col + 1, value, unit)
        if comparator is not None and name == comparator[0]:
            colours[i] = GREY
    return top + 1, top + len(plotted), colours


def _page_break_before(sheet: Sheet, row: int) -> None:
    sheet.breaks = sorted({*sheet.breaks, row})
    sheet.ws.set_h_pagebreaks(sheet.breaks)


# --- theme workbook ---------------------------------------------------------------------------


def _about(book: Book, figures, theme, indicators, authorities, marking, release=()) -> None:
    s = book.sheet(
        "About",
        f"LIIA benchmarks: {THEME_TITLES[theme]}, {figures.quarter.label}",
        marking,
        landscape=False,
        one_page=True,
    )
    accepted, missing = completeness(figures, authorities)
    # 88 characters of Arial 10 fit A4 portrait inside the margins with room to spare
    s.caps[0] = 88
    s.width(0, 88)
    s.line(
        f"Quarter: {figures.quarter.label} ({figures.quarter.start:%d %B %Y} to "
        f"{figures.quarter.end:%d %B %Y})"
    )
    s.produced()
    s.line(f"Returns accepted: {accepted} of {len(authorities.codes)}")
    s.line("Missing or rejected: " + (", ".join(missing) if missing else "none"))
    s.row += 1
    for label, text in release:  # the publishable edition's release: status, dates, contact
        s.line(label, bold=True)
        s.text(s.row, 0, text, wrap=True)
        s.row += 1
    if release:
        s.row += 1
    notes = [
        SYMBOL_LEGEND,
        "Rates, shares and averages: rank 1 is best by the indicator's polarity, and authorities "
        "with equal values share a rank; quartile band A is London's best quarter, D the worst; "
        "top or bottom 20% marks the figures LIIA asks authorities to explain.",
        "Neutral indicators (neither higher nor lower is better) are not ranked: authorities are "
        "placed by value in quarters Q1 (lowest) to Q4 (highest), in greys, and move up or down.",
        "Totals that grow with an authority's size (a £m variance, a net change in staff) are not "
        "ranked or banded: London's figure is London's total, and the comparator is the median "
        "authority. The Definitions sheet says how each indicator is compared, and why.",
        "London, Inner, Outer and sub-region figures are sums of numerators over sums of "
        "denominators, never averages of rates. Inner/Outer use the ONS definition.",
        "Kingston upon Thames and Richmond upon Thames report workforce jointly: in workforce "
        "indicators they are one unit, shown on both rows and counted once.",
        AXIS_RULE,
    ]
    if marking == RESTRICTED:
        notes.append(
            "Notes from the authority are its own words beside its figures in the return, shown "
            "as written; they are not in the publishable edition."
        )
    for text in notes:
        s.text(s.row, 0, text, wrap=True)
        s.row += 1
    s.row += 1
    s.line("Contents", bold=True)
    link = book.format(font_color=BLUE, underline=1)
    for name, label in (
        [("Summary", "Summary: every indicator by authority")]
        + [(ind.id, f"{ind.id}: {ind.name}") for ind in indicators.itertuples()]
        + [("Trends", "Trends: the last eight quarters"), ("Definitions", "Definitions")]
    ):
        s.ws.write_url(s.row, 0, f"internal:'{name}'!A1", link, string=label)
        s.row += 1


def _summary(book, figures, indicators, names, marking) -> None:
    s = book.sheet("Summary", f"Summary: every indicator, {figures.quarter.label}", marking)
    s.line(
        "Each value is followed by its band: A (best quarter of London) to D for rates; "
        "Q1 (lowest) to Q4 for neutral indicators; none for totals. Colour repeats the band."
    )
    top = s.row + 1
    inds = list(indicators.itertuples())
    header = ["Authority"]
    for ind in inds:
        header += [f"{ind.name} ({UNIT_WORDS.get(ind.unit, ind.unit)})", f"{ind.id} band"]
    by_key = {(b["authority"], b["indicator_id"]): b for b in figures.current.to_dict("records")}
    order = sorted(names.items(), key=lambda x: x[1])
    for r, (code, name) in enumerate(order, start=top + 1):
        s.text(r, 0, name)
        for k, ind in enumerate(inds):
            b = by_key[(code, ind.id)]
            col = 1 + 2 * k
            band = _shown(b["quartile_band"])
            fill = BAND_FILLS.get(band) or POSITION_FILLS.get(band)
            style = {"bg_color": fill} if fill else {}
            s.number(
                r, col, b["value"] if not _missing(b["value"]) else b["symbol"], ind.unit, **style
            )
            s.text(r, col + 1, band or _shown(b["symbol"]), align="center", **style)
    s.table(top, top + len(order), header, "Summary")
    for k in range(len(inds)):
        s.caps[1 + 2 * k] = 14
    s.ws.freeze_panes(top + 1, 1)
    s.ws.repeat_rows(top)


def _columns_for(ind, marking) -> list[str]:
    """The indicator table's columns: what makes sense for how the indicator is compared."""
    unit = UNIT_WORDS.get(ind.unit, ind.unit)
    columns = ["Authority", f"Value ({unit})", "Symbol"]
    if is_total(ind):
        columns += ["Previous quarter", "Change", "Direction", "Same quarter last year"]
        columns += ["Sub-region", "Median authority"]
    elif is_neutral(ind):
        columns += ["Quarter of London (Q1 lowest, Q4 highest)", "Highest or lowest 20%"]
        columns += ["Previous quarter", "Change", "Direction", "Same quarter last year"]
        columns += ["Sub-region", "London median"]
    else:
        columns = ["Rank", *columns, "Quartile band", "Top or bottom 20%"]
        columns += ["Previous quarter", "Change", "Direction", "Same quarter last year"]
        columns += ["Sub-region", "London median"]
    if marking == RESTRICTED:
        columns.append("Note from the authority")
    return columns


def _sorted_rows(ind, records: list[dict], names) -> list[dict]:
    """Rates by rank; neutral indicators and totals by value, highest first; then the rest."""
    rows = [{**r, "name": names[r["authority"]]} for r in records]

    def key(r):
        value = r["value"]
        missing = _missing(value) or isinstance(value, str)
        if is_total(ind) or is_neutral(ind):
            return (missing, 0 if missing else -float(value), r["name"])
        return (_missing(r["rank"]), 0 if _missing(r["rank"]) else r["rank"], r["name"])

    return sorted(rows, key=key)


def _figure(value) -> float | None:
    return None if _missing(value) or isinstance(value, str) else float(value)


def _indicator_sheet(book, n, ind, figures, names, marking) -> None:
    s = book.sheet(ind.id, f"{ind.name}, {figures.quarter.label}", marking)
    rows = _sorted_rows(ind, figures.records[ind.id], names)
    columns = _columns_for(ind, marking)
    s.paragraph(f"{ind.id}: {ind.formula}. {ind.comparison_note}", len(columns), 150, italic=True)
    top = s.row + 1
    note_col = len(columns) - 1 if marking == RESTRICTED else None
    ranked = "Rank" in columns
    for r, b in enumerate(rows, start=top + 1):
        c = 0
        if ranked:
            s.integer(r, 0, b["rank"])
            c = 1
        s.text(r, c, b["name"])
        s.number(r, c + 1, b["value"] if not _missing(b["value"]) else b["symbol"], ind.unit)
        s.text(r, c + 2, _shown(b["symbol"]), align="center")
        c += 3
        if not is_total(ind):
            band = _shown(b["quartile_band"])
            fill = BAND_FILLS.get(band) or POSITION_FILLS.get(band)
            s.text(r, c, band, align="center", **({"bg_color": fill} if fill else {}))
            s.text(r, c + 1, _shown(b["top_bottom_20"]))
            c += 2
        s.number(r, c, b["previous_value"], ind.unit)
        s.number(r, c + 1, b["change_on_quarter"], ind.unit)
        s.text(r, c + 2, _shown(b["direction_on_quarter"]))
        s.number(r, c + 3, b["year_earlier_value"], ind.unit)
        s.text(r, c + 4, _shown(b["sub_region"]))
        s.number(r, c + 5, b["london_median"], ind.unit)
        if note_col is not None:
            s.text(r, note_col, figures.note(b["authority"], ind), wrap=True)
    last = top + len(rows)
    s.table(top, last, columns, f"Indicator{n}")
    if note_col is not None:
        s.caps[note_col] = 40
        s.width(note_col, 24)
    s.ws.freeze_panes(top + 1, 0)

    b0 = rows[0]
    groups = figures.group_records.get(ind.id, [])
    # what this edition shows: a suppressed value (c) is not counted as ranked or reporting
    reported = len(
        {
            r["reporting_unit"]  # a joint workforce unit counts once
            for r in rows
            if _figure(r["value"]) is not None
            and not r["low_reliability"]
            and (not ranked or not _missing(r["rank"]))
        }
    )
    of = int(b0["n_units"])
    lines = [
        (london_label(ind, reported, of), b0["london_value"]),
        ("Median authority" if is_total(ind) else "London median", b0["london_median"]),
        ("Lower quartile", b0["london_lower_quartile"]),
        ("Upper quartile", b0["london_upper_quartile"]),
        ("Lowest", b0["london_min"]),
        ("Highest", b0["london_max"]),
    ]
    total = " total" if is_total(ind) else ""
    for grouping, prefix, suffix in (
        ("inner_outer_ons", "", " London"),
        ("sub_region", "Sub-region ", ""),
    ):
        for g in sorted(
            (g for g in groups if g["grouping"] == grouping), key=lambda g: g["group_name"]
        ):
            lines.append((f"{prefix}{g['group_name']}{suffix}{total}", g["value"]))
    # London and its groups beside the table, so the table and they print on one page
    label_col = len(columns) + 1
    verb = "Reporting" if is_total(ind) or is_neutral(ind) else "Ranked"
    s.text(top, label_col, "London and groups", bold=True)
    s.text(top, label_col + 1, f"{verb}: {reported} of {of}")
    for k, (label, value) in enumerate(lines, start=top + 1):
        s.text(k, label_col, label)
        s.number(k, label_col + 1, value, ind.unit)
    s.width(len(columns), 2)

    chart_top = max(last, top + len(lines)) + 2
    data_col = label_col + 3
    plotted = [(b["name"], _figure(b["value"])) for b in rows if _figure(b["value"]) is not None]
    if not plotted:
        s.text(
            chart_top,
            0 if not ranked else 1,
            "Every authority's value is suppressed (c) or missing in this edition, so there is "
            "no chart.",
        )
        return
    comparator = (
        ("Median authority", b0["london_median"])
        if is_total(ind)
        else ("London", b0["london_value"])
    )
    first, last_row, colours = chart_rows(
        s,
        chart_top,
        data_col,
        plotted,
        comparator if _figure(comparator[1]) is not None else None,
        ind.unit,
    )
    title = f"{ind.name}, {figures.quarter.label}: every authority with a figure"
    # the sheet prints at about 70% to fit its table across: the chart is drawn to fill the page
    chart = bar_chart(book, s, first, last_row, data_col, ind, title, colours, 1250, 24)
    _page_break_before(s, chart_top)
    s.ws.insert_chart(
        chart_top, 0, chart, {"description": _bar_alt_text(ind, plotted, comparator, figures)}
    )
    chart_rows_high = math.ceil((70 + 24 * (last_row - first + 1)) / 20) + 1
    s.ws.print_area(0, 0, chart_top + chart_rows_high, label_col + 1)


def _bar_alt_text(ind, plotted: list[tuple[str, float]], comparator, figures) -> str:
    count = f"Bar chart of {ind.name} for the {len(plotted)} authorities with a figure in {figures.quarter.label}"
    ordered = sorted(plotted, key=lambda p: p[1])
    (low, low_value), (high, high_value) = ordered[0], ordered[-1]
    return (
        f"{count}, largest first: highest {high} ({format_value(high_value, ind)}), "
        f"lowest {low} ({format_value(low_value, ind)}); "
        f"{comparator[0]} {format_value(comparator[1], ind)}."
    )


def _trends(book, figures, indicators, marking) -> None:
    s = book.sheet("Trends", f"Trends: London over the last {TRENDS_QUARTERS} quarters", marking)
    s.line(
        "London's figure (a ratio of sums; for totals, London's total) and the median authority, by "
        "quarter. " + AXIS_RULE
    )
    london = (
        figures.benchmarks.groupby(["quarter", "indicator_id"])[["london_value", "london_median"]]
        .first()
        .reset_index()
    )
    quarters = sorted(london["quarter"].unique())[-TRENDS_QUARTERS:]
    header = ["Quarter"]
    inds = list(indicators.itertuples())
    for ind in inds:
        first = "London total" if is_total(ind) else "London"
        header += [f"{ind.name}: {first}", f"{ind.name}: median"]
    top = s.row + 1
    table = london.set_index(["quarter", "indicator_id"])
    for r, q in enumerate(quarters, start=top + 1):
        s.text(r, 0, q.replace("-Q", " Q"))
        for k, ind in enumerate(inds):
            key = (q, ind.id)
            if key in table.index:
                s.number(r, 1 + 2 * k, table.at[key, "london_value"], ind.unit)
                s.number(r, 2 + 2 * k, table.at[key, "london_median"], ind.unit)
    last = top + len(quarters)
    s.table(top, last, header, "Trends")
    for k in range(len(inds)):
        s.caps[1 + 2 * k] = s.caps[2 + 2 * k] = 16
    s.ws.freeze_panes(top + 1, 1)
    # Two charts a row, two rows a page: a page break before every second row of charts.
    chart_row, height_rows = last + 3, 20
    for k, ind in enumerate(inds):
        row = chart_row + (k // 2) * height_rows
        if k % 4 == 0:
            _page_break_before(s, row)
        chart = book.workbook.add_chart({"type": "line"})
        values = []
        for offset, (col, colour, label) in enumerate(
            [(1 + 2 * k, BLUE, header[1 + 2 * k]), (2 + 2 * k, DARK, header[2 + 2 * k])]
        ):
            chart.add_series(
                {
                    "name": label.split(": ")[-1],
                    "categories": ["Trends", top + 1, 0, last, 0],
                    "values": ["Trends", top + 1, col, last, col],
                    "line": {
                        "color": colour,
                        "width": 2.25,
                        "dash_type": "solid" if offset == 0 else "dash",
                    },
                    "marker": {
                        "type": "circle",
                        "size": 5,
                        "fill": {"color": colour},
                        "border": {"color": colour},
                    },
                    "smooth": False,
                }
            )
        for q in quarters:
            if (q, ind.id) in table.index:
                values += [table.at[(q, ind.id), c] for c in ("london_value", "london_median")]
        values = [
            stored(float(v), ind.unit) for v in values if not _missing(v) and not isinstance(v, str)
        ]
        fmt = NUMBER_FORMATS.get(ind.unit, "#,##0.0")
        chart.set_title({"name": ind.name, "name_font": {"size": 9, "bold": True}})
        chart.set_y_axis(
            {
                "num_format": fmt,
                "num_font": {"size": 8},
                "name": UNIT_WORDS.get(ind.unit, ""),
                "name_font": {"size": 8, "bold": False},
                "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
                **_axis_bounds(values),
            }
        )
        chart.set_x_axis({"num_font": {"size": 8}})
        chart.set_legend({"position": "bottom", "font": {"size": 8}})
        chart.set_size({"width": 640, "height": 360})
        series = [
            table.at[(q, ind.id), "london_value"] for q in quarters if (q, ind.id) in table.index
        ]
        alt = (
            f"Line chart of London's {ind.name} and the median authority over {len(quarters)} quarters"
            + (
                f", London from {format_value(series[0], ind)} to {format_value(series[-1], ind)}."
                if series
                else "."
            )
        )
        s.ws.insert_chart(row, 0, chart, {"description": alt, "x_offset": 10 + 660 * (k % 2)})
    s.width(0, 12)
    s.width(1, 16)
    s.width(2, 16)
    s.width(3, 16)


def _definitions(book, indicators, catalogue, marking) -> None:
    s = book.sheet("Definitions", "Definitions", marking)
    s.line("Every indicator is derived centrally from items in the return.")
    measures = catalogue.items.set_index("ref")["measure"]
    header = [
        "Id",
        "Indicator",
        "Formula",
        "Items used",
        "Unit",
        "Polarity",
        "Compared as",
        "Why",
        "Low reliability when",
    ]
    top = s.row + 1
    for r, ind in enumerate(indicators.itertuples(), start=top + 1):
        used = "; ".join(
            f"{ref} {measures[ref]}" if ref in measures else "population aged 0-17 (ONS)"
            for ref in formula_refs(ind.formula)
        )
        reliability = (
            f"{ind.reliability_denominator} under 10"
            if isinstance(ind.reliability_denominator, str)
            else ""
        )
        compared = (
            "total (not ranked)"
            if is_total(ind)
            else "rate, placed by value (neutral)"
            if is_neutral(ind)
            else "rate, ranked"
        )
        cells = [
            ind.id,
            ind.name,
            ind.formula,
            used,
            UNIT_WORDS.get(ind.unit, ind.unit),
            ind.polarity.replace("_", " "),
            compared,
            ind.comparison_note,
            reliability,
        ]
        for c, v in enumerate(cells):
            s.text(r, c, v, wrap=c in (1, 3, 7))
    s.table(top, top + len(indicators), header, "Definitions")
    s.caps.update({1: 30, 2: 28, 3: 40, 7: 40})
    s.ws.freeze_panes(top + 1, 1)
    s.ws.repeat_rows(top)


def write_theme_workbook(
    path: Path,
    figures: QuarterFigures,
    theme: str,
    authorities: Authorities,
    catalogue: Catalogue,
    marking: str = RESTRICTED,
    release: list[tuple[str, str]] = (),
) -> Path:
    """The theme's indicators for the quarter, all authorities side by side; `release`, what the
    publishable edition says of its release (release.release_facts)."""
    indicators = catalogue.indicators[catalogue.indicators["theme"] == theme]
    names = authorities.table.set_index("liia_code")["name"]
    book = Book(path)
    _about(book, figures, theme, indicators, authorities, marking, release)
    _summary(book, figures, indicators, names, marking)
    for n, ind in enumerate(indicators.itertuples(), start=1):
        _indicator_sheet(book, n, ind, figures, names, marking)
    _trends(book, figures, indicators, marking)
    _definitions(book, indicators, catalogue, marking)
    return book.close()


# --- status workbook --------------------------------------------------------------------------


def _completed_date(text):
    """`2026-09-30` as a date; anything else as the text it is."""
    try:
        return pd.Timestamp(datetime.strptime(str(text)[:10], "%Y-%m-%d"))
    except ValueError:
        return text


def write_status_workbook(
    path: Path, figures: QuarterFigures, issues: pd.DataFrame, authorities: Authorities
) -> Path:
    """For LIIA's data lead, to chase with: every authority, problems first (not returned,
    rejected, values excluded, warnings), its current submission, status, when it arrived, the
    deadline and days late, why a return was rejected or values excluded, issue counts and its
    feedback workbook's path; and the files that could not be matched to an authority."""
    book = Book(path)
    s = book.sheet("Submissions", f"LIIA return status, {figures.quarter.label}", RESTRICTED)
    accepted, _ = completeness(figures, authorities)
    unmatched = unmatched_text(figures.submissions)
    s.line(
        f"Accepted: {accepted} of {len(authorities.codes)}."
        + (f" {unmatched} (sheet Unmatched files)." if unmatched else "")
    )
    s.produced()
    tracker = submission_tracker(figures.submissions, issues, authorities, figures.quarter)
    s.line(
        "Problems first: not returned, rejected, values excluded, then warnings. Feedback is "
        "under the reports folder; Days late counts from the deadline to when the pipeline "
        "first received the file."
    )
    top = s.row + 2
    for r, t in enumerate(tracker.to_dict("records"), start=top + 1):
        for c, column in enumerate(tracker.columns):
            value = t[column]
            if _missing(value):
                continue
            if column == "Received":
                s.date(r, c, value, with_time=True)
            elif column == "Deadline":
                s.date(r, c, value)
            elif column == "Reason":
                s.text(r, c, value, wrap=True)
            elif column == "Date completed":
                completed = _completed_date(value)
                if isinstance(completed, pd.Timestamp):
                    s.date(r, c, completed)
                else:
                    s.text(r, c, completed)
            elif isinstance(value, str):
                s.text(r, c, value)
            else:
                s.integer(r, c, value)
    s.table(top, top + len(tracker), list(tracker.columns), "Submissions")
    reason = list(tracker.columns).index("Reason")
    s.caps.update({reason: 60})
    s.width(reason, 40)
    s.ws.freeze_panes(top + 1, 1)
    s.ws.repeat_rows(top)
    files = unmatched_files(figures.submissions)
    if len(files):
        u = book.sheet(
            "Unmatched files",
            f"Files not matched to an authority, {figures.quarter.label}",
            RESTRICTED,
        )
        u.line(unmatched)
        first_error = (
            issues[issues["severity"] == "error"].groupby("submission_id")["problem"].first()
            if len(issues)
            else pd.Series(dtype=object)
        )
        top = u.row + 1
        for r, f in enumerate(files.sort_values("relative_path").itertuples(), start=top + 1):
            u.text(r, 0, f.relative_path)
            u.date(r, 1, f.received_at, with_time=True)
            u.text(r, 2, f.status)
            u.text(r, 3, first_error.get(f.submission_id, ""), wrap=True)
        u.table(
            top, top + len(files), ["File", "Received", "Status", "What is wrong"], "UnmatchedFiles"
        )
        u.caps.update({0: 40, 3: 60})
        u.width(3, 40)
        u.ws.repeat_rows(top)
    return book.close()


# --- authority packs --------------------------------------------------------------------------


@dataclass(frozen=True)
class _PackInputs:
    """What every pack of a quarter shares, worked out once."""

    figures: QuarterFigures
    indicators: list  # catalogue rows, as named tuples
    by_theme: dict[str, list]
    order: list[tuple[str, str]]  # (code, name) by name
    rows: dict[str, dict[str, dict]]  # authority -> indicator id -> benchmarks row


def _pack_inputs(figures: QuarterFigures, authorities: Authorities, catalogue: Catalogue):
    indicators = list(catalogue.indicators.itertuples())
    rows: dict[str, dict[str, dict]] = {}
    for r in figures.current.to_dict("records"):
        rows.setdefault(r["authority"], {})[r["indicator_id"]] = r
    return _PackInputs(
        figures,
        indicators,
        {t: [i for i in indicators if i.theme == t] for t in THEME_TITLES},
        sorted(((c, authorities.name(c)) for c in authorities.codes), key=lambda x: x[1]),
        rows,
    )


PACK_COLUMNS = [
    "Theme",
    "Indicator",
    "Value",
    "Symbol",
    "Rank",
    "Band",
    "Top or bottom 20%",
    "London (or London total)",
    "Direction on quarter",
    "Direction on year",
    "Your note in the return",
]


def _rank_text(b, ind) -> str:
    if is_total(ind) or is_neutral(ind) or _missing(b["rank"]):
        return ""
    return f"{int(b['rank'])} of {int(b['n_reporting'])}"


def _write_pack(
    path: Path, shared: _PackInputs, code: str, name: str, copy_to: Path | None = None
) -> Path:
    """One authority against London on every indicator of the four themes: first the figures LIIA
    will ask it to explain, with its own notes; then every indicator; a chart of each figure to
    explain among every authority's, its own bar highlighted; and a sheet per theme with every
    authority's figures."""
    figures = shared.figures
    mine = shared.rows[code]
    book = Book(path)
    s = book.sheet("Summary", f"{name} against London, {figures.quarter.label}", RESTRICTED)
    s.line(SYMBOL_LEGEND)
    flagged = [i for i in shared.indicators if _shown(mine[i.id]["top_bottom_20"])]
    s.line(
        f"Figures in London's top or bottom 20%, which LIIA will ask you to explain: "
        f"{len(flagged)}"
        + (" (the sheet To explain has each, with your notes and a chart)" if flagged else ""),
        bold=True,
    )
    top = s.row + 1
    for r, ind in enumerate(shared.indicators, start=top + 1):
        b = mine[ind.id]
        s.text(r, 0, THEME_TITLES[ind.theme])
        s.text(r, 1, ind.name, wrap=True)
        s.number(r, 2, b["value"] if not _missing(b["value"]) else b["symbol"], ind.unit)
        s.text(r, 3, _shown(b["symbol"]), align="center")
        s.text(r, 4, _rank_text(b, ind))
        band = _shown(b["quartile_band"])
        fill = BAND_FILLS.get(band) or POSITION_FILLS.get(band)
        s.text(r, 5, band, align="center", **({"bg_color": fill} if fill else {}))
        s.text(r, 6, _shown(b["top_bottom_20"]))
        s.number(r, 7, b["london_value"], ind.unit)
        s.text(r, 8, _shown(b["direction_on_quarter"]))
        s.text(r, 9, _shown(b["direction_on_year"]))
        s.text(r, 10, figures.note(code, ind), wrap=True)
    s.table(top, top + len(shared.indicators), PACK_COLUMNS, "Pack")
    s.caps.update({0: 28, 1: 40, 10: 40})
    s.width(1, 30)
    s.width(10, 20)
    s.ws.repeat_rows(top)
    if flagged:
        _pack_charts(book, shared, flagged, code, name)
    for theme, indicators in shared.by_theme.items():
        _pack_theme_sheet(book, shared, theme, indicators, code, name)
    written = book.close()
    if copy_to is not None:  # the authority's own copy, in its own folder
        copy_to.parent.mkdir(parents=True, exist_ok=True)
        partial = copy_to.with_name(f".{copy_to.name}.{os.getpid()}.partial")
        shutil.copyfile(written, partial)
        os.replace(partial, copy_to)
    return written


def _pack_charts(book, shared, indicators, code, name) -> None:
    """The figures to explain: a table with the authority's own notes, then a chart of each, one
    to a page, of every authority's figure, largest first, its own bar red and London's (a
    total's, the median authority's) grey."""
    figures = shared.figures
    s = book.sheet("To explain", f"{name}: the figures LIIA will ask you to explain", RESTRICTED)
    s.line(f"{name}'s bar is red; London's (for totals, the median authority's) grey. {AXIS_RULE}")
    top = s.row + 1
    for r, ind in enumerate(indicators, start=top + 1):
        b = shared.rows[code][ind.id]
        s.text(r, 0, ind.name, wrap=True)
        s.number(r, 1, b["value"], ind.unit)
        s.text(r, 2, f"{b['top_bottom_20']} ({_rank_text(b, ind) or 'placed by value'})")
        s.text(r, 3, figures.note(code, ind) or "none yet", wrap=True)
    explain = ["Indicator", "Value", "Where it stands", "Your note in the return"]
    s.table(top, top + len(indicators), explain, "Explain")
    s.caps.update({0: 40, 3: 50})
    row, data_col = top + len(indicators) + 2, 13
    for ind in indicators:
        b = shared.rows[code][ind.id]
        plotted = [
            (other_name, _figure(shared.rows[other][ind.id]["value"]))
            for other, other_name in shared.order
            if _figure(shared.rows[other][ind.id]["value"]) is not None
        ]
        comparator_value = b["london_median"] if is_total(ind) else b["london_value"]
        comparator = ("Median authority" if is_total(ind) else "London", comparator_value)
        first, last_row, colours = chart_rows(
            s,
            row,
            data_col,
            plotted,
            comparator if _figure(comparator_value) is not None else None,
            ind.unit,
        )
        own = _own_row(s, first, name)
        if own is not None:
            colours[own] = RED
        _page_break_before(s, row)
        chart = bar_chart(book, s, first, last_row, data_col, ind, f"{ind.name}: {name}", colours)
        alt = (
            f"Bar chart of {ind.name} for the {len(plotted)} authorities with a figure in "
            f"{figures.quarter.label}, largest first, {name} highlighted: {name} "
            f"{format_value(b['value'], ind)}"
            + (f", rank {_rank_text(b, ind)}" if _rank_text(b, ind) else "")
            + f"; {comparator[0]} {format_value(comparator_value, ind)}."
        )
        s.ws.insert_chart(row, 0, chart, {"description": alt})
        row += max(last_row - row + 2, math.ceil((70 + BAR_PX * (last_row - first + 1)) / 20) + 2)
    s.ws.print_area(0, 0, row, 11)


def _pack_theme_sheet(book, shared, theme, indicators, code, name) -> None:
    s = book.sheet(
        THEMES[theme], f"{THEME_TITLES[theme]}: {name} among London authorities", RESTRICTED
    )
    s.line(f"Every authority's figures; {name}'s row in bold.")
    top = s.row + 1
    header = ["Authority"] + [f"{i.name} ({UNIT_WORDS.get(i.unit, i.unit)})" for i in indicators]
    for r, (other, other_name) in enumerate(shared.order, start=top + 1):
        own = {"bold": True} if other == code else {}
        s.text(r, 0, other_name, **own)
        for c, ind in enumerate(indicators, start=1):
            b = shared.rows[other][ind.id]
            s.number(r, c, b["value"] if not _missing(b["value"]) else b["symbol"], ind.unit, **own)
    s.table(top, top + len(shared.order), header, f"Theme{theme.title()}")
    for c in range(1, len(indicators) + 1):
        s.caps[c] = 16
    s.ws.freeze_panes(top + 1, 1)
    s.ws.repeat_rows(top)


def _own_row(sheet: Sheet, first: int, name: str) -> int | None:
    for i, value in enumerate(sheet.chart_names):
        if value == name:
            return first + i
    return None


# One tree per audience under reports/, each with its own page that links only inside it.
PUBLIC, MEMBERS, AUTHORITIES, LIIA_TEAM = "public", "members", "authorities", "liia"


def theme_workbook_path(
    reports: Path, quarter: Quarter, theme: str, publishable: bool = False
) -> Path:
    if publishable:
        name = f"LIIA {theme} benchmarks {quarter.key} publishable.xlsx"
        return reports / PUBLIC / quarter.key / name
    return reports / MEMBERS / quarter.key / f"LIIA {theme} benchmarks {quarter.key}.xlsx"


def public_csv_path(reports: Path, quarter: Quarter) -> Path:
    return reports / PUBLIC / quarter.key / f"LIIA benchmarks {quarter.key} publishable.csv"


def status_workbook_path(reports: Path, quarter: Quarter) -> Path:
    return reports / LIIA_TEAM / quarter.key / f"LIIA return status {quarter.key}.xlsx"


def pack_path(reports: Path, quarter: Quarter, name: str) -> Path:
    return reports / MEMBERS / quarter.key / "packs" / f"LIIA pack {quarter.key} {name}.xlsx"


def own_pack_path(reports: Path, quarter: Quarter, name: str) -> Path:
    return authority_folder(reports, name) / quarter.key / f"LIIA pack {quarter.key} {name}.xlsx"


# --- writing a quarter's workbooks across the cores -------------------------------------------

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
    # a few small files are quicker written here than by a pool started for them
    if workers <= 1 or len(calls) < 8 or "fork" not in multiprocessing.get_all_start_methods():
        return [_attempt(*call) for call in calls]
    _TASKS[:] = calls
    # What exists at the fork is left out of the children's garbage collection: another thread of
    # this process (a run's, a server's) may have been mid-change to it, and collecting such an
    # object in a child can crash it.
    gc.freeze()
    try:
        with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            return list(pool.map(_run_task, range(len(calls))))
    finally:
        gc.unfreeze()
        _TASKS.clear()


def write_quarter_workbooks(
    reports: Path,
    figures: QuarterFigures,
    issues: pd.DataFrame,
    authorities: Authorities,
    catalogue: Catalogue,
    public: QuarterFigures | None = None,
    workers: int | None = None,
    release: list[tuple[str, str]] = (),
) -> dict[str, list[Path]]:
    """Every workbook of the quarter: the status workbook; and once the quarter is released
    (`public`, its stored public edition, and `release`, what it says of its release), the four
    theme workbooks, their publishable editions and a pack for each authority."""
    quarter = figures.quarter
    tasks = {"themes": [], "status": [], "packs": []}
    status = status_workbook_path(reports, quarter)
    tasks["status"].append((write_status_workbook, (status, figures, issues, authorities), {}))
    if public is None:
        return _written(tasks, workers)
    published = public
    shared = _pack_inputs(figures, authorities, catalogue)
    for edition, marking in ((figures, RESTRICTED), (published, PUBLISHABLE)):
        for theme in THEMES:
            path = theme_workbook_path(reports, quarter, theme, publishable=edition is published)
            args = (path, edition, theme, authorities, catalogue)
            about = {"marking": marking, "release": release if edition is published else ()}
            tasks["themes"].append((write_theme_workbook, args, about))
    for code, name in shared.order:
        args = (pack_path(reports, quarter, name), shared, code, name)
        tasks["packs"].append(
            (_write_pack, args, {"copy_to": own_pack_path(reports, quarter, name)})
        )
    return _written(tasks, workers)


def _written(tasks: dict[str, list], workers: int | None) -> dict[str, list]:
    paths = in_parallel([t for kind in tasks.values() for t in kind], workers)
    out, start = {}, 0
    for kind, kind_tasks in tasks.items():
        out[kind] = paths[start : start + len(kind_tasks)]
        start += len(kind_tasks)
    return out
