"""The blank return template, generated from the catalogue, and the same layout filled in."""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill, Protection
from openpyxl.worksheet.datavalidation import DataValidation

from pipelines.catalogue import THEME_TITLES, THEMES, load_authorities, load_catalogue
from pipelines.quarters import Quarter

COVER_LABELS = [
    "Local authority",
    "Quarter",
    "Template version",
    "Completed by",
    "Email",
    "Date completed",
    "Workforce reported jointly with",
]
HEADER = ["Ref", "Measure", "Unit", "Value", "Notes"]
HEADER_ROW = 5  # guidance sits above; readers find the header by content, not by this number
_OPEN = PatternFill("solid", fgColor="FFF2CC")
_BOLD = Font(bold=True)


def guidance(theme: str, quarter: Quarter) -> list[str]:
    return [
        f"LIIA quarterly return: {THEME_TITLES[theme]}, {quarter.label}",
        "Enter whole numbers for counts and pounds; FTE, weeks and days may have decimals. "
        "Do not enter percentages: LIIA derives every rate.",
        "If a figure is not available enter x in Value and say why in Notes. Do not leave Value empty.",
    ]


def build_template(
    quarter: Quarter, values: dict | None = None, cover: dict | None = None
) -> Workbook:
    """The return workbook for `quarter`: blank, or filled with `values` ({ref: value or (value,
    note)}) and `cover` ({label: value}) for sample returns and tests."""
    catalogue, authorities = load_catalogue(), load_authorities()
    version = catalogue.template_version(quarter)
    wb = Workbook()
    ws = wb.active
    ws.title = "Cover"
    ws["A1"], ws["A1"].font = "LIIA quarterly data return", Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 44
    cover_values = {"Quarter": quarter.label, "Template version": version} | (cover or {})
    for i, label in enumerate(COVER_LABELS, start=3):
        ws.cell(i, 1, label).font = _BOLD
        cell = ws.cell(i, 2, cover_values.get(label))
        cell.protection = Protection(locked=False)
        cell.fill = _OPEN
    names = ",".join(authorities.table["name"])
    if len(names) <= 255:
        dv = DataValidation(type="list", formula1=f'"{names}"', allow_blank=True)
    else:  # Excel limits an inline list to 255 characters: point at a hidden list instead
        lists = wb.create_sheet("Lists")
        for i, name in enumerate(authorities.table["name"], start=1):
            lists.cell(i, 1, name)
        lists.sheet_state = "hidden"
        dv = DataValidation(type="list", formula1=f"Lists!$A$1:$A${len(authorities.table)}")
    dv.showErrorMessage = True
    dv.errorTitle, dv.error = "Local authority", "Choose your authority from the list."
    ws.add_data_validation(dv)
    dv.add("B3")
    ws.protection.sheet = True

    for theme, sheet in THEMES.items():
        ws = wb.create_sheet(sheet)
        for i, line in enumerate(guidance(theme, quarter), start=1):
            ws.cell(i, 1, line).font = _BOLD if i == 1 else Font(italic=True)
        for col, (name, width) in enumerate(zip(HEADER, [8, 80, 10, 16, 40], strict=True), start=1):
            ws.cell(HEADER_ROW, col, name).font = _BOLD
            ws.column_dimensions["ABCDE"[col - 1]].width = width
        items = catalogue.items_for(version, theme)
        positive = DataValidation(
            type="custom", formula1='OR(D{r}="x",AND(ISNUMBER(D{r}),D{r}>=0))', allow_blank=True
        )
        signed = DataValidation(type="custom", formula1='OR(D{r}="x",ISNUMBER(D{r}))')
        for dv in (positive, signed):
            dv.showErrorMessage = True
            dv.errorTitle = "Value"
            dv.error = (
                "Enter a number (not negative unless the measure allows it), or x if not available."
            )
            ws.add_data_validation(dv)
        for row, item in enumerate(items.itertuples(), start=HEADER_ROW + 1):
            ws.cell(row, 1, item.ref)
            ws.cell(row, 2, item.measure)
            ws.cell(row, 3, catalogue.units.at[item.unit, "label"])
            value = (values or {}).get(item.ref)
            value, note = value if isinstance(value, tuple) else (value, None)
            for col, v in ((4, value), (5, note)):
                cell = ws.cell(row, col, v)
                cell.protection = Protection(locked=False)
                cell.fill = _OPEN
            dv = signed if item.can_be_negative else positive
            if not dv.sqref:  # Excel reads the formula relative to the first cell of the range
                dv.formula1 = dv.formula1.replace("{r}", str(row))
            dv.add(f"D{row}")
        ws.freeze_panes = f"A{HEADER_ROW + 1}"
        ws.protection.sheet = True
    if "Lists" in wb.sheetnames:
        wb.move_sheet("Lists", offset=len(wb.sheetnames))
    return wb
