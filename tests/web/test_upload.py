"""An upload through the front door: checked at once by the pipeline's own validation, put in
the inbox under its quarter and authority with the moment the server received it (which the run
then uses as its arrival), answered officially by the run; and the uploads an intruder sends."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import datetime

import duckdb
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from pipelines.web.models import AuditEvent, Upload
from tests.conftest import SAMPLE, run_quarter, use_region

BARNET_Q1 = SAMPLE / "2026-27-Q1" / "Barnet LIIA return 2026-27 Q1.xlsx"


def send(client, name: str, content: bytes):
    return client.post(
        "/submissions/upload/", {"file": SimpleUploadedFile(name, content)}, follow=True
    )


def test_an_upload_is_answered_on_the_page_then_officially_with_its_arrival_kept(
    clients, places, monkeypatch, tmp_path
):
    use_region(tmp_path / "region", ["BAR", "CAM"], monkeypatch)
    page = send(clients["barnet"], BARNET_Q1.name, BARNET_Q1.read_bytes())
    assert page.status_code == 200
    upload = Upload.objects.get()
    assert upload.submitted and upload.authority == "BAR" and upload.quarter == "2026-27-Q1"
    text = page.content.decode()
    assert "Return submitted" in text or "error" in text
    assert "Waiting for the quarter's run" in text
    stored = list((places["inbox"] / "2026-27-Q1" / "Barnet").iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == BARNET_Q1.read_bytes()
    received = upload.received_at.timestamp()
    assert abs(stored[0].stat().st_mtime - received) < 1e-3
    audit = AuditEvent.objects.get(action="upload")
    assert audit.who == "officer@barnet.example" and upload.sha256[:16] in audit.what

    # the run gives the official answer, with the moment the server received the file
    assert run_quarter(tmp_path, places["inbox"], "2026-27-Q1").success
    with duckdb.connect(str(places["warehouse"]), read_only=True) as con:
        arrived, status = con.execute(
            "SELECT received_at, status FROM submissions WHERE sha256 = ?", [upload.sha256]
        ).fetchone()
    assert abs(arrived - datetime.utcfromtimestamp(received)).total_seconds() < 1e-3
    page = clients["barnet"].get(f"/submissions/{upload.id}/").content.decode()
    assert f'Official answer</dt><dd class="govuk-summary-list__value">{status}' in page
    assert "Download the feedback workbook" in page
    feedback = clients["barnet"].get("/authority/2026-27-Q1/LIIA feedback 2026-27-Q1 Barnet.xlsx")
    assert feedback.status_code == 200
    assert b"".join(feedback.streaming_content)[:2] == b"PK"
    assert AuditEvent.objects.filter(action="download", who="officer@barnet.example").exists()
    # Camden's officer sees none of it
    assert clients["camden"].get(f"/submissions/{upload.id}/").status_code == 404
    assert BARNET_Q1.name not in clients["camden"].get("/submissions/").content.decode()


def zip_bomb() -> bytes:
    """A workbook-shaped zip whose cover sheet inflates from under 1 MB to 300 MB."""
    out = io.BytesIO()
    with zipfile.ZipFile(BARNET_Q1) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in source.infolist():
            if item.filename == "xl/worksheets/sheet1.xml":
                with z.open(item.filename, "w", force_zip64=True) as sheet:
                    sheet.write(
                        b'<?xml version="1.0"?><worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
                    )
                    block = b"A" * (1 << 20)
                    for _ in range(300):
                        sheet.write(block)
                    sheet.write(b"</t></is></c></row></sheetData></worksheet>")
            else:
                z.writestr(item, source.read(item.filename))
    return out.getvalue()


@pytest.mark.parametrize(
    ("who", "name", "content", "says"),
    [
        ("camden", BARNET_Q1.name, BARNET_Q1.read_bytes(), "The cover names Barnet"),
        ("barnet", "return.xlsx", b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n", "could not be read"),
        ("barnet", "minutes.pdf", b"%PDF-1.4\n%%EOF\n", "is not an Excel"),
        ("barnet", "bomb.xlsx", None, "could not be read"),
    ],
    ids=["another authority's cover", "a PDF called .xlsx", "a PDF", "a zip bomb"],
)
def test_a_hostile_or_wrong_upload_is_refused_with_a_reason_and_nothing_reaches_the_inbox(
    clients, places, who, name, content, says
):
    content = zip_bomb() if content is None else content
    assert len(content) < 2 * 2**20
    page = send(clients[who], name, content)
    assert page.status_code == 200
    assert says in page.content.decode()
    assert "This file was not submitted" in page.content.decode()
    assert not any(p.is_file() for p in places["inbox"].rglob("*"))
    assert AuditEvent.objects.filter(action="upload refused").count() == 1


def test_a_file_over_the_limit_is_refused_while_it_arrives(clients, places, settings):
    settings.UPLOAD_LIMIT_BYTES = 1 * 2**20
    big = b"PK\x03\x04" + os.urandom(3 * 2**20)
    page = clients["barnet"].post(
        "/submissions/upload/", {"file": SimpleUploadedFile("big.xlsx", big)}
    )
    assert page.status_code == 413
    assert "larger than 1 MB" in page.content.decode()
    assert not Upload.objects.exists()
    assert not any(places["inbox"].rglob("*.xlsx"))


def test_a_name_meant_to_escape_the_folder_stays_in_its_authoritys_folder(clients, places):
    send(clients["barnet"], "../../../../tmp/evil.xlsx", BARNET_Q1.read_bytes())
    files = [p for p in places["inbox"].rglob("*") if p.is_file()]
    assert len(files) == 1
    assert files[0].parent == places["inbox"] / "2026-27-Q1" / "Barnet"
    assert ".." not in files[0].name and "/" not in files[0].name


def test_official_answers_wait_while_the_copy_is_held_but_a_copy_that_cannot_answer_is_an_error(
    places, caplog
):
    """An analyst holding the published copy read-write keeps the answers away for now (the page
    says none yet, the log says why); a copy that opens but has no submissions is not hidden as
    "no answer yet"."""
    import subprocess
    import sys

    from pipelines.web.answers import authority_submissions

    copy = places["warehouse"]
    copy.parent.mkdir(parents=True)
    duckdb.connect(str(copy)).close()  # a database without the submissions table
    with pytest.raises(duckdb.CatalogException, match="submissions"):
        authority_submissions("BAR")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(copy)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline() == b"holding\n"
        assert authority_submissions("BAR") == []
        assert f"cannot be read from {copy} for now" in caplog.text
    finally:
        holder.communicate(b"\n", timeout=30)


HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
"""
