"""The download pages, one per audience, each in its own tree under reports/ and linking only
inside it: public/ (the open web: the publishable edition and its CSV, with what the release is),
members/ (the 33 authorities: restricted theme workbooks and packs), authorities/<name>/ (what one
authority alone receives: its feedback and its pack) and liia/ (LIIA's team: the status workbooks,
every quarter's release state, unidentified files). Static files with relative links and no script,
so they work opened from disk or served by any web server; headings, captions, labelled charts and
tables for screen readers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from urllib.parse import quote

import duckdb
import pandas as pd

from pipelines.collection.catalogue import THEME_TITLES, THEMES, Authorities, Catalogue
from pipelines.collection.quarters import Quarter, parse_quarter
from pipelines.release.public_edition import releases_of
from pipelines.release.timing import (
    REVISIONS_POLICY,
    ReleaseSettings,
    deadline,
    next_release_text,
    waiting_text,
)
from pipelines.validate.feedback import authority_folder, feedback_path
from pipelines.write.figures import format_value
from pipelines.write.layout import RESTRICTED, save_text
from pipelines.write.rug_table import RUG_STYLE, public_rug, published_areas
from pipelines.write.workbooks import (
    AUTHORITIES,
    LIIA_TEAM,
    MEMBERS,
    PUBLIC,
    ees_stem,
    own_pack_path,
    pack_path,
    public_csv_path,
    status_workbook_path,
    theme_workbook_path,
)

CHART_QUARTERS = 12


@dataclass(frozen=True)
class QuarterEntry:
    key: str
    label: str
    accepted: int
    expected: int
    missing: list[str]
    unmatched: int = 0  # files that named no authority we know


@dataclass(frozen=True)
class ThemeTrend:
    theme: str
    indicator: pd.Series  # the catalogue row of the theme's first rate
    points: list[tuple[str, float]]  # (quarter label, London value), oldest first


def quarter_entries(
    con: duckdb.DuckDBPyConnection, authorities: Authorities, released_only: bool = True
) -> list[QuarterEntry]:
    """Quarters with an accepted return (released ones only, unless asked), newest first, with
    who has one."""
    accepted = con.execute(
        """SELECT q.quarter, q.label, list(DISTINCT s.authority) FILTER (WHERE s.is_current),
               count(*) FILTER (WHERE s.authority IS NULL)
        FROM quarters AS q JOIN submissions AS s USING (quarter)
        WHERE NOT $released OR q.quarter IN (SELECT quarter FROM releases)
        GROUP BY ALL
        HAVING bool_or(s.is_current)  -- a quarter with no accepted return is not published
        ORDER BY q.quarter DESC""",
        {"released": released_only},
    ).fetchall()
    entries = []
    for key, label, codes, unmatched in accepted:
        codes = set(codes or [])
        missing = [authorities.name(c) for c in authorities.codes if c not in codes]
        entries.append(
            QuarterEntry(key, label, len(codes), len(authorities.codes), missing, unmatched)
        )
    return entries


def theme_trends(
    con: duckdb.DuckDBPyConnection, catalogue: Catalogue, public: bool
) -> list[ThemeTrend]:
    """London's figure for each theme's first rate over the latest released quarters: as
    published (public) or as computed (members). Never a total: London's total moves with who
    returned, so its line would mislead."""
    source = (
        """SELECT quarter, value FROM public_group_figures
        WHERE grouping = 'london' AND indicator_id = $id AND NOT suppressed
        QUALIFY release = max(release) OVER (PARTITION BY quarter)"""
        if public
        else """SELECT quarter, value FROM group_aggregates
        WHERE grouping = 'london' AND indicator_id = $id
          AND quarter IN (SELECT quarter FROM releases)"""
    )
    trends = []
    for theme in THEMES:
        inds = catalogue.indicators
        indicator = inds[(inds["theme"] == theme) & (inds["comparison"] != "total")].iloc[0]
        rows = con.execute(
            f"""SELECT q.label, g.value FROM ({source}) AS g JOIN quarters AS q USING (quarter)
            WHERE g.value IS NOT NULL ORDER BY q.quarter DESC LIMIT $n""",
            {"id": indicator["id"], "n": CHART_QUARTERS},
        ).fetchall()
        trends.append(ThemeTrend(theme, indicator, list(reversed(rows))))
    return trends


def _size(path: Path) -> str:
    kb = path.stat().st_size / 1024
    return f"{kb:,.0f} KB" if kb < 1024 else f"{kb / 1024:,.1f} MB"


def _link(root: Path, path: Path, text: str) -> str:
    """A link relative to the page's own tree, with the file's kind and size."""
    href = "/".join(quote(part) for part in path.relative_to(root).parts)
    kind = {".csv": "CSV", ".xlsx": "Excel"}.get(path.suffix, path.suffix.lstrip(".").upper())
    return f'<a href="{href}">{escape(text)}</a> <span class="meta">({kind}, {_size(path)})</span>'


def _links(root: Path, files: list[tuple[str, Path]]) -> str:
    items = [f"<li>{_link(root, p, text)}</li>" for text, p in files if p.exists()]
    return f"<ul>{''.join(items)}</ul>" if items else "<p>None written yet.</p>"


def _chart(trend: ThemeTrend) -> str:
    """A small line chart as inline SVG, named and described for screen readers, with its figures
    in a table beneath."""
    ind = trend.indicator
    title = f"London: {ind['name']}"
    ident = f"chart-{trend.theme}"
    if not trend.points:
        return f"<h3>{escape(THEME_TITLES[trend.theme])}</h3><p>No figures yet.</p>"
    values = [v for _, v in trend.points]
    first, last = trend.points[0], trend.points[-1]
    description = (
        f"Line chart of {ind['name']} for London over {len(values)} quarters, from "
        f"{format_value(first[1], ind)} in {first[0]} to {format_value(last[1], ind)} in "
        f"{last[0]}; lowest {format_value(min(values), ind)}, highest "
        f"{format_value(max(values), ind)}."
    )
    # The axis includes zero, so a small change looks small; its ends and zero are labelled.
    width, height, left, pad = 320, 140, 64, 16
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    step = (width - left - pad) / max(len(values) - 1, 1)

    def y(v: float) -> float:
        return height - 2 * pad - (v - low) / span * (height - 3 * pad) + pad / 2

    xy = [(left + i * step, y(v)) for i, v in enumerate(values)]
    points = " ".join(f"{x:.1f},{yv:.1f}" for x, yv in xy)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{yv:.1f}" r="2.5"/>' for x, yv in xy)
    ticks = "".join(
        f'<line x1="{left - 4}" y1="{y(v):.1f}" x2="{width - pad}" y2="{y(v):.1f}" class="grid"/>'
        f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" class="tick">'
        f"{escape(format_value(v, ind))}</text>"
        for v in sorted({low, 0.0, high})
    )
    quarters = (
        f'<text x="{left}" y="{height - 4}" class="tick">{escape(first[0])}</text>'
        f'<text x="{width - pad}" y="{height - 4}" text-anchor="end" class="tick">'
        f"{escape(last[0])}</text>"
    )
    rows = "".join(
        f'<tr><th scope="row">{escape(q)}</th><td>{escape(format_value(v, ind))}</td></tr>'
        for q, v in trend.points
    )
    return f"""<figure class="chart">
<h3>{escape(THEME_TITLES[trend.theme])}</h3>
<svg role="img" aria-labelledby="{ident}-title {ident}-desc" viewBox="0 0 {width} {height}"
 width="{width}" height="{height}">
<title id="{ident}-title">{escape(title)}</title>
<desc id="{ident}-desc">{escape(description)}</desc>
<line x1="{left}" y1="{pad / 2}" x2="{left}" y2="{height - 2 * pad + pad / 2}" class="axis"/>
{ticks}{quarters}
<polyline points="{points}" class="line"/>{dots}
</svg>
<figcaption>{escape(title)}: {escape(format_value(last[1], ind))} in {escape(last[0])}
(lowest {escape(format_value(min(values), ind))}, highest
{escape(format_value(max(values), ind))}; the scale starts at zero).</figcaption>
<details><summary>Figures for {escape(THEME_TITLES[trend.theme])}</summary>
<table><caption>{escape(title)}, by quarter</caption>
<thead><tr><th scope="col">Quarter</th><th scope="col">London</th></tr></thead>
<tbody>{rows}</tbody></table></details>
</figure>"""


def _completeness(entry: QuarterEntry) -> str:
    missing = ", ".join(entry.missing) if entry.missing else "none"
    unmatched = (
        f" {entry.unmatched} file{'s' if entry.unmatched > 1 else ''} could not be matched to "
        "an authority."
        if entry.unmatched
        else ""
    )
    return (
        f"{entry.accepted} of {entry.expected} authorities returned and accepted. "
        f"Missing or rejected: {escape(missing)}.{unmatched}"
    )


STYLE = (
    """
body{font-family:Arial,Helvetica,sans-serif;line-height:1.5;color:#0b0c0c;margin:0 auto;
max-width:72rem;padding:0 1rem 2rem}
a{color:#1d70b8}a:visited{color:#4c2c92}
a:focus,summary:focus{outline:3px solid #fd0;background:#fd0;color:#0b0c0c}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem}
.meta{color:#505a5f;font-size:.9em}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
.chart{margin:0;flex:1 1 18rem}
.chart svg{max-width:100%;height:auto;border:1px solid #b1b4b6}
.axis{stroke:#505a5f;stroke-width:1}.line{fill:none;stroke:#1d70b8;stroke-width:2.5}
.grid{stroke:#b1b4b6;stroke-width:.5}.tick{font-size:10px;fill:#0b0c0c}
circle{fill:#1d70b8}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border-bottom:1px solid #b1b4b6;padding:.25rem .75rem .25rem 0;text-align:left}
caption{text-align:left;font-weight:bold}
.packs{columns:3 16rem}
.about dt{font-weight:bold;margin-top:.5rem}.about dd{margin:0 0 0 0;max-width:48rem}
.release{font-weight:bold}
"""
    + RUG_STYLE
)


def _document(title: str, header: str, main: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header>
<h1>{escape(title)}</h1>
{header}
</header>
<main id="main">
{main}
</main>
</body>
</html>
"""


def _glance(trends: list[ThemeTrend]) -> str:
    return f"""<section aria-labelledby="glance">
<h2 id="glance">London at a glance</h2>
<div class="charts">
{"".join(_chart(t) for t in trends)}
</div>
</section>"""


def _release_lines(con, entry: QuarterEntry, root: Path) -> str:
    """When the quarter was released, each revision and what changed, and the earlier releases'
    files kept beside it."""
    quarter = parse_quarter(entry.key)
    releases = releases_of(con, quarter)
    if not releases:
        return ""
    first, last = releases[0], releases[-1]
    lines = [f"Released {first.released_at:%d %B %Y}."]
    for r in releases[1:]:
        lines.append(f"Revised {r.released_at:%d %B %Y} (release {r.number}): {escape(r.changes)}.")
    kept = [root / entry.key / f"release {r.number}" for r in releases[:-1]]
    links = [
        f'<a href="{quote(entry.key)}/{quote(k.name)}/">{escape(k.name)}</a>'
        for k in kept
        if k.exists()
    ]
    if links:
        lines.append("Earlier releases, kept as published: " + ", ".join(links) + ".")
    status = "revised" if last.revised else "released"
    return f'<p class="release" data-status="{status}">{" ".join(lines)}</p>'


def _contents(entries, tables: str = "") -> str:
    """Links to the page's parts and to each quarter: years of quarters make a long page."""
    if not entries:
        return ""
    quarters = " ".join(f'<a href="#q-{e.key}">{escape(e.label)}</a>' for e in entries)
    parts = ['<a href="#glance">London at a glance</a>']
    if 'id="rug"' in tables:
        parts.append('<a href="#rug">Every authority at a glance</a>')
    if 'id="england"' in tables:
        parts.append('<a href="#england">London in England\'s picture</a>')
    return (
        f'<nav aria-label="Contents"><p>{" · ".join(parts)} · '
        f'<a href="#downloads">Downloads by quarter</a>: {quarters}</p></nav>'
    )


def _contact_html(settings: ReleaseSettings) -> str:
    """Who to ask, the email and web address as links (each escaped: they are settings)."""
    parts = [escape(settings.contact)]
    if settings.contact_email:
        address = escape(settings.contact_email)
        parts.append(f'email <a href="mailto:{address}">{address}</a>')
    if settings.contact_web.startswith(("https://", "http://")):
        web = escape(settings.contact_web)
        parts.append(f'web <a href="{web}">{web}</a>')
    return "; ".join(parts)


def public_page(
    con, reports: Path, entries, trends, settings: ReleaseSettings, produced, rug: str = ""
) -> str:
    root = reports / PUBLIC
    latest = entries[0] if entries else None
    sections = []
    for e in entries:
        quarter = parse_quarter(e.key)
        files = [
            (
                f"{THEME_TITLES[t]} (publishable edition)",
                theme_workbook_path(reports, quarter, t, True),
            )
            for t in THEMES
        ] + [
            ("Every published figure, one row each", public_csv_path(reports, quarter)),
            (
                "The same figures in DfE's open data format",
                public_csv_path(reports, quarter).with_name(f"{ees_stem(quarter)}.csv"),
            ),
            (
                "its metadata file",
                public_csv_path(reports, quarter).with_name(f"{ees_stem(quarter)}.meta.csv"),
            ),
        ]
        sections.append(
            f'<section aria-labelledby="q-{e.key}"><h3 id="q-{e.key}">{escape(e.label)}</h3>'
            f"{_release_lines(con, e, root)}<p>{_completeness(e)}</p>{_links(root, files)}</section>"
        )
    next_release = (
        next_release_text(parse_quarter(latest.key))
        if latest
        else "after the first quarter's return deadline"
    )
    header = f"""<p>Children's services benchmarks for the 33 London authorities, as released to
the public. Latest quarter: {escape(latest.label) if latest else "none released yet"}.</p>
<dl class="about">
<dt>What these figures are</dt><dd>{escape(settings.status_sentence())} Counts from 1 to 5, and
any figure from which one could be worked back, are shown as [c]; every figure is rounded as
shown.</dd>
<dt>Source</dt><dd>{escape(settings.source)}</dd>
<dt>Contact</dt><dd>{_contact_html(settings)}</dd>
<dt>Released</dt><dd>{escape(_released_text(con, latest))}</dd>
<dt>Next release</dt><dd>{escape(next_release)}</dd>
<dt>Revisions</dt><dd>{escape(REVISIONS_POLICY)}</dd>
</dl>
<p class="meta">Page produced {produced:%d %B %Y %H:%M}.</p>{_contents(entries, rug)}"""
    return _document(
        "LIIA quarterly benchmarks: public edition",
        header,
        _downloads(trends, entries, sections, rug),
    )


def _downloads(trends, entries, sections: list[str], rug: str = "") -> str:
    return (
        (_glance(trends) if entries else "")
        + rug
        + '<section aria-labelledby="downloads"><h2 id="downloads">Downloads by quarter</h2>'
        + ("".join(sections) or "<p>No quarter has been released yet.</p>")
        + "</section>"
    )


def _released_text(con, entry: QuarterEntry | None) -> str:
    if entry is None:
        return "nothing released yet"
    releases = releases_of(con, parse_quarter(entry.key))
    last = releases[-1]
    text = f"{entry.label}: {releases[0].released_at:%d %B %Y}"
    return text + (f", revised {last.released_at:%d %B %Y}" if last.revised else "")


def members_page(con, reports: Path, entries, trends, authorities, produced) -> str:
    root = reports / MEMBERS
    sections = []
    for e in entries:
        quarter = parse_quarter(e.key)
        themes = [(THEME_TITLES[t], theme_workbook_path(reports, quarter, t)) for t in THEMES]
        packs = [
            (n, pack_path(reports, quarter, n))
            for n in sorted(authorities.name(c) for c in authorities.codes)
        ]
        sections.append(
            f'<section aria-labelledby="q-{e.key}"><h3 id="q-{e.key}">{escape(e.label)}</h3>'
            f"{_release_lines(con, e, reports / PUBLIC).split('Earlier releases')[0]}"
            f"<p>{_completeness(e)}</p><h4>Theme workbooks</h4>{_links(root, themes)}"
            f'<details><summary>Authority packs</summary><div class="packs">'
            f"{_links(root, packs)}</div></details></section>"
        )
    header = f"""<p>{RESTRICTED}
Every figure as returned, with authorities' own notes; the public edition is published
separately.</p><p class="meta">Page produced {produced:%d %B %Y %H:%M}.</p>
{_contents(entries)}"""
    return _document(
        "LIIA quarterly benchmarks: members", header, _downloads(trends, entries, sections)
    )


def liia_page(con, reports: Path, entries, produced, pending=()) -> str:
    root = reports / LIIA_TEAM
    rows, sections = [], []
    waits = {w.quarter.key: w for w in pending}
    for e in entries:
        quarter = parse_quarter(e.key)
        releases = releases_of(con, quarter)
        state = (
            f"release {releases[-1].number} of {releases[-1].released_at:%d %B %Y}"
            if releases
            else f"not released (deadline {deadline(quarter):%d %B %Y})"
        )
        if (w := waits.get(e.key)) is not None:
            state += "; waiting for the next revision: " + waiting_text(
                (w.figures_changed, w.what), w.due
            )
        rows.append(
            f'<tr><th scope="row"><a href="#q-{e.key}">{escape(e.label)}</a></th>'
            f"<td>{escape(state)}</td><td>{e.accepted} of {e.expected}</td>"
            f"<td>{escape(', '.join(e.missing) or 'none')}</td><td>{e.unmatched}</td></tr>"
        )
        files = [("Who has returned, errors and warnings", status_workbook_path(reports, quarter))]
        files.append(
            (
                "Feedback on files that named no authority",
                feedback_path(reports, quarter, "Unidentified"),
            )
        )
        sections.append(
            f'<section aria-labelledby="q-{e.key}"><h3 id="q-{e.key}">{escape(e.label)}</h3>'
            f"<p>{_completeness(e)}</p>{_links(root, files)}</section>"
        )
    header = f"""<p>RESTRICTED: LIIA's data team. Every quarter with a return, released or not.</p>
<p class="meta">Page produced {produced:%d %B %Y %H:%M}.</p>"""
    main = f"""<section aria-labelledby="returns">
<h2 id="returns">Returns and releases by quarter</h2>
<table>
<caption>Release state and authorities with an accepted return, by quarter</caption>
<thead><tr><th scope="col">Quarter</th><th scope="col">Release</th><th scope="col">Accepted</th>
<th scope="col">Missing or rejected</th>
<th scope="col">Files not matched to an authority</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
</table>
</section>
<section aria-labelledby="downloads"><h2 id="downloads">Status by quarter</h2>
{"".join(sections)}</section>"""
    return _document("LIIA quarterly benchmarks: data team", header, main)


def authority_page(reports: Path, name: str, quarters: list[Quarter], produced) -> str:
    root = authority_folder(reports, name)
    sections = []
    for quarter in quarters:
        files = [
            (f"Feedback on your return for {quarter.label}", feedback_path(reports, quarter, name)),
            (f"Your benchmark pack for {quarter.label}", own_pack_path(reports, quarter, name)),
        ]
        if not any(p.exists() for _, p in files):
            continue
        sections.append(
            f'<section aria-labelledby="q-{quarter.key}"><h3 id="q-{quarter.key}">'
            f"{escape(quarter.label)}</h3>{_links(root, files)}</section>"
        )
    header = f"""<p>RESTRICTED: for {escape(name)} only. Feedback on the returns you sent, and your
pack once a quarter is released.</p><p class="meta">Page produced {produced:%d %B %Y %H:%M}.</p>"""
    main = (
        '<section aria-labelledby="downloads"><h2 id="downloads">By quarter</h2>'
        + ("".join(sections) or "<p>Nothing yet.</p>")
        + "</section>"
    )
    return _document(f"LIIA quarterly benchmarks: {name}", header, main)


def write_download_pages(
    reports: Path,
    con: duckdb.DuckDBPyConnection,
    authorities: Authorities,
    catalogue: Catalogue,
    pending=(),
) -> dict[str, Path]:
    """Every audience's page from the warehouse and the files on disk: public, members, liia and
    each authority's; `pending`, the changes waiting for a revision (pipelines.receive.ledger)."""
    produced = datetime.now()
    released = quarter_entries(con, authorities)
    every = quarter_entries(con, authorities, released_only=False)
    (reports / "index.html").unlink(missing_ok=True)  # one page for all is what this replaced
    pages = {
        PUBLIC: save_text(
            public_page(
                con,
                reports,
                released,
                theme_trends(con, catalogue, True),
                ReleaseSettings.from_environment(),
                produced,
                (
                    public_rug(con, parse_quarter(released[0].key), authorities, catalogue)
                    if released
                    else ""
                )
                + published_areas(con, catalogue),
            ),
            reports / PUBLIC / "index.html",
        ),
        MEMBERS: save_text(
            members_page(
                con, reports, released, theme_trends(con, catalogue, False), authorities, produced
            ),
            reports / MEMBERS / "index.html",
        ),
        LIIA_TEAM: save_text(
            liia_page(con, reports, every, produced, pending), reports / LIIA_TEAM / "index.html"
        ),
    }
    quarters = [parse_quarter(e.key) for e in every]
    all_quarters = sorted(
        {
            parse_quarter(k)
            for (k,) in con.execute("SELECT DISTINCT quarter FROM submissions").fetchall()
        },
        key=lambda q: q.key,
        reverse=True,
    )
    for code in authorities.codes:
        name = authorities.name(code)
        pages[f"{AUTHORITIES}/{name}"] = save_text(
            authority_page(reports, name, all_quarters or quarters, produced),
            authority_folder(reports, name) / "index.html",
        )
    return pages
