"""The benchmark and status workbooks, read back: sheets, every figure against the warehouse,
charts with titles and alternative text, and text from returns kept as text."""

import re
import zipfile
from datetime import datetime

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines.catalogue import THEMES, load_authorities, load_catalogue
from pipelines.feedback import FEEDBACK_COLUMNS, write_feedback
from pipelines.quarters import parse_quarter
from pipelines.workbooks import QuarterFigures, write_status_workbook

QUARTER = "2026-27-Q2"
HOSTILE = '=HYPERLINK("http://example.com/steal","Click for your figures")'


def _theme_path(run, theme):
    return run / "reports" / QUARTER / f"LIIA {theme} benchmarks {QUARTER}.xlsx"


@pytest.mark.parametrize("theme", list(THEMES))
def test_theme_workbook_sheets_and_every_figure_match_the_warehouse(latest_quarter_run, theme):
    catalogue, authorities = load_catalogue(), load_authorities()
    indicators = catalogue.indicators[catalogue.indicators["theme"] == theme]
    wb = load_workbook(_theme_path(latest_quarter_run, theme))
    assert wb.sheetnames[:2] == ["About", "Summary"]
    assert wb.sheetnames[-2:] == ["Trends", "Definitions"]
    assert len(wb.sheetnames) == 4 + len(indicators)
    assert all("RESTRICTED" in ws["A2"].value for ws in wb.worksheets)
    about = " ".join(str(c.value) for c in wb["About"]["A"] if c.value)
    assert "Returns accepted: 30 of 33" in about and "Hackney" in about and "Westminster" in about
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    names = authorities.table.set_index("liia_code")["name"]
    for n, ind in enumerate(indicators.itertuples(), start=1):
        ws = wb.worksheets[1 + n]
        assert ws.title.startswith(f"{n} ")
        table = ws.tables[f"Indicator{n}"]
        rows = list(ws[table.ref])
        header = [c.value for c in rows[0]]
        shown = pd.DataFrame([[c.value for c in r] for r in rows[1:]], columns=header, dtype=object)
        expected = con.execute(
            "SELECT * FROM benchmarks WHERE quarter = ? AND indicator_id = ?", [QUARTER, ind.id]
        ).df()
        expected["name"] = expected["authority"].map(names)
        assert len(shown) == 33 and set(shown["Authority"]) == set(expected["name"])
        by_name = expected.set_index("name")
        for row in shown.itertuples(index=False):
            b = by_name.loc[row[1]]
            if pd.isna(b["value"]):
                assert row[2] == b["symbol"] and row[0] is None
            else:
                assert row[2] == round(b["value"], int(ind.decimals)), (ind.id, row[1])
                assert row[0] == (None if pd.isna(b["rank"]) else b["rank"])
            assert (row[4] or None) == (None if pd.isna(b["quartile_band"]) else b["quartile_band"])
            flag = None if pd.isna(b["top_bottom_20"]) else b["top_bottom_20"]
            assert (row[5] or None) == flag
        ranks = [r for r in shown["Rank"] if not pd.isna(r)]
        assert ranks == sorted(ranks)


def test_every_chart_has_a_title_and_alternative_text(latest_quarter_run):
    path = _theme_path(latest_quarter_run, "workforce")
    with zipfile.ZipFile(path) as z:
        drawings = [n for n in z.namelist() if re.match(r"xl/drawings/drawing\d+\.xml$", n)]
        charts = [n for n in z.namelist() if re.match(r"xl/charts/chart\d+\.xml$", n)]
        alt_texts = [
            d for n in drawings for d in re.findall(r'descr="([^"]+)"', z.read(n).decode())
        ]
        titled = [n for n in charts if re.search(rb"<(c:)?title>.*?<a:t>[^<]+</a:t>", z.read(n))]
    indicators = (load_catalogue().indicators["theme"] == "workforce").sum()
    assert len(charts) == 2 * indicators  # a bar chart per indicator, a line chart per trend
    assert len(titled) == len(charts) and len(alt_texts) == len(charts)
    assert any("best Kensington and Chelsea" in a for a in alt_texts)


def test_status_workbook_lists_every_authority(latest_quarter_run):
    ws = load_workbook(
        latest_quarter_run / "reports" / QUARTER / f"LIIA return status {QUARTER}.xlsx"
    )["Submissions"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=6, values_only=True) if r[0]}
    assert len(rows) == 33
    assert rows["Hackney"][1] == "not returned" and rows["Lewisham"][1] == "rejected"
    assert rows["Brent"][1:3] == ("accepted with value errors", "Brent LIIA return 2026-27 Q2.xlsx")
    assert rows["Brent"][6] == 1 and rows["Sutton"][7] == 2
    assert rows["Ealing"][2].endswith("resubmitted.xlsx") and rows["Ealing"][8] == 2


def test_text_from_a_return_is_never_a_formula(tmp_path):
    quarter = parse_quarter(QUARTER)
    subs = pd.DataFrame(
        [
            {
                "submission_id": "s1",
                "authority": "BAR",
                "file_name": f"{HOSTILE}.xlsx",
                "received_at": datetime(2026, 10, 1),
                "completed_on": "+44 20 7946 0000",
                "template_version": 2,
                "status": "accepted",
                "is_current": True,
            }
        ]
    )
    issues = pd.DataFrame(columns=["submission_id", "severity"])
    figures = QuarterFigures(quarter, pd.DataFrame(), pd.DataFrame(), subs)
    status = write_status_workbook(tmp_path / "status.xlsx", figures, issues, load_authorities())
    rows = pd.DataFrame(
        [
            [
                "warning",
                f"{HOSTILE}.xlsx",
                "Finance",
                "D9",
                "FIN01",
                "Budget",
                HOSTILE,
                "@SUM(A1)",
                "-1",
            ]
        ],
        columns=FEEDBACK_COLUMNS,
    )
    feedback = write_feedback(tmp_path / "feedback.xlsx", "Barnet", quarter.label, subs, rows)
    cells = [
        c
        for path in (status, feedback)
        for ws in load_workbook(path).worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str) and c.value[:1] in "=+-@"
    ]
    assert {c.value for c in cells} >= {HOSTILE, f"{HOSTILE}.xlsx", "@SUM(A1)", "-1"}
    assert all(c.data_type == "s" for c in cells)
    for path in (status, feedback):
        with zipfile.ZipFile(path) as z:
            sheets = [z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert not any(b"<f>" in s for s in sheets)


def test_authority_pack_against_london_with_its_own_bar_highlighted(latest_quarter_run):
    authorities, catalogue = load_authorities(), load_catalogue()
    packs = latest_quarter_run / "reports" / QUARTER / "packs"
    assert len(list(packs.glob("*.xlsx"))) == 33
    path = packs / f"LIIA pack {QUARTER} Sutton.xlsx"
    wb = load_workbook(path)
    assert wb.sheetnames == ["Summary", *THEMES.values()]
    ws = wb["Summary"]
    rows = list(ws[ws.tables["Pack"].ref])[1:]
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    expected = con.execute(
        """SELECT i.name, b.* FROM benchmarks b JOIN indicators i USING (indicator_id)
           WHERE quarter = ? AND authority = 'SUT'""",
        [QUARTER],
    ).df()
    assert len(rows) == len(catalogue.indicators) == len(expected)
    by_name = expected.set_index("name")
    for row in rows:
        b = by_name.loc[row[1].value]
        decimals = int(catalogue.indicators.set_index("name").at[row[1].value, "decimals"])
        assert row[2].value == (b["symbol"] if pd.isna(b["value"]) else round(b["value"], decimals))
        assert row[4].value == (None if pd.isna(b["rank"]) else b["rank"])
        assert (row[7].value or None) == (
            None if pd.isna(b["top_bottom_20"]) else b["top_bottom_20"]
        )
    flagged = expected["top_bottom_20"].notna().sum()
    assert ws["A4"].value.endswith(f"explain: {flagged}")
    own = sorted(authorities.table["name"]).index("Sutton")
    with zipfile.ZipFile(path) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
        drawings = [
            z.read(n).decode() for n in z.namelist() if re.match(r"xl/drawings/drawing\d+\.xml$", n)
        ]
    assert len(charts) == len(catalogue.indicators)
    for chart in charts:
        point = re.search(r"<dPt><idx val=\"(\d+)\" />.*?<a:srgbClr val=\"(\w+)\"", chart)
        assert point and (int(point[1]), point[2]) == (own, "C00000")
    alt = [d for x in drawings for d in re.findall(r'descr="([^"]+)"', x)]
    assert len(alt) == len(charts) and all("Sutton highlighted" in a for a in alt)
