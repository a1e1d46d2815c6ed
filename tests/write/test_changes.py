"""A change printed beside two figures is their difference as printed: a reader who subtracts
the two figures shown gets the change shown (16.0% then 15.6% is -0.4 pp, not -0.3 pp)."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from openpyxl import load_workbook

from pipelines.write.layout import change_as_shown

QUARTER = "2026-27-Q2"


def test_a_change_is_the_difference_of_the_figures_as_printed():
    row = {"value": 15.64, "previous_value": 15.96, "change_on_quarter": -0.32}
    assert change_as_shown(row, "change_on_quarter", "percent") == pytest.approx(-0.4)
    # half away from zero, as Excel rounds what it shows
    row = {"value": 15.65, "previous_value": 16.04, "change_on_quarter": -0.39}
    assert change_as_shown(row, "change_on_quarter", "percent") == pytest.approx(-0.3)
    row = {"value": 1234.4, "year_earlier_value": 1000.6, "change_on_year": 233.8}
    assert change_as_shown(row, "change_on_year", "gbp") == 233.0
    # a suppressed or missing figure keeps the change as stored (or none)
    row = {"value": "c", "previous_value": 16.04, "change_on_quarter": "c"}
    assert change_as_shown(row, "change_on_quarter", "percent") == "c"
    row = {"value": 3.0, "previous_value": None, "change_on_quarter": None}
    assert change_as_shown(row, "change_on_quarter", "percent") is None


def _printed(cell) -> Decimal:
    """A cell's number as its format prints it."""
    fmt = cell.number_format
    places = len(fmt.split(".")[1].split(";")[0].rstrip('%" mp')) if "." in fmt else 0
    value = cell.value * 100 if fmt.endswith("%") else cell.value
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def test_every_change_in_a_pack_is_the_difference_of_its_printed_figures(latest_quarter_run):
    path = latest_quarter_run / "reports" / "members" / QUARTER / "packs"
    ws = load_workbook(path / f"LIIA pack {QUARTER} Croydon.xlsx")["Every indicator"]
    rows = list(ws[ws.tables["Pack"].ref])
    header = [c.value for c in rows[0]]
    value, before = (
        header.index("Value"),
        header.index("Previous (a year earlier for a year to date)"),
    )
    change = header.index("Change")
    checked = 0
    for row in rows[1:]:
        cells = row[value], row[before], row[change]
        if all(isinstance(c.value, int | float) for c in cells):
            shown = float(_printed(cells[0]) - _printed(cells[1]))
            assert float(_printed(cells[2])) == pytest.approx(shown), row[1].value
            checked += 1
    assert checked >= 20


def test_a_unit_is_written_once_in_a_readers_words(latest_quarter_run):
    """No header says its unit twice ("(£m) (£ million)"); a ratio says of what (sickness days
    are "days lost per FTE", never "ratio"); a direction never runs into the change before it."""
    from pipelines.collection.catalogue import load_catalogue
    from pipelines.write.layout import named, unit_words

    indicators = {i.id: i for i in load_catalogue().indicators.itertuples()}
    assert unit_words(indicators["WF-I06"]) == "days lost per FTE"
    assert named(indicators["FIN-I01"]) == "Children's social care forecast variance (£m)"
    assert all(unit_words(i) != "ratio" for i in indicators.values())
    members = latest_quarter_run / "reports" / "members" / QUARTER
    for path in [
        *members.glob("LIIA * benchmarks *.xlsx"),
        members / "packs" / f"LIIA pack {QUARTER} Croydon.xlsx",
    ]:
        wb = load_workbook(path)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    text = str(cell.value or "")
                    assert "(£m) (£" not in text and "(%) (%)" not in text, (path.name, ws.title)
                    if text in ("improved", "worsened", "no change"):
                        assert cell.alignment.horizontal == "center", (path.name, ws.title)
        definitions = wb["Definitions"] if "Definitions" in wb.sheetnames else None
        if definitions is not None:
            units = [c.value for row in definitions.iter_rows() for c in row]
            assert "ratio" not in units, path.name


def _print_areas_and_chart_ends(path):
    """{sheet name: (last printed column, last column a chart reaches)} of a workbook, read from
    its XML: the defined print areas, and each drawing's anchors."""
    import re
    import zipfile

    from openpyxl.utils import column_index_from_string

    with zipfile.ZipFile(path) as z:
        book = z.read("xl/workbook.xml").decode()
        names = re.findall(r'<sheet name="([^"]+)" sheetId="\d+" r:id="rId(\d+)"', book)
        areas = {
            int(local): column_index_from_string(col) - 1
            for local, col in re.findall(
                r'<definedName name="_xlnm.Print_Area" localSheetId="(\d+)">[^<]*?\$([A-Z]+)\$\d+</definedName>',
                book,
            )
        }
        out = {}
        for index, (name, rid) in enumerate(names):
            rels = f"xl/worksheets/_rels/sheet{rid}.xml.rels"
            if rels not in z.namelist() or index not in areas:
                continue
            drawing = re.search(r'Target="../drawings/(drawing\d+\.xml)"', z.read(rels).decode())
            if not drawing:
                continue
            xml = z.read(f"xl/drawings/{drawing[1]}").decode()
            ends = [int(c) for c in re.findall(r"<xdr:to><xdr:col>(\d+)</xdr:col>", xml)]
            if ends:
                out[name] = (areas[index], max(ends))
    return out


def test_every_print_area_holds_its_charts(latest_quarter_run):
    members = latest_quarter_run / "reports" / "members" / QUARTER
    pack = members / "packs" / f"LIIA pack {QUARTER} Croydon.xlsx"
    checked = []
    for path in [pack, *members.glob("LIIA * benchmarks *.xlsx")]:
        for sheet, (printed, reached) in _print_areas_and_chart_ends(path).items():
            # a chart ending at the start of a column (offset 0) does not reach into it
            assert reached <= printed + 1, (path.name, sheet, printed, reached)
            checked.append(sheet)
    assert "Trends" in checked
