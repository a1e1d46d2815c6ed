"""Watching the inbox: which files have not had their answer yet, and the quarter each belongs to.

What has been seen lives where it belongs, not in the sensor's cursor: a file has its answer once
the pipeline's own ledger holds its SHA-256 (pipelines/receive/ledger.py), and what each file's cover says
is kept beside the archived copy. So the sensor's first look after a restart, or on a new server, runs
nothing for files already loaded, and its state stays small however many files arrive."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.collection.quarters import Quarter
from pipelines.receive.submissions import InboxFile, archive, cover_quarters, inbox_files, look

# A file modified this recently may still be being copied: it is looked at again next time. A
# zip-based workbook (xlsx, xlsm, ods) whose end record is not there yet is still being copied
# too, for up to INCOMPLETE_SECONDS; after that it is taken as it is (and told it is damaged).
SETTLE_SECONDS = 2.0
INCOMPLETE_SECONDS = 120.0
ZIP_START, ZIP_END = b"PK\x03\x04", b"PK\x05\x06"


def looks_complete(path: Path) -> bool:
    """False for a zip file whose end-of-central-directory record is missing (a copy under way):
    it sits in the last 22 bytes, or up to 64 KB before them when the zip carries a comment."""
    with open(path, "rb") as handle:
        if handle.read(4) != ZIP_START:
            return True
        size = handle.seek(0, 2)
        handle.seek(max(0, size - 22 - 65_535))
        return ZIP_END in handle.read()


@dataclass
class InboxLook:
    waiting: dict[Quarter, list[InboxFile]] = field(default_factory=dict)  # not answered yet
    settling: list[str] = field(default_factory=list)  # still being written
    files: int = 0

    def run_key(self, quarter: Quarter) -> str:
        shas = " ".join(sorted(f.sha for f in self.waiting[quarter]))
        return f"inbox {quarter.key} {hashlib.sha256(shas.encode()).hexdigest()[:16]}"


def look_at_inbox(
    inbox: Path,
    archive_dir: Path,
    answered: frozenset[str],
    now: float | None = None,
    settle: float = SETTLE_SECONDS,
) -> InboxLook:
    """Every settled file in the inbox without an answer yet, archived, by the quarter it belongs
    to (the same bytes twice count once)."""
    now = time.time() if now is None else now
    result = InboxLook()
    seen: set[str] = set()
    new: list[InboxFile] = []
    for path in inbox_files(inbox):
        result.files += 1
        try:
            age = now - path.stat().st_mtime
            if age < settle or (age < INCOMPLETE_SECONDS and not looks_complete(path)):
                result.settling.append(path.relative_to(inbox).as_posix())
                continue
        except OSError:
            continue
        f = look(inbox, path)
        if f is None or f.sha in answered or f.sha in seen:
            continue
        if archive(path, archive_dir, f.sha) is None:
            result.settling.append(f.relative.as_posix())
            continue
        seen.add(f.sha)
        new.append(f)
    covers = cover_quarters(new, archive_dir)
    for f in new:
        result.waiting.setdefault(f.quarter(covers[f.sha]), []).append(f)
    return result
