"""What a quarter's workbooks show, read from the warehouse's `benchmarks` and `group_aggregates`
(never recomputed), and how a figure is written in words."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property

import duckdb
import pandas as pd

from pipelines.benchmark.comparisons import AREA_GROUPINGS
from pipelines.collection.catalogue import Authorities, formula_refs
from pipelines.collection.quarters import Quarter, parse_quarter
from pipelines.validate.settlement import missing_authorities


def format_value(value, ind) -> str:
    """A figure as words for alternative text and the page: `£1,234`, `14.0%`, `suppressed`."""
    if isinstance(value, str):
        return "suppressed" if value == "c" else value
    if value is None or pd.isna(value):
        return "none"
    return figure_text(value, ind.unit, ind.decimals)


def figure_text(value: float, unit: str, decimals: int) -> str:
    """A number in its unit, as every page and workbook writes it: `14.3%`, `£1,234`, `£4.1m`."""
    text = f"{float(value):,.{int(decimals)}f}"
    if unit == "gbp_m":
        return f"£{text}m"
    if unit == "gbp":
        return f"£{text}"
    return f"{text}%" if unit == "percent" else text


def is_missing(value) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or value is pd.NA
        or value is pd.NaT
    )


def shown_text(value) -> str:
    return "" if is_missing(value) else str(value)


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
    # (authority, item ref) of the values its feedback questioned (a warning it was asked to
    # confirm): marked where shown in the restricted edition
    questioned: frozenset = frozenset()
    # each authority against its comparator groups this quarter (group_benchmarks), the groups'
    # members and sets: restricted edition only
    comparators: pd.DataFrame = field(default_factory=pd.DataFrame)
    members: pd.DataFrame = field(default_factory=pd.DataFrame)
    group_sets: pd.DataFrame = field(default_factory=pd.DataFrame)
    # DfE's latest published figure of each indicator for each authority, with England, London,
    # its half of London and its DfE neighbours (published_context): public, annual context
    published: pd.DataFrame = field(default_factory=pd.DataFrame)
    # each authority's numerator and denominator of each indicator this quarter
    # (indicator_fractions): what the test of a figure standing out counts; restricted edition only
    fractions: pd.DataFrame = field(default_factory=pd.DataFrame)
    # the contact on each authority's last return of an earlier quarter, `Name, email (2026-27
    # Q1)`, by LIIA code: who to chase for a return not yet received (working database only)
    earlier_contacts: dict = field(default_factory=dict)

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
    def by_authority(self) -> dict[str, dict[str, dict]]:
        """The quarter's benchmarks rows, authority -> indicator id -> row."""
        out: dict[str, dict[str, dict]] = {}
        for rows in self.records.values():
            for r in rows:
                out.setdefault(r["authority"], {})[r["indicator_id"]] = r
        return out

    @cached_property
    def comparisons(self) -> dict[tuple[str, str], dict[str, dict]]:
        """Each authority against each of its comparator groups: (set id, indicator id) ->
        authority -> its group_benchmarks row (without its authority), read once."""
        out: dict[tuple[str, str], dict[str, dict]] = {}
        if self.comparators.empty:
            return out
        for r in self.comparators.to_dict("records"):
            key, authority = (r["set_id"], r["indicator_id"]), r["authority"]
            out.setdefault(key, {})[authority] = {k: v for k, v in r.items() if k != "authority"}
        return out

    @cached_property
    def group_records(self) -> dict[str, list[dict]]:
        return _records_by_indicator(self.groups)

    @cached_property
    def notes_by_item(self) -> dict[tuple[str, str], str]:
        if self.notes.empty:
            return {}
        return {(n.authority, n.ref): n.note for n in self.notes.itertuples()}

    def is_questioned(self, authority: str, ind) -> bool:
        """Whether the authority's feedback questioned an item behind the indicator."""
        return any((authority, ref) in self.questioned for ref in formula_refs(ind.formula))

    def marks(self, b: dict, ind) -> str:
        """What a figure is marked with where shown: its symbol in brackets (`[u]`), and
        `questioned` where its authority's feedback asked it to confirm an item behind it."""
        symbol = b.get("symbol")
        marks = [f"[{symbol}]"] if isinstance(symbol, str) and symbol else []
        if self.is_questioned(b["authority"], ind):
            marks.append("questioned")
        return " ".join(marks)

    def note(self, authority: str, ind) -> str:
        """The authority's own words on the items behind an indicator, `FIN06: ...; FIN07: ...`."""
        notes = self.notes_by_item
        found = [
            f"{ref}: {notes[(authority, ref)]}"
            for ref in formula_refs(ind.formula)
            if (authority, ref) in notes
        ]
        return "; ".join(found)


# The quarter's submissions with the contact each cover names: only the pipeline's own database
# holds the contacts (the analysts' copy leaves them out).
_SUBMISSIONS_SQL = """
SELECT s.*, c.completed_by, c.email
FROM submissions AS s
LEFT JOIN submission_contacts AS c USING (quarter, submission_id)
WHERE s.quarter = $q
"""


# DfE's latest figure of each indicator for each authority, with England, London, its half and its
# neighbours (published_context), and where it stands among every English authority that year
_PUBLISHED_SQL = """
SELECT c.*, f.england_rank, f.england_ranked, f.england_band
FROM published_context AS c
LEFT JOIN published_figures AS f
       ON f.indicator_id = c.indicator_id AND f.authority = c.authority AND f.year = c.year
"""


# Each authority's contact on its latest return of a quarter before this one
_EARLIER_CONTACTS_SQL = """
SELECT s.authority,
       concat_ws(', ', nullif(trim(c.completed_by), ''), nullif(trim(c.email), '')) AS contact,
       replace(s.quarter, '-Q', ' Q') AS label
FROM submissions AS s
JOIN submission_contacts AS c USING (quarter, submission_id)
WHERE s.quarter < $q AND s.authority IS NOT NULL
  AND (coalesce(trim(c.completed_by), '') <> '' OR coalesce(trim(c.email), '') <> '')
QUALIFY row_number() OVER (PARTITION BY s.authority ORDER BY s.quarter DESC, s.received_at DESC) = 1
"""


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    sql = "SELECT count(*) FROM duckdb_tables() WHERE table_name = $name"
    return con.execute(sql, {"name": name}).fetchall()[0][0] > 0


def quarter_figures(con: duckdb.DuckDBPyConnection, quarter: Quarter, quarters: int = 8):
    """What the quarter's workbooks show: its benchmarks with the seven quarters before, its group
    aggregates and comparator groups, submissions and notes, DfE's published context; and its
    validation issues."""
    keys = [quarter.key]
    while len(keys) < quarters:
        keys.append(parse_quarter(keys[-1]).previous().key)
    benchmarks = con.execute(
        "SELECT * FROM benchmarks WHERE list_contains($keys, quarter)", {"keys": keys}
    ).df()
    one = {"q": quarter.key}
    groups = con.execute(
        "SELECT * FROM group_aggregates WHERE quarter = $q AND list_contains($areas, grouping)",
        {**one, "areas": AREA_GROUPINGS},
    ).df()
    submissions = con.execute(
        _SUBMISSIONS_SQL
        if _has_table(con, "submission_contacts")
        else "SELECT * FROM submissions WHERE quarter = $q",
        one,
    ).df()
    empty = pd.DataFrame()
    comparators = (
        con.execute("SELECT * FROM group_benchmarks WHERE quarter = $q", one).df()
        if _has_table(con, "group_benchmarks")
        else empty
    )
    members = (
        con.sql("SELECT * FROM group_members").df() if _has_table(con, "group_members") else empty
    )
    sets = con.sql("SELECT * FROM group_sets").df() if _has_table(con, "group_sets") else empty
    published = con.sql(_PUBLISHED_SQL).df() if _has_table(con, "published_context") else empty
    issues = con.execute("SELECT * FROM validation_issues WHERE quarter = $q", one).df()
    earlier_contacts = (
        {
            code: f"{contact} (on its {label} return)"
            for code, contact, label in con.execute(_EARLIER_CONTACTS_SQL, one).fetchall()
        }
        if _has_table(con, "submission_contacts")
        else {}
    )
    fractions = (
        con.execute("SELECT * FROM indicator_fractions WHERE quarter = $q", one).df()
        if _has_table(con, "indicator_fractions")
        else empty
    )
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
    current = set(submissions.loc[submissions["is_current"].astype(bool), "submission_id"])
    authority = dict(zip(submissions["submission_id"], submissions["authority"], strict=True))
    warned = issues[
        (issues["severity"] == "warning")
        & issues["ref"].notna()
        & issues["submission_id"].isin(current)
    ]
    questioned = frozenset(
        (authority[sid], ref)
        for sid, ref in zip(warned["submission_id"], warned["ref"], strict=True)
    )
    figures = QuarterFigures(
        quarter,
        benchmarks,
        groups,
        submissions,
        items,
        notes,
        questioned,
        comparators,
        members,
        sets,
        published,
        fractions,
        earlier_contacts,
    )
    return figures, issues


def public_figures(con: duckdb.DuckDBPyConnection, figures: QuarterFigures) -> QuarterFigures:
    """What the public edition shows, as stored by the quarter's latest release (the release stage,
    pipelines.release.public_edition), with the earlier quarters as they were released; no notes."""
    from pipelines.release.public_edition import public_benchmarks, public_groups

    keys = list(dict.fromkeys(figures.benchmarks["quarter"])) or [figures.quarter.key]
    return replace(
        figures,
        benchmarks=public_benchmarks(con, keys),
        groups=public_groups(con, figures.quarter),
        items=pd.DataFrame(),
        notes=pd.DataFrame(),
        questioned=frozenset(),
        # the public edition publishes no comparator-group figures: each would be one more sum
        # for an intruder to difference against the published London and Inner/Outer figures
        comparators=pd.DataFrame(),
        members=pd.DataFrame(),
        group_sets=pd.DataFrame(),
        fractions=pd.DataFrame(),
        earlier_contacts={},
    )


def completeness(figures: QuarterFigures, authorities: Authorities) -> tuple[int, list[str]]:
    """(authorities with an accepted current return, names of those without one)."""
    missing = missing_authorities(figures.submissions, authorities)
    return len(authorities.codes) - len(missing), missing


# --- charts -----------------------------------------------------------------------------------


def as_figure(value) -> float | None:
    """A value that can be plotted or compared, or None for a symbol or nothing."""
    return None if is_missing(value) or isinstance(value, str) else float(value)


def like_for_like_change(figures: QuarterFigures, indicator_id: str) -> tuple[float | None, int]:
    """The change on the quarter of London's total of an indicator over only the reporting units
    with a figure in both quarters (a joint unit once), and how many: London's total of all
    who reported moves with who returned, this does not. Figures as `figures` shows them."""
    b = figures.benchmarks
    b = b[b["indicator_id"] == indicator_id]
    previous = figures.quarter.previous().key
    totals = {}
    for key in (figures.quarter.key, previous):
        rows = b[b["quarter"] == key].drop_duplicates("reporting_unit")
        totals[key] = {
            r.reporting_unit: as_figure(r.value)
            for r in rows.itertuples()
            if as_figure(r.value) is not None
        }
    both = set(totals[figures.quarter.key]) & set(totals[previous])
    if not both:
        return None, 0
    change = sum(totals[figures.quarter.key][u] - totals[previous][u] for u in both)
    return change, len(both)


def chart_label(b: dict, ind, figures: QuarterFigures) -> str:
    """An authority's name (`b["name"]`) in a chart, with what its figure is marked: `City of
    London [u]`, `Sutton [questioned]`. A marked bar is drawn pale."""
    marks = [m.strip("[]") for m in figures.marks(b, ind).split()]
    marks = [m for m in marks if m in ("u", "questioned")]
    return b["name"] + (f" [{', '.join(marks)}]" if marks else "")
