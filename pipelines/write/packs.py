"""An authority's pack for a quarter: itself against London on every indicator of the four
themes, the figures LIIA will ask it to explain, and every authority's figures by theme."""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.benchmark.standout import CONTROL_LIMIT, Pick, Standing, picks, quarter_standings
from pipelines.collection.catalogue import THEME_TITLES, THEMES, Authorities, Catalogue
from pipelines.write.charts import (
    AXIS_RULE,
    BAR_PX,
    bar_chart,
    chart_rows,
    line_chart,
    own_row,
    page_break_before,
)
from pipelines.write.comparator_sheets import england_sheet, neighbours_sheet, rug_sheet
from pipelines.write.figures import (
    QuarterFigures,
    as_figure,
    chart_label,
    format_value,
    is_missing,
    is_neutral,
    is_total,
    shown_text,
)
from pipelines.write.layout import (
    BAND_FILLS,
    BLUE,
    DARK,
    POSITION_FILLS,
    RED,
    RESTRICTED,
    SYMBOL_LEGEND,
    Book,
    band_text,
    change_as_shown,
    named,
)


@dataclass(frozen=True)
class _PackInputs:
    """What every pack of a quarter shares, worked out once."""

    figures: QuarterFigures
    indicators: list  # catalogue rows, as named tuples
    by_theme: dict[str, list]
    order: list[tuple[str, str]]  # (code, name) by name
    rows: dict[str, dict[str, dict]]  # authority -> indicator id -> benchmarks row
    quarters: list[str]  # the quarters of the trends, oldest first, this one last
    # (authority or London or median, indicator id) -> figure in each of `quarters`
    history: dict[tuple[str, str], list]
    # (reporting unit, indicator id) -> how far the figure stands from London, allowing for size
    standings: dict[tuple[str, str], Standing]
    # authority -> why it has no accepted return this quarter, in its feedback's words
    why_none: dict[str, str]


LONDON, MEDIAN = "London", "median authority"


def pack_inputs(
    figures: QuarterFigures,
    authorities: Authorities,
    catalogue: Catalogue,
    issues: pd.DataFrame | None = None,
):
    indicators = list(catalogue.indicators.itertuples())
    rows = figures.by_authority
    quarters = sorted(figures.benchmarks["quarter"].unique())
    history: dict[tuple[str, str], list] = {}
    b = figures.benchmarks
    for who, column, frame in (
        (None, "value", b),
        (LONDON, "london_value", b.drop_duplicates(["quarter", "indicator_id"])),
        (MEDIAN, "london_median", b.drop_duplicates(["quarter", "indicator_id"])),
    ):
        keys = ["authority", "indicator_id"] if who is None else ["indicator_id"]
        numbers = pd.to_numeric(frame[column], errors="coerce")  # a symbol is no figure
        wide = numbers.groupby([frame[k] for k in keys] + [frame["quarter"]]).first().unstack()
        wide = wide.reindex(columns=quarters).astype(object)
        wide = wide.where(wide.notna(), None)
        for key, values in zip(wide.index, wide.to_numpy().tolist(), strict=True):
            history[key if who is None else (who, key)] = values
    return _PackInputs(
        figures,
        indicators,
        {t: [i for i in indicators if i.theme == t] for t in THEME_TITLES},
        sorted(((c, authorities.name(c)) for c in authorities.codes), key=lambda x: x[1]),
        rows,
        quarters,
        history,
        quarter_standings(figures.current, figures.fractions, indicators),
        why_no_return(figures.submissions, issues, authorities),
    )


def why_no_return(
    submissions: pd.DataFrame, issues: pd.DataFrame | None, authorities: Authorities
) -> dict[str, str]:
    """For each authority without an accepted current return, why: nothing received, or the
    first problem its latest file's feedback gave."""
    accepted = set(submissions.loc[submissions["is_current"].astype(bool), "authority"])
    out = {}
    for code in authorities.codes:
        if code in accepted:
            continue
        sent = submissions[submissions["authority"] == code]
        if sent.empty:
            out[code] = "nothing has been received from you for this quarter"
            continue
        latest = sent.sort_values("received_at").iloc[-1]
        reason = f"your file {latest['file_name']} was not accepted"
        if issues is not None and not issues.empty:
            errors = issues[
                (issues["submission_id"] == latest["submission_id"])
                & (issues["severity"] == "error")
            ]
            if len(errors):
                first = errors.iloc[0]
                where = " ".join(shown_text(first[c]) for c in ("sheet", "cell")).strip()
                reason += f": {(where + ': ') if where else ''}{shown_text(first['problem'])}"
                if len(errors) > 1:
                    reason += f" (and {len(errors) - 1} more problems in its feedback)"
        out[code] = reason
    return out


# --- which figures a practice leader looks at first (pure, tested without a workbook) ---------

CONCERN, STRENGTH, UNUSUAL = "Concern", "Strength", "Unusual"
# the flags of benchmarks.top_bottom_20, as the three parts of "To explain"
PARTS = {
    "bottom 20%": f"{CONCERN}: London's worse fifth",
    "top 20%": f"{STRENGTH}: London's better fifth",
    "highest 20%": f"{UNUSUAL}: London's highest fifth (neutral)",
    "lowest 20%": f"{UNUSUAL}: London's lowest fifth (neutral)",
}


def standing(b: dict) -> float | None:
    """Where a ranked figure stands in London: 0 the best, 1 the worst; None if not ranked."""
    if is_missing(b["rank"]) or is_missing(b["n_reporting"]):
        return None
    return (float(b["rank"]) - 1) / max(float(b["n_reporting"]) - 1, 1)


def headlines(shared: _PackInputs, code: str, n: int = 3) -> tuple[list[Pick], list[Pick]]:
    """An authority's `n` concerns and strengths: figures in London's worse (better) fifth that
    stand out beyond chance, allowing for its size (pipelines.benchmark.standout), furthest from
    London first. Totals and neutral indicators are never either."""
    return picks(shared.rows[code], shared.indicators, shared.standings, shared.figures.current, n)


def to_explain(mine: dict[str, dict], indicators: list) -> list[tuple[str, object]]:
    """(part, indicator) of every flagged figure: concerns worst first, strengths best first,
    then the neutral extremes."""
    flagged = [
        (PARTS[mine[i.id]["top_bottom_20"]], i)
        for i in indicators
        if shown_text(mine[i.id]["top_bottom_20"]) in PARTS
    ]

    def key(pair):
        part, ind = pair
        s = standing(mine[ind.id])
        order = [CONCERN, STRENGTH, UNUSUAL].index(part.split(":")[0])
        return (order, -(s or 0) if order == 0 else (s or 0), ind.id)

    return sorted(flagged, key=key)


def _fifth(b: dict) -> str:
    flag = shown_text(b["top_bottom_20"])
    return {"bottom 20%": "worse fifth", "top 20%": "better fifth"}.get(flag, "no")


# --- the pack -----------------------------------------------------------------------------------

KEY = [
    "Rank: 1 is the best in London, counting which way is better for the indicator (for a cost "
    "or an overspend lower is better, for timeliness higher); equal values share a rank.",
    "Band: A for London's best quarter of authorities, then B and C, to D for the worst quarter; "
    "the fill runs from green (A) to orange (D), and the letter is always written beside it.",
    "Better and worse fifth: the 20% of authorities with the best and the worst figures. LIIA "
    "asks about your figures in either (sheet To explain).",
    "Neutral indicators (neither higher nor lower is better) are not ranked or banded: they are "
    "placed from the lowest quarter of London to the highest, in greys.",
    "Totals that grow with an authority's size (a £m variance, a net change in staff) are "
    "compared with the median authority, never with London's total, and are not ranked.",
    "Previous and Change: on the quarter before, in the indicator's unit, and a change of a "
    "percentage in percentage points (pp); for a year-to-date figure, on the same quarter a year "
    "earlier, as it grows through the year.",
    "Last eight quarters: your figure in each, oldest first, drawn as a small line; the sheet "
    "Trends draws every indicator against London and the median authority.",
    "[questioned]: your feedback asked you to confirm a value behind the figure (far from your "
    "previous quarter or from London's other authorities); it is used as returned until you "
    "confirm or correct it.",
]


STANDS_OUT = (
    "Concern and strength: a figure in London's worse (better) fifth that stands out from London "
    "beyond chance, allowing for your size: past the 99.8% limit of a funnel plot (more than "
    f"{CONTROL_LIMIT} standard deviations from London; chance alone puts a figure there once in "
    "1000), widened where London's authorities differ more than chance. A tie across the fifth's "
    "edge is never one, and a zero among few children cannot be: it needs London's rate to expect "
    "about 7 or more. Furthest from London first."
)


def _names(chosen: list[Pick]) -> str:
    names = [p.indicator.name for p in chosen]
    if len(names) <= 1:
        return "".join(names) or "none"
    return ", ".join(names[:-1]) + " and " + names[-1]


def _headline_text(shared, code, name, concerns, strengths) -> str:
    """The pack's first words: its concerns and strengths, or that none stands out, or that it
    has no accepted return and what to do."""
    quarter = shared.figures.quarter.label
    if code in shared.why_none:
        why = shared.why_none[code].rstrip(".")
        todo = (
            "Correct it as your feedback workbook says and send it again"
            if "not accepted" in why
            else "Send it"
        )
        return (
            f"We have no accepted return from {name} for {quarter}: {why}. {todo} through the "
            "LIIA portal (Upload a return) or your usual route; this pack is written again with "
            "your figures once it is accepted. Until then it shows London's figures only."
        )
    if not concerns and not strengths:
        return (
            "Nothing stands out: none of your figures in London's worse or better fifth is "
            "further from London than chance would put it, allowing for your size. The sheet "
            "To explain lists every figure of yours in either fifth."
        )
    said = []
    if concerns:
        said.append(f"Your concerns: {_names(concerns)}.")
    if strengths:
        said.append(f"Your strengths: {_names(strengths)}.")
    return " ".join(said) + " Each stands out from London beyond chance, allowing for your size."


def _better(ind) -> str:
    return "lower is better" if ind.polarity == "lower_is_better" else "higher is better"


def _how_far(pick: Pick) -> str:
    """How far a pick stands from London, as a reader weighs it."""
    z = abs(pick.standing.z)
    side = "above" if pick.standing.z > 0 else "below"
    text = f"{z:.1f} standard deviations {side} London"
    if pick.standing.expected is not None:
        text += (
            f" ({pick.standing.events:,.0f} against {pick.standing.expected:,.1f} at London's rate)"
        )
    return text


def _in_england(shared, code: str, ind) -> str:
    """Where DfE's latest published figure puts the authority in England, for an indicator DfE
    publishes: `2025: 11th of 151 (Q1); England 67.0`."""
    published = shared.figures.published
    if published.empty or "england_rank" not in published:
        return "not published by DfE"
    rows = published[(published["indicator_id"] == ind.id) & (published["authority"] == code)]
    if rows.empty or is_missing(rows.iloc[0]["england_rank"]):
        return "not published by DfE"
    r = rows.iloc[0]
    rank = int(r["england_rank"])
    nth = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
    return (
        f"{r['year']}: {rank}{nth} of {int(r['england_ranked'])} ({r['england_band']}); "
        f"England {format_value(r['england_value'], ind)}"
    )


def _rank_text(b, ind) -> str:
    if is_total(ind) or is_neutral(ind) or is_missing(b["rank"]):
        return ""
    return f"{int(b['rank'])} of {int(b['n_reporting'])}"


def _quarter_labels(quarters: list[str]) -> list[str]:
    return [q.replace("-Q", " Q") for q in quarters]


def _compared(ind) -> tuple[str, str]:
    """The benchmarks fields a figure's previous value and change come from: the quarter before,
    or for a year-to-date figure the same quarter a year earlier."""
    if ind.year_to_date:
        return "year_earlier_value", "change_on_year"
    return "previous_value", "change_on_quarter"


def _figure_row(s, r, c, b, ind, shared, code, extra=()) -> None:
    """From column `c` of row `r`: indicator, value, previous, change, rank, band, London, a
    line of the last eight quarters, the `extra` texts, then the eight quarters it draws."""
    questioned = shared.figures.is_questioned(code, ind)
    s.text(r, c, ind.name + (" [questioned]" if questioned else ""), wrap=True)
    s.number(r, c + 1, b["value"] if not is_missing(b["value"]) else b["symbol"], ind.unit)
    before, change = _compared(ind)
    s.number(r, c + 2, b[before], ind.unit)
    s.change(r, c + 3, change_as_shown(b, change, ind.unit), ind.unit)
    rank = _rank_text(b, ind) or ("by value" if is_neutral(ind) else "")
    s.text(r, c + 4, rank, align="center")
    band = shown_text(b["quartile_band"])
    fill = BAND_FILLS.get(band) or POSITION_FILLS.get(band)
    s.text(r, c + 5, band_text(band), align="center", **({"bg_color": fill} if fill else {}))
    s.number(r, c + 6, b["london_median"] if is_total(ind) else b["london_value"], ind.unit)
    spark = c + 7
    for k, text in enumerate(extra, start=spark + 1):
        s.text(r, k, text, wrap=True)
    first = spark + 1 + len(extra)
    trend = shared.history.get((code, ind.id), [])
    for k, value in enumerate(trend):
        s.number(r, first + k, value, ind.unit)
    if any(v is not None for v in trend):
        s.sparkline(r, spark, first, first + len(trend) - 1)
    s.width(spark, 18)


def _figure_columns(shared, extra=()) -> list[str]:
    return [
        "Indicator",
        "Your value",
        "Previous",
        "Change",
        "Rank in London",
        "Band",
        "London (for totals, median authority)",
        "Last eight quarters",
        *extra,
        *_quarter_labels(shared.quarters),
    ]


def write_pack(
    path: Path, shared: _PackInputs, code: str, name: str, copy_to: Path | None = None
) -> Path:
    """One authority against London, for a practice leader's minute: first its three biggest
    concerns and strengths with the trend of each and a key; then the figures LIIA will ask it
    to explain (concerns, strengths, unusual), every indicator, the authority beside its London
    neighbours, in England's picture (DfE's published figures) and in the rug of every
    authority, its trends against London, and a sheet per theme with every authority's
    figures."""
    figures = shared.figures
    mine = shared.rows[code]
    concerns, strengths = headlines(shared, code)
    book = Book(path)
    s = book.sheet(
        "Summary", f"{name} against London, {figures.quarter.label}", RESTRICTED, one_page=True
    )
    s.produced()
    s.prose(_headline_text(shared, code, name, concerns, strengths), 120, bold=True)
    top = s.row + 1
    extra = [
        "Which way is better",
        "How far from London",
        "Where you stand in England (DfE)",
        "In London's worse or better fifth",
    ]
    columns = ["Concern or strength", *_figure_columns(shared, extra)]
    r = top
    for part, chosen in ((CONCERN, concerns), (STRENGTH, strengths)):
        for k, pick in enumerate(chosen, start=1):
            r += 1
            ind, b = pick.indicator, mine[pick.indicator.id]
            s.text(r, 0, f"{part} {k}")
            said = [_better(ind), _how_far(pick), _in_england(shared, code, ind), _fifth(b)]
            _figure_row(s, r, 1, b, ind, shared, code, said)
    fifth = extra[-1]
    if r > top:
        s.table(top, r, columns, "Headlines")
    else:
        s.row = top - 1
    s.caps.update({1: 34, 9: 14, 10: 30, 11: 30})
    s.width(1, 26)
    s.row = r + 2 if r > top else top
    s.line("Key", bold=True)
    for text in [*KEY, STANDS_OUT, SYMBOL_LEGEND]:
        s.prose(text, 150)
    # the first page: the headline figures with their trends, and the key
    s.ws.print_area(0, 0, s.row, columns.index(fifth))
    _explain(book, shared, code, name)
    _every_indicator(book, shared, code)
    neighbours_sheet(book, shared, code, name, dict(shared.order), RESTRICTED)
    england_sheet(book, shared, code, name, RESTRICTED)
    rug_sheet(book, figures, shared.indicators, shared.order, RESTRICTED, code, shared.rows)
    _trends(book, shared, code, name)
    for theme, indicators in shared.by_theme.items():
        _pack_theme_sheet(book, shared, theme, indicators, code, name)
    written = book.close()
    if copy_to is not None:  # the authority's own copy, in its own folder
        copy_to.parent.mkdir(parents=True, exist_ok=True)
        partial = copy_to.with_name(f".{copy_to.name}.{os.getpid()}.partial")
        shutil.copyfile(written, partial)
        os.replace(partial, copy_to)
    return written


PACK_COLUMNS = [
    "Theme",
    "Indicator",
    "Value",
    "Symbol",
    "Rank",
    "Band",
    "Top or bottom 20%",
    "London (or median authority, for totals)",
    "Previous (a year earlier for a year to date)",
    "Change",
    "Direction on quarter",
    "Direction on year",
    "Your note in the return",
]


def _every_indicator(book, shared, code) -> None:
    figures, mine = shared.figures, shared.rows[code]
    s = book.sheet("Every indicator", f"Every indicator, {figures.quarter.label}", RESTRICTED)
    top = s.row + 1
    for r, ind in enumerate(shared.indicators, start=top + 1):
        b = mine[ind.id]
        s.text(r, 0, THEME_TITLES[ind.theme])
        s.text(r, 1, ind.name, wrap=True)
        s.number(r, 2, b["value"] if not is_missing(b["value"]) else b["symbol"], ind.unit)
        s.text(r, 3, figures.marks(b, ind), align="center")
        s.text(r, 4, _rank_text(b, ind))
        band = shown_text(b["quartile_band"])
        fill = BAND_FILLS.get(band) or POSITION_FILLS.get(band)
        s.text(r, 5, band_text(band), align="center", **({"bg_color": fill} if fill else {}))
        s.text(r, 6, shown_text(b["top_bottom_20"]))
        s.number(r, 7, b["london_median"] if is_total(ind) else b["london_value"], ind.unit)
        before, change = _compared(ind)
        s.number(r, 8, b[before], ind.unit)
        s.change(r, 9, change_as_shown(b, change, ind.unit), ind.unit)
        # centred, so that neither reads as one with the change beside it ("+£4.1m worsened")
        quarterly = shown_text(b["direction_on_quarter"]) if not ind.year_to_date else ""
        s.text(r, 10, quarterly, align="center")
        s.text(r, 11, shown_text(b["direction_on_year"]), align="center")
        s.text(r, 12, figures.note(code, ind), wrap=True)
    s.table(top, top + len(shared.indicators), PACK_COLUMNS, "Pack")
    s.caps.update({0: 28, 1: 40, 12: 40})
    s.width(1, 30)
    s.width(12, 20)
    s.ws.freeze_panes(top + 1, 2)
    s.ws.repeat_rows(top)


def _explain(book, shared, code, name) -> None:
    """The figures to explain in three parts (concerns, strengths, unusual), each with its
    previous value, change and eight quarters, and the authority's own notes; then a chart of
    each, one to a page, of every authority's figure, largest first, its own bar red and
    London's (a total's, the median authority's) grey."""
    figures, mine = shared.figures, shared.rows[code]
    chosen = to_explain(mine, shared.indicators)
    s = book.sheet("To explain", f"{name}: the figures LIIA will ask you to explain", RESTRICTED)
    s.line(
        f"{len(chosen)} figures: concerns (London's worse fifth) worst first, strengths (the "
        "better fifth) best first, then unusual figures of neutral indicators."
    )
    top = s.row + 1
    note = "Your note in the return"
    columns = ["Part", *_figure_columns(shared, [note])]
    for r, (part, ind) in enumerate(chosen, start=top + 1):
        s.text(r, 0, part, wrap=True)
        said = [figures.note(code, ind) or "none yet"]
        _figure_row(s, r, 1, mine[ind.id], ind, shared, code, said)
    if not chosen:
        s.line("None of your figures is in London's top or bottom fifth this quarter.")
        return
    s.table(top, top + len(chosen), columns, "Explain")
    printed = columns.index(note)
    s.caps.update({0: 24, 1: 34, printed: 40})
    s.width(printed, 24)
    s.ws.freeze_panes(top + 1, 2)
    row, data_col = top + len(chosen) + 2, len(columns) + 2
    s.row = row
    s.prose(f"{name}'s bar is red; London's (for totals, the median authority's) grey. {AXIS_RULE}")
    row = s.row + 1
    for _, ind in chosen:
        b = mine[ind.id]
        plotted = [
            (
                chart_label({**shared.rows[other][ind.id], "name": other_name}, ind, figures),
                as_figure(shared.rows[other][ind.id]["value"]),
            )
            for other, other_name in shared.order
            if as_figure(shared.rows[other][ind.id]["value"]) is not None
        ]
        faint = {label for label, _ in plotted if label.endswith("]")}
        comparator_value = b["london_median"] if is_total(ind) else b["london_value"]
        comparator = ("Median authority" if is_total(ind) else "London", comparator_value)
        first, last_row, colours = chart_rows(
            s,
            row,
            data_col,
            plotted,
            comparator if as_figure(comparator_value) is not None else None,
            ind.unit,
            faint,
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
    s.ws.print_area(0, 0, row, printed)


def _trends(book, shared, code, name) -> None:
    """Every indicator over the last eight quarters: the authority's line against London's and
    the median authority's (for a total, the median's alone), two charts across, four a page."""
    s = book.sheet(
        "Trends", f"{name} against London over {len(shared.quarters)} quarters", RESTRICTED
    )
    s.prose(
        f"{name} (red), London (blue; a ratio of sums) and the median authority (dashed), by "
        f"quarter. For totals, the median authority only. {AXIS_RULE}",
        150,
    )
    top = s.row + 1
    header = ["Quarter"]
    for ind in shared.indicators:
        header += [f"{ind.id} {name}", f"{ind.id} London", f"{ind.id} median authority"]
    for r, label in enumerate(_quarter_labels(shared.quarters), start=top + 1):
        s.text(r, 0, label)
    for k, ind in enumerate(shared.indicators):
        for offset, who in enumerate((code, LONDON, MEDIAN), start=1):
            for r, value in enumerate(shared.history.get((who, ind.id), []), start=top + 1):
                s.number(r, 3 * k + offset, value, ind.unit)
    last = top + len(shared.quarters)
    s.table(top, last, header, "Trends")
    s.ws.freeze_panes(top + 1, 1)
    chart_row, height_rows = last + 3, 20
    if len(shared.quarters) < 2:
        s.text(last + 2, 0, "A line needs two quarters: the charts begin with the next quarter.")
        return
    for k, ind in enumerate(shared.indicators):
        row = chart_row + (k // 2) * height_rows
        if k % 4 == 0:
            page_break_before(s, row)
        lines = [(3 * k + 1, name, RED), (3 * k + 3, MEDIAN, DARK)]
        drawn = [code, MEDIAN]
        if not is_total(ind):
            lines.insert(1, (3 * k + 2, LONDON, BLUE))
            drawn.insert(1, LONDON)
        values = [
            v for who in drawn for v in shared.history.get((who, ind.id), []) if v is not None
        ]
        chart = line_chart(book, s, (top + 1, last), 0, lines, ind, values)
        own = [v for v in shared.history.get((code, ind.id), []) if v is not None]
        alt = (
            f"Line chart of {ind.name}: {name} against "
            + ("the median authority" if is_total(ind) else "London and the median authority")
            + (
                f"; {name} from {format_value(own[0], ind)} to {format_value(own[-1], ind)}."
                if own
                else f"; {name} has no figure in these quarters."
            )
        )
        s.ws.insert_chart(row, 0, chart, {"description": alt, "x_offset": 10 + 660 * (k % 2)})
    for col in range(1, 3 * len(shared.indicators) + 1):
        s.caps[col] = 14
    # printed: the charts, two across (1,310 pixels), not the wide table. The columns under them
    # are made 14 characters wide (about 103 pixels: a narrow column of short figures would
    # otherwise leave the second chart running past the print area), 1,545 pixels in all.
    for col in range(1, TREND_COLUMNS + 1):
        s.width(col, 14)
    s.width(0, 12)
    last_row = chart_row + math.ceil(len(shared.indicators) / 2) * height_rows
    s.ws.print_area(0, 0, last_row, TREND_COLUMNS)


TREND_COLUMNS = 14  # the last column of the Trends sheet's printed charts


def _pack_theme_sheet(book, shared, theme, indicators, code, name) -> None:
    s = book.sheet(
        THEMES[theme], f"{THEME_TITLES[theme]}: {name} among London authorities", RESTRICTED
    )
    s.line(f"Every authority's figures; {name}'s row in bold.")
    top = s.row + 1
    header = ["Authority"] + [named(i) for i in indicators]
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
