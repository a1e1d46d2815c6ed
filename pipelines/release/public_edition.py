"""The release stage: each quarter's public edition decided, audited and stored in the pipeline's
own database, release by release; every public output is written from what is stored here, never
from the restricted figures."""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

from pipelines.benchmark.comparisons import AREA_GROUPINGS, printed_band
from pipelines.collection.catalogue import Authorities, Catalogue
from pipelines.collection.quarters import Quarter
from pipelines.release.disclosure import (
    NUMERIC_COLUMNS,
    SUPPRESSED,
    EarlierRelease,
    PublicQuarter,
    Suppression,
    earlier_release,
    public_quarter,
)
from pipelines.release.timing import Release, changes_text, decide
from pipelines.warehouse.database import create_schema
from pipelines.warehouse.tables import TABLE_BY_NAME


def last_release(con: duckdb.DuckDBPyConnection, quarter: Quarter) -> Release | None:
    row = con.execute(
        """SELECT quarter, release, released_at, reason, changes, figures_changed
        FROM releases WHERE quarter = ? ORDER BY release DESC LIMIT 1""",
        [quarter.key],
    ).fetchone()
    return Release(*row) if row else None


def releases_of(con: duckdb.DuckDBPyConnection, quarter: Quarter) -> list[Release]:
    rows = con.execute(
        """SELECT quarter, release, released_at, reason, changes, figures_changed
        FROM releases WHERE quarter = ? ORDER BY release""",
        [quarter.key],
    ).fetchall()
    return [Release(*r) for r in rows]


def released_quarters(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0] for r in con.execute("SELECT DISTINCT quarter FROM releases ORDER BY 1").fetchall()
    ]


def _stored(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A public frame as stored: `c` becomes NULL, and the row lists its suppressed columns."""
    out = frame.copy()
    hidden = pd.DataFrame(
        {c: out[c].map(lambda v: isinstance(v, str) and v == SUPPRESSED) for c in NUMERIC_COLUMNS}
    )
    out["suppressed_columns"] = [
        ",".join(c for c in NUMERIC_COLUMNS if row[c]) or None for row in hidden.to_dict("records")
    ]
    for c in NUMERIC_COLUMNS:
        out[c] = pd.to_numeric(out[c].where(~hidden[c], None), errors="coerce").astype("float64")
    return out.reindex(columns=columns)


def _restored(frame: pd.DataFrame) -> pd.DataFrame:
    """A stored public frame with `c` back where it was shown."""
    out = frame.copy()
    hidden = out["suppressed_columns"].fillna("").str.split(",")
    for c in NUMERIC_COLUMNS:
        mask = np.array([c in h for h in hidden])
        out[c] = out[c].astype(object).where(out[c].notna(), None)
        out.loc[mask, c] = SUPPRESSED
    return out


def public_benchmarks(con: duckdb.DuckDBPyConnection, keys: list[str]) -> pd.DataFrame:
    """The public edition of these quarters as last released (quarters never released: none)."""
    frame = con.execute(
        """SELECT * FROM public_benchmarks
        WHERE list_contains($keys, quarter)
        QUALIFY release = max(release) OVER (PARTITION BY quarter)""",
        {"keys": keys},
    ).df()
    return _restored(frame)


def public_groups(con: duckdb.DuckDBPyConnection, quarter: Quarter) -> pd.DataFrame:
    frame = con.execute(
        """SELECT * FROM public_group_figures WHERE quarter = $q
        QUALIFY release = max(release) OVER ()""",
        {"q": quarter.key},
    ).df()
    frame["value"] = [
        SUPPRESSED if s else (None if pd.isna(v) else v)
        for v, s in zip(frame["value"], frame["suppressed"], strict=True)
    ]
    frame["value"] = frame["value"].astype(object)
    return frame


def quarter_inputs(con: duckdb.DuckDBPyConnection, key: str):
    """The quarter's restricted benchmarks, group figures and items (with their units)."""
    one = {"q": key}
    benchmarks = con.execute("SELECT * FROM benchmarks WHERE quarter = $q", one).df()
    groups = con.execute(
        "SELECT * FROM group_aggregates WHERE quarter = $q AND list_contains($areas, grouping)",
        {**one, "areas": AREA_GROUPINGS},
    ).df()
    items = con.execute(
        """SELECT v.quarter, v.authority, v.indicator_id AS ref, v.value, i.unit
        FROM indicator_values AS v JOIN indicators AS i USING (indicator_id, kind)
        WHERE v.kind = 'item' AND v.quarter = $q AND v.value IS NOT NULL""",
        one,
    ).df()
    return benchmarks, groups, items


def quarter_public_edition(
    con: duckdb.DuckDBPyConnection, quarter: Quarter, catalogue: Catalogue, authorities: Authorities
) -> PublicQuarter:
    """The quarter's public edition computed from the working database's restricted figures, its
    suppression chosen and audited together with every earlier release of the quarter."""
    benchmarks, groups, items = quarter_inputs(con, quarter.key)
    earlier = public_benchmarks(con, [quarter.previous().key, quarter.year_earlier().key])
    population = authorities.table.set_index("liia_code")["population_0_17"]
    counts = items[items["unit"] == "count"]
    releases = earlier_releases(con, quarter, catalogue)
    return public_quarter(benchmarks, groups, counts, catalogue, population, earlier, releases)


def earlier_releases(
    con: duckdb.DuckDBPyConnection,
    quarter: Quarter,
    catalogue: Catalogue,
    before: int | None = None,
) -> tuple[EarlierRelease, ...]:
    """Every stored release of the quarter (or those before release `before`), as an intruder
    reads it beside the next: each is public for good (its files stay in the reports tree)."""
    now = _by_authority(_current_submissions(con, quarter))
    releases = con.execute(
        """SELECT release, submissions FROM releases
        WHERE quarter = ? AND release < coalesce(?, 1e9) ORDER BY release""",
        [quarter.key, before],
    ).fetchall()
    out = []
    for number, submissions in releases:
        then = _by_authority(submissions or [])
        changed = {
            code: (
                then.get(code, "none"),
                _changed_refs(con, quarter, then.get(code), now.get(code)),
            )
            for code in set(then) | set(now)
            if then.get(code) != now.get(code)
        }
        which = [quarter.key, number]
        shown = con.execute(
            "SELECT * FROM public_benchmarks WHERE quarter = ? AND release = ?", which
        ).df()
        groups = con.execute(
            """SELECT indicator_id, grouping, group_name, value, suppressed
            FROM public_group_figures WHERE quarter = ? AND release = ?""",
            which,
        ).df()
        suppressed = con.execute(
            """SELECT indicator_id, reporting_unit, kind, status
            FROM suppressions WHERE quarter = ? AND release = ?""",
            which,
        ).df()
        targets = con.execute(
            "SELECT reporting_unit, ref FROM disclosure_audit WHERE quarter = ? AND release = ?",
            which,
        ).fetchall()
        out.append(earlier_release(shown, groups, suppressed, targets, changed, catalogue))
    return tuple(out)


def _changed_refs(con, quarter: Quarter, then: str | None, now: str | None) -> set[str] | None:
    """The refs whose value or status differ between two submissions of an authority (every
    submission's values are kept in return_values); None when one of them is missing."""
    if then is None or now is None:
        return None
    rows = con.execute(
        """SELECT ref FROM return_values
        WHERE quarter = $q AND submission_id IN ($then, $now)
        GROUP BY ref
        HAVING count(DISTINCT submission_id) < 2 OR count(DISTINCT (value, status)) > 1""",
        {"q": quarter.key, "then": then, "now": now},
    ).fetchall()
    return {ref for (ref,) in rows}


def _by_authority(submissions) -> dict[str, str]:
    """{code: submission id} of CODE:submission_id entries."""
    return dict(entry.split(":", 1) for entry in submissions)


def stored_suppression(con: duckdb.DuckDBPyConnection, key: str) -> Suppression:
    """What the quarter's latest release hides."""
    release = "QUALIFY release = max(release) OVER ()"
    units = con.execute(
        f"SELECT indicator_id, reporting_unit, kind FROM suppressions WHERE quarter = $q {release}",
        {"q": key},
    ).fetchall()
    groups = con.execute(
        f"""SELECT indicator_id, grouping, group_name, suppressed FROM public_group_figures
        WHERE quarter = $q {release}""",
        {"q": key},
    ).fetchall()
    return Suppression(
        {(i, u) for i, u, kind in units if kind == "primary"},
        {(i, u) for i, u, kind in units if kind == "complementary"},
        {(i, g, n) for i, g, n, hidden in groups if hidden},
    )


def _current_submissions(con, quarter: Quarter) -> set[str]:
    rows = con.execute(
        "SELECT authority, submission_id FROM submissions WHERE quarter = ? AND is_current",
        [quarter.key],
    ).fetchall()
    return {f"{a}:{s}" for a, s in rows}


def _stored_groups(edition: PublicQuarter) -> pd.DataFrame:
    """The edition's group figures as stored: `c` becomes NULL and `suppressed`."""
    g = edition.groups
    return pd.DataFrame(
        {
            "indicator_id": g["indicator_id"],
            "grouping": g["grouping"],
            "group_name": g["group_name"],
            "value": pd.to_numeric(
                g["value"].where(g["value"] != SUPPRESSED, None), errors="coerce"
            ).astype("float64"),
            "suppressed": (g["value"] == SUPPRESSED).astype(bool),
            "units": g["units"],
        }
    )


def _changed_figures(con, quarter: Quarter, edition: PublicQuarter, release: int) -> int:
    """Published figures (value or symbol) that differ from the stored release."""
    before = con.execute(
        "SELECT indicator_id, authority, value, suppressed_columns, symbol FROM public_benchmarks "
        "WHERE quarter = ? AND release = ?",
        [quarter.key, release],
    ).df()
    now = _stored(
        edition.benchmarks, ["indicator_id", "authority", "value", "suppressed_columns", "symbol"]
    )
    merged = before.merge(now, on=["indicator_id", "authority"], how="outer", suffixes=("_b", "_a"))
    same = (
        ((merged["value_b"] - merged["value_a"]).abs().fillna(0) < 1e-9)
        & (merged["value_b"].isna() == merged["value_a"].isna())
        & (merged["suppressed_columns_b"].fillna("") == merged["suppressed_columns_a"].fillna(""))
        & (merged["symbol_b"].fillna("") == merged["symbol_a"].fillna(""))
    )
    groups_before = con.execute(
        "SELECT indicator_id, grouping, group_name, value, suppressed FROM public_group_figures "
        "WHERE quarter = ? AND release = ?",
        [quarter.key, release],
    ).df()
    groups_now = _stored_groups(edition).rename(
        columns={"value": "value_a", "suppressed": "suppressed_a"}
    )
    gm = groups_before.merge(groups_now, on=["indicator_id", "grouping", "group_name"], how="outer")
    group_same = (
        ((gm["value"] - gm["value_a"]).abs().fillna(0) < 1e-9)
        & (gm["value"].isna() == gm["value_a"].isna())
        & (gm["suppressed"].fillna(False) == gm["suppressed_a"].fillna(False))
    )
    return int((~same).sum() + (~group_same).sum())


def make_release(
    con: duckdb.DuckDBPyConnection,
    quarter: Quarter,
    now: datetime,
    requested: bool,
    catalogue: Catalogue,
    authorities: Authorities,
    revise: bool = True,
) -> tuple[Release | None, PublicQuarter | None, tuple[int, str] | None]:
    """Release the quarter if it is due or asked for, or revise it if it is released, now
    different and `revise` (a revision moment); store the public edition, its group figures and its
    audit under the new release number. Returns the new release (None when nothing was released),
    the public edition computed, and what waits for the next revision (figures changed, in words),
    if anything does."""
    create_schema(con)
    has_returns = bool(
        con.execute("SELECT count(*) FROM benchmarks WHERE quarter = ?", [quarter.key]).fetchone()[
            0
        ]
    )
    last = last_release(con, quarter)
    if not has_returns or (last is None and not decide(quarter, now, requested, True, None, 0, "")):
        return None, None, None
    edition = quarter_public_edition(con, quarter, catalogue, authorities)
    exposed = [f"{f.unit} {f.ref}" for f in edition.findings if not f.protected]
    if exposed:  # choose_suppression hides whole indicators before this: a fault, not the data
        raise RuntimeError(
            f"{quarter.label}: the disclosure audit could not protect {', '.join(exposed)}; "
            "nothing was released. Run it again; if it fails again, report it."
        )
    submissions = _current_submissions(con, quarter)
    changed, what = 0, ""
    if last is not None:
        changed = _changed_figures(con, quarter, edition, last.number)
        (before,) = con.execute(
            "SELECT submissions FROM releases WHERE quarter = ? AND release = ?",
            [quarter.key, last.number],
        ).fetchone()
        names = dict(zip(authorities.table["liia_code"], authorities.table["name"], strict=True))
        what = changes_text(set(before or []), submissions, names, changed)
    release = decide(quarter, now, requested, has_returns, last, changed, what, revise)
    if release is None:
        return None, edition, ((changed, what) if changed else None)
    store_release(con, release, edition, submissions)
    return release, edition, None


def store_release(con, release: Release, edition: PublicQuarter, submissions: set[str]) -> None:
    columns = [c for c, _, _ in TABLE_BY_NAME["public_benchmarks"].columns]
    rows = _stored(edition.benchmarks.assign(release=release.number), columns)
    hidden = edition.suppression
    kinds = pd.DataFrame(
        [(i, u, "primary", hidden.statuses.get((i, u))) for i, u in sorted(hidden.primary)]
        + [
            (i, u, "complementary", hidden.statuses.get((i, u)))
            for i, u in sorted(hidden.complementary)
        ],
        columns=["indicator_id", "reporting_unit", "kind", "status"],
        dtype=object,
    ).assign(quarter=release.quarter, release=release.number)
    groups = _stored_groups(edition).assign(quarter=release.quarter, release=release.number)
    audit = pd.DataFrame(
        [
            (release.quarter, release.number, f.unit, f.ref, f.protected, f.smallest, f.largest)
            for f in edition.findings
        ],
        columns=["quarter", "release", "reporting_unit", "ref", "protected", "smallest", "largest"],
    ).astype({"smallest": "float64", "largest": "float64"})
    con.execute("BEGIN TRANSACTION")
    try:
        for table, frame in (
            ("public_benchmarks", rows),
            ("public_group_figures", groups),
            ("suppressions", kinds),
            ("disclosure_audit", audit),
        ):
            names = [c for c, _, _ in TABLE_BY_NAME[table].columns]
            con.register("incoming", frame.reindex(columns=names))
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
        con.execute(
            """INSERT INTO releases
            (quarter, release, released_at, reason, changes, figures_changed, submissions)
            VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [
                release.quarter,
                release.number,
                release.released_at,
                release.reason,
                release.changes,
                release.figures_changed,
                sorted(submissions),
            ],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def release_summary(con: duckdb.DuckDBPyConnection, quarter: Quarter) -> str:
    releases = releases_of(con, quarter)
    if not releases:
        return f"{quarter.label}: not released"
    last = releases[-1]
    text = f"{quarter.label}: release {last.number} of {last.released_at:%d %B %Y}"
    return text + (f" (revised: {last.changes})" if last.revised else "")


CSV_COLUMNS = [
    "quarter",
    "quarter_label",
    "release",
    "theme",
    "indicator_id",
    "indicator",
    "unit",
    "polarity",
    "area_type",
    "area_name",
    "ons_code",
    "dfe_la_code",
    "value",
    "symbol",
    "rank",
    "ranked_of",
    "band",
    "flag",
    "units_reporting",
]


def public_csv_rows(
    figures, authorities: Authorities, catalogue: Catalogue, release: int
) -> list[dict]:
    """The quarter's public figures as one tidy table: a row per authority and indicator, and per
    group figure, each with names, codes, unit and quarter. Suppressed values are empty with the
    symbol c; values are as shown in the workbooks."""
    quarter = figures.quarter
    table = authorities.table.set_index("liia_code").to_dict("index")
    indicators = catalogue.indicators.set_index("id").to_dict("index")
    rows = []
    current = figures.benchmarks[figures.benchmarks["quarter"] == quarter.key]
    base = {"quarter": quarter.key, "quarter_label": quarter.label, "release": release}
    for r in current.sort_values(["indicator_id", "authority"]).itertuples():
        ind = indicators[r.indicator_id]
        # what the workbooks print: a neutral indicator has no rank, and its place in words
        ranked = ind["polarity"] != "neutral" and not pd.isna(r.rank)
        value = None if isinstance(r.value, str) or pd.isna(r.value) else r.value
        symbol = (
            SUPPRESSED if r.value == SUPPRESSED else (r.symbol if isinstance(r.symbol, str) else "")
        )
        rows.append(
            {
                **base,
                "theme": ind["theme"],
                "indicator_id": r.indicator_id,
                "indicator": ind["name"],
                "unit": ind["unit"],
                "polarity": ind["polarity"],
                "area_type": "authority",
                "area_name": table[r.authority]["name"],
                "ons_code": table[r.authority]["ons_code"],
                "dfe_la_code": table[r.authority]["dfe_la_code"],
                "value": value,
                "symbol": symbol,
                "rank": int(r.rank) if ranked else None,
                "ranked_of": int(r.n_reporting) if ranked else None,
                "band": printed_band(r.quartile_band) if isinstance(r.quartile_band, str) else "",
                "flag": r.top_bottom_20 if isinstance(r.top_bottom_20, str) else "",
                "units_reporting": None,
            }
        )
    area = {
        "london": "London",
        "inner_outer_ons": "Inner/Outer London (ONS)",
        "inner_outer_statutory": "Inner/Outer London (statutory)",  # restricted edition only
        "sub_region": "LIIA sub-region",
    }
    for g in figures.groups.sort_values(["indicator_id", "grouping", "group_name"]).itertuples():
        ind = indicators[g.indicator_id]
        hidden = isinstance(g.value, str)
        rows.append(
            {
                **base,
                "theme": ind["theme"],
                "indicator_id": g.indicator_id,
                "indicator": ind["name"],
                "unit": ind["unit"],
                "polarity": ind["polarity"],
                "area_type": area[g.grouping],
                "area_name": g.group_name,
                "ons_code": "E12000007" if g.grouping == "london" else "",
                "dfe_la_code": "",
                "value": None if hidden or pd.isna(g.value) else g.value,
                "symbol": SUPPRESSED if hidden else "",
                "rank": None,
                "ranked_of": None,
                "band": "",
                "flag": "",
                "units_reporting": int(g.units),
            }
        )
    return rows


def write_public_csv(path, rows: list[dict]):
    # with a byte-order mark, so that Excel reads £ and accents as written
    return write_csv(path, CSV_COLUMNS, rows, encoding="utf-8-sig")


def write_csv(path, columns: list[str], rows: list[dict], encoding: str = "utf-8"):
    """`rows` as a CSV file at `path`, written beside it and renamed into place."""
    import csv
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with open(partial, "w", newline="", encoding=encoding) as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, path)
    return path
