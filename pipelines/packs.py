"""An authority's pack for a quarter: itself against London on every indicator of the four
themes, the figures LIIA will ask it to explain, and every authority's figures by theme."""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipelines.catalogue import THEME_TITLES, THEMES, Authorities, Catalogue
from pipelines.charts import AXIS_RULE, BAR_PX, bar_chart, chart_rows, own_row, page_break_before
from pipelines.figures import (
    QuarterFigures,
    as_figure,
    format_value,
    is_missing,
    is_neutral,
    is_total,
    shown_text,
)
from pipelines.layout import (
    BAND_FILLS,
    POSITION_FILLS,
    RED,
    RESTRICTED,
    SYMBOL_LEGEND,
    UNIT_WORDS,
    Book,
)


@dataclass(frozen=True)
class _PackInputs:
    """What every pack of a quarter shares, worked out once."""

    figures: QuarterFigures
    indicators: list  # catalogue rows, as named tuples
    by_theme: dict[str, list]
    order: list[tuple[str, str]]  # (code, name) by name
    rows: dict[str, dict[str, dict]]  # authority -> indicator id -> benchmarks row


def pack_inputs(figures: QuarterFigures, authorities: Authorities, catalogue: Catalogue):
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
    if is_total(ind) or is_neutral(ind) or is_missing(b["rank"]):
        return ""
    return f"{int(b['rank'])} of {int(b['n_reporting'])}"


def write_pack(
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
    flagged = [i for i in shared.indicators if shown_text(mine[i.id]["top_bottom_20"])]
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
        s.number(r, 2, b["value"] if not is_missing(b["value"]) else b["symbol"], ind.unit)
        s.text(r, 3, shown_text(b["symbol"]), align="center")
        s.text(r, 4, _rank_text(b, ind))
        band = shown_text(b["quartile_band"])
        fill = BAND_FILLS.get(band) or POSITION_FILLS.get(band)
        s.text(r, 5, band, align="center", **({"bg_color": fill} if fill else {}))
        s.text(r, 6, shown_text(b["top_bottom_20"]))
        s.number(r, 7, b["london_value"], ind.unit)
        s.text(r, 8, shown_text(b["direction_on_quarter"]))
        s.text(r, 9, shown_text(b["direction_on_year"]))
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
            (other_name, as_figure(shared.rows[other][ind.id]["value"]))
            for other, other_name in shared.order
            if as_figure(shared.rows[other][ind.id]["value"]) is not None
        ]
        comparator_value = b["london_median"] if is_total(ind) else b["london_value"]
        comparator = ("Median authority" if is_total(ind) else "London", comparator_value)
        first, last_row, colours = chart_rows(
            s,
            row,
            data_col,
            plotted,
            comparator if as_figure(comparator_value) is not None else None,
            ind.unit,
        )
        own = own_row(s, first, name)
        if own is not None:
            colours[own] = RED
        page_break_before(s, row)
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
            s.number(
                r, c, b["value"] if not is_missing(b["value"]) else b["symbol"], ind.unit, **own
            )
    s.table(top, top + len(shared.order), header, f"Theme{theme.title()}")
    for c in range(1, len(indicators) + 1):
        s.caps[c] = 16
    s.ws.freeze_panes(top + 1, 1)
    s.ws.repeat_rows(top)
