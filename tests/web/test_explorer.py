"""The explorer (pipelines/web/explorer.py): the public sees the stored public edition and
nothing else, a member the restricted figures with its own authority highlighted; each view is a
stable link and downloads as CSV and XLSX. Over the sample quarters' published copy."""

import csv
import io
import re
import shutil

import duckdb
import pytest
from openpyxl import load_workbook

from pipelines.web.models import AuditEvent

QUARTER = "2026-27-Q2"


@pytest.fixture
def copy(latest_quarter_run, places):
    target = places["warehouse"]
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(latest_quarter_run / "published" / "liia.duckdb", target)
    return target


def _csv(answer) -> list[dict]:
    assert answer.status_code == 200, answer.content[:300]
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads £ as written
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _suppressed_indicator(con) -> str:
    """An indicator with a suppressed figure in the quarter's latest release."""
    return con.execute(
        "SELECT indicator_id FROM public_benchmarks WHERE quarter = ? AND "
        "list_contains(string_split(suppressed_columns, ','), 'value') "
        "QUALIFY release = max(release) OVER () ORDER BY 1 LIMIT 1",
        [QUARTER],
    ).fetchone()[0]


def test_the_public_sees_the_stored_public_edition_only(clients, copy):
    with duckdb.connect(str(copy), read_only=True) as con:
        indicator = _suppressed_indicator(con)
        public = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT authority, value, suppressed_columns FROM public_benchmarks "
                "WHERE quarter = ? AND indicator_id = ? QUALIFY release = max(release) OVER ()",
                [QUARTER, indicator],
            ).fetchall()
        }
        restricted = dict(
            con.execute(
                "SELECT authority, value FROM benchmarks WHERE quarter = ? AND indicator_id = ?",
                [QUARTER, indicator],
            ).fetchall()
        )
        decimals = con.execute(
            "SELECT decimals FROM indicators WHERE indicator_id = ?", [indicator]
        ).fetchone()[0]
    query = f"/explore/?indicator={indicator}&quarter={QUARTER}&group=london"
    rows = _csv(clients["anonymous"].get(query + "&format=csv"))
    assert len(rows) == 33 and {r["edition"] for r in rows} == {"public"}
    hidden = []
    for row in rows:
        value, suppressed = public[row["authority"]]
        if suppressed and "value" in suppressed.split(","):
            assert row["value"] == "" and row["symbol"] == "c"
            hidden.append(restricted[row["authority"]])
        elif value is not None:
            assert float(row["value"]) == pytest.approx(value)
    assert hidden  # the quarter suppresses figures of this indicator
    page = clients["anonymous"].get(query).content.decode()
    assert 'role="img"' in page and "<title" in page
    shown = dict(
        re.findall(
            r'<th scope="row" class="govuk-table__header">(?:<strong>)?([^<]+)(?:</strong>)?'
            r'</th><td class="govuk-table__cell govuk-table__cell--numeric">([^<]*)</td>',
            page,
        )
    )
    names = {r["authority"]: r["name"] for r in rows}
    chart = page[page.index("<svg") : page.index("</svg>")]
    for code, (_, suppressed) in public.items():
        if suppressed and "value" in suppressed.split(","):
            # the table says [c], and the chart draws no bar for it
            assert shown[names[code].replace("'", "&#x27;")] == "[c]", code
            assert f">{names[code]}</text>".replace("'", "&#x27;") not in chart
    assert decimals is not None
    # a comparator group's own figure is not published; only its members' published figures
    neighbours = clients["anonymous"].get(
        f"/explore/?indicator={indicator}&quarter={QUARTER}&group=london_neighbours&authority=BAR"
    )
    assert "not published for this group" in neighbours.content.decode()
    # the members' chosen comparators are not offered to the public
    assert 'value="chosen"' not in page


def test_a_member_sees_the_restricted_figures_its_own_highlighted_and_downloads_are_audited(
    clients, copy
):
    with duckdb.connect(str(copy), read_only=True) as con:
        restricted = dict(
            con.execute(
                "SELECT authority, value FROM benchmarks WHERE quarter = ? "
                "AND indicator_id = 'WF-I01'",
                [QUARTER],
            ).fetchall()
        )
        neighbours = {
            r[0]
            for r in con.execute(
                "SELECT authority FROM group_members WHERE set_id = 'london_neighbours' "
                "AND group_name = 'BAR'"
            ).fetchall()
        }
    member = clients["barnet"]
    page = member.get(f"/members/explore/?indicator=WF-I01&quarter={QUARTER}")
    text = page.content.decode()
    assert page.status_code == 200 and "Restricted" in text
    assert "<strong>Barnet</strong>" in text and re.search(r"rank \d+ of \d+", text)
    before = AuditEvent.objects.filter(action="download").count()
    query = f"indicator=WF-I01&quarter={QUARTER}&group=london_neighbours"
    rows = _csv(member.get(f"/members/explore/?{query}&format=csv"))
    assert {r["authority"] for r in rows} == neighbours | {"BAR"}
    for row in rows:
        value = restricted[row["authority"]]
        if value is None:
            assert row["value"] == "" and row["symbol"] in ("x", "z", "u")
        else:
            assert float(row["value"]) == pytest.approx(value)
    assert sum(r["value"] != "" for r in rows) >= 5
    workbook = member.get(f"/members/explore/?{query}&format=xlsx")
    sheet = load_workbook(io.BytesIO(workbook.content))["Figures"]
    assert sheet["A1"].value.startswith("RESTRICTED")
    assert AuditEvent.objects.filter(action="download").count() == before + 2
    assert workbook["Cache-Control"] == "private, no-store"
    # the public page of the same view shows the public edition, and anonymous readers never
    # reach the members' one
    assert clients["anonymous"].get(f"/members/explore/?{query}").status_code == 302


def test_a_link_to_a_view_is_stable_and_an_edited_one_still_opens(clients, copy):
    link = f"/explore/?indicator=SEN-I04&quarter={QUARTER}&group=sub_region&authority=CRO"
    first, again = clients["anonymous"].get(link), clients["anonymous"].get(link)
    assert first.content == again.content
    text = first.content.decode()
    assert "Croydon" in text and "Sub-region" in text
    assert f"indicator=SEN-I04&amp;quarter={QUARTER}&amp;group=sub_region&amp;authority=CRO" in text
    edited = clients["anonymous"].get("/explore/?indicator=<script>&quarter=1999&group=x")
    assert edited.status_code == 200 and "<script>" not in edited.content.decode()


def test_with_nothing_released_the_explorer_says_so(clients, places):
    answer = clients["anonymous"].get("/explore/")
    assert (
        answer.status_code == 200 and "No quarter has been released yet" in answer.content.decode()
    )


def test_the_explorer_says_where_an_authority_stands_in_england_each_year(clients, copy):
    """DfE's 2025 looked-after rate per 10,000: Barnet 37 against England's 67, the 11th lowest of
    151 English authorities (tests/benchmark/test_published.py recounts it from DfE's file)."""
    page = clients["anonymous"].get(f"/explore/?indicator=ADO-I08&quarter={QUARTER}&authority=BAR")
    text = page.content.decode()
    row = re.search(r">2025</th>(.*?)</tr>", text, re.S)[1]
    cells = re.findall(r">([^<]*)</td>", row)
    assert cells[:3] == ["37.0", "11 of 151", "Q1"] and cells[4:] == ["67.0", "48.0"]
    assert re.fullmatch(r"\d+\.\d", cells[3])  # its DfE neighbours' mean that year


def test_a_new_copy_put_in_place_is_read_at_the_next_page(clients, copy):
    """The explorer keeps its connection while the copy is the same file; the pipeline's rename
    of a new copy over it is seen at the next page."""
    query = f"/members/explore/?indicator=WF-I01&quarter={QUARTER}&format=csv"
    before = {r["authority"]: r["value"] for r in _csv(clients["barnet"].get(query))}
    newer = copy.with_name("newer.duckdb")
    shutil.copy(copy, newer)
    newer.chmod(0o644)
    with duckdb.connect(str(newer)) as con:
        con.execute(
            "UPDATE benchmarks SET value = 99.5 WHERE quarter = ? AND indicator_id = 'WF-I01' "
            "AND authority = 'BAR'",
            [QUARTER],
        )
    newer.replace(copy)
    after = {r["authority"]: r["value"] for r in _csv(clients["barnet"].get(query))}
    assert before["BAR"] != "99.5" and after["BAR"] == "99.5"
    assert {k: v for k, v in after.items() if k != "BAR"} == {
        k: v for k, v in before.items() if k != "BAR"
    }


def test_the_trend_charts_quarter_labels_never_overlap():
    """From one quarter to fifteen years of them across the chart's 392 px: quarters named at
    least 24 px apart (or only years' first quarters), years at least 52 px apart, each year
    under its first quarter shown, and the first quarter always named."""
    from itertools import pairwise

    from pipelines.web.svg import quarter_ticks

    every = [f"{y}-{(y + 1) % 100:02d} Q{q}" for y in range(2024, 2040) for q in (1, 2, 3, 4)]
    for start in (0, 2, 3):
        for n in range(1, 61):
            labels = every[start : start + n]
            step = 392 / max(n - 1, 1)
            ticks = quarter_ticks(labels, 64, step)
            xs = [x for x, _, _ in ticks]
            years = [x for x, _, year in ticks if year]
            assert ticks[0][0] == 64 and ticks[0][2] == labels[0].split()[0]
            assert all(b - a >= 24 for a, b in pairwise(xs)), (start, n)
            assert all(b - a >= 52 for a, b in pairwise(years)), (start, n)
            for x, quarter, year in ticks:
                label = labels[round((x - 64) / step)]
                assert label.endswith(quarter) and (not year or label.startswith(year))


def test_the_explorers_held_connection_leaves_the_official_answers_readable(clients, copy):
    """The explorer holds its connection to the copy for the process; another part of the front
    door opening the same file after it (an officer's official answers) still reads it. (DuckDB
    refuses a second connection with a different configuration; the answers then looked as if
    no quarter had been run.)"""
    from pipelines.web.answers import authority_submissions

    assert clients["anonymous"].get("/explore/?indicator=SEN-I08&group=london").status_code == 200
    assert {r["authority"] for r in authority_submissions("BAR")} == {"BAR"}


def test_the_explorer_writes_a_figure_as_the_workbooks_do_and_a_missing_one_as_nothing():
    from types import SimpleNamespace

    from pipelines.web.svg import shown
    from pipelines.write.figures import format_value

    for unit in ("percent", "gbp", "gbp_m", "rate_10k", "count", "fte"):
        for decimals in (0, 1, 2):
            ind = SimpleNamespace(unit=unit, decimals=decimals)
            for value in (0.0, 14.25, 1234.5, 98765.4321):
                assert shown(value, unit, decimals) == format_value(value, ind)
    assert shown(None, "percent", 1) == shown(float("nan"), "gbp", 0) == ""
