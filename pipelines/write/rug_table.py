"""Tables on the public page: the "tartan rug" (every authority by every banded indicator, its band
as published) and London in England's picture (DfE's published figures), as accessible HTML
tables (caption, column and row headers, text not colour alone). Written from templates with
autoescape: every name and text is escaped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pipelines.benchmark.published import LICENCE, SOURCE
from pipelines.collection.catalogue import Authorities, Catalogue
from pipelines.collection.quarters import Quarter
from pipelines.write.comparator_sheets import rug_cell
from pipelines.write.figures import format_value
from pipelines.write.layout import SYMBOL_LEGEND

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
# the band's class on the page; the colours are those of the workbooks
RUG_STYLE = """
.rug{overflow-x:auto;max-width:100%}.rug table{font-size:.8em}
.rug th,.rug td{padding:.15rem .3rem;text-align:center}.rug tbody th{text-align:left}
.band-A{background:#C6EFCE}.band-B{background:#E2F0D9}.band-C{background:#FFF2CC}
.band-D{background:#F8CBAD}.band-1{background:#F2F2F2}.band-2{background:#E6E6E6}
.band-3{background:#D9D9D9}.band-4{background:#CCCCCC}
.codes dt{font-weight:bold;float:left;clear:left;width:6rem}.codes dd{margin-left:6.5rem}
.rug thead th{vertical-align:bottom}.rug-name{display:block;font-weight:normal;font-size:.85em;
min-width:6.5em;max-width:8em;white-space:normal;overflow-wrap:break-word}
"""


@dataclass(frozen=True)
class RugCell:
    text: str
    css: str


# The published figures of the quarter's latest release: a suppressed value is [c].
PUBLIC_BANDS_SQL = """
SELECT authority, indicator_id, quartile_band, symbol,
       CASE WHEN list_contains(string_split(coalesce(suppressed_columns, ''), ','), 'value')
            THEN 'c' END AS value
FROM public_benchmarks
WHERE quarter = $q
QUALIFY release = max(release) OVER ()
"""


def public_rug(
    con: duckdb.DuckDBPyConnection,
    quarter: Quarter,
    authorities: Authorities,
    catalogue: Catalogue,
) -> str:
    """The rug of the quarter's latest release, as an HTML section; empty if not released."""
    rows = con.execute(PUBLIC_BANDS_SQL, {"q": quarter.key}).df()
    if rows.empty:
        return ""
    indicators = [
        i for i in catalogue.indicators.itertuples() if getattr(i, "comparison", "rate") == "rate"
    ]
    cells = {(r["authority"], r["indicator_id"]): r for r in rows.to_dict("records")}
    order = sorted(authorities.codes, key=authorities.name)
    table = []
    for code in order:
        line = []
        for ind in indicators:
            text, _ = rug_cell(cells.get((code, ind.id), {}), ind)
            css = text if text in {"A", "B", "C", "D", "1", "2", "3", "4"} else "none"
            line.append(RugCell(text, css))
        table.append({"name": authorities.name(code), "cells": line})
    return TEMPLATES.get_template("rug.html").render(
        quarter=quarter.label, indicators=indicators, rows=table, symbols=SYMBOL_LEGEND
    )


# Each indicator's latest year DfE publishes for England, and the four areas in it.
PUBLISHED_AREAS_SQL = """
WITH latest AS (
    SELECT indicator_id, max(year_ending) AS year_ending
    FROM published_figures WHERE area = 'England' GROUP BY indicator_id
)
SELECT f.indicator_id, any_value(f.year) AS year, any_value(f.period) AS period,
       any_value(f.difference) AS difference,
       max(f.value) FILTER (WHERE f.area = 'England') AS england,
       max(f.value) FILTER (WHERE f.area = 'London') AS london,
       max(f.value) FILTER (WHERE f.area = 'Inner London') AS inner_london,
       max(f.value) FILTER (WHERE f.area = 'Outer London') AS outer_london
FROM published_figures AS f JOIN latest USING (indicator_id, year_ending)
WHERE f.area IN ('England', 'London', 'Inner London', 'Outer London')
GROUP BY f.indicator_id
ORDER BY f.indicator_id
"""


def published_areas(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> str:
    """DfE's latest figures for England, London and its halves, as an HTML section; empty when
    no published figures are loaded."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'published_figures'"
    ).fetchall()[0][0]
    if not exists:
        return ""
    frame = con.sql(PUBLISHED_AREAS_SQL).df()
    if frame.empty:
        return ""
    indicators = catalogue.indicators.set_index("id")
    rows = []
    for r in frame.itertuples():
        ind = indicators.loc[r.indicator_id]
        shown = {
            area: "not published" if value != value else format_value(value, ind)
            for area, value in (
                ("england", r.england),
                ("london", r.london),
                ("inner", r.inner_london),
                ("outer", r.outer_london),
            )
        }
        rows.append(
            {"name": ind["name"], "year": r.year, "period": r.period, "difference": r.difference}
            | shown
        )
    return TEMPLATES.get_template("published.html").render(
        rows=rows, source=f"{SOURCE}, {', '.join(sorted(set(frame['year'])))}", licence=LICENCE
    )
