"""Receiving: every file in the inbox, archived by its SHA-256, placed in a quarter and read.

Every file gets an answer. A file belongs to the quarter its cover names; failing that, to the
quarter of the folder it was dropped in; failing that (a PDF at the top of the inbox), to the
quarter being collected when it arrived: the last quarter that had ended by the file's
modification time."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from pipelines.collection.catalogue import load_catalogue
from pipelines.collection.quarters import Quarter, QuarterError, parse_quarter, quarter_containing
from pipelines.receive.returns import (
    ISSUE_COLUMNS,
    VALUE_COLUMNS,
    Issue,
    ParsedReturn,
    is_system_file,
    read_cover_quarters,
    read_returns,
)
from pipelines.receive.safe_text import safe_text

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
# The contact a cover names: kept for LIIA's team (the status workbook), never in the analysts' copy.
CONTACT_COLUMNS = ["completed_by", "email"]
# Bumped when reading changes what a cover's quarter is found to be: cached answers are read again.
COVER_READING = 2


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inbox_files(inbox: Path) -> list[Path]:
    """Every file under the inbox, except what a computer leaves beside files (lock files, hidden
    files, thumbnail caches)."""
    return [
        path
        for path in sorted(inbox.rglob("*"))
        if path.is_file()
        and not is_system_file(path)
        and not any(part.startswith(".") for part in path.relative_to(inbox).parts[:-1])
    ]


def folder_quarter(relative: Path) -> Quarter | None:
    for part in relative.parts[:-1]:
        try:
            return parse_quarter(part)
        except QuarterError:
            continue
    return None


def arrival_quarter(modified: float) -> Quarter:
    """The quarter being collected when a file arrived: the last one ended by then (never before
    the first quarter collected)."""
    first = load_catalogue().first_quarter
    arrived = datetime.fromtimestamp(modified, UTC).date()
    return max(quarter_containing(arrived).previous(), first)


@dataclass(frozen=True)
class InboxFile:
    path: Path
    relative: Path
    sha: str
    modified: float
    archived: Path | None = None

    @property
    def folder(self) -> Quarter | None:
        return folder_quarter(self.relative)

    def quarter(self, cover: Quarter | None) -> Quarter:
        return cover or self.folder or arrival_quarter(self.modified)


def look(inbox: Path, path: Path) -> InboxFile | None:
    """A file's hash and time; None if it vanished meanwhile."""
    try:
        stat = path.stat()
        return InboxFile(path, path.relative_to(inbox), sha256_of(path), stat.st_mtime)
    except OSError:
        return None


def archive(path: Path, archive_dir: Path, sha: str) -> Path | None:
    """A byte-for-byte copy kept under its hash; the inbox file is never touched. None if the file
    changed since it was hashed (still being written): it is taken next time. Two runs may archive
    the same file at once: each copies to its own temporary name and the first link wins. The
    copy's time is when the file arrived: its modification time in the inbox (what SFTP, a share
    or a mail drop sets as it writes), or now if that is later; it never changes after."""
    target = archive_dir / sha[:2] / f"{sha}{Path(path).suffix.lower()[:12]}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{sha}.{os.getpid()}.{uuid.uuid4().hex}.part")
        try:
            arrived = min(Path(path).stat().st_mtime, time.time())
            shutil.copyfile(path, tmp)
            if sha256_of(tmp) != sha:
                return None
            os.utime(tmp, (arrived, arrived))
            os.link(tmp, target)
        except FileExistsError:
            pass
        except OSError:
            return None  # gone from the inbox meanwhile
        finally:
            tmp.unlink(missing_ok=True)
    return target


def _covers_index(archive_dir: Path) -> Path:
    return archive_dir / "covers.json"


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_covers(archive_dir: Path) -> dict:
    try:
        data = json.loads(_covers_index(archive_dir).read_text())
    except (OSError, ValueError):
        return {}
    return data.get("covers", {}) if data.get("reading") == COVER_READING else {}


def remember_covers(archive_dir: Path, covers: dict[str, Quarter | None]) -> None:
    """Keep what each file's cover says, by SHA-256, in one small index beside the archive."""
    if not covers:
        return
    index = _covers_index(archive_dir)
    with _locked(index):
        known = _read_covers(archive_dir)
        known.update({sha: q.key if q else None for sha, q in covers.items()})
        partial = index.with_name(f".{index.name}.{uuid.uuid4().hex}.part")
        partial.write_text(json.dumps({"reading": COVER_READING, "covers": known}))
        partial.replace(index)


def cover_quarters(
    files: list[InboxFile], archive_dir: Path, read_unknown: bool = True
) -> dict[str, Quarter | None]:
    """The quarter each file's cover names, by SHA-256: read once per content and kept in the
    archive's index, so the inbox is not read again and again. With `read_unknown` False, files
    not read before are left out."""
    known = _read_covers(archive_dir)
    out = {
        f.sha: parse_quarter(known[f.sha]) if known[f.sha] else None
        for f in files
        if f.sha in known
    }
    unknown = [f for f in files if f.sha not in known]
    if read_unknown and unknown:
        found = dict(
            zip(
                [f.sha for f in unknown],
                read_cover_quarters([f.path for f in unknown]),
                strict=True,
            )
        )
        remember_covers(archive_dir, found)
        out.update(found)
    return out


def received_files(inbox: Path, archive_dir: Path) -> list[InboxFile]:
    """Every file in the inbox, archived, once per content (the same bytes twice are one)."""
    files, seen = [], set()
    for path in inbox_files(inbox):
        f = look(inbox, path)
        if f is None or f.sha in seen:
            continue
        archived = archive(path, archive_dir, f.sha)
        if archived is None:
            continue  # still being written, or gone
        seen.add(f.sha)
        files.append(replace(f, archived=archived))
    return files


def receive_quarter(inbox: Path, archive_dir: Path, quarter: Quarter, today: date | None = None):
    """Every file of `quarter` in the inbox: (submissions frame, values frame, structure issues).

    Rejected returns (cover or structure errors) and files that are not workbooks are kept as
    submissions with their issues."""
    files = received_files(inbox, archive_dir)
    known = cover_quarters(files, archive_dir, read_unknown=False)
    # Read once: a file whose cover is not known yet is read whole, and kept if it is this quarter's.
    candidates = [f for f in files if f.sha not in known or f.quarter(known[f.sha]) == quarter]
    received = []
    parsed_all = read_returns([f.path for f in candidates], today)
    remember_covers(
        archive_dir,
        {
            f.sha: p.quarter
            for f, p in zip(candidates, parsed_all, strict=True)
            if f.sha not in known
        },
    )
    for f, parsed in zip(candidates, parsed_all, strict=True):
        if f.quarter(parsed.quarter) != quarter:
            continue  # its cover names another quarter
        if parsed.quarter is not None and f.folder is not None and f.folder != quarter:
            parsed.issues.append(
                Issue(
                    "warning",
                    "Cover",
                    "B4",
                    None,
                    quarter.label,
                    f"The cover says {quarter.label} but the file was put in the "
                    f"{f.folder.label} folder; it is treated as a {quarter.label} return.",
                    "If the cover is wrong, correct the quarter on the cover and send the return "
                    "again.",
                    "quarter folder",
                )
            )
        first_seen = f.archived.stat().st_mtime  # when these bytes were first received
        received.append((f.path, f.relative, f.sha, parsed, _utc(first_seen)))
    return collect(received, quarter)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)


def check_files(paths: list[Path]):
    """Files an authority is about to send, read as the pipeline would, without archiving: a list
    of (quarter or None, submissions, values, structure issues), one per quarter found. The same
    bytes given twice are one return."""
    unique: dict[str, Path] = {}
    for path in paths:
        unique.setdefault(sha256_of(path), path)
    by_quarter: dict = {}
    parsed_all = read_returns(list(unique.values()))
    for (sha, path), parsed in zip(unique.items(), parsed_all, strict=True):
        by_quarter.setdefault(parsed.quarter, []).append(
            (path, Path(path.name), sha, parsed, datetime.now())
        )
    return [(q, *collect(received, q)) for q, received in by_quarter.items()]


def collect(
    received: list[tuple[Path, Path, str, ParsedReturn, datetime]], quarter: Quarter | None
):
    """Frames from read returns: one submission row each, the values of those not rejected, and
    their cover and structure issues."""
    subs, values, issues = [], [], []
    for path, relative, sha, parsed, first_seen in received:
        sid = sha[:16]
        subs.append(
            {
                "submission_id": sid,
                "file_name": safe_text(path.name, 200),
                "relative_path": safe_text(relative.as_posix(), 300),
                "size_bytes": path.stat().st_size if path.exists() else None,
                "sha256": sha,
                "received_at": first_seen,
                "authority": parsed.authority,
                "quarter": quarter.key if quarter else None,
                "template_version": parsed.template_version,
                "joint_workforce_with": parsed.joint_workforce_with,
                "completed_on": parsed.completed_on,
                "status": parsed.status,
                "unreadable": parsed.unreadable,
                "completed_by": parsed.completed_by,
                "email": parsed.email,
            }
        )
        for issue in parsed.issues:
            issues.append({"submission_id": sid, **issue.__dict__})
        if parsed.status == "received":
            values += [{**record, "submission_id": sid} for record in parsed.records]
    submissions = pd.DataFrame(subs, columns=[*SUBMISSION_COLUMNS, *CONTACT_COLUMNS, "unreadable"])
    value_frame = pd.DataFrame(values, columns=[*VALUE_COLUMNS, "submission_id"])
    issue_frame = pd.DataFrame(
        issues,
        columns=ISSUE_COLUMNS,
    )
    return submissions, value_frame, issue_frame
