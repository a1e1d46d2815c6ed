"""The download page, reports/index.html: every quarter's workbooks, completeness per quarter and a
small chart per theme. One static file with relative links and no script, so it works opened from
disk or served by any web server; headings, captions, labelled charts and tables for screen
readers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from urllib.parse import quote

import duckdb
import pandas as pd

from pipelines.catalogue import THEME_TITLES, THEMES, Authorities, Catalogue
from pipelines.layout import save_text
from pipelines.quarters import parse_quarter
from pipelines.workbooks import (
    format_value,
    pack_path,
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
    indicator: pd.Series  # the catalogue row of the theme's first indicator
    points: list[tuple[str, float]]  # (quarter label, London value), oldest first


def quarter_entries(con: duckdb.DuckDBPyConnection, authorities: Authorities) -> list[QuarterEntry]:
    """Every quarter with an accepted return, newest first, with who has one."""
    accepted = con.execute(
        """SELECT q.quarter, q.label, list(DISTINCT s.authority) FILTER (WHERE s.is_current),
               count(*) FILTER (WHERE s.authority IS NULL)
        FROM quarters AS q JOIN submissions AS s USING (quarter)
        GROUP BY ALL
        HAVING bool_or(s.is_current)  -- a quarter with no accepted return is not published
        ORDER BY q.quarter DESC"""
    ).fetchall()
    entries = []
    for key, label, codes, unmatched in accepted:
        codes = set(codes or [])
        missing = [authorities.name(c) for c in authorities.codes if c not in codes]
        entries.append(
            QuarterEntry(key, label, len(codes), len(authorities.codes), missing, unmatched)
        )
    return entries


def theme_trends(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> list[ThemeTrend]:
    """London's figure for each theme's first indicator over the latest quarters."""
    trends = []
    for theme in THEMES:
        indicator = catalogue.indicators[catalogue.indicators["theme"] == theme].iloc[0]
        rows = con.execute(
            """SELECT q.label, g.value
            FROM group_aggregates AS g JOIN quarters AS q USING (quarter)
            WHERE g.grouping = 'london' AND g.indicator_id = ? AND g.value IS NOT NULL
            ORDER BY q.quarter DESC LIMIT ?""",
            [indicator["id"], CHART_QUARTERS],
        ).fetchall()
        trends.append(ThemeTrend(theme, indicator, list(reversed(rows))))
    return trends


def _size(path: Path) -> str:
    kb = path.stat().st_size / 1024
    return f"{kb:,.0f} KB" if kb < 1024 else f"{kb / 1024:,.1f} MB"


def _link(reports: Path, path: Path, text: str) -> str:
    href = "/".join(quote(part) for part in path.relative_to(reports).parts)
    return f'<a href="{href}">{escape(text)}</a> <span class="meta">(Excel, {_size(path)})</span>'


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


def _downloads(reports: Path, entry: QuarterEntry, authorities: Authorities) -> str:
    quarter = parse_quarter(entry.key)
    theme_links, public_links = [], []
    for theme in THEMES:
        for publishable, links in ((False, theme_links), (True, public_links)):
            path = theme_workbook_path(reports, quarter, theme, publishable)
            if path.exists():
                links.append(f"<li>{_link(reports, path, THEME_TITLES[theme])}</li>")
    status = status_workbook_path(reports, quarter)
    packs = [
        (name, pack_path(reports, quarter, name))
        for name in sorted(authorities.name(c) for c in authorities.codes)
    ]
    pack_links = [f"<li>{_link(reports, p, n)}</li>" for n, p in packs if p.exists()]
    parts = [f'<section aria-labelledby="q-{entry.key}"><h3 id="q-{entry.key}">{entry.label}</h3>']
    parts.append(f"<p>{_completeness(entry)}</p>")
    if theme_links:
        parts.append(
            "<h4>Theme workbooks (RESTRICTED: the 33 authorities only)</h4>"
            f"<ul>{''.join(theme_links)}</ul>"
        )
    if public_links:
        parts.append(
            "<h4>Publishable edition (small counts suppressed)</h4>"
            f"<ul>{''.join(public_links)}</ul>"
        )
    if status.exists():
        parts.append(
            "<h4>Return status (RESTRICTED)</h4>"
            f"<ul><li>{_link(reports, status, 'Who has returned, errors and warnings')}</li></ul>"
        )
    if pack_links:
        parts.append(
            f"<details><summary>Authority packs, {len(pack_links)} (RESTRICTED)</summary>"
            f'<ul class="packs">{"".join(pack_links)}</ul></details>'
        )
    if len(parts) == 2:
        parts.append("<p>No workbooks written for this quarter yet.</p>")
    parts.append("</section>")
    return "\n".join(parts)


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


STYLE = """
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
"""


def page_html(
    reports: Path,
    entries: list[QuarterEntry],
    trends: list[ThemeTrend],
    authorities: Authorities,
    produced: datetime,
) -> str:
    latest = entries[0].label if entries else "none yet"
    completeness = "".join(
        f'<tr><th scope="row"><a href="#q-{e.key}">{e.label}</a></th>'
        f"<td>{e.accepted} of {e.expected}</td>"
        f"<td>{escape(', '.join(e.missing) or 'none')}</td><td>{e.unmatched}</td></tr>"
        for e in entries
    )
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LIIA quarterly benchmarks: downloads</title>
<style>{STYLE}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the downloads</a>
<header>
<h1>LIIA quarterly benchmarks</h1>
<p>Children's services benchmarks for the 33 London authorities. Latest quarter: {latest}.
Page produced {produced:%d %B %Y %H:%M}.</p>
<p>Workbooks marked RESTRICTED are for the 33 authorities only. The publishable edition replaces
counts from 1 to 5, and any figure that would reveal one, with c.</p>
</header>
<main id="main">
<section aria-labelledby="glance">
<h2 id="glance">London at a glance</h2>
<div class="charts">
{"".join(_chart(t) for t in trends)}
</div>
</section>
<section aria-labelledby="returns">
<h2 id="returns">Returns by quarter</h2>
<table>
<caption>Authorities with an accepted return, by quarter</caption>
<thead><tr><th scope="col">Quarter</th><th scope="col">Accepted</th>
<th scope="col">Missing or rejected</th>
<th scope="col">Files not matched to an authority</th></tr></thead>
<tbody>{completeness}</tbody>
</table>
</section>
<section aria-labelledby="downloads">
<h2 id="downloads">Downloads by quarter</h2>
{"".join(_downloads(reports, e, authorities) for e in entries)}
</section>
</main>
</body>
</html>
"""


def write_download_page(
    reports: Path,
    con: duckdb.DuckDBPyConnection,
    authorities: Authorities,
    catalogue: Catalogue,
) -> Path:
    """reports/index.html from the warehouse and the workbooks on disk."""
    html = page_html(
        reports,
        quarter_entries(con, authorities),
        theme_trends(con, catalogue),
        authorities,
        datetime.now(),
    )
    return save_text(html, reports / "index.html")
