"""The members' downloads page: every released quarter from the members' folder, the reader's own
pack first, and each link downloading through the rule and into the audit log."""

from __future__ import annotations

from pipelines.web.downloads import released_quarters
from pipelines.web.models import AuditEvent
from tests.web.conftest import sign_in


def _touch(root, relative, text="x"):
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / relative).write_text(text)


def test_released_quarters_are_read_from_the_folder_newest_first(tmp_path):
    for relative in (
        "2025-26-Q4/LIIA send benchmarks 2025-26-Q4.xlsx",
        "2025-26-Q4/LIIA finance benchmarks 2025-26-Q4.xlsx",
        "2025-26-Q4/LIIA finance benchmarks 2025-26-Q4.csv",
        "2025-26-Q4/packs/LIIA pack 2025-26-Q4 Barnet.xlsx",
        "2025-26-Q4/packs/LIIA pack 2025-26-Q4 Camden.xlsx",
        "2026-27-Q1/LIIA finance benchmarks 2026-27-Q1.xlsx",
        "2026-27-Q1/.LIIA finance benchmarks 2026-27-Q1.xlsx.part",  # being written
        "2026-27-Q1/LIIA finance benchmarks 2025-26-Q4.xlsx",  # another quarter's name
        "scratch/LIIA finance benchmarks 2026-27-Q1.xlsx",  # not a quarter
        "index.html",
    ):
        _touch(tmp_path, relative)
    found = released_quarters(tmp_path, own_authority="Camden")
    assert [q.quarter for q in found] == ["2026-27-Q1", "2025-26-Q4"]
    newest, older = found
    assert [(t, w.name, c) for t, w, c in newest.themes] == [
        ("Finance and resources", "LIIA finance benchmarks 2026-27-Q1.xlsx", None)
    ]
    assert newest.own_pack is None and newest.packs == []
    # the catalogue's order of themes, each with its CSV beside it when there is one
    assert [(t, c.name if c else None) for t, _, c in older.themes] == [
        ("Finance and resources", "LIIA finance benchmarks 2025-26-Q4.csv"),
        ("Special educational needs and disabilities", None),
    ]
    assert older.own_pack.path == "2025-26-Q4/packs/LIIA pack 2025-26-Q4 Camden.xlsx"
    assert [a for a, _ in older.packs] == ["Barnet", "Camden"]
    assert released_quarters(tmp_path / "missing") == []


def test_a_member_downloads_its_packs_and_workbooks_from_the_page(accounts, reports, places):
    client = sign_in(accounts["camden"])
    page = client.get("/members/").content.decode()
    own = "/members/2026-27-Q1/packs/LIIA%20pack%202026-27-Q1%20Camden.xlsx"
    assert "Camden's pack for 2026-27 Q1</a>" in page and own in page
    workbook = "/members/2026-27-Q1/LIIA%20finance%20benchmarks%202026-27-Q1.xlsx"
    assert workbook in page and "Finance and resources: workbook" in page
    answer = client.get(workbook)
    assert answer.status_code == 200 and b"".join(answer.streaming_content) == b"restricted"
    assert AuditEvent.objects.filter(
        action="download", what="members/2026-27-Q1/LIIA finance benchmarks 2026-27-Q1.xlsx"
    ).exists()
    # a member of no authority (LIIA's team) has no "own pack" line
    assert (
        "s pack for 2026-27 Q1</a>"
        not in sign_in(accounts["team"]).get("/members/").content.decode()
    )
