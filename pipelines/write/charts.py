"""The charts of every workbook, drawn by Excel from cells the sheet holds: bars of every
authority, lines of London over time. Every value axis includes zero."""

from __future__ import annotations

from pipelines.write.figures import is_missing
from pipelines.write.layout import BLUE, DARK, GREY, NUMBER_FORMATS, Book, Sheet, stored, unit_words

FAINT = "#A9C9E8"  # a bar whose figure is marked [u] or questioned
BAR_PX = 15  # height of one bar, with its gap, in a chart of every authority
AXIS_RULE = (
    "Every chart's value axis includes zero, so a small change looks small; bars are sorted by "
    "value, and lines join quarters straight, without smoothing."
)


def axis_bounds(values: list[float]) -> dict:
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
            "name": unit_words(ind),
            "name_font": {"size": 8, "bold": False},
            "num_format": fmt,
            "num_font": {"size": 8},
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
            **axis_bounds([stored(v, unit) for v in values]),
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
    faint: set[str] = frozenset(),
) -> tuple[int, int, dict[int, str]]:
    """The figures a chart draws, written in two columns from `top`: every authority with a
    figure, largest first, and the comparator (London, or the median authority) among them.
    Names in `faint` (figures marked [u] or questioned) are drawn pale.
    (first row, last row, {row: colour of the comparator or a faint bar})."""
    sheet.header(top, ["Chart: authority", "Chart: figure"], col)
    plotted = sorted(rows, key=lambda r: -r[1])
    colours = {}
    if (
        comparator is not None
        and not is_missing(comparator[1])
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
        elif name in faint:  # low reliability or questioned: drawn faint, its label says why
            colours[i] = FAINT
    return top + 1, top + len(plotted), colours


def page_break_before(sheet: Sheet, row: int) -> None:
    sheet.breaks = sorted({*sheet.breaks, row})
    sheet.ws.set_h_pagebreaks(sheet.breaks)


def own_row(sheet: Sheet, first: int, name: str) -> int | None:
    """The row of `name` among the figures of the chart last laid out on `sheet`."""
    for i, value in enumerate(sheet.chart_names):
        if value == name or value.startswith(f"{name} ["):
            return first + i
    return None


def line_chart(
    book: Book,
    sheet: Sheet,
    rows: tuple[int, int],
    category_col: int,
    series: list[tuple[int, str, str]],
    ind,
    values: list[float],
    size: tuple[int, int] = (640, 360),
):
    """Lines over quarters (categories in `category_col`, rows `rows`), one per (column, label,
    colour), joined straight with markers; `values`, the figures drawn, for an axis from zero."""
    chart = book.workbook.add_chart({"type": "line"})
    first, last = rows
    for col, label, colour in series:
        dash = "dash" if colour == DARK else "solid"
        chart.add_series(
            {
                "name": label,
                "categories": [sheet.name, first, category_col, last, category_col],
                "values": [sheet.name, first, col, last, col],
                "line": {"color": colour, "width": 2.25, "dash_type": dash},
                "marker": {
                    "type": "circle",
                    "size": 5,
                    "fill": {"color": colour},
                    "border": {"color": colour},
                },
                "smooth": False,
            }
        )
    fmt = NUMBER_FORMATS.get(ind.unit, "#,##0.0")
    chart.set_title({"name": ind.name, "name_font": {"size": 9, "bold": True}})
    chart.set_y_axis(
        {
            "num_format": fmt,
            "num_font": {"size": 8},
            "name": unit_words(ind),
            "name_font": {"size": 8, "bold": False},
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
            **axis_bounds([stored(v, ind.unit) for v in values]),
        }
    )
    chart.set_x_axis({"num_font": {"size": 8}})
    chart.set_legend({"position": "bottom", "font": {"size": 8}})
    chart.set_size({"width": size[0], "height": size[1]})
    return chart
