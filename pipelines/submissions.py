"""Receiving: find returns in the inbox, archive each by its SHA-256, and read them."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pipelines.quarters import Quarter, QuarterError, parse_quarter
from pipelines.returns import (
    RETURN_SUFFIXES,
    VALUE_COLUMNS,
    Issue,
    read_cover_quarter,
    read_return,
)

SUBMISSION_COLUMNS = [
    "submission_id",
    "file_name",
    "relative_path",
    "size_bytes",
    "sha256",
    "received_at",
    "authority",
    "quarter",
    "template_version",
    "joint_workforce_with",
    "completed_on",
    "status",
]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inbox_files(inbox: Path, quarter: Quarter | None = None) -> list[Path]:
    """Return files under the inbox. With `quarter`, a file in another quarter's folder is kept only
    if its cover names `quarter`: the cover decides, the folder saves reading every file in full."""
    files = []
    for path in sorted(inbox.rglob("*")):
        if (
            not path.is_file()
            or path.suffix.lower() not in RETURN_SUFFIXES
            or path.name.startswith("~$")
        ):
            continue
        if quarter is not None:
            folder = folder_quarter(path.relative_to(inbox))
            if folder is not None and folder != quarter and read_cover_quarter(path) != quarter:
                continue
        files.append(path)
    return files


def folder_quarter(relative: Path) -> Quarter | None:
    for part in relative.parts[:-1]:
        try:
            return parse_quarter(part)
        except QuarterError:
            continue
    return None


def archive(path: Path, archive_dir: Path, sha: str) -> Path | None:
    """A byte-for-byte copy kept under its hash; the inbox file is never touched. None if the file
    changed since it was hashed (still being written): it is taken next time. Two runs may archive
    the same file at once: each copies to its own temporary name and the first link wins, so the
    copy's time stays when it was first received."""
    target = archive_dir / sha[:2] / f"{sha}{path.suffix.lower()}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.part")
        try:
            shutil.copyfile(path, tmp)
            if sha256_of(tmp) != sha:
                return None
            os.link(tmp, target)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return target


def receive_quarter(inbox: Path, archive_dir: Path, quarter: Quarter):
    """Every return of `quarter` in the inbox: (submissions frame, values frame, structure issues).

    Rejected returns (cover or structure errors) are kept as submissions with their issues."""
    received = []
    seen: set[str] = set()
    for path in inbox_files(inbox, quarter):
        sha = sha256_of(path)
        if sha in seen:
            continue  # the same bytes twice are one submission
        seen.add(sha)
        archived = archive(path, archive_dir, sha)
        if archived is None:
            seen.discard(sha)
            continue  # changed while being read: still being written
        parsed = read_return(path)
        relative = path.relative_to(inbox)
        folder = folder_quarter(relative)
        if (parsed.quarter or folder) != quarter:
            continue  # this file belongs to another quarter
        if folder is not None and folder != quarter:
            parsed.issues.append(
                Issue(
                    "warning",
                    "Cover",
                    "B4",
                    None,
                    quarter.label,
                    f"The cover says {quarter.label} but the file was put in the {folder.label} folder; "
                    f"it is treated as a {quarter.label} return.",
                    "If the cover is wrong, correct the quarter on the cover and send the return again.",
                )
            )
        first_seen = datetime.fromtimestamp(archived.stat().st_mtime, UTC).replace(tzinfo=None)
        received.append((path, relative, sha, parsed, first_seen))
    return collect(received, quarter)


def check_files(paths: list[Path]):
    """Files an authority is about to send, read as the pipeline would, without archiving:
    a list of (quarter or None, submissions, values, structure issues), one per quarter found."""
    by_quarter: dict = {}
    for path in paths:
        parsed = read_return(path)
        by_quarter.setdefault(parsed.quarter, []).append(
            (path, Path(path.name), sha256_of(path), parsed, datetime.now())
        )
    return [(q, *collect(received, q)) for q, received in by_quarter.items()]


def collect(received: list, quarter: Quarter | None):
    """Frames from read returns: one submission row each, the values of those not rejected, and
    their cover and structure issues."""
    subs, values, issues = [], [], []
    for path, relative, sha, parsed, first_seen in received:
        sid = sha[:16]
        subs.append(
            {
                "submission_id": sid,
                "file_name": path.name,
                "relative_path": str(relative),
                "size_bytes": path.stat().st_size,
                "sha256": sha,
                "received_at": first_seen,
                "authority": parsed.authority,
                "quarter": quarter.key if quarter else None,
                "template_version": parsed.template_version,
                "joint_workforce_with": parsed.joint_workforce_with,
                "completed_on": parsed.completed_on,
                "status": "rejected" if parsed.rejected else "received",
            }
        )
        for issue in parsed.issues:
            issues.append({"submission_id": sid, **issue.__dict__})
        if not parsed.rejected:
            values += [{**record, "submission_id": sid} for record in parsed.records]
    submissions = pd.DataFrame(subs, columns=SUBMISSION_COLUMNS)
    value_frame = pd.DataFrame(values, columns=[*VALUE_COLUMNS, "submission_id"])
    issue_frame = pd.DataFrame(
        issues,
        columns=["submission_id", "severity", "sheet", "cell", "ref", "found", "problem", "fix"],
    )
    return submissions, value_frame, issue_frame
