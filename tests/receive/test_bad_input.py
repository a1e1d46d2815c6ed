"""A corpus of bad and awkward files, each pinned to what the pipeline says about it."""

import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import xlwt
from msoffcrypto.format.ooxml import OOXMLFile
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from pipelines.collection.catalogue import load_authorities, load_catalogue
from pipelines.receive.submissions import check_files
from pipelines.validate.settlement import settle_quarter
from tests.conftest import SAMPLE, run_quarter, validated

GOOD = SAMPLE / "2026-27-Q2" / "Barnet LIIA return 2026-27 Q2.xlsx"
SHEET_FILES = {
    "Cover": "sheet1",
    "Finance": "sheet2",
    "Adolescents": "sheet3",
    "Workforce": "sheet4",
    "SEND": "sheet5",
}


def edited(tmp: Path, change, suffix=".xlsx") -> Path:
    """Barnet's valid return with `change(workbook)` applied, saved under a new name."""
    wb = load_workbook(GOOD)
    change(wb)
    path = tmp / f"return{suffix}"
    wb.save(path)
    return path


def set_cell(sheet, cell, value, note=None):
    def change(wb):
        wb[sheet][cell] = value
        if note is not None:
            wb[sheet][cell.replace("D", "E")] = note

    return change


def xml_edited(tmp: Path, sheet: str, edit) -> Path:
    """The valid return with the sheet's XML rewritten by `edit(text)`: for what openpyxl cannot write."""
    path = tmp / "return.xlsx"
    with zipfile.ZipFile(GOOD) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == f"xl/worksheets/{SHEET_FILES[sheet]}.xml":
                data = edit(data.decode()).encode()
            dst.writestr(info, data)
    return path


def cell_xml(ref: str, inner: str, attrs: str = ""):
    return lambda text: re.sub(
        rf'<c r="{ref}"[^>]*?(/>|>.*?</c>)', f'<c r="{ref}"{attrs}>{inner}</c>', text, count=1
    )


def raw_file(content: bytes, suffix=".xlsx"):
    def make(tmp):
        path = tmp / f"return{suffix}"
        path.write_bytes(content)
        return path

    return make


def bomb(tmp):
    path = tmp / "return.xlsx"
    with zipfile.ZipFile(GOOD) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        dst.writestr("xl/padding.xml", b" " * 200_000_000)
    return path


def billion_laughs(text: str) -> str:
    entities = (
        '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + "]>"
    )
    text = text.replace("?>", "?>" + entities, 1)
    return re.sub(
        r'<c r="E6"[^>]*?(/>|>.*?</c>)',
        '<c r="E6" t="inlineStr"><is><t>&i;</t></is></c>',
        text,
        count=1,
    )


def calamine_rows(path: Path) -> dict[str, list[list]]:
    wb = CalamineWorkbook.from_path(str(path))
    return {name: wb.get_sheet_by_name(name).to_python() for name in wb.sheet_names}


def legacy_xls(tmp):
    """The valid return re-saved in Excel 97-2003 format."""
    book = xlwt.Workbook()
    for name, rows in calamine_rows(GOOD).items():
        ws = book.add_sheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v != "":
                    ws.write(r, c, v)
    path = tmp / "return.xls"
    book.save(str(path))
    return path


def open_document(tmp):
    """The valid return re-saved as an OpenDocument spreadsheet."""
    path = tmp / "return.ods"
    with pd.ExcelWriter(path, engine="odf") as writer:
        for name, rows in calamine_rows(GOOD).items():
            pd.DataFrame(rows).to_excel(writer, sheet_name=name, header=False, index=False)
    return path


def password_protected(tmp):
    path = tmp / "return.xlsx"
    with GOOD.open("rb") as src, path.open("wb") as out:
        OOXMLFile(src).encrypt("council-secret", out)
    return path


def moved_header(wb):
    wb["Finance"].insert_rows(2, 6)


def hidden_row(wb):
    wb["Finance"].row_dimensions[8].hidden = True


def extra_column(wb):
    ws = wb["SEND"]
    ws["F5"] = "Our comments"
    ws["F6"] = "Checked by the SEND team"


def renamed_sheet(wb):
    wb["Workforce"].title = "Workforce data"


def missing_sheet(wb):
    del wb["SEND"]


def sheet_order(wb):
    wb.move_sheet("Finance", offset=3)


def duplicated_ref(wb):
    wb["Finance"]["A7"] = "FIN01"


def unknown_ref(wb):
    wb["Finance"]["A7"] = "FIN99"


# (name, how to make the file, expected status, expected (sheet, cell, ref) of the first error or None, words)
CASES = [
    (
        "text renamed .xlsx",
        raw_file(b"Authority,Value\nBarnet,12\n"),
        "not a workbook",
        None,
        "This is not a workbook: it is a text file",
    ),
    (
        "PDF renamed .xlsx",
        raw_file(b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF"),
        "not a workbook",
        None,
        "This is not a workbook: it is a PDF document",
    ),
    ("empty file", raw_file(b""), "not a workbook", None, "it is an empty file"),
    (
        "corrupt zip",
        lambda tmp: raw_file(GOOD.read_bytes()[:4000])(tmp),
        "rejected",
        None,
        "could not be opened",
    ),
    (
        "OLE container that is not a workbook",
        raw_file(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600),
        "rejected",
        None,
        "could not be opened",
    ),
    ("legacy .xls", legacy_xls, "accepted", None, None),
    (".ods", open_document, "accepted", None, None),
    ("password-protected workbook", password_protected, "rejected", None, "password-protected"),
    ("decompression bomb", bomb, "rejected", None, "more than 50 MB"),
    (
        "XML entity expansion in a sheet",
        lambda tmp: xml_edited(tmp, "Finance", billion_laughs),
        None,
        None,
        None,
    ),
    (
        "macro-enabled .xlsm",
        lambda tmp: edited(tmp, lambda wb: None, ".xlsm"),
        "accepted",
        None,
        None,
    ),
    (
        "formula with cached value",
        lambda tmp: xml_edited(tmp, "Finance", cell_xml("D9", "<f>2+4</f><v>6</v>")),
        "accepted",
        None,
        None,
    ),
    (
        "formula without cached value",
        lambda tmp: xml_edited(tmp, "Finance", cell_xml("D9", "<f>2+4</f>")),
        "accepted with value errors",
        ("Finance", "D9", "FIN04"),
        "empty",
    ),
    (
        "#DIV/0! error",
        lambda tmp: xml_edited(
            tmp, "Finance", cell_xml("D9", "<f>1/0</f><v>#DIV/0!</v>", ' t="e"')
        ),
        "accepted with value errors",
        ("Finance", "D9", "FIN04"),
        "#DIV/0!",
    ),
    (
        "#N/A error",
        lambda tmp: xml_edited(tmp, "Finance", cell_xml("D9", "<v>#N/A</v>", ' t="e"')),
        "accepted with value errors",
        ("Finance", "D9", "FIN04"),
        "Excel error",
    ),
    (
        "number with commas as text",
        lambda tmp: edited(tmp, set_cell("Finance", "D6", "75,000,000")),
        "accepted",
        None,
        None,
    ),
    (
        "number with stray spaces",
        lambda tmp: edited(tmp, set_cell("Finance", "D9", "  6 ")),
        "accepted",
        None,
        None,
    ),
    (
        "pounds as text",
        lambda tmp: edited(tmp, set_cell("Finance", "D6", "£75,000,000")),
        "accepted",
        None,
        None,
    ),
    (
        "whole number typed 12.0",
        lambda tmp: edited(tmp, set_cell("Finance", "D9", "6.0")),
        "accepted",
        None,
        None,
    ),
    (
        "non-breaking space in a number",
        lambda tmp: edited(tmp, set_cell("Finance", "D9", "\xa06")),
        "accepted",
        None,
        None,
    ),
    (
        "tbc",
        lambda tmp: edited(tmp, set_cell("Finance", "D9", "tbc")),
        "accepted with value errors",
        ("Finance", "D9", "FIN04"),
        "'tbc' is not a number",
    ),
    (
        "n/a",
        lambda tmp: edited(tmp, set_cell("Finance", "D9", "n/a")),
        "accepted with value errors",
        ("Finance", "D9", "FIN04"),
        "'n/a' is not a number",
    ),
    (
        "x with a note",
        lambda tmp: edited(tmp, set_cell("Finance", "D9", "x", "System change")),
        "accepted",
        None,
        None,
    ),
    (
        "x without a note",
        lambda tmp: edited(tmp, set_cell("Finance", "D9", "x")),
        "accepted",
        None,
        None,
    ),
    (
        "empty value",
        lambda tmp: edited(tmp, set_cell("Finance", "D9", None)),
        "accepted with value errors",
        ("Finance", "D9", "FIN04"),
        "empty",
    ),
    (
        "negative count",
        lambda tmp: edited(tmp, set_cell("Finance", "D9", -2)),
        "accepted with value errors",
        ("Finance", "D9", "FIN04"),
        "cannot be negative",
    ),
    (
        "negative DSG balance allowed",
        lambda tmp: edited(tmp, set_cell("Finance", "D19", -12_000_000)),
        "accepted",
        None,
        None,
    ),
    (
        "fractional count",
        lambda tmp: edited(tmp, set_cell("Finance", "D9", 12.5)),
        "accepted with value errors",
        ("Finance", "D9", "FIN04"),
        "whole number",
    ),
    (
        "of-which above its total",
        lambda tmp: edited(tmp, set_cell("SEND", "D12", 999_999)),
        "accepted with value errors",
        ("SEND", "D12", "SEN07"),
        "more than SEN06",
    ),
    (
        "part above a sum of items",
        lambda tmp: edited(tmp, set_cell("Workforce", "D13", 9_999)),
        "accepted with value errors",
        ("Workforce", "D13", "WF08"),
        "more than WF01",
    ),
    (
        "incidents below children missing",
        lambda tmp: edited(tmp, set_cell("Adolescents", "D10", 0)),
        "accepted with value errors",
        ("Adolescents", "D10", "ADO05"),
        "less than ADO06",
    ),
    (
        "duplicated Ref",
        lambda tmp: edited(tmp, duplicated_ref),
        "accepted with value errors",
        None,  # both rows are named: see test_duplicated_ref_names_both_cells
        "more than once",
    ),
    (
        "unknown Ref",
        lambda tmp: edited(tmp, unknown_ref),
        "accepted with value errors",
        ("Finance", "D7", "FIN99"),
        "not a Ref",
    ),
    (
        "missing theme sheet",
        lambda tmp: edited(tmp, missing_sheet),
        "rejected",
        ("SEND", None, None),
        "SEND sheet is missing",
    ),
    (
        "renamed theme sheet",
        lambda tmp: edited(tmp, renamed_sheet),
        "rejected",
        ("Workforce", None, None),
        "Workforce sheet is missing",
    ),
    ("header moved down", lambda tmp: edited(tmp, moved_header), "accepted", None, None),
    ("extra column", lambda tmp: edited(tmp, extra_column), "accepted", None, None),
    ("hidden row", lambda tmp: edited(tmp, hidden_row), "accepted", None, None),
    ("sheet order changed", lambda tmp: edited(tmp, sheet_order), "accepted", None, None),
    (
        "unknown authority",
        lambda tmp: edited(tmp, set_cell("Cover", "B3", "Borsetshire")),
        "rejected",
        ("Cover", "B3", None),
        "not one we recognise",
    ),
    (
        "ambiguous quarter",
        lambda tmp: edited(tmp, set_cell("Cover", "B4", "2026 Q2")),
        "rejected",
        ("Cover", "B4", None),
        "not a quarter we can read",
    ),
    (
        "authority by DfE code",
        lambda tmp: edited(tmp, set_cell("Cover", "B3", 302)),
        "accepted",
        None,
        None,
    ),
]


def outcome(path: Path):
    catalogue = load_catalogue()
    ((quarter, subs, values, structure),) = check_files([path])
    subs, values, issues = settle_quarter(
        subs,
        values,
        structure,
        pd.DataFrame(columns=["authority", "ref", "value"]),
        catalogue,
        quarter.q if quarter else 1,
    )
    return subs.iloc[0], issues


@pytest.mark.parametrize("name, make, status, where, words", CASES, ids=[c[0] for c in CASES])
def test_bad_or_awkward_file(tmp_path, name, make, status, where, words):
    path = make(tmp_path)
    submission, issues = outcome(path)
    errors = issues[issues["severity"] == "error"]
    assert issues["rule"].notna().all(), issues[issues["rule"].isna()].to_dict("records")
    if status is None:  # the entity attack: refused or read without expanding, never a hang
        assert submission["status"] in {"rejected", "accepted"}
        return
    assert submission["status"] == status, errors.to_dict("records")
    if status == "accepted":
        assert errors.empty, errors.to_dict("records")
        return
    first = errors.iloc[0]
    assert words in first["problem"]
    if where is not None:
        sheet, cell, ref = where
        assert (first["sheet"], first["cell"], first["ref"]) == (sheet, cell, ref)
    assert first["fix"]


def test_corpus_is_large_enough():
    assert len(CASES) >= 30


def test_x_without_a_note_is_warned(tmp_path):
    _, issues = outcome(edited(tmp_path, set_cell("Finance", "D9", "x")))
    (warning,) = issues.itertuples()
    assert (warning.severity, warning.cell, warning.ref) == ("warning", "D9", "FIN04")
    assert warning.rule == "x without a reason"


def test_valid_returns_survive_a_folder_of_bad_files(tmp_path):

    inbox = tmp_path / "inbox" / "2026-27-Q2"
    inbox.mkdir(parents=True)
    for i, (_, make, *_rest) in enumerate(CASES):
        case_dir = tmp_path / f"case{i}"
        case_dir.mkdir()
        path = make(case_dir)
        shutil.move(path, inbox / f"bad {i}{path.suffix}")
    for good in ["Camden", "Croydon"]:
        shutil.copy(SAMPLE / "2026-27-Q2" / f"{good} LIIA return 2026-27 Q2.xlsx", inbox)
    result = run_quarter(
        tmp_path,
        tmp_path / "inbox",
        "2026-27-Q2",
        selection=["received_returns", "validated_returns"],  # where a file is judged
    )
    subs = validated(result)["submissions"]
    current = dict(
        zip(
            subs.loc[subs["is_current"], "authority"],
            subs.loc[subs["is_current"], "status"],
            strict=True,
        )
    )
    assert current["CAM"] == "accepted" and current["CRO"] == "accepted"
    assert load_authorities().resolve("Barnet") in current


def test_duplicated_ref_names_both_cells(tmp_path):
    _, issues = outcome(edited(tmp_path, duplicated_ref))
    dup = issues[issues["problem"].str.contains("more than once")]
    assert set(zip(dup["cell"], dup["ref"], strict=True)) == {("D6", "FIN01"), ("D7", "FIN01")}
