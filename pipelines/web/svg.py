"""Charts drawn on the server as SVG geometry, for templates to write out (so names are escaped
as any text is): a bar per authority, and lines over quarters. Each chart has its data as a table
beside it on the page; these only place shapes."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.write.figures import figure_text, is_missing

BAR_HEIGHT, BAR_GAP = 18, 6
LABEL_WIDTH, VALUE_WIDTH, PLOT_WIDTH = 175, 75, 250


def shown(value: float | None, unit: str, decimals: int) -> str:
    """A figure as the workbooks write it (`14.3%`, `£1,234`, `£4.1m`); a missing one as nothing."""
    return "" if is_missing(value) else figure_text(value, unit, decimals)


@dataclass(frozen=True)
class Bar:
    y: int
    x: float
    width: float
    label: str
    value_text: str
    highlighted: bool


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    zero_x: float
    label_x: int  # where each name ends, left of the plot (a negative bar runs left of zero)
    bars: list[Bar]
    line_x: float | None  # the group's figure, drawn as a line across the bars
    line_label: str


def _scale(values: list[float]) -> tuple[float, float]:
    low, high = min([0.0, *values]), max([0.0, *values])
    return low, (high - low) or 1.0


def bar_chart(figures, unit: str, decimals: int, line: float | None, line_label: str):
    """A horizontal bar for each figure with a value, in the order given, from a zero line."""
    plotted = [f for f in figures if f.value is not None]
    values = [f.value for f in plotted] + ([line] if line is not None else [])
    low, span = _scale(values) if values else (0.0, 1.0)

    def x(v: float) -> float:
        return round(LABEL_WIDTH + (v - low) / span * PLOT_WIDTH, 1)

    zero = x(0.0)
    bars = []
    for k, f in enumerate(plotted):
        left, right = sorted((zero, x(f.value)))
        bars.append(
            Bar(
                20 + k * (BAR_HEIGHT + BAR_GAP),
                left,
                max(right - left, 1.0),
                f.name,
                shown(f.value, unit, decimals),
                f.highlighted,
            )
        )
    height = 40 + len(bars) * (BAR_HEIGHT + BAR_GAP)
    return BarChart(
        LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH,
        height,
        zero,
        LABEL_WIDTH - 6,
        bars,
        x(line) if line is not None else None,
        line_label,
    )


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    points: str  # "x,y x,y ..." for a polyline
    dots: list[tuple[float, float]]


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    lines: list[Line]
    ticks: list[tuple[float, str, str]]  # x, the quarter (Q1) and, where a year starts, the year
    levels: list[tuple[float, str]]  # y and value


def line_chart(trend: list[dict], series: list[tuple[str, str]], unit: str, decimals: int):
    """A line for each (key, label) of `series` over the quarters of `trend`, gaps where a
    quarter has no figure."""
    width, height, left, right, top, bottom = 500, 240, 64, 44, 20, 40
    values = [r[k] for r in trend for k, _ in series if r.get(k) is not None]
    low, span = _scale(values) if values else (0.0, 1.0)
    step = (width - left - right) / max(len(trend) - 1, 1)

    def y(v: float) -> float:
        return round(top + (1 - (v - low) / span) * (height - top - bottom), 1)

    lines = []
    for key, label in series:
        dots = [
            (round(left + k * step, 1), y(r[key]))
            for k, r in enumerate(trend)
            if r.get(key) is not None
        ]
        if dots:
            lines.append(Line(key, label, " ".join(f"{a},{b}" for a, b in dots), dots))
    ticks = quarter_ticks([r["label"] for r in trend], left, step)
    levels = [(y(low + span * f), shown(low + span * f, unit, decimals)) for f in (0, 0.5, 1)]
    return LineChart(width, height, lines, ticks, levels)


def quarter_ticks(labels: list[str], left: float, step: float) -> list[tuple[float, str, str]]:
    """Labels under a line chart's quarters ("2024-25 Q1") that never overlap, at 12 px: the
    quarter on one line and its year under it, the year only where one starts (and at the first
    quarter), a year too close to the one before it left out; when the quarters are too close
    for each to be named, only those with a year are."""
    quarter_width, year_width = 24, 52  # "Q4" and "2024-25" at 12 px, with a gap
    years: list[int] = []
    for k, label in enumerate(labels):
        starts = k == 0 or label.endswith("Q1")
        if starts and (not years or (k - years[-1]) * step >= year_width):
            years.append(k)
    ticks = []
    for k, label in enumerate(labels):
        year, _, quarter = label.rpartition(" ")
        if k in years or step >= quarter_width:
            ticks.append((round(left + k * step, 1), quarter, year if k in years else ""))
    return ticks
