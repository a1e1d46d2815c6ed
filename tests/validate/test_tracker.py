"""The status tracker is one to chase with: every row, returned or not, says how late it is and
why; nothing prints as NaT. On the sample's 2026-27 Q2 (Hackney and Westminster sent nothing,
Lewisham's return was rejected)."""

from datetime import date

import duckdb
from openpyxl import load_workbook

from pipelines.collection.catalogue import load_authorities
from pipelines.collection.quarters import deadline, parse_quarter
from pipelines.validate.settlement import submission_tracker
from pipelines.write.figures import quarter_figures
from pipelines.write.status_workbook import write_status_workbook

QUARTER = parse_quarter("2026-27-Q2")


def test_every_row_says_how_late_and_why_and_nothing_prints_as_nat(latest_quarter_run, tmp_path):
    with duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True) as con:
        figures, issues = quarter_figures(con, QUARTER)
    today = date(2026, 12, 6)
    tracker = submission_tracker(
        figures.submissions,
        issues,
        load_authorities(),
        QUARTER,
        today=today,
        earlier_contacts=figures.earlier_contacts,
    ).set_index("Authority")
    due = deadline(QUARTER)
    for name in ("Hackney", "Westminster"):
        row = tracker.loc[name]
        assert row["Status"] == "not returned"
        assert row["Days late"] == (today - due).days > 0
        assert row["Reason"] == f"nothing received by the deadline of {due:%-d %B %Y}"
        # who to chase: the contact its last return's cover named
        assert row["Contact"].endswith("(on its 2026-27 Q1 return)") and "@" in row["Contact"]
    before = submission_tracker(
        figures.submissions, issues, load_authorities(), QUARTER, today=due
    ).set_index("Authority")
    assert before.loc["Hackney", "Days late"] == 0 and before.loc["Hackney", "Reason"].endswith(
        "yet"
    )
    assert tracker.loc["Lewisham", "Reason"]  # the rejection's reason
    warned = tracker[(tracker["Status"] == "accepted") & (tracker["Warnings"] > 0)]
    assert len(warned) and warned["Reason"].str.startswith("Warning: ").all()
    path = write_status_workbook(tmp_path / "status.xlsx", figures, issues, load_authorities())
    cells = [c.value for row in load_workbook(path)["Submissions"].iter_rows() for c in row]
    assert "NaT" not in [str(v) for v in cells]
    assert any(str(v).endswith("(on its 2026-27 Q1 return)") for v in cells)
