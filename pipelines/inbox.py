"""Watching the inbox: which files are new or changed since last look, and which quarter each is
for. What was seen is kept as a small JSON cursor, so only new or touched files are hashed."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.quarters import Quarter
from pipelines.returns import read_cover_quarters
from pipelines.submissions import arrival_quarter, folder_quarter, inbox_files, sha256_of

# A file modified this recently may still be being copied: it is looked at again next time.
SETTLE_SECONDS = 10.0


@dataclass
class InboxState:
    """What the inbox held last time: each file's size, modification time and SHA-256, and every
    SHA-256 ever seen (the same bytes under another name are not new)."""

    files: dict[str, list] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    @classmethod
    def from_cursor(cls, cursor: str | None) -> InboxState:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(data["files"], set(data["seen"]))

    def to_cursor(self) -> str:
        return json.dumps({"files": self.files, "seen": sorted(self.seen)}, sort_keys=True)


@dataclass
class InboxChanges:
    arrived: dict[Quarter, list[str]]  # quarter -> SHA-256 of each new file for it
    settling: list[str]  # files still being written
    unplaced: list[str]  # new files whose quarter neither cover nor folder tells
    state: InboxState

    def run_key(self, quarter: Quarter) -> str:
        digest = hashlib.sha256(" ".join(sorted(self.arrived[quarter])).encode()).hexdigest()
        return f"inbox {quarter.key} {digest[:16]}"


def inbox_changes(
    inbox: Path, state: InboxState, now: float | None = None, settle: float = SETTLE_SECONDS
) -> InboxChanges:
    """New or changed returns in the inbox since `state`, grouped by the quarter each is for."""
    now = time.time() if now is None else now
    files = dict(state.files)
    seen = set(state.seen)
    arrived: dict[Quarter, list[str]] = {}
    settling, unplaced = [], []
    paths = inbox_files(inbox)
    for path in paths:
        relative = path.relative_to(inbox).as_posix()
        stat = path.stat()
        if now - stat.st_mtime < settle:
            settling.append(relative)
            continue
        known = files.get(relative)
        if known and known[:2] == [stat.st_size, stat.st_mtime_ns]:
            continue
        sha = sha256_of(path)
        files[relative] = [stat.st_size, stat.st_mtime_ns, sha]
        if sha in seen:
            continue
        seen.add(sha)
        quarter = (
            read_cover_quarters([path])[0]
            or folder_quarter(Path(relative))
            or arrival_quarter(stat.st_mtime)
        )
        arrived.setdefault(quarter, []).append(sha)
    present = {p.relative_to(inbox).as_posix() for p in paths}
    files = {k: v for k, v in files.items() if k in present}
    return InboxChanges(arrived, settling, unplaced, InboxState(files, seen))
