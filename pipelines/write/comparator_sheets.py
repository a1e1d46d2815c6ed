"""Sheets that set an authority among its peers: its London neighbours on every indicator, England's
picture from DfE's published figures, and the "tartan rug" of every authority by every indicator."""

from __future__ import annotations

import math

import pandas as pd

from pipelines.benchmark.published import LICENCE, SOURCE
from pipelines.write.figures import QuarterFigures, is_missing, is_neutral, is_total, shown_text
from pipelines.write.layout import BAND_FILLS, POSITION_FILLS, SYMBOL_LEGEND, Book

NEIGHBOURS_SET = "london_neighbours"
OWN_FILL = "#FCE4D6"  # the reader's own column or row, with bold: never colour alone
MARKED = {"italic": True, "font_color": "#767676"}  # a neighbour's [u] or questioned figure
MARKED_LINE = (
    "A neighbour's figure in grey italics is marked [u] (low reliability) or questioned (its "
    "feedback asked it to confirm a value); yours carries its mark beside the indicator."
)
# a neutral indicator's place in London, in a rug cell: the quarter of London, 1 the lowest
RUG_PLACES = {"Q1": "1", "Q2": "2", "Q3": "3", "Q4": "4"}


def neighbour_rows(figures: QuarterFigures, code: str) -> pd.DataFrame:
    """The authority's London neighbours, nearest first (authority, position, closeness,
    source), or none."""
    m = figures.members
    if m.empty:
        return m
    mine = m[(m["set_id"] == NEIGHBOURS_SET) & (m["group_name"] == code)]
    return mine.sort_values("position")


def _closeness(row) -> str:
    how = shown_text(row.closeness).lower() or "closeness not given"
    where = "DfE" if str(row.source).startswith("DfE") else "London model"
    return f"{how}, {where}"


def _comparisons(figures: QuarterFigures, code: str, set_id: str) -> dict[str, dict]:
    return {
        indicator: rows[code]
        for (kind, indicator), rows in figures.comparisons.items()
        if kind == set_id and code in rows
    }


def neighbours_sheet(book: Book, shared, code: str, name: str, names: dict, marking: str):
    """Every indicator for the authority beside each of its London neighbours, with its rank among
    them, their figure (ratio of sums; for a total, the median neighbour), the difference, and
    their median and range. The authority's column is shaded and bold. An authority with no
    neighbours (the City of London) is set against its half of London instead."""
    figures = shared.figures
    neighbours = neighbour_rows(figures, code)
    if neighbours.empty:
        _within_half_of_london(book, shared, code, name, marking)
        return
    s = book.sheet(
        "Neighbours", f"{name} and its London neighbours, {figures.quarter.label}", marking
    )
    listed = "; ".join(f"{names[r.authority]} ({_closeness(r)})" for r in neighbours.itertuples())
    s.prose(
        f"Your {len(neighbours)} London neighbours, nearest first: {listed}."
        if len(neighbours) > 1
        else f"Your one London neighbour: {listed}.",
        150,
    )
    s.prose(
        "Your DfE statistical neighbours (May 2025) that are in London come first, in DfE's "
        "order; the rest are the nearest boroughs in LIIA's London model (children in low "
        "income families, free school meals, children in need and child population, from "
        "DfE's published figures).",
        150,
    )
    s.prose(
        "Rank k of n: among you and your neighbours, 1 the best by the indicator's polarity, on "
        "values as shown; neutral indicators and totals are not ranked. Neighbours' figure: "
        "the sum of their numerators over the sum of their denominators; for a total, the "
        "median neighbour. A neighbour reporting jointly with you is you.",
        150,
    )
    s.prose(MARKED_LINE, 150)
    mine = _comparisons(figures, code, NEIGHBOURS_SET)
    _ranked_line(s, shared, mine, "your neighbours")
    others = list(neighbours["authority"])
    labels = ("Rank among you and your neighbours", "Neighbours' figure (totals: median neighbour)")
    labels += ("You less neighbours", "Neighbours' median", "Lowest neighbour", "Highest neighbour")
    _group_table(s, shared, code, name, mine, labels, [names[a] for a in others], others)


def _within_half_of_london(book: Book, shared, code: str, name: str, marking: str) -> None:
    figures = shared.figures
    half = shown_text(shared.rows[code][shared.indicators[0].id].get("inner_outer")) or "Inner"
    s = book.sheet("Neighbours", f"{name} and {half} London, {figures.quarter.label}", marking)
    s.prose(
        f"{name} has no London neighbours: with about 700 children it is like no borough, so it "
        f"is compared with {half} London only, and is nobody's neighbour.",
        150,
    )
    s.prose(
        f"Rank k of n: within {half} London, 1 the best by the indicator's polarity, on values "
        f"as shown; neutral indicators and totals are not ranked. {half} London's figure: the "
        "sum of its authorities' numerators over the sum of their denominators; for a total, "
        "the median authority.",
        150,
    )
    mine = _comparisons(figures, code, "inner_outer_ons")
    _ranked_line(s, shared, mine, f"{half} London")
    labels = (
        f"Rank in {half} London",
        f"{half} London (totals: median authority)",
        f"You less {half} London",
        f"{half} London median",
        "Lowest",
        "Highest",
    )
    _group_table(s, shared, code, name, mine, labels, [], [])


def _ranked_line(s, shared, mine: dict, among: str) -> None:
    s.prose(ranked_summary(shared.indicators, mine, among), 150, bold=True)


def ranked_summary(indicators: list, mine: dict, among: str) -> str:
    """How often the authority is best and last in a group, over the indicators ranked with at
    least one other member (ranked alone, it is neither)."""
    ranked = [
        mine[i.id]
        for i in indicators
        if not is_neutral(i)
        and not is_missing(_get(mine, i, "rank"))
        and mine[i.id]["n_ranked"] > 1
    ]
    best = [g for g in ranked if g["rank_in_group"] == 1]
    worst = [g for g in ranked if g["rank_in_group"] == g["n_ranked"]]
    return (
        f"Of {len(ranked)} indicators ranked, you are best among {among} on {len(best)} and "
        f"last on {len(worst)}."
    )


def _group_table(s, shared, code, name, mine, labels, other_names, others) -> None:
    """One row per indicator: the authority (shaded, bold), its rank in the group, the group's
    figure, the difference, median, lowest and highest, then each member named in `others`."""
    top = s.row + 1
    own = {"bg_color": OWN_FILL, "bold": True}
    columns = ["Indicator", f"{name} (you)", *labels, *other_names]
    for r, ind in enumerate(shared.indicators, start=top + 1):
        b = shared.rows[code][ind.id]
        g = mine.get(ind.id, {})
        marks = shared.figures.marks(b, ind)
        s.text(r, 0, f"{ind.name} {marks}".strip(), wrap=True)
        s.number(r, 1, b["value"] if not is_missing(b["value"]) else b["symbol"], ind.unit, **own)
        rank = _get(mine, ind, "rank")
        if is_neutral(ind):
            rank_text = "by value"  # a neutral indicator has no better or worse
        else:
            rank_text = "" if is_missing(rank) else f"{int(rank)} of {int(g['n_ranked'])}"
        s.text(r, 2, rank_text, align="center")
        figure = g.get("group_median") if is_total(ind) else g.get("group_value")
        s.number(r, 3, figure, ind.unit)
        s.change(r, 4, g.get("difference"), ind.unit)
        s.number(r, 5, g.get("group_median"), ind.unit)
        s.number(r, 6, g.get("group_min"), ind.unit)
        s.number(r, 7, g.get("group_max"), ind.unit)
        for k, other in enumerate(others, start=8):
            theirs = shared.rows[other][ind.id]
            value = theirs["value"] if not is_missing(theirs["value"]) else theirs["symbol"]
            marked = not is_missing(theirs["value"]) and shared.figures.marks(theirs, ind)
            s.number(r, k, value, ind.unit, **(MARKED if marked else {}))
    s.table(top, top + len(shared.indicators), columns, "Neighbours")
    s.caps.update({0: 40, 2: 14, 3: 16})
    s.width(0, 30)
    s.ws.freeze_panes(top + 1, 2)
    s.ws.repeat_rows(top)


def _get(mine: dict, ind, field: str):
    value = mine.get(ind.id, {}).get("rank_in_group" if field == "rank" else field)
    return None if is_missing(value) else value


def england_sheet(book: Book, shared, code: str, name: str, marking):
    """DfE's latest published figure of each indicator that has one, for the authority beside its
    DfE neighbours' mean, its half of London, London and England, each with its year: annual
    context at a census date, never this quarter's figure."""
    figures, indicators = shared.figures, shared.indicators
    s = book.sheet("England", f"{name} in England's picture: DfE's published figures", marking)
    published = figures.published
    mine = published[published["authority"] == code] if not published.empty else published
    if mine.empty:
        s.prose(
            "No published figures: DfE's LAIT file is not loaded (put it in the published "
            "folder; see the README).",
            150,
        )
        return
    years = ", ".join(sorted(set(mine["year"].astype(str))))
    s.prose(
        f"Source: {SOURCE}, {years}. {LICENCE}. Annual figures at a census date or over a "
        "year, as DfE publishes them: context for this quarter's figures, never mixed into "
        "them. Where DfE's definition differs from ours, the last column says how.",
        150,
    )
    top = s.row + 1
    columns = [
        "Indicator",
        "Published year",
        "Measured",
        f"{name} (published)",
        "Rank in England",
        "Quarter of England",
        "DfE neighbours' mean",
        "DfE neighbours with a figure",
        "Inner or Outer London (DfE)",
        "That half of London",
        "London",
        "England",
        f"{name} this quarter (ours)",
        "How DfE's definition differs",
    ]
    by_id = {i.id: i for i in indicators}
    order = {i.id: k for k, i in enumerate(indicators)}
    rows = sorted(
        (r for r in mine.itertuples() if r.indicator_id in by_id),
        key=lambda r: order[r.indicator_id],
    )
    for r, row in enumerate(rows, start=top + 1):
        ind = by_id[row.indicator_id]
        s.text(r, 0, ind.name, wrap=True)
        s.text(r, 1, row.year)
        s.text(r, 2, row.period)
        s.number(r, 3, _published(row.own_value), ind.unit, bg_color=OWN_FILL, bold=True)
        rank, band = england_position(row._asdict())
        s.text(r, 4, rank, align="center")
        s.text(r, 5, band, align="center")
        s.number(r, 6, _published(row.neighbours_mean), ind.unit)
        s.integer(r, 7, row.neighbours_reporting)
        s.text(r, 8, shown_text(row.inner_outer))
        s.number(r, 9, _published(row.inner_outer_value), ind.unit)
        s.number(r, 10, _published(row.london_value), ind.unit)
        s.number(r, 11, _published(row.england_value), ind.unit)
        ours = shared.rows[code][ind.id]
        s.number(
            r, 12, ours["value"] if not is_missing(ours["value"]) else ours["symbol"], ind.unit
        )
        s.text(r, 13, row.difference, wrap=True)
    s.table(top, top + len(rows), columns, "England")
    s.row = top + len(rows) + 2
    s.prose(ENGLAND_RANKS, 150)
    s.caps.update({0: 36, 2: 22, 13: 60})
    s.width(13, 40)
    s.ws.freeze_panes(top + 1, 1)


ENGLAND_RANKS = (
    "Rank in England: among every English authority with a figure that year, 1 the best by "
    "DfE's own polarity (where DfE gives none, 1 the lowest); ties share a rank. Quarter of "
    "England: A the best quarter to D the worst, or Q1 the lowest to Q4 where DfE gives no "
    "polarity."
)


def england_position(row: dict) -> tuple[str, str]:
    """(`11 of 151`, `Q1`) for a published figure with its England rank; blanks without."""
    rank, ranked = row.get("england_rank"), row.get("england_ranked")
    if is_missing(rank) or is_missing(ranked):
        return "", ""
    return f"{int(rank)} of {int(ranked)}", shown_text(row.get("england_band"))


def _published(value):
    """A figure DfE did not publish for the area is [x] (not available), never a blank."""
    return "x" if is_missing(value) else value


def rug_cell(b: dict, ind) -> tuple[str, str | None]:
    """What a rug cell shows and its fill: the band (A-D; a neutral indicator's quarter of London,
    1 lowest to 4 highest) or, with no band, the figure's symbol in brackets."""
    value, symbol = b.get("value"), shown_text(b.get("symbol"))
    if isinstance(value, str) and value == "c":  # suppressed: nothing of it is shown
        return "[c]", None
    band = shown_text(b.get("quartile_band"))
    if band in BAND_FILLS:
        return band, BAND_FILLS[band]
    if band in RUG_PLACES:
        return RUG_PLACES[band], POSITION_FILLS[band]
    return (f"[{symbol}]" if symbol else ""), None


RUG_KEY = [
    "A to D: the quarter of London the figure is in, by polarity: A the best quarter, D the "
    "worst. 1 to 4 (grey): a neutral indicator, where no direction is better: the quarter of "
    "London by value, 1 the lowest.",
    "Totals (£m overspends and the like) grow with an authority's size and are not banded, so "
    "they are left out of the rug.",
]


RUG_COLUMN = 6  # characters: two lines of a header turned on its side
POINTS_A_CHARACTER = 6


def rug_header_height(labels: list[str]) -> float:
    """Points for the rug's header row: its longest label in two lines, on its side."""
    return POINTS_A_CHARACTER * (math.ceil(max(map(len, labels), default=10) / 2) + 3)


def rug_sheet(
    book: Book,
    figures: QuarterFigures,
    indicators: list,
    order: list[tuple[str, str]],
    marking: str,
    highlight: str | None = None,
    by_authority: dict[str, dict[str, dict]] | None = None,
) -> None:
    """Every authority by every banded indicator of `indicators`, each cell its band with its
    colour (or its symbol), the reader's own row shaded and bold when `highlight` names it.
    `by_authority`: the quarter's rows (authority -> indicator -> row), if already at hand."""
    s = book.sheet("Rug", f"Every authority at a glance, {figures.quarter.label}", marking)
    for text in [*RUG_KEY, SYMBOL_LEGEND]:
        s.prose(text, 150)
    if highlight:
        s.prose("Your own row is shaded and bold.", 150)
    banded = [i for i in indicators if not is_total(i)]
    if by_authority is None:
        by_authority = figures.by_authority
    top = s.row + 1
    header = book.format(
        bold=True, rotation=90, bg_color="#DEE0E2", bottom=1, valign="bottom", text_wrap=True
    )
    columns = ["Authority", *(f"{i.id} {i.name}" for i in banded)]
    for r, (code, name) in enumerate(order, start=top + 1):
        own = {"bold": True, "bg_color": OWN_FILL} if code == highlight else {}
        s.text(r, 0, name, **own)
        for c, ind in enumerate(banded, start=1):
            text, fill = rug_cell(by_authority.get(code, {}).get(ind.id, {}), ind)
            style = {"align": "center", **({"bg_color": fill} if fill else {})}
            if code == highlight:
                style |= {"bold": True, "top": 2, "bottom": 2}
            s.text(r, c, text, **style)
    last = top + len(order)
    s.ws.add_table(
        top,
        0,
        last,
        len(columns) - 1,
        {
            "name": "Rug",
            "style": "Table Style Light 1",
            "columns": [{"header": label, "header_format": header} for label in columns],
        },
    )
    # the header turned on its side, in two lines of the column's width: tall enough for the
    # longest name in two (about 6 points a character of bold Arial 10)
    s.heights[top] = rug_header_height(columns[1:])
    for c in range(1, len(columns)):
        s.width(c, RUG_COLUMN)
        s.caps[c] = RUG_COLUMN
    s.ws.freeze_panes(top + 1, 1)
    s.ws.repeat_rows(top)


def published_sheet(book: Book, figures: QuarterFigures, indicators: list, names, marking) -> bool:
    """DfE's latest published figure of each of `indicators` that DfE publishes, for England,
    London, Inner and Outer London and every authority, each column with its year. Whether the
    sheet was written (none of the indicators may be published)."""
    published = figures.published
    if published.empty:
        return False
    mine = published[published["indicator_id"].isin({i.id for i in indicators})]
    if mine.empty:
        return False
    shown = [i for i in indicators if i.id in set(mine["indicator_id"])]  # catalogue order
    s = book.sheet("England", "England's picture: DfE's published figures", marking)
    years = ", ".join(sorted(set(mine["year"].astype(str))))
    s.prose(
        f"Source: {SOURCE}, {years}. {LICENCE}. Annual figures at a census date or over a "
        "year, as DfE publishes them: context for the quarter's figures, never mixed into them. "
        "Inner and Outer London are DfE's. [x]: not published for the area.",
        150,
    )
    records = mine.to_dict("records")
    first_of = {}
    for r in records:
        first_of.setdefault(r["indicator_id"], r)
    first = {i: first_of[i.id] for i in shown}
    for ind in shown:
        s.prose(f"{ind.name}: {first[ind]['difference']}", 150)
    top = s.row + 1
    columns = ["Area"]
    for i in shown:
        columns += [
            f"{i.name}, {first[i]['year']} ({first[i]['period']})",
            f"{i.id} rank in England",
        ]
    halves = {}
    for r in records:
        halves.setdefault((r["inner_outer"], r["indicator_id"]), r["inner_outer_value"])
    areas = [
        ("England", {i.id: first[i]["england_value"] for i in shown}),
        ("London", {i.id: first[i]["london_value"] for i in shown}),
        *(
            (half, {i.id: halves.get((half, i.id)) for i in shown})
            for half in ("Inner London", "Outer London")
        ),
    ]
    own = {(r["authority"], r["indicator_id"]): r for r in records}
    ranked = "england_rank" in mine.columns
    positions = {}
    for code, name in sorted(names.items(), key=lambda x: x[1]):
        areas.append((name, {i.id: own.get((code, i.id), {}).get("own_value") for i in shown}))
        for i in shown:
            if (code, i.id) in own and ranked:
                rank, band = england_position(own[(code, i.id)])
                positions[(name, i.id)] = f"{rank} ({band})" if rank else ""
    for r, (area, values) in enumerate(areas, start=top + 1):
        bold = {"bold": True} if r <= top + 4 else {}
        s.text(r, 0, area, **bold)
        for k, ind in enumerate(shown):
            s.number(r, 1 + 2 * k, _published(values.get(ind.id)), ind.unit, **bold)
            s.text(r, 2 + 2 * k, positions.get((area, ind.id), ""), align="center")
    s.table(top, top + len(areas), columns, "England")
    s.row = top + len(areas) + 2
    s.prose(ENGLAND_RANKS, 150)
    for c in range(1, len(columns)):
        s.caps[c] = 18
    s.ws.freeze_panes(top + 1, 1)
    return True
