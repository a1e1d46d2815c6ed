"""Values read as the spec settles them, pinned by what the warehouse holds after a real run: FTE
that add up in decimals, commas that are and are not thousands separators, a return on an older
template, a rejected value that keeps only itself out, and cells named right when a sheet's first
rows are empty."""

import shutil

import duckdb
import pytest
from openpyxl import load_workbook

from tests.conftest import SAMPLE, region, run_quarter

QUARTER = "2026-27-Q1"
SAMPLE = SAMPLE / QUARTER


def _edited(inbox, name, edits, drop_rows=None, blank_top=None):
    wb = load_workbook(SAMPLE / f"{name} LIIA return 2026-27 Q1.xlsx")
    if blank_top:  # the first rows of a sheet with no cells at all
        sheet, rows = blank_top
        wb[sheet].delete_rows(1, rows)
        wb[sheet].insert_rows(1, rows)
    for (sheet, cell), value in edits.items():
        wb[sheet][cell] = value
    for sheet, rows in (drop_rows or {}).items():
        for row in sorted(rows, reverse=True):
            wb[sheet].delete_rows(row)
    wb.save(inbox / f"{name}.xlsx")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("meant")
    inbox = tmp / "inbox" / QUARTER
    inbox.mkdir(parents=True)
    # FTE that add up exactly in decimals: WF08 (2.2) <= WF01 (1.9) + WF02 (0.3).
    _edited(
        inbox,
        "Camden",
        {
            ("Workforce", "D6"): 1.9,
            ("Workforce", "D7"): 0.3,
            ("Workforce", "D9"): 0.2,
            ("Workforce", "D13"): 2.2,
            ("Workforce", "D17"): 1.0,
        },
    )
    # Commas: thousands separators are read, anything else is refused.
    _edited(
        inbox,
        "Croydon",
        {("Adolescents", "D17"): "1,234", ("Finance", "D6"): "12,5", ("SEND", "D6"): "1,2,3"},
    )
    # A version 1 return in a version 2 quarter: no WF12 (Workforce row 17), SEN08-09 (SEND 13-14).
    _edited(
        inbox,
        "Ealing",
        {("Cover", "B5"): 1},
        drop_rows={"Workforce": [17], "SEND": [13, 14]},
    )
    # A rejected value (ADO12 negative) keeps only itself out, not the items compared with it.
    _edited(inbox, "Enfield", {("Adolescents", "D17"): -5})
    # The guidance above the Finance header deleted: the sheet's first four rows hold nothing.
    _edited(inbox, "Greenwich", {("Finance", "D9"): "tbc"}, blank_top=("Finance", 4))
    shutil.copy(SAMPLE / "Hackney LIIA return 2026-27 Q1.xlsx", inbox)
    # the region of these six: the 27 authorities that sent nothing would only slow the run
    six = region(tmp / "region", ["CAM", "CRO", "EAL", "ENF", "GRE", "HAC"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIIA_AUTHORITIES", str(six))
        assert run_quarter(tmp, tmp / "inbox", QUARTER).success
    con = duckdb.connect(str(tmp / "liia.duckdb"), read_only=True)
    yield con
    con.close()


def _item(con, authority, ref):
    return con.execute(
        """SELECT value, status FROM indicator_values
        WHERE quarter = ? AND authority = ? AND indicator_id = ? AND kind = 'item'""",
        [QUARTER, authority, ref],
    ).fetchone()


def _issues(con, authority):
    return con.execute(
        """SELECT i.severity, i.sheet, i.cell, i.ref, i.found, i.problem, i.fix
        FROM validation_issues AS i JOIN submissions AS s USING (quarter, submission_id)
        WHERE i.quarter = ? AND s.authority = ?
        ORDER BY i.severity, i.sheet, i.cell""",
        [QUARTER, authority],
    ).fetchall()


def test_fte_that_add_up_in_decimals_keep_a_rule_at_most_the_sum(warehouse):
    assert _item(warehouse, "CAM", "WF08") == (2.2, "ok")
    assert not [i for i in _issues(warehouse, "CAM") if i[0] == "error"]
    (caseload,) = warehouse.execute(
        """SELECT value FROM benchmarks
        WHERE quarter = ? AND authority = 'CAM' AND indicator_id = 'WF-I05'""",
        [QUARTER],
    ).fetchone()
    assert caseload == pytest.approx(_item(warehouse, "CAM", "WF07")[0] / 2.2)


def test_a_comma_is_read_only_as_a_thousands_separator(warehouse):
    assert _item(warehouse, "CRO", "ADO12") == (1234.0, "ok")
    assert _item(warehouse, "CRO", "FIN01") == (None, "value rejected")
    assert _item(warehouse, "CRO", "SEN01") == (None, "value rejected")
    errors = {(i[2], i[3]): i for i in _issues(warehouse, "CRO") if i[0] == "error"}
    assert set(errors) == {("D6", "FIN01"), ("D6", "SEN01")}
    assert "'12,5' is not a number we can read" in errors[("D6", "FIN01")][5]
    assert "'1,2,3' is not a number we can read" in errors[("D6", "SEN01")][5]


def test_an_older_template_leaves_its_missing_items_not_collected(warehouse):
    for ref in ("WF12", "SEN08", "SEN09"):
        assert _item(warehouse, "EAL", ref) == (None, "not collected")
    symbols = dict(
        warehouse.execute(
            """SELECT indicator_id, symbol FROM benchmarks
            WHERE quarter = ? AND authority = 'EAL' AND indicator_id IN ('WF-I08', 'SEN-I05')""",
            [QUARTER],
        ).fetchall()
    )
    assert symbols == {"WF-I08": "z", "SEN-I05": "z"}
    (status,) = warehouse.execute(
        "SELECT status FROM submissions WHERE quarter = ? AND authority = 'EAL'", [QUARTER]
    ).fetchone()
    assert status == "accepted"
    issues = _issues(warehouse, "EAL")
    assert not [i for i in issues if i[0] == "error"]
    (warning,) = [i for i in issues if i[1] == "Cover"]
    assert warning[:3] == ("warning", "Cover", "B5")
    assert "version 2 template next time" in warning[6]
    assert _item(warehouse, "EAL", "WF01")[1] == "ok"


def test_a_rejected_value_keeps_only_itself_out(warehouse):
    assert _item(warehouse, "ENF", "ADO12") == (None, "value rejected")
    # Each of these has a rule comparing it with ADO12, which cannot be checked without it.
    for ref in ("FIN04", "FIN05", "FIN11", "ADO06", "ADO15"):
        value, status = _item(warehouse, "ENF", ref)
        assert status == "ok" and value is not None, ref
    errors = [i for i in _issues(warehouse, "ENF") if i[0] == "error"]
    assert [(e[2], e[3]) for e in errors] == [("D17", "ADO12")]


def test_cells_are_named_as_excel_names_them_when_the_first_rows_are_empty(warehouse):
    errors = [i for i in _issues(warehouse, "GRE") if i[0] == "error"]
    assert [(e[1], e[2], e[3]) for e in errors] == [("Finance", "D9", "FIN04")]
    assert _item(warehouse, "GRE", "FIN01")[1] == "ok"
