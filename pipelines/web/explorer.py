"""The explorer: one indicator in one released quarter, every authority of a comparison group as a
bar chart and a table, the group's figure, median and range, the highlighted authority's rank in
the group, and its trend over every released quarter beside London, the group and the median.

Read from the analysts' copy (read-only, one short connection a page). Two editions: members see
the restricted figures (`benchmarks`, `group_benchmarks`); the public sees only what the release
stage stored for the public (`public_benchmarks` and `public_group_figures`, each quarter's latest
release), never a restricted table. A group's median and range are of the figures the edition
shows; a group's own figure (its ratio of sums) is shown in the public edition only for the
groups the public edition publishes (London, Inner/Outer London, the sub-regions)."""

from __future__ import annotations

import functools
import statistics
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.collection.catalogue import THEME_TITLES, load_authorities, load_catalogue
from pipelines.collection.quarters import parse_quarter
from pipelines.warehouse.tables import RESTRICTED_MARKING

PUBLIC, RESTRICTED = "public", "restricted"

# key -> (label, group set, shown to the public)
GROUPS = {
    "london": ("London", "london", True),
    "inner_outer": ("Inner or Outer London", "inner_outer_ons", True),
    "sub_region": ("Sub-region", "sub_region", True),
    "partnership": ("Sub-regional partnership", "sub_regional_partnerships", True),
    "london_neighbours": ("London neighbours", "london_neighbours", True),
    "dfe_neighbours": ("DfE neighbours in London", "dfe_neighbours", True),
    "chosen": ("Chosen comparators", "chosen_comparators", False),
}
# the groupings whose own figure the public edition publishes (public_group_figures)
PUBLIC_GROUPINGS = ("london", "inner_outer_ons", "sub_region")


@dataclass(frozen=True)
class Choice:
    indicator: str
    quarter: str
    group: str
    authority: str  # the highlighted authority's LIIA code, or ""

    def query(self) -> str:
        from urllib.parse import urlencode

        return urlencode(
            {
                "indicator": self.indicator,
                "quarter": self.quarter,
                "group": self.group,
                **({"authority": self.authority} if self.authority else {}),
            }
        )


@dataclass
class Figure:
    authority: str
    name: str
    value: float | None
    symbol: str  # why there is no value: c (suppressed), x, z, u
    rank: int | None = None
    highlighted: bool = False


@dataclass
class Explored:
    choice: Choice
    edition: str
    indicator: dict
    quarters: list[str]  # released, newest first
    group_label: str
    group_name: str
    figures: list[Figure]  # the group's authorities, highest value first
    group_value: float | None
    london_value: float | None
    median: float | None
    low: float | None
    high: float | None
    ranked: int
    trend: list[dict] = field(default_factory=list)  # per quarter, oldest first
    # DfE's years: England, London, the highlighted authority's figure, England rank and band
    england: list[dict] = field(default_factory=list)

    @property
    def own(self) -> Figure | None:
        return next((f for f in self.figures if f.highlighted), None)


# One read-only connection per process to the analysts' copy, kept while the file is the same:
# the pipeline replaces the copy by a rename, which this sees as another inode, and the old file's
# connection is closed then (opening the copy costs more than the page's queries).
_HELD: dict[str, tuple[tuple[int, int], duckdb.DuckDBPyConnection]] = {}
_HOLDING = threading.Lock()


def _cursor(copy: Path) -> duckdb.DuckDBPyConnection:
    status = copy.stat()
    key = (status.st_ino, status.st_mtime_ns)
    with _HOLDING:
        held = _HELD.get(str(copy))
        if held is None or held[0] != key:
            if held is not None:
                held[1].close()
            connection = duckdb.connect(str(copy), read_only=True)
            # Without index scans: DuckDB fetches the rows an index finds one at a time, and the
            # keyed copy's index on published_figures made the England table 47 ms against 6. Set
            # after connecting, not as the connection's config: another connection to the same
            # file in this process (pipelines.web.answers) is refused a configuration that differs.
            connection.execute("SET index_scan_max_count = 0")
            _HELD[str(copy)] = held = (key, connection)
        return held[1].cursor()


def _rows(con, sql: str, parameters: dict | None = None) -> list[dict]:
    cursor = con.execute(sql, parameters or {})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def released_quarters(con) -> list[str]:
    return [
        r["quarter"] for r in _rows(con, "SELECT DISTINCT quarter FROM releases ORDER BY 1 DESC")
    ]


@functools.cache
def indicator_choices() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(theme key, theme title, [(indicator id, name)]) in the catalogue's order."""
    indicators = load_catalogue().indicators
    return [
        (theme, title, [(r.id, r.name) for r in indicators.itertuples() if r.theme == theme])
        for theme, title in THEME_TITLES.items()
    ]


def choose(get: dict, quarters: list[str], own_authority: str | None, edition: str) -> Choice:
    """The view asked for, each part checked against what exists; anything unknown falls back to
    the first choice, so a link someone edited still opens a page."""
    indicators = load_catalogue().indicators["id"].tolist()
    codes = load_authorities().codes
    indicator = get.get("indicator", "")
    quarter = get.get("quarter", "")
    group = get.get("group", "")
    authority = get.get("authority", own_authority or "")
    allowed = [k for k, (_, _, public) in GROUPS.items() if public or edition == RESTRICTED]
    return Choice(
        indicator if indicator in indicators else indicators[0],
        quarter if quarter in quarters else (quarters[0] if quarters else ""),
        group if group in allowed else "london",
        authority if authority in codes else "",
    )


_RESTRICTED_FIGURES = """
SELECT quarter, authority, value, symbol, rank, london_value
FROM benchmarks
WHERE indicator_id = $indicator AND list_contains($quarters, quarter)
"""
# what the public was shown: each quarter's latest release, a suppressed value as c
_PUBLIC_FIGURES = """
SELECT quarter, authority,
       CASE WHEN list_contains(string_split(coalesce(suppressed_columns, ''), ','), 'value')
            THEN NULL ELSE value END AS value,
       CASE WHEN list_contains(string_split(coalesce(suppressed_columns, ''), ','), 'value')
            THEN 'c' ELSE symbol END AS symbol,
       CASE WHEN list_contains(string_split(coalesce(suppressed_columns, ''), ','), 'value')
            THEN NULL ELSE rank END AS rank,
       CASE WHEN list_contains(string_split(coalesce(suppressed_columns, ''), ','), 'london_value')
            THEN NULL ELSE london_value END AS london_value
FROM public_benchmarks
WHERE indicator_id = $indicator AND list_contains($quarters, quarter)
QUALIFY release = max(release) OVER (PARTITION BY quarter)
"""
_RESTRICTED_GROUP = """
SELECT quarter, group_value AS value
FROM group_benchmarks
WHERE indicator_id = $indicator AND authority = $authority AND set_id = $set_id
  AND list_contains($quarters, quarter)
"""
_PUBLIC_GROUP = """
SELECT quarter, CASE WHEN suppressed THEN NULL ELSE value END AS value
FROM public_group_figures
WHERE indicator_id = $indicator AND grouping = $set_id AND group_name = $group_name
  AND list_contains($quarters, quarter)
QUALIFY release = max(release) OVER (PARTITION BY quarter)
"""


# Each year of DfE's figures for the indicator: England, London, and the highlighted authority's
# own figure with its England rank and band (worked out among every English authority when DfE's
# file was read: pipelines.benchmark.published).
_ENGLAND = """
SELECT year,
       max(value) FILTER (WHERE area = 'England') AS england,
       max(value) FILTER (WHERE area = 'London') AS london,
       max(value) FILTER (WHERE authority = $a) AS own,
       max(england_rank) FILTER (WHERE authority = $a) AS rank,
       max(england_ranked) FILTER (WHERE authority = $a) AS ranked,
       max(england_band) FILTER (WHERE authority = $a) AS band,
       max(dfe_neighbours_mean) FILTER (WHERE authority = $a) AS neighbours
FROM published_figures
WHERE indicator_id = $i
GROUP BY year
HAVING england IS NOT NULL
ORDER BY year
"""


def _members(con, set_id: str, authority: str) -> tuple[str, list[str]]:
    """The highlighted authority's group in a set, and its authorities: in a neighbours set the
    authority and its neighbours (nearest first), otherwise the group it belongs to."""
    kind = _rows(con, "SELECT kind FROM group_sets WHERE set_id = $s", {"s": set_id})
    if kind and kind[0]["kind"] == "neighbours":
        rows = _rows(
            con,
            "SELECT authority FROM group_members WHERE set_id = $s AND group_name = $a "
            "ORDER BY position, authority",
            {"s": set_id, "a": authority},
        )
        codes = [r["authority"] for r in rows if r["authority"] != authority]
        return (authority, [authority, *codes]) if codes else ("", [])
    rows = _rows(
        con,
        "SELECT group_name, authority FROM group_members WHERE set_id = $s AND group_name = "
        "(SELECT min(group_name) FROM group_members WHERE set_id = $s AND authority = $a) "
        "ORDER BY authority",
        {"s": set_id, "a": authority},
    )
    return (rows[0]["group_name"], [r["authority"] for r in rows]) if rows else ("", [])


def _rank(figures: list[Figure], polarity: str) -> int:
    """Each ranked figure's rank in the group (1 the best; ties share); how many were ranked."""
    ranked = [f for f in figures if f.value is not None and f.rank is not None]
    if polarity == "neutral":
        for f in figures:
            f.rank = None
        return 0
    ordered = sorted((f.value for f in ranked), reverse=polarity == "higher_is_better")
    for f in figures:
        f.rank = ordered.index(f.value) + 1 if f in ranked else None
    return len(ranked)


def explore(copy: Path, edition: str, get: dict, own_authority: str | None) -> Explored | None:
    """The view `get` asks for in `edition`, or None when nothing is released yet."""
    if not copy.exists():
        return None
    authorities, catalogue = load_authorities(), load_catalogue()
    try:
        con = _cursor(copy)
    except (OSError, duckdb.Error):
        return None  # mid-replacement or not made yet: the page says nothing is released yet
    with con:
        quarters = released_quarters(con)
        if not quarters:
            return None
        choice = choose(get, quarters, own_authority, edition)
        ind = catalogue.indicators.set_index("id").loc[choice.indicator]
        label, set_id, _ = GROUPS[choice.group]
        if choice.group == "london" or not choice.authority:
            group_name, codes = "London", list(authorities.codes)
            set_id = "london"
        else:
            group_name, codes = _members(con, set_id, choice.authority)
            if not codes:
                group_name, codes, set_id = "London", list(authorities.codes), "london"
        parameters = {"indicator": choice.indicator, "quarters": quarters}
        figures_sql = _RESTRICTED_FIGURES if edition == RESTRICTED else _PUBLIC_FIGURES
        rows = _rows(con, figures_sql, parameters)
        if set_id == "london":
            group_rows = []
        elif edition == RESTRICTED:
            group_rows = _rows(
                con,
                _RESTRICTED_GROUP,
                {**parameters, "authority": choice.authority, "set_id": set_id},
            )
        elif set_id in PUBLIC_GROUPINGS:
            group_rows = _rows(
                con, _PUBLIC_GROUP, {**parameters, "set_id": set_id, "group_name": group_name}
            )
        else:
            group_rows = []
        england = _rows(con, _ENGLAND, {"i": choice.indicator, "a": choice.authority})
    group_by_quarter = {r["quarter"]: r["value"] for r in group_rows}
    by_quarter: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_quarter.setdefault(r["quarter"], {})[r["authority"]] = r

    def figures_in(quarter: str) -> list[Figure]:
        shown = by_quarter.get(quarter, {})
        out = []
        for code in codes:
            r = shown.get(code)
            value = None if r is None else r["value"]
            out.append(
                Figure(
                    code,
                    authorities.name(code),
                    value,
                    (r["symbol"] or "") if r is not None and value is None else "",
                    r["rank"] if r is not None else None,
                    code == choice.authority,
                )
            )
        return out

    def london_in(quarter: str) -> float | None:
        values = [r["london_value"] for r in by_quarter.get(quarter, {}).values()]
        return next((v for v in values if v is not None), None)

    figures = figures_in(choice.quarter)
    ranked = _rank(figures, ind["polarity"])
    figures.sort(key=lambda f: (f.value is None, -(f.value or 0), f.name))
    values = [f.value for f in figures if f.value is not None]
    trend = []
    for quarter in sorted(quarters):
        shown = [f for f in figures_in(quarter) if f.value is not None]
        mine = next((f.value for f in shown if f.authority == choice.authority), None)
        trend.append(
            {
                "quarter": quarter,
                "label": parse_quarter(quarter).label,
                "own": mine,
                "london": london_in(quarter),
                "group": group_by_quarter.get(quarter) if set_id != "london" else None,
                "median": statistics.median(f.value for f in shown) if shown else None,
            }
        )
    return Explored(
        choice,
        edition,
        {"id": choice.indicator, **ind.to_dict()},
        quarters,
        label if set_id != "london" else "London",
        group_name,
        figures,
        group_by_quarter.get(choice.quarter) if set_id != "london" else london_in(choice.quarter),
        london_in(choice.quarter),
        statistics.median(values) if values else None,
        min(values) if values else None,
        max(values) if values else None,
        ranked,
        trend,
        england,
    )


# --- what is shown, as a file -------------------------------------------------------------------

MARKINGS = {
    RESTRICTED: RESTRICTED_MARKING,
    PUBLIC: "Public: LIIA's published figures (each quarter's latest release).",
}


def table_rows(found: Explored) -> tuple[list[str], list[list], list[str], list[list]]:
    """(header, rows) of the group's figures, then (header, rows) of the trend: what the page
    shows, in the indicator's unit, a missing figure with its symbol."""
    ind, choice = found.indicator, found.choice
    head = ["quarter", "indicator_id", "indicator", "unit", "group", "authority", "name"]
    head += ["value", "symbol", "rank_in_group", "ranked_in_group", "edition"]
    rows = [
        [choice.quarter, ind["id"], ind["name"], ind["unit"], found.group_name, f.authority]
        + [f.name, f.value, f.symbol, f.rank, found.ranked, found.edition]
        for f in found.figures
    ]
    trend_head = ["quarter", "indicator_id", "authority", "value", "london", "group", "median"]
    trend = [
        [r["quarter"], ind["id"], choice.authority, r["own"], r["london"], r["group"], r["median"]]
        for r in found.trend
    ]
    return head, rows, trend_head, trend


def download(found: Explored, kind: str) -> tuple[bytes, str, str]:
    """The view as CSV (the group's figures) or XLSX (those, and the trend): bytes, type, name.
    Every text is written as text: nothing can become a formula."""
    import csv
    import io

    head, rows, trend_head, trend = table_rows(found)
    c = found.choice
    stem = f"LIIA {c.indicator} {c.quarter} {found.group_name} {found.edition}".replace(" ", "_")
    if kind == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(head)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        # a byte-order mark, so that Excel reads £ and accents as written
        return ("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv; charset=utf-8", stem + ".csv"
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    bold = book.add_format({"bold": True})
    for title, header, body in (("Figures", head, rows), ("Trend", trend_head, trend)):
        sheet = book.add_worksheet(title)
        sheet.write_string(0, 0, MARKINGS[found.edition], bold)
        sheet.write_string(1, 0, f"{found.indicator['name']}, {c.quarter}, {found.group_name}")
        for col, name in enumerate(header):
            sheet.write_string(3, col, name, bold)
        for r, row in enumerate(body, start=4):
            for col, value in enumerate(row):
                if isinstance(value, int | float) and value == value:
                    sheet.write_number(r, col, value)
                elif value is not None:
                    sheet.write_string(r, col, str(value))
        sheet.set_column(0, len(header) - 1, 16)
    book.close()
    kind_xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return buffer.getvalue(), kind_xlsx, stem + ".xlsx"
