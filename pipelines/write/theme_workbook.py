"""The theme workbook of a quarter, in both editions (RESTRICTED, and publishable): an About
sheet, a summary of every indicator by authority, a sheet per indicator with its chart, London's
trends and the definitions.

How an indicator is compared comes from the catalogue (`comparison`, `polarity`): a rate, share or
average is ranked, banded A (best) to D and flagged in the top or bottom fifth; a neutral one is
placed by value from London's lowest quarter to its highest, with no better or worse; a size-driven total shows
London's total and the median authority, and is neither ranked nor banded."""

from __future__ import annotations

import math
from pathlib import Path

from pipelines.collection.catalogue import THEME_TITLES, Authorities, Catalogue, formula_refs
from pipelines.write.charts import AXIS_RULE, bar_chart, chart_rows, line_chart, page_break_before
from pipelines.write.comparator_sheets import NEIGHBOURS_SET, published_sheet
from pipelines.write.figures import (
    QuarterFigures,
    as_figure,
    chart_label,
    completeness,
    format_value,
    is_missing,
    is_neutral,
    is_total,
    like_for_like_change,
    london_label,
    shown_text,
)
from pipelines.write.layout import (
    BAND_FILLS,
    BLUE,
    DARK,
    POSITION_FILLS,
    RESTRICTED,
    SYMBOL_LEGEND,
    Book,
    band_text,
    bracketed,
    change_as_shown,
    named,
    unit_words,
)

TRENDS_QUARTERS = 8


NEIGHBOURS_NOTE = (
    "London neighbours: each borough's DfE statistical neighbours (May 2025) that are in London, "
    "topped up to seven by LIIA's London model of published context figures. The rank is among "
    "the borough and its neighbours, 1 the best; the neighbours' figure is the sum of their "
    "numerators over the sum of their denominators (for a total, the median neighbour). The "
    "City of London is compared with Inner London only. Restricted edition only."
)


def notes(marking: str) -> list[str]:
    """The Notes sheet's notes, numbered from 1 in this order; sheets refer to them as [note n]."""
    found = [
        "Rates, shares and averages: rank 1 is best by the indicator's polarity, and authorities "
        "with equal values share a rank; quartile band A is London's best quarter of authorities, "
        "D the worst; top or bottom 20% marks the figures LIIA asks authorities to explain.",
        "Neutral indicators (neither higher nor lower is better) are not ranked or banded: "
        "authorities are placed by value from London's lowest quarter to its highest (lowest, "
        "low, high, highest), in greys.",
        "Totals that grow with an authority's size (a £m variance, a net change in staff) are not "
        "ranked or banded: London's figure is London's total of the authorities that returned, "
        "and the comparator is the median authority. The Definitions sheet says how each "
        "indicator is compared, and why.",
        "London, Inner, Outer and sub-region figures are sums of numerators over sums of "
        "denominators, never averages of rates. Inner and Outer London use the ONS definition.",
        "Kingston upon Thames and Richmond upon Thames report workforce jointly: in workforce "
        "indicators they are one unit, shown on both rows and counted once.",
        "A figure marked [u] has a denominator under 10: it is shown but not ranked, banded or "
        "flagged, because one child more or less would move it a long way.",
        AXIS_RULE,
        "A year-to-date figure (spend from 1 April) grows through the year: it is compared with "
        "the same quarter a year earlier, never with the quarter before, and its line over "
        "quarters climbs within each year and drops in April by design.",
    ]
    if marking == RESTRICTED:
        found.append(
            "Notes from the authority are its own words beside its figures in the return, shown "
            "as written; they are not in the publishable edition."
        )
        found.append(NEIGHBOURS_NOTE)
        found.append(
            "A figure marked questioned rests on a value the authority's feedback asked it to "
            "confirm (far from its previous quarter or from London's other authorities): it is "
            "shown and ranked as returned, drawn pale in charts, until the authority confirms or "
            "corrects it."
        )
    return found


(
    NOTE_BANDS,
    NOTE_NEUTRAL,
    NOTE_TOTALS,
    NOTE_GROUPS,
    NOTE_JOINT,
    NOTE_RELIABILITY,
    NOTE_AXES,
    NOTE_YEAR_TO_DATE,
) = (f"[note {n}]" for n in range(1, 9))


def _cover(book: Book, figures, theme, authorities, marking, release=()) -> None:
    """What the workbook is, where it comes from, who to ask, when it was released and when the
    next is due, and the symbols, explained once."""
    s = book.sheet(
        "Cover",
        f"LIIA benchmarks: {THEME_TITLES[theme]}, {figures.quarter.label}",
        marking,
        landscape=False,
        one_page=True,
    )
    accepted, missing = completeness(figures, authorities)
    # 88 characters of Arial 10 fit A4 portrait inside the margins with room to spare
    s.caps[0] = 88
    s.width(0, 88)
    quarter = figures.quarter
    facts = dict(release)
    what = facts.pop(
        "What these figures are",
        "Quarterly benchmarks of children's services in London's 33 local authorities, each "
        "authority beside London, Inner and Outer London and its sub-region. Restricted to the "
        "33 LIIA authorities: not for publication.",
    )
    cover = [
        ("What these figures are", what),
        ("Quarter", f"{quarter.label}: {quarter.start:%-d %B %Y} to {quarter.end:%-d %B %Y}"),
        (
            "Returns",
            f"Accepted from {accepted} of {len(authorities.codes)} authorities. Missing or "
            "rejected: " + (", ".join(missing) if missing else "none") + ".",
        ),
        *facts.items(),
    ]
    s.produced()
    s.row += 1
    for label, text in cover:
        s.line(label, bold=True)
        s.text(s.row, 0, text, wrap=True)
        s.row += 1
    s.line("Symbols", bold=True)
    s.text(s.row, 0, SYMBOL_LEGEND, wrap=True)
    s.row += 1
    s.line("Contents and notes", bold=True)
    s.text(
        s.row,
        0,
        "The sheet Contents lists every sheet with what it holds; the sheet Notes holds the "
        "notes that sheets refer to as [note 1], [note 2] and so on. The same figures, one row "
        "each with names and codes, are in the CSV file of the same name beside this workbook.",
        wrap=True,
    )
    s.row += 1


def _contents(book: Book, indicators, marking, published: bool = False) -> None:
    s = book.sheet("Contents", "Contents", marking)
    top = s.row
    link = book.format(font_color=BLUE, underline=1)
    sheets = [
        ("Cover", "What these figures are, source, contact, dates and symbols"),
        ("Notes", "Notes on methods, referred to as [note 1] and so on"),
        ("Summary", "Every indicator by authority, with its band"),
        *((ind.id, ind.name) for ind in indicators.itertuples()),
        ("Trends", "London and the median authority over the last eight quarters"),
        *(
            [("England", "DfE's published figures for England, London and every authority")]
            if published
            else []
        ),
        ("Definitions", "How each indicator is worked out and compared"),
    ]
    for r, (name, what) in enumerate(sheets, start=top + 1):
        s.ws.write_url(r, 0, f"internal:'{name}'!A1", link, string=name)
        s.width(0, len(name) + 2)
        s.text(r, 1, what)
    s.table(top, top + len(sheets), ["Sheet", "What it holds"], "Contents")


def _notes(book: Book, marking) -> None:
    s = book.sheet("Notes", "Notes", marking, landscape=False, one_page=True)
    top = s.row
    texts = notes(marking)
    for r, text in enumerate(texts, start=top + 1):
        s.text(r, 0, f"[note {r - top}]")
        s.text(r, 1, text, wrap=True)
    s.table(top, top + len(texts), ["Note number", "Note text"], "Notes")
    s.caps[1] = 78
    s.width(1, 78)


def _summary(book, figures, indicators, names, marking) -> None:
    s = book.sheet("Summary", f"Summary: every indicator, {figures.quarter.label}", marking)
    s.line(
        f"Each value is followed by its band: A (best quarter of London) to D for rates "
        f"{NOTE_BANDS}; lowest, low, high or highest for neutral indicators {NOTE_NEUTRAL}; none "
        f"for totals {NOTE_TOTALS}. Colour repeats the band."
    )
    top = s.row + 1
    inds = list(indicators.itertuples())
    header = ["Authority"]
    for ind in inds:
        header += [named(ind), f"{ind.id} band"]
    by_authority = figures.by_authority
    order = sorted(names.items(), key=lambda x: x[1])
    for r, (code, name) in enumerate(order, start=top + 1):
        s.text(r, 0, name)
        for k, ind in enumerate(inds):
            b = by_authority[code][ind.id]
            col = 1 + 2 * k
            band = shown_text(b["quartile_band"])
            fill = BAND_FILLS.get(band) or POSITION_FILLS.get(band)
            style = {"bg_color": fill} if fill else {}
            s.number(
                r, col, b["value"] if not is_missing(b["value"]) else b["symbol"], ind.unit, **style
            )
            s.text(
                r,
                col + 1,
                band_text(band) or bracketed(shown_text(b["symbol"])),
                align="center",
                **style,
            )
    s.table(top, top + len(order), header, "Summary")
    for k in range(len(inds)):
        s.caps[1 + 2 * k] = 14
    s.ws.freeze_panes(top + 1, 1)
    s.ws.repeat_rows(top)


def neighbour_comparisons(figures, indicator_id: str) -> dict[str, dict]:
    """Each authority's comparison with its London neighbours on one indicator."""
    return figures.comparisons.get((NEIGHBOURS_SET, indicator_id), {})


def comparing(ind) -> list[tuple[str, str, str]]:
    """(column, benchmarks field, kind) of what a figure is compared with over time: the quarter
    before and a year earlier; a year-to-date figure, only the same quarter a year earlier."""
    if getattr(ind, "year_to_date", False):
        return [
            ("Same quarter last year", "year_earlier_value", "number"),
            ("Change on year", "change_on_year", "change"),
            ("Direction on year", "direction_on_year", "text"),
        ]
    return [
        ("Previous quarter", "previous_value", "number"),
        ("Change", "change_on_quarter", "change"),
        ("Direction", "direction_on_quarter", "text"),
        ("Same quarter last year", "year_earlier_value", "number"),
    ]


def _columns_for(ind, marking) -> list[str]:
    """The indicator table's columns: what makes sense for how the indicator is compared."""
    columns = ["Authority", f"Value ({unit_words(ind)})", "Symbol"]
    over_time = [label for label, _, _ in comparing(ind)]
    if is_total(ind):
        columns += [*over_time, "Sub-region", "Median authority"]
    elif is_neutral(ind):
        columns += ["Place in London (lowest, low, high, highest)", "Highest or lowest 20%"]
        columns += [*over_time, "Sub-region", "London median"]
    else:
        columns = ["Rank", *columns, "Quartile band", "Top or bottom 20%"]
        columns += [*over_time, "Sub-region", "London median"]
    if marking == RESTRICTED:
        columns += [NEIGHBOUR_RANK, NEIGHBOUR_FIGURE, "Note from the authority"]
    return columns


NEIGHBOUR_RANK = "Rank among its London neighbours"
NEIGHBOUR_FIGURE = "Its London neighbours (totals: median neighbour)"


def _sorted_rows(ind, records: list[dict], names) -> list[dict]:
    """Rates by rank; neutral indicators and totals by value, highest first; then the rest."""
    rows = [{**r, "name": names[r["authority"]]} for r in records]

    def key(r):
        value = r["value"]
        missing = is_missing(value) or isinstance(value, str)
        if is_total(ind) or is_neutral(ind):
            return (missing, 0 if missing else -float(value), r["name"])
        return (is_missing(r["rank"]), 0 if is_missing(r["rank"]) else r["rank"], r["name"])

    return sorted(rows, key=key)


def _indicator_sheet(book, n, ind, figures, names, marking) -> None:
    s = book.sheet(ind.id, f"{ind.name}, {figures.quarter.label}", marking)
    rows = _sorted_rows(ind, figures.records[ind.id], names)
    columns = _columns_for(ind, marking)
    refs = NOTE_TOTALS if is_total(ind) else NOTE_NEUTRAL if is_neutral(ind) else NOTE_BANDS
    if isinstance(ind.reliability_denominator, str):
        refs += f" {NOTE_RELIABILITY}"
    if ind.theme == "workforce":
        refs += f" {NOTE_JOINT}"
    if ind.year_to_date:
        refs += f" {NOTE_YEAR_TO_DATE}"
    refs += f" {NOTE_GROUPS}"
    if marking == RESTRICTED:
        said = notes(marking)
        refs += f". London neighbours: [note {said.index(NEIGHBOURS_NOTE) + 1}]."
        refs += f" A figure marked questioned: [note {len(said)}]."
    s.prose(f"{ind.id}: {ind.formula}. {ind.comparison_note} {refs}", 150, italic=True)
    top = s.row + 1
    note_col = len(columns) - 1 if marking == RESTRICTED else None
    ranked = "Rank" in columns
    neighbours = neighbour_comparisons(figures, ind.id)
    for r, b in enumerate(rows, start=top + 1):
        c = 0
        if ranked:
            s.integer(r, 0, b["rank"])
            c = 1
        s.text(r, c, b["name"])
        s.number(r, c + 1, b["value"] if not is_missing(b["value"]) else b["symbol"], ind.unit)
        s.text(r, c + 2, figures.marks(b, ind), align="center")
        c += 3
        if not is_total(ind):
            band = shown_text(b["quartile_band"])
            fill = BAND_FILLS.get(band) or POSITION_FILLS.get(band)
            s.text(r, c, band_text(band), align="center", **({"bg_color": fill} if fill else {}))
            s.text(r, c + 1, shown_text(b["top_bottom_20"]))
            c += 2
        for _, field, kind in comparing(ind):
            if kind == "number":
                s.number(r, c, b[field], ind.unit)
            elif kind == "change":
                s.change(r, c, change_as_shown(b, field, ind.unit), ind.unit)
            else:  # centred, so that it never reads as one with the change beside it
                s.text(r, c, shown_text(b[field]), align="center")
            c += 1
        s.text(r, c, shown_text(b["sub_region"]))
        s.number(r, c + 1, b["london_median"], ind.unit)
        if note_col is not None:
            g = neighbours.get(b["authority"], {})
            rank = g.get("rank_in_group")
            if is_neutral(ind):
                s.text(r, c + 2, "by value" if g else "", align="center")
            else:
                text = "" if is_missing(rank) else f"{int(rank)} of {int(g['n_ranked'])}"
                s.text(r, c + 2, text, align="center")
            figure = g.get("group_median") if is_total(ind) else g.get("group_value")
            s.number(r, c + 3, figure, ind.unit)
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
            if as_figure(r["value"]) is not None
            and not r["low_reliability"]
            and (not ranked or not is_missing(r["rank"]))
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
    changes = set()
    if is_total(ind):  # like for like: London's total moves with who returned
        change, both = like_for_like_change(figures, ind.id)
        changes.add(f"Change on quarter, the {both} in both quarters")
        lines.append((f"Change on quarter, the {both} in both quarters", change))
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
    s.text(top, label_col + 1, f"{verb}: {reported} of {of}" if reported else "Not ranked")
    for k, (label, value) in enumerate(lines, start=top + 1):
        s.text(k, label_col, label)
        (s.change if label in changes else s.number)(k, label_col + 1, value, ind.unit)
    s.width(len(columns), 2)

    chart_top = max(last, top + len(lines)) + 2
    data_col = label_col + 3
    plotted = [
        (chart_label(b, ind, figures), as_figure(b["value"]))
        for b in rows
        if as_figure(b["value"]) is not None
    ]
    faint = {name for name, _ in plotted if name.endswith("]")}
    if not plotted:
        hidden = any(shown_text(b["value"]) == "c" for b in rows)
        s.row = chart_top
        s.prose(
            "Every authority's value is suppressed (c) in this edition, so there is no ranking "
            "and no chart: the counts behind them are small enough that a figure, or one worked "
            "out from the others and London's total, could identify children. London's figure "
            "and its groups' are beside the table."
            if hidden
            else "No authority has a figure this quarter, so there is no ranking and no chart.",
            110,
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
        comparator if as_figure(comparator[1]) is not None else None,
        ind.unit,
        faint,
    )
    title = f"{ind.name}, {figures.quarter.label}: every authority with a figure"
    # the sheet prints at about 70% to fit its table across: the chart is drawn to fill the page
    chart = bar_chart(book, s, first, last_row, data_col, ind, title, colours, 1250, 24)
    page_break_before(s, chart_top)
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
        f"quarter {NOTE_GROUPS}. {AXIS_RULE} {NOTE_AXES}"
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
    if len(quarters) < 2:
        s.text(last + 2, 0, "A line needs two quarters: the charts begin with the next quarter.")
        inds = []
    for k, ind in enumerate(inds):
        row = chart_row + (k // 2) * height_rows
        if k % 4 == 0:
            page_break_before(s, row)
        # A total is drawn by its median authority alone: London's total moves with who returned.
        drawn = ["london_median"] if is_total(ind) else ["london_value", "london_median"]
        values = [
            float(table.at[(q, ind.id), c])
            for q in quarters
            for c in drawn
            if (q, ind.id) in table.index and as_figure(table.at[(q, ind.id), c]) is not None
        ]
        lines = [(2 + 2 * k, "median authority", DARK)]
        if not is_total(ind):
            lines.insert(0, (1 + 2 * k, "London", BLUE))
        chart = line_chart(book, s, (top + 1, last), 0, lines, ind, values)
        series = [table.at[(q, ind.id), drawn[0]] for q in quarters if (q, ind.id) in table.index]
        who = "the median authority's" if is_total(ind) else "London's"
        alt = f"Line chart of {who} {ind.name} over {len(quarters)} quarters" + (
            f", from {format_value(series[0], ind)} to {format_value(series[-1], ind)}."
            if series
            else "."
        )
        if not is_total(ind):
            alt = alt.replace(" over ", ", with the median authority, over ", 1)
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
            unit_words(ind),
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
    _cover(book, figures, theme, authorities, marking, release)
    has_published = not figures.published.empty and bool(
        set(figures.published["indicator_id"]) & set(indicators["id"])
    )
    _contents(book, indicators, marking, has_published)
    _notes(book, marking)
    _summary(book, figures, indicators, names, marking)
    for n, ind in enumerate(indicators.itertuples(), start=1):
        _indicator_sheet(book, n, ind, figures, names, marking)
    _trends(book, figures, indicators, marking)
    published_sheet(book, figures, list(indicators.itertuples()), names.to_dict(), marking)
    _definitions(book, indicators, catalogue, marking)
    return book.close()


# --- status workbook --------------------------------------------------------------------------
