"""What is written is what is read: each kind of workbook rendered by LibreOffice to PDF (with
Carlito and Liberation, which have Calibri's and Arial's metrics) and read back with pdftotext.
Every sentence of prose on a cover, contents, notes, key or summary sheet must be printed whole,
and no cell may print as ### (a number or date too wide for its column)."""

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pipelines.collection.quarters import parse_quarter
from pipelines.write.template import build_template
from tests.conftest import made_once

QUARTER = "2026-27-Q2"


def render(workbooks: dict[str, Path], folder: Path) -> dict[str, str]:
    """Each workbook's printed text, by kind, from one LibreOffice run with its own profile."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for kind, path in workbooks.items():
        copy = folder / f"{kind}.xlsx"
        shutil.copyfile(path, copy)
        copies.append(str(copy))
    profile = (folder / "profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf"]
        + ["--outdir", str(folder), *copies],
        check=True,
        capture_output=True,
        timeout=300,
    )
    texts = {}
    for kind in workbooks:
        pdf = folder / f"{kind}.pdf"
        done = subprocess.run(
            ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60
        )
        texts[kind] = done.stdout
    return texts


def _words(text: str) -> str:
    return " ".join(text.split())


def prose(path: Path) -> list[tuple[str, str, str]]:
    """(sheet, cell, sentence) of every sentence written as prose on any sheet of the workbook: a
    text cell alone on its row (a line, a paragraph, a note beside its number)."""
    found = []
    wb = load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            texts = [c for c in row if isinstance(c.value, str) and c.value.strip()]
            long = [c for c in texts if len(c.value) >= 12]
            if len(long) != 1 or len(long[0].value) < 25:
                continue
            cell = long[0]
            for sentence in re.split(r"(?<=[.;:])\s+", cell.value):
                if len(sentence) >= 12:
                    found.append((ws.title, cell.coordinate, sentence))
    return found


@pytest.fixture(scope="module")
def rendered(latest_quarter_run, tmp_path_factory):
    """Each kind's workbook and its printed text: rendered once for the session, whichever test
    process asks first (LibreOffice is the suite's slowest reader)."""
    reports = latest_quarter_run / "reports"
    folder = tmp_path_factory.mktemp("rendered")
    workbooks = {
        "theme": reports / "members" / QUARTER / f"LIIA finance benchmarks {QUARTER}.xlsx",
        "public": reports
        / "public"
        / QUARTER
        / f"LIIA workforce benchmarks {QUARTER} publishable.xlsx",
        "pack": reports / "members" / QUARTER / "packs" / f"LIIA pack {QUARTER} Sutton.xlsx",
        "status": reports / "liia" / QUARTER / f"LIIA return status {QUARTER}.xlsx",
        # Lewisham's return of the quarter is rejected, Sutton's accepted with warnings
        "rejected": reports
        / "authorities"
        / "Lewisham"
        / QUARTER
        / f"LIIA feedback {QUARTER} Lewisham.xlsx",
        "feedback": reports
        / "authorities"
        / "Sutton"
        / QUARTER
        / f"LIIA feedback {QUARTER} Sutton.xlsx",
        "template": build_template(parse_quarter("2026-27-Q3"), folder / "blank.xlsx"),
        "dictionary": latest_quarter_run
        / "exports"
        / "restricted"
        / "data_dictionary RESTRICTED.xlsx",
    }

    def make(shared: Path) -> None:
        texts = render(workbooks, shared)
        (shared / "texts.json").write_text(json.dumps(texts))

    shared = made_once(tmp_path_factory, "rendered", make)
    return workbooks, json.loads((shared / "texts.json").read_text())


KINDS = ["theme", "public", "pack", "status", "rejected", "feedback", "template", "dictionary"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_sentence_of_prose_is_printed_whole(rendered, kind):
    workbooks, texts = rendered
    printed = _words(texts[kind])
    sentences = prose(workbooks[kind])
    assert sentences, f"{kind}: no prose found to check"
    cut = [(s, c, t) for s, c, t in sentences if _words(t) not in printed]
    assert not cut, f"{kind}: printed cut or hidden: {cut[:5]}"


@pytest.mark.parametrize("kind", KINDS)
def test_no_cell_prints_as_hashes(rendered, kind):
    _, texts = rendered
    assert "###" not in texts[kind]


def test_the_rejected_feedback_says_the_whole_return_is_left_out(rendered):
    _, texts = rendered
    printed = _words(texts["rejected"])
    assert "rejected" in printed
    assert "none of its values are in the benchmarks" in printed
    assert "Values with errors are left out" not in printed


def test_the_check_sees_a_sentence_cut_off(tmp_path):
    """The check can fail: a sentence in a row one line high and a column too narrow is not
    printed whole, and a date too wide for its column prints as ###."""
    from datetime import datetime

    import xlsxwriter

    path = tmp_path / "cut.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Cover")
    sentence = "This sentence is far too long to be printed whole in a column this narrow."
    ws.write_string(0, 0, sentence, wb.add_format({"text_wrap": True}))
    ws.set_column(0, 0, 10)
    ws.set_row(0, 15)
    ws.write_datetime(1, 0, datetime(2026, 12, 2), wb.add_format({"num_format": "d mmmm yyyy"}))
    wb.close()
    printed = _words(render({"cut": path}, tmp_path / "out")["cut"])
    assert prose(path) == [("Cover", "A1", sentence)]
    assert _words(sentence) not in printed
    assert "###" in printed


def test_a_packs_first_page_tells_its_concerns_and_strengths_with_their_trends(rendered):
    """Sutton's first printed page (its sickness days stand out in the sample quarter): each
    concern and strength by name, which way is better and how far from London, with its previous
    value and change, a line of its last eight quarters, and the key."""
    workbooks, texts = rendered
    first = _words(texts["pack"].split("\f")[0])
    wb = load_workbook(workbooks["pack"])
    ws = wb["Summary"]
    table = ws.tables["Headlines"]
    rows = list(ws[table.ref])
    header = [c.value for c in rows[0]]
    parts = [r[0].value for r in rows[1:]]
    assert parts and all(re.fullmatch(r"(Concern|Strength) [123]", p) for p in parts)
    for r in rows[1:]:
        name = r[header.index("Indicator")].value
        assert _words(name.removesuffix(" [questioned]")) in first, name
        assert r[header.index("Which way is better")].value in first
        assert "standard deviations" in r[header.index("How far from London")].value
    assert "Your concerns:" in first and "beyond chance" in first
    assert "Key" in first and "percentage points (pp)" in first and "[c] suppressed" in first
    assert "99.8% limit of a funnel plot" in first
    with zipfile.ZipFile(workbooks["pack"]) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    # a sparkline for each pick, drawn from the eight quarters beside it
    assert sheet.count("<x14:sparkline>") == len(parts)


def test_a_packs_neighbours_page_prints_its_rank_among_them_and_their_figures(rendered):
    """Sutton's Neighbours sheet, printed: each neighbour by name, and for the agency rate its
    rank among them and every neighbour's figure as shown."""
    workbooks, texts = rendered
    pages = [p for p in texts["pack"].split("\f") if "and its London neighbours" in p]
    assert pages, "no Neighbours page printed"
    printed = _words(" ".join(pages))
    ws = load_workbook(workbooks["pack"])["Neighbours"]
    rows = list(ws[ws.tables["Neighbours"].ref])
    header = [c.value for c in rows[0]]
    neighbours = header[header.index("Highest neighbour") + 1 :]
    assert len(neighbours) >= 7
    for name in neighbours:
        assert _words(name) in printed, name
    (agency,) = [r for r in rows[1:] if r[0].value == "Agency rate (%)"]
    rank = agency[header.index("Rank among you and your neighbours")].value
    assert re.fullmatch(r"\d+ of \d+", rank) and rank in printed


def test_the_data_dictionary_prints_every_file_name_whole(rendered):
    workbooks, texts = rendered
    files = load_workbook(workbooks["dictionary"])["Files"]
    names = [
        c.value for c in files["A"] if isinstance(c.value, str) and c.value.endswith(".parquet")
    ]
    assert len(names) > 20
    printed = texts["dictionary"].split("\n")
    assert [n for n in names if n not in printed and not any(n in line for line in printed)] == []
