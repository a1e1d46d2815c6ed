"""The workbooks, read back as a reader would meet them: every figure against the warehouse,
comparison by kind (rates ranked and banded; neutral indicators placed by value in greys; totals
neither), percentages as fractions, headers that are never cut off, charts with visible axes, text
categories with cached values and alternative text, the authorities' notes beside their values
and nowhere in the publishable edition, one-page templates, and text from returns kept as text."""

import re
import zipfile
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from pipelines.benchmark.published import load_mappings
from pipelines.collection.catalogue import THEMES, load_authorities, load_catalogue
from pipelines.collection.quarters import parse_quarter
from pipelines.validate.feedback import FEEDBACK_COLUMNS
from pipelines.write.comparator_sheets import POINTS_A_CHARACTER, RUG_COLUMN
from pipelines.write.feedback_workbook import write_feedback
from pipelines.write.figures import QuarterFigures, quarter_figures
from pipelines.write.layout import BAND_FILLS, POSITION_FILLS
from pipelines.write.status_workbook import write_status_workbook
from pipelines.write.theme_workbook import write_theme_workbook

QUARTER = "2026-27-Q2"
HOSTILE = '=HYPERLINK("http://example.com/steal","Click for your figures")'
MERTON_NOTE = "Recording system migration"


def _reports(run) -> Path:
    """The members' tree of the quarter: restricted theme workbooks and packs."""
    return run / "reports" / "members" / QUARTER


def _theme_path(run, theme, publishable=False):
    if publishable:
        return (
            run
            / "reports"
            / "public"
            / QUARTER
            / f"LIIA {theme} benchmarks {QUARTER} publishable.xlsx"
        )
    return _reports(run) / f"LIIA {theme} benchmarks {QUARTER}.xlsx"


def _table(ws, name) -> pd.DataFrame:
    rows = list(ws[ws.tables[name].ref])
    header = [c.value for c in rows[0]]
    return pd.DataFrame([[c.value for c in r] for r in rows[1:]], columns=header, dtype=object)


def _value_column(frame) -> str:
    return next(c for c in frame.columns if c.startswith("Value"))


@pytest.mark.parametrize("theme", list(THEMES))
def test_theme_workbook_shows_every_figure_of_the_warehouse_as_its_kind_asks(
    latest_quarter_run, theme
):
    catalogue, authorities = load_catalogue(), load_authorities()
    indicators = catalogue.indicators[catalogue.indicators["theme"] == theme]
    wb = load_workbook(_theme_path(latest_quarter_run, theme))
    assert wb.sheetnames == [
        "Cover",
        "Contents",
        "Notes",
        "Summary",
        *indicators["id"],
        "Trends",
        # where DfE publishes any of the theme's indicators (none of finance's)
        *(["England"] if set(load_mappings()["indicator_id"]) & set(indicators["id"]) else []),
        "Definitions",
    ]
    assert all(len(n) <= 31 and n == n.strip() for n in wb.sheetnames)
    assert all("RESTRICTED" in ws["A2"].value for ws in wb.worksheets)
    cover = " ".join(str(c.value) for c in wb["Cover"]["A"] if c.value)
    assert "Accepted from 30 of 33 authorities" in cover
    assert "Hackney" in cover and "Westminster" in cover and "Produced: " in cover
    # every sheet in Contents, linked; every note numbered as the sheets refer to it
    contents = _table(wb["Contents"], "Contents")
    assert list(contents["Sheet"]) == [n for n in wb.sheetnames if n != "Contents"]
    notes = _table(wb["Notes"], "Notes")
    assert list(notes["Note number"]) == [f"[note {n}]" for n in range(1, len(notes) + 1)]
    assert not any(ws.merged_cells.ranges for ws in wb.worksheets)
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    names = authorities.table.set_index("liia_code")["name"]
    for n, ind in enumerate(indicators.itertuples(), start=1):
        ws = wb[ind.id]
        shown = _table(ws, f"Indicator{n}")
        expected = con.execute(
            "SELECT * FROM benchmarks WHERE quarter = ? AND indicator_id = ?", [QUARTER, ind.id]
        ).df()
        expected["name"] = expected["authority"].map(names)
        assert len(shown) == 33 and set(shown["Authority"]) == set(expected["name"])
        by_name = expected.set_index("name")
        value = _value_column(shown)
        for row in shown.to_dict("records"):
            b = by_name.loc[row["Authority"]]
            if pd.isna(b["value"]):
                assert row[value] == f"[{b['symbol']}]"  # a symbol in brackets, as GAF asks
            else:
                scale = 100 if ind.unit == "percent" else 1  # percentages are fractions
                assert row[value] == pytest.approx(b["value"] / scale), (ind.id, row["Authority"])
            if ind.comparison == "rate" and ind.polarity != "neutral":
                assert row["Rank"] == (None if pd.isna(b["rank"]) else b["rank"])
                assert (row["Quartile band"] or None) == (
                    None if pd.isna(b["quartile_band"]) else b["quartile_band"]
                )
        if ind.comparison == "rate" and ind.polarity != "neutral":
            ranks = [r for r in shown["Rank"] if not pd.isna(r)]
            assert ranks == sorted(ranks)
        else:  # totals and neutral indicators are not ranked: largest first
            numbers = [v for v in shown[value] if isinstance(v, float | int)]
            assert numbers == sorted(numbers, reverse=True) and "Rank" not in shown


def test_neutral_indicators_and_totals_carry_no_better_or_worse_band_colour_or_rank(
    latest_quarter_run,
):
    catalogue = load_catalogue()
    neutral = catalogue.indicators[catalogue.indicators["polarity"] == "neutral"]
    totals = catalogue.indicators[catalogue.indicators["comparison"] == "total"]
    assert len(neutral) >= 8 and set(totals["id"]) == {"FIN-I01", "WF-I09"}
    polar_fills = {f"FF{c[1:]}" for c in BAND_FILLS.values()}
    books = {}  # each theme's workbook read once, only read
    for ind in pd.concat([neutral, totals]).itertuples():
        if ind.theme not in books:
            books[ind.theme] = load_workbook(_theme_path(latest_quarter_run, ind.theme))
        wb = books[ind.theme]
        ws = wb[ind.id]
        n = list(catalogue.indicators[catalogue.indicators["theme"] == ind.theme]["id"]).index(
            ind.id
        )
        shown = _table(ws, f"Indicator{n + 1}")
        assert "Rank" not in shown and "Quartile band" not in shown
        assert "Top or bottom 20%" not in shown
        if ind.comparison == "total":
            assert not [c for c in shown.columns if "Place in London" in c]
            assert any(
                "London total" in str(c.value)
                for c in ws[f"{get_column_letter(len(shown.columns) + 2)}"]
            )
        else:
            positions = shown["Place in London (lowest, low, high, highest)"].dropna()
            assert set(positions) - {""} <= {"lowest", "low", "high", "highest"}
            flags = set(shown["Highest or lowest 20%"].dropna()) - {""}
            assert flags <= {"highest 20%", "lowest 20%"}
        fills = {
            c.fill.fgColor.rgb for row in ws.iter_rows() for c in row if c.fill.fill_type == "solid"
        }
        assert not fills & polar_fills, ind.id
        summary = wb["Summary"]
        header = [c.value for c in summary[5]]
        band_col = header.index(f"{ind.id} band") + 1
        bands = {summary.cell(r, band_col).value for r in range(6, 39)}
        # quartile places in words, never Q1-Q4, which readers take for financial quarters
        expected = {"lowest", "low", "high", "highest"} if ind.comparison == "rate" else set()
        assert bands - {"[x]", "[u]", "[z]", None, ""} <= expected
    assert {f"FF{c[1:]}" for c in POSITION_FILLS.values()}.isdisjoint(polar_fills)


def test_percentages_are_fractions_and_units_stand_in_the_formats(latest_quarter_run):
    wb = load_workbook(_theme_path(latest_quarter_run, "workforce"))
    ws = wb["WF-I01"]
    cell = next(c for c in ws["C"][5:] if isinstance(c.value, float))
    assert cell.number_format == "0.0%" and 0 < cell.value < 1
    finance = load_workbook(_theme_path(latest_quarter_run, "finance"))["FIN-I01"]
    money = next(c for c in finance["B"][5:] if isinstance(c.value, float))
    assert money.number_format == '£#,##0.0"m"'


def _widths(ws) -> dict[int, float]:
    """Each column's width (a <col> element may cover several columns)."""
    widths = {}
    for dim in ws.column_dimensions.values():
        for col in range(dim.min or 0, (dim.max or 0) + 1):
            widths[col] = dim.width
    return widths


def _header_cells(path: Path):
    """Every table header cell, with its column's width."""
    wb = load_workbook(path)
    for ws in wb.worksheets:
        widths = _widths(ws)
        for table in ws.tables.values():
            for cell in ws[table.ref][0]:
                yield ws.title, cell, widths.get(cell.column, 8.43)


def test_no_header_is_cut_off_in_any_workbook(latest_quarter_run):
    reports = _reports(latest_quarter_run)
    paths = [
        _theme_path(latest_quarter_run, "finance"),
        _theme_path(latest_quarter_run, "send", publishable=True),
        reports / "packs" / f"LIIA pack {QUARTER} Merton.xlsx",
        reports.parents[1] / "liia" / QUARTER / f"LIIA return status {QUARTER}.xlsx",
        reports.parents[1]
        / "authorities"
        / "Brent"
        / QUARTER
        / f"LIIA feedback {QUARTER} Brent.xlsx",
    ]
    checked = 0
    for path in paths:
        for sheet, cell, width in _header_cells(path):
            text = str(cell.value)
            fits = len(text) <= width
            wraps = bool(cell.alignment.wrap_text)
            longest_word = max(len(w) for w in text.split())
            if cell.alignment.textRotation == 90:  # on its side: two lines of the row's height
                height = cell.parent.row_dimensions[cell.row].height
                fits = width >= RUG_COLUMN and len(text) <= 2 * height / POINTS_A_CHARACTER - 4
            assert fits or (wraps and longest_word <= width), (path.name, sheet, text, width)
            checked += 1
    assert checked > 200


def _charts(path: Path) -> tuple[list[str], list[str]]:
    with zipfile.ZipFile(path) as z:
        charts = [
            z.read(n).decode() for n in z.namelist() if re.match(r"xl/charts/chart\d+\.xml$", n)
        ]
        drawings = [
            z.read(n).decode() for n in z.namelist() if re.match(r"xl/drawings/drawing\d+\.xml$", n)
        ]
    return charts, [d for x in drawings for d in re.findall(r'descr="([^"]+)"', x)]


def test_every_chart_has_visible_axes_text_categories_and_alternative_text(latest_quarter_run):
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    with_figure = dict(
        con.execute(
            """SELECT indicator_id, count(*) FROM benchmarks
            WHERE quarter = ? AND value IS NOT NULL GROUP BY ALL""",
            [QUARTER],
        ).fetchall()
    )
    indicators = load_catalogue().indicators
    workforce = indicators[indicators["theme"] == "workforce"]
    charts, alt = _charts(_theme_path(latest_quarter_run, "workforce"))
    assert len(charts) == 2 * len(workforce)  # a bar chart per indicator, a line chart per trend
    assert len(alt) == len(charts)
    bars = [c for c in charts if "<c:barChart>" in c]
    for chart in charts:
        assert re.search(r"<c:title>.*?<a:t>[^<]+</a:t>", chart)
        # Visible, as Excel itself writes it: no <c:delete val="1"/>, labels not "none".
        axes = re.findall(r"<c:(?:catAx|valAx)>.*?</c:(?:catAx|valAx)>", chart, re.S)
        assert len(axes) == 2
        assert not [a for a in axes if '<c:delete val="1"/>' in a or 'tickLblPos val="none"' in a]
    counts = sorted(int(re.search(r'<c:strCache><c:ptCount val="(\d+)"/>', c)[1]) for c in bars)
    # every authority with a figure, and London as the comparator (a joint unit shows on both rows)
    assert counts == sorted(with_figure[i] + 1 for i in workforce["id"])
    assert all("<c:strRef>" in c for c in bars)
    bar_alt = [a for a in alt if a.startswith("Bar chart of")]
    assert len(bar_alt) == len(bars) and all("highest" in a for a in bar_alt)
    assert all("London" in a or "Median authority" in a for a in bar_alt)


def test_a_pack_puts_its_own_bar_and_name_in_every_chart_with_london(latest_quarter_run):
    authorities, catalogue = load_authorities(), load_catalogue()
    packs = _reports(latest_quarter_run) / "packs"
    assert len(list(packs.glob("*.xlsx"))) == 33
    path = packs / f"LIIA pack {QUARTER} Sutton.xlsx"
    wb = load_workbook(path)
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    expected = con.execute(
        """SELECT i.name, b.* FROM benchmarks b JOIN indicators i USING (indicator_id)
           WHERE quarter = ? AND authority = 'SUT'""",
        [QUARTER],
    ).df()
    shown = _table(wb["Every indicator"], "Pack")
    assert len(shown) == len(catalogue.indicators) == len(expected)
    by_name = expected.set_index("name")
    units = catalogue.indicators.set_index("name")["unit"]
    for row in shown.to_dict("records"):
        b = by_name.loc[row["Indicator"]]
        if pd.isna(b["value"]):
            assert row["Value"] == f"[{b['symbol']}]"  # every missing value shows its symbol
        else:
            scale = 100 if units[row["Indicator"]] == "percent" else 1
            assert row["Value"] == pytest.approx(b["value"] / scale)
    flagged = expected["top_bottom_20"].notna().sum()
    assert wb.sheetnames == [
        "Summary",
        "To explain",
        "Every indicator",
        "Neighbours",
        "England",
        "Rug",
        "Trends",
        *THEMES.values(),
    ]
    assert len(_table(wb["To explain"], "Explain")) == flagged
    charts, alt = _charts(path)
    bars = [c for c in charts if "<c:barChart>" in c]
    lines = [c for c in charts if "<c:lineChart>" in c]
    assert len(bars) == flagged and len(lines) == len(catalogue.indicators) == len(charts) - flagged
    assert len(alt) == len(charts)
    for chart in bars:
        names = re.search(r"<c:strCache>(.*?)</c:strCache>", chart, re.S)[1]
        labels = re.findall(r"<c:v>([^<]+)</c:v>", names)
        own = next(k for k, label in enumerate(labels) if label.split(" [")[0] == "Sutton")
        assert "London" in labels or "Median authority" in labels
        point = re.search(rf'<c:dPt><c:idx val="{own}"/>.*?<a:srgbClr val="(\w+)"/>', chart, re.S)
        assert point and point[1] == "C00000"
        assert '<c:delete val="1"/>' not in chart
    assert all("Sutton highlighted" in a for a in alt if a.startswith("Bar chart"))
    assert sorted(authorities.table["name"]) == list(
        _table(wb["Finance"], "ThemeFinance")["Authority"]
    )


def test_an_authoritys_notes_stand_beside_its_values_and_nowhere_published(latest_quarter_run):
    reports = _reports(latest_quarter_run)
    ws = load_workbook(_theme_path(latest_quarter_run, "adolescents"))["ADO-I07"]
    shown = _table(ws, "Indicator7").set_index("Authority")
    note = shown.at["Merton", "Note from the authority"]
    assert note.startswith("ADO09: Recording system migration") and "ADO10:" in note
    pack = _table(
        load_workbook(reports / "packs" / f"LIIA pack {QUARTER} Merton.xlsx")["Every indicator"],
        "Pack",
    )
    notes = pack.set_index("Indicator")["Your note in the return"]
    assert MERTON_NOTE in notes["Assessments with exploitation factors per 10k children"]
    for path in (reports.parents[1] / "public" / QUARTER).glob("*.xlsx"):
        with zipfile.ZipFile(path) as z:
            text = b" ".join(z.read(n) for n in z.namelist() if n.endswith(".xml"))
        assert MERTON_NOTE.encode() not in text and b"Note from the authority" not in text


def test_a_chart_whose_values_are_all_suppressed_gives_way_to_a_sentence(
    latest_quarter_run, tmp_path
):
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    figures, _ = quarter_figures(con, parse_quarter(QUARTER))
    benchmarks = figures.benchmarks.copy()
    benchmarks["value"] = benchmarks["value"].astype(object)
    hidden = (benchmarks["indicator_id"] == "ADO-I01") & (benchmarks["quarter"] == QUARTER)
    benchmarks.loc[hidden, "value"] = "c"
    benchmarks.loc[hidden, ["rank", "quartile_band", "top_bottom_20"]] = None
    suppressed = replace(figures, benchmarks=benchmarks, notes=pd.DataFrame())
    path = write_theme_workbook(
        tmp_path / "suppressed.xlsx",
        suppressed,
        "adolescents",
        load_authorities(),
        load_catalogue(),
    )
    ws = load_workbook(path)["ADO-I01"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    # says why, and shows London's and its groups' figures rather than an empty ranking
    said = " ".join(texts)
    assert "suppressed (c) in this edition, so there is no ranking and no chart" in said
    assert "could identify children" in said
    assert "Not ranked" in texts and not any(t.startswith("Ranked: 0") for t in texts)
    assert "London and groups" in texts
    charts, _ = _charts(path)
    adolescents = (load_catalogue().indicators["theme"] == "adolescents").sum()
    assert len([c for c in charts if "<c:barChart>" in c]) == adolescents - 1


def test_the_template_prints_a_page_a_sheet_with_its_prefilled_cells_locked(tmp_path):
    from pipelines.write.template import build_template

    path = build_template(parse_quarter("2026-27 Q3"), tmp_path / "template.xlsx")
    with zipfile.ZipFile(path) as z:
        sheets = [
            z.read(n).decode() for n in sorted(z.namelist()) if n.startswith("xl/worksheets/sheet")
        ]
    for xml in sheets[:5]:
        assert '<pageSetUpPr fitToPage="1"/>' in xml
        assert 'paperSize="9"' in xml and "fitToHeight" not in xml.replace('fitToHeight="1"', "")
        assert "<sheetProtection" in xml
    wb = load_workbook(path)
    cover = wb["Cover"]
    assert cover["B4"].protection.locked and cover["B5"].protection.locked
    assert cover["B3"].protection.locked is False and cover["B6"].protection.locked is False
    assert wb["Finance"]["D6"].protection.locked is False and wb["Finance"]["B6"].protection.locked


def test_text_from_a_return_is_never_a_formula(tmp_path):
    quarter = parse_quarter(QUARTER)
    subs = pd.DataFrame(
        [
            {
                "submission_id": "s1",
                "authority": "BAR",
                "file_name": f"{HOSTILE}.xlsx",
                "relative_path": f"{HOSTILE}.xlsx",
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


def _missing_cell(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def test_status_workbook_lists_every_authority(latest_quarter_run):
    status = (
        latest_quarter_run / "reports" / "liia" / QUARTER / f"LIIA return status {QUARTER}.xlsx"
    )
    ws = load_workbook(status)["Submissions"]
    rows = _table(ws, "Submissions").set_index("Authority")
    assert len(rows) == 33
    assert (
        rows.at["Hackney", "Status"] == "not returned"
        and rows.at["Lewisham", "Status"] == "rejected"
    )
    assert rows.at["Brent", "Status"] == "accepted with value errors"
    assert rows.at["Brent", "Current file"] == "Brent LIIA return 2026-27 Q2.xlsx"
    assert rows.at["Brent", "Errors"] == 1 and rows.at["Sutton", "Warnings"] == 2
    assert (
        rows.at["Ealing", "Current file"].endswith("resubmitted.xlsx")
        and rows.at["Ealing", "Files"] == 2
    )
    assert isinstance(rows.at["Brent", "Received"], datetime)
    assert isinstance(rows.at["Brent", "Date completed"], datetime)
    # To chase with: problems first, the reason for each, the deadline, the feedback's path.
    table = _table(ws, "Submissions")
    order = list(table["Status"])
    assert order[:2] == ["not returned", "not returned"] and order[2] == "rejected"
    assert order.index("accepted with value errors") < order.index("accepted")
    assert set(table["Authority"][:2]) == {"Hackney", "Westminster"}
    assert "is not a number" in rows.at["Brent", "Reason"]
    assert rows.at["Lewisham", "Reason"]
    # an accepted return says its first warning, if it has one, and otherwise nothing
    for name in rows.index[rows["Status"] == "accepted"]:
        if rows.at[name, "Warnings"]:
            assert rows.at[name, "Reason"].startswith("Warning: "), name
        else:
            assert _missing_cell(rows.at[name, "Reason"]), name
    assert isinstance(rows.at["Hackney", "Deadline"], datetime)
    assert rows.at["Hackney", "Deadline"].date() == date(2026, 11, 15)
    assert rows.at["Brent", "Feedback"] == (
        "authorities/Brent/2026-27-Q2/LIIA feedback 2026-27-Q2 Brent.xlsx"
    )
    # from the deadline to when the pipeline first received it (the run's day, for these files)
    late = (rows.at["Brent", "Received"].date() - date(2026, 11, 15)).days
    assert rows.at["Brent", "Days late"] == max(0, late)
    # nothing received: late from the deadline to the day the workbook was written
    overdue = max(0, (date.today() - date(2026, 11, 15)).days)
    assert abs(rows.at["Hackney", "Days late"] - overdue) <= 1  # (a run just before midnight)
    assert rows.at["Hackney", "Reason"].startswith("nothing received")
    # who to chase: the contact the cover names, and when the first of its files arrived
    assert rows.at["Brent", "Contact"] == "Performance team, performance@bre.example.gov.uk"
    assert rows.at["Hackney", "Contact"].endswith("(on its 2026-27 Q1 return)")  # to chase
    assert rows.at["Ealing", "First received"] <= rows.at["Ealing", "Received"]
    # text beside a figure or a date (both at the right of their cells) is indented from it, so
    # "21" and "nothing received", or a time and "Performance team", never print as one
    (header,) = [row for row in ws.iter_rows() if row[0].value == "Authority"]
    names = [c.value for c in header]
    for column in ("Reason", "Contact"):
        before = names[names.index(column) - 1]
        assert before in ("Days late", "First received")
        cells = [row[names.index(column)] for row in ws.iter_rows(min_row=header[0].row + 1)]
        assert all(c.alignment.indent >= 1 for c in cells if c.value), column


def test_the_template_checks_whole_numbers_and_of_which_rules_and_defines_each_item(tmp_path):
    """As it is filled: a count or pounds must be whole, an of-which no more than its total
    (across sheets too, and only once the total is in); beside each item, what it is."""
    from pipelines.write.template import HEADER, definition, validation

    catalogue = load_catalogue()
    path = build_template_for(tmp_path)
    wb = load_workbook(path)
    rows = {}
    for sheet in THEMES.values():
        ws = wb[sheet]
        assert [c.value for c in ws[5]] == HEADER
        rules = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
        for r in range(6, ws.max_row + 1):
            if ws.cell(r, 1).value:
                rows[ws.cell(r, 1).value] = (sheet, r, ws.cell(r, 6).value, rules[f"D{r}"])
    items = catalogue.items_for(catalogue.template_version(parse_quarter("2026-27 Q3")))
    assert set(rows) == set(items["ref"])
    sheet, r, defined, dv = rows["FIN04"]
    ado12 = rows["ADO12"]
    assert defined.startswith(
        "On the last day of the quarter. A count: a whole number. Not negative."
    )
    assert "No more than ADO12" in defined
    assert f"INT(D{r})=D{r}" in dv.formula1
    assert f"D{r}<='Adolescents'!$D${ado12[1]}" in dv.formula1
    assert f"COUNT('Adolescents'!$D${ado12[1]})<1" in dv.formula1  # total not yet in: no check
    assert "no more than ADO12" in dv.error and len(dv.error) <= 255
    # decimals where the unit allows them; negatives only where the item does
    fte = items[items["unit"] == "fte"].iloc[0]
    assert "Decimals allowed" in rows[fte["ref"]][2] and "INT(" not in rows[fte["ref"]][3].formula1
    negative = items[items["can_be_negative"]].iloc[0]
    assert "May be negative" in rows[negative["ref"]][2]
    assert ">=0" not in rows[negative["ref"]][3].formula1.replace("COUNT", "")
    # the same from the functions, without a workbook
    row = next(items[items["ref"] == "FIN04"].itertuples())
    assert definition(row, catalogue) == defined
    formula, _ = validation("D9", row, catalogue, {"ADO12": "'Adolescents'!$D$17"})
    assert formula.startswith('OR(D9="x",AND(ISNUMBER(D9),INT(D9)=D9,D9>=0,')


def build_template_for(tmp_path):
    from pipelines.write.template import build_template

    return build_template(parse_quarter("2026-27 Q3"), tmp_path / "template.xlsx")


def test_figures_equal_as_shown_share_their_rank_band_and_fifth(latest_quarter_run):
    """A reader sees 1.0 and 1.0: the two are ranked, banded and flagged alike, whatever the
    digits beyond those shown."""
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    ties = con.execute(
        """SELECT b.quarter, b.indicator_id, round(b.value, i.decimals::INTEGER) AS shown,
                  count(*) AS n,
                  count(DISTINCT b.value) AS raw_values,
                  count(DISTINCT b.rank) AS ranks,
                  count(DISTINCT coalesce(b.quartile_band, '')) AS bands,
                  count(DISTINCT coalesce(b.top_bottom_20, '')) AS fifths
        FROM benchmarks AS b JOIN indicators AS i USING (indicator_id)
        WHERE b.rank IS NOT NULL
        GROUP BY ALL HAVING count(DISTINCT b.reporting_unit) > 1"""
    ).df()
    assert (ties["raw_values"] > 1).sum() >= 5  # ties only as shown, not in the raw values
    assert (ties[["ranks", "bands", "fifths"]] == 1).all().all(), ties[ties["bands"] > 1]


def test_a_year_to_date_figure_is_compared_with_the_same_quarter_a_year_earlier(
    latest_quarter_run,
):
    catalogue = load_catalogue()
    ytd = catalogue.indicators[catalogue.indicators["year_to_date"]]
    assert list(ytd["id"]) == ["FIN-I09"]  # from its item's period, FIN03 year_to_date
    finance = catalogue.indicators[catalogue.indicators["theme"] == "finance"]
    n = list(finance["id"]).index("FIN-I09") + 1
    wb = load_workbook(_theme_path(latest_quarter_run, "finance"))
    shown = _table(wb["FIN-I09"], f"Indicator{n}").set_index("Authority")
    assert "Change on year" in shown and "Previous quarter" not in shown
    above = " ".join(str(wb["FIN-I09"].cell(r, 1).value) for r in range(3, 7))
    assert "Change" not in shown and "[note 8]" in above
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    change, year_earlier = con.execute(
        """SELECT change_on_year, year_earlier_value FROM benchmarks
        WHERE quarter = ? AND indicator_id = 'FIN-I09' AND authority = 'CRO'""",
        [QUARTER],
    ).fetchone()
    assert shown.at["Croydon", "Change on year"] == pytest.approx(change)
    pack = _table(
        load_workbook(_reports(latest_quarter_run) / "packs" / f"LIIA pack {QUARTER} Croydon.xlsx")[
            "Every indicator"
        ],
        "Pack",
    ).set_index("Indicator")
    row = pack.loc[ytd.iloc[0]["name"]]
    assert row["Previous (a year earlier for a year to date)"] == pytest.approx(year_earlier)
    assert row["Change"] == pytest.approx(change) and not row["Direction on quarter"]


def test_londons_total_is_changed_like_for_like_over_those_in_both_quarters(latest_quarter_run):
    """Three authorities did not return in 2026-27 Q2: London's total of the rest falls however
    they did. The change shown is over those with a figure in both quarters, and says how many."""
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    both, change = con.execute(
        """WITH now AS (SELECT reporting_unit, any_value(value) AS v FROM benchmarks
                        WHERE quarter = '2026-27-Q2' AND indicator_id = 'FIN-I01'
                          AND value IS NOT NULL GROUP BY ALL),
                before AS (SELECT reporting_unit, any_value(value) AS v FROM benchmarks
                        WHERE quarter = '2026-27-Q1' AND indicator_id = 'FIN-I01'
                          AND value IS NOT NULL GROUP BY ALL)
        SELECT count(*), sum(now.v - before.v) FROM now JOIN before USING (reporting_unit)"""
    ).fetchone()
    assert both == 30
    ws = load_workbook(_theme_path(latest_quarter_run, "finance"))["FIN-I01"]
    cells = {c.value: ws.cell(c.row, c.column + 1).value for row in ws.iter_rows() for c in row}
    assert cells[f"Change on quarter, the {both} in both quarters"] == pytest.approx(change)


def test_low_reliability_and_questioned_figures_are_marked_in_tables_and_charts(
    latest_quarter_run,
):
    """Sutton's sickness figure, which its feedback asked it to confirm, is marked questioned in
    the table and drawn pale and labelled in the chart, with a note saying why; a [u] likewise.
    The publishable edition says nothing of what one authority's feedback said."""
    catalogue = load_catalogue()
    workforce = list(catalogue.indicators.loc[catalogue.indicators["theme"] == "workforce", "id"])
    n = workforce.index("WF-I06") + 1
    path = _theme_path(latest_quarter_run, "workforce")
    wb = load_workbook(path)
    shown = _table(wb["WF-I06"], f"Indicator{n}").set_index("Authority")
    assert shown.at["Sutton", "Symbol"] == "questioned"
    assert (shown["Symbol"] == "questioned").sum() == 1
    notes = list(_table(wb["Notes"], "Notes")["Note text"])
    assert any(t.startswith("A figure marked questioned") for t in notes)
    charts, _ = _charts(path)
    (chart,) = [c for c in charts if "Sickness" in c and "<c:barChart>" in c]
    labels = re.findall(
        r"<c:v>([^<]+)</c:v>", re.search(r"<c:strCache>(.*?)</c:strCache>", chart, re.S)[1]
    )
    sutton = labels.index("Sutton [questioned]")
    point = re.search(rf'<c:dPt><c:idx val="{sutton}"/>.*?<a:srgbClr val="(\w+)"/>', chart, re.S)
    assert point and point[1] == "A9C9E8"
    low = [label for label in labels if label.endswith("[u]")]
    published = load_workbook(_theme_path(latest_quarter_run, "workforce", publishable=True))
    text = " ".join(
        str(c.value) for ws in published.worksheets for row in ws.iter_rows() for c in row
    )
    assert "questioned" not in text
    # a [u] figure, where the quarter has one, is labelled in its chart too
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    (u,) = con.execute(
        """SELECT count(*) FROM benchmarks WHERE quarter = ? AND indicator_id = 'WF-I06'
        AND low_reliability AND value IS NOT NULL""",
        [QUARTER],
    ).fetchone()
    assert len(low) == u


def test_a_figure_shared_with_the_middle_of_london_is_in_no_fifth(latest_quarter_run):
    """Placements per 10,000 children shown as 1.0 by twenty authorities: the 1.0 at rank 10 of
    30 is not in the worse fifth because a few share it from below."""
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    wrong = con.execute(
        """SELECT quarter, indicator_id, authority, rank, n_reporting, top_bottom_20
        FROM benchmarks
        WHERE (top_bottom_20 IN ('bottom 20%', 'lowest 20%')
               AND rank <= n_reporting - ceil(0.2 * n_reporting))
           OR (top_bottom_20 IN ('top 20%', 'highest 20%') AND rank > ceil(0.2 * n_reporting))"""
    ).fetchall()
    assert wrong == []
    (flagged,) = con.execute(
        "SELECT count(*) FROM benchmarks WHERE top_bottom_20 IS NOT NULL AND quarter = ?",
        [QUARTER],
    ).fetchone()
    assert flagged > 200  # the fifths are still there


def test_the_template_says_what_to_count_when_it_is_due_how_to_send_it_and_whom_to_ask(tmp_path):
    from pipelines.write.template import build_template

    wb = load_workbook(build_template(parse_quarter("2026-27 Q3"), tmp_path / "template.xlsx"))
    cover = " ".join(str(c.value) for row in wb["Cover"].iter_rows() for c in row if c.value)
    assert "Due: 15 February 2027" in cover and "Upload a return" in cover
    assert "Questions: LIIA data team" in cover and "https://liia.london" in cover
    finance = {
        row[0].value: row[5].value
        for row in wb["Finance"].iter_rows(min_row=6)
        if isinstance(row[0].value, str)
    }
    assert "pounds, not thousands" in finance["FIN01"]
    workforce = {
        row[0].value: row[5].value
        for row in wb["Workforce"].iter_rows(min_row=6)
        if isinstance(row[0].value, str)
    }
    assert "full-time equivalents" in workforce["WF01"]
