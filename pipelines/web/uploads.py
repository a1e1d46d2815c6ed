"""A return sent through the front door: refused while it arrives if it is over the limit, checked
by the pipeline's own validation in its contained reader workers, and put in the inbox under its
quarter and authority with the moment the server received it."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler

from pipelines.collection.catalogue import load_authorities
from pipelines.collection.places import place
from pipelines.receive.submissions import archive, sha256_of
from pipelines.validate.feedback import FEEDBACK_COLUMNS
from pipelines.validate.precheck import check_returns

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Stops reading an upload once it passes the limit (settings.UPLOAD_LIMIT_BYTES), so a
    200 MB file costs the server no more than the limit; the form then says it was too large."""

    def new_file(self, *args, **kwargs):
        self.received = 0
        return super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_LIMIT_BYTES:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def stored_name(received: datetime, name: str) -> str:
    """The name a file is kept under in the inbox: the moment it arrived and the sender's name cut
    to letters, digits, spaces and `._-()` (never a path: the folder is the server's choice)."""
    base = unicodedata.normalize("NFKC", Path(name.replace("\\", "/")).name)
    base = re.sub(r"[^\w .()-]", "_", base).strip(" .") or "return.xlsx"
    return f"{received:%Y-%m-%d %H%M%S} {base[-120:]}"


@dataclass
class Answer:
    """What the page says of an upload: submitted to the inbox, or refused, and why."""

    status: str
    submitted: bool
    quarter: str = ""
    message: str = ""
    rows: list[dict] = field(default_factory=list)
    inbox_path: str = ""
    sha256: str = ""


def _rows(frame) -> list[dict]:
    return [dict(zip(FEEDBACK_COLUMNS, map(str, r), strict=True)) for r in frame.itertuples(False)]


def receive_upload(
    temporary: Path, name: str, authority: str, received: datetime, inbox: Path | None = None
) -> Answer:
    """Check `temporary` (the upload as received) as the pipeline would and, if its cover names
    `authority` and a quarter, put it in the inbox (`<quarter>/<authority's name>/`) timed as
    `received`, archived at once so that time is kept whatever happens to the inbox's copy."""
    inbox = inbox or place("inbox")
    authorities = load_authorities()
    sha = sha256_of(temporary)
    if not name.lower().endswith(WORKBOOK_SUFFIXES):
        return Answer(
            "refused",
            False,
            message=f"{name} is not an Excel or OpenDocument workbook. Send the return as the "
            "template's .xlsx file (or .xlsm, .xls, .ods).",
            sha256=sha,
        )
    # the checker reads by content and names by path: give it the sender's suffix
    with tempfile.TemporaryDirectory(dir=temporary.parent) as folder:
        named = Path(folder) / f"upload{Path(name).suffix.lower()}"
        os.link(temporary, named)
        answers, _ = check_returns([named])
    answer = answers[0]
    rows = _rows(answer.rows.assign(File=name)) if not answer.rows.empty else []
    if answer.unreadable:
        return Answer(
            "refused",
            False,
            message=f"{name} could not be read as a workbook: {rows[0]['What is wrong'] if rows else answer.status}. "
            "Save it again from Excel as .xlsx and send that file.",
            rows=rows,
            sha256=sha,
        )
    mine = authorities.name(authority)
    if answer.authority is None or answer.quarter is None:
        return Answer(
            "refused",
            False,
            message="The cover does not say which authority and quarter this return is for. "
            f"Fill in the cover (authority: {mine}; the quarter) and send it again.",
            rows=rows,
            sha256=sha,
        )
    if answer.authority != authority:
        return Answer(
            "refused",
            False,
            quarter=answer.quarter.key,
            message=f"The cover names {authorities.name(answer.authority)}, but you send returns "
            f"for {mine}. Nothing was submitted. If the cover is wrong, correct it; another "
            "authority's return must be sent by that authority.",
            sha256=sha,
        )
    folder = inbox / answer.quarter.key / mine
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / stored_name(received, name)
    partial = folder / f".{uuid.uuid4().hex}.part"  # hidden: the sensor never takes it half-made
    shutil.copyfile(temporary, partial)
    moment = received.timestamp()
    os.utime(partial, (moment, moment))
    os.replace(partial, target)
    archive(target, place("archive"), sha)
    return Answer(
        answer.status,
        True,
        quarter=answer.quarter.key,
        message="",
        rows=rows,
        inbox_path=target.relative_to(inbox).as_posix(),
        sha256=sha,
    )
