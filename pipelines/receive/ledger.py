"""The pipeline's own memory of what it has answered: each received file's SHA-256, the quarter it
was answered in, the run that answered it and when.

A file is answered once a run has written every output of its quarter (feedback, workbooks,
pages, the analysts' warehouse and its exports); the run's last step records it here. The inbox
sensor reads only this, never the analysts' copy, so an analyst who opens, locks or deletes that
copy changes nothing the pipeline decides. It is SQLite (the standard library's), so the sensor
reads it while a run writes, and it is small enough to back up with the archive."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.collection.quarters import Quarter, parse_quarter

SCHEMA = """
CREATE TABLE IF NOT EXISTS answered (
    sha256 TEXT PRIMARY KEY,
    quarter TEXT NOT NULL,
    run_id TEXT NOT NULL,
    answered_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answered_by_quarter ON answered (quarter);
CREATE TABLE IF NOT EXISTS revisions_waiting (
    quarter TEXT PRIMARY KEY,
    since TEXT NOT NULL,
    due TEXT,
    figures_changed INTEGER NOT NULL,
    what TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Answered:
    """Every file answered, and the quarters answered so far."""

    shas: frozenset[str] = frozenset()
    quarters: tuple[Quarter, ...] = ()


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    con.execute("PRAGMA journal_mode = WAL")
    con.executescript(SCHEMA)
    return con


def start_ledger(path: Path) -> None:
    """An empty ledger at `path`, if none is there: a new deployment has answered nothing, and a
    ledger missing beside a database is rebuilt from it as answered (pipelines.warehouse.migrations),
    which for a first run still under way would mark its files answered before it published."""
    with closing(_connect(path)):
        pass


def answered(path: Path) -> Answered:
    """What the ledger holds (nothing, if it does not exist yet)."""
    if not path.exists():
        return Answered()
    with closing(_connect(path)) as con:
        shas = {sha for (sha,) in con.execute("SELECT sha256 FROM answered")}
        quarters = [q for (q,) in con.execute("SELECT DISTINCT quarter FROM answered ORDER BY 1")]
    return Answered(frozenset(shas), tuple(parse_quarter(q) for q in quarters))


def record_answered(path: Path, quarter: Quarter, shas: Iterable[str], run_id: str) -> int:
    """Record the quarter's files as answered by `run_id`, in one transaction. How many."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows = [(sha, quarter.key, run_id, now) for sha in sorted(set(shas))]
    with closing(_connect(path)) as con, con:
        con.executemany(
            """INSERT INTO answered VALUES (?, ?, ?, ?)
            ON CONFLICT (sha256) DO UPDATE SET
                quarter = excluded.quarter, run_id = excluded.run_id,
                answered_at = excluded.answered_at""",
            rows,
        )
    return len(rows)


def forget_quarter(path: Path, quarter: Quarter) -> int:
    """Forget the quarter's files (a quarter removed): how many were forgotten."""
    if not path.exists():
        return 0
    with closing(_connect(path)) as con, con:
        return con.execute("DELETE FROM answered WHERE quarter = ?", [quarter.key]).rowcount


@dataclass(frozen=True)
class Waiting:
    """A released quarter's changes waiting for its next revision."""

    quarter: Quarter
    since: datetime
    due: datetime | None
    figures_changed: int
    what: str


def record_waiting(
    path: Path, quarter: Quarter, since: datetime, due: datetime | None, changed: int, what: str
) -> None:
    """The quarter's changes wait for its next revision (`since`: when first seen, kept)."""
    with closing(_connect(path)) as con, con:
        con.execute(
            """INSERT INTO revisions_waiting VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (quarter) DO UPDATE SET
                due = excluded.due, figures_changed = excluded.figures_changed,
                what = excluded.what""",
            [
                quarter.key,
                since.isoformat(timespec="seconds"),
                due.isoformat(timespec="seconds") if due else None,
                changed,
                what,
            ],
        )


def clear_waiting(path: Path, quarter: Quarter) -> None:
    if not path.exists():
        return
    with closing(_connect(path)) as con, con:
        con.execute("DELETE FROM revisions_waiting WHERE quarter = ?", [quarter.key])


def waiting(path: Path) -> list[Waiting]:
    """Every quarter whose changes wait for a revision, oldest quarter first."""
    if not path.exists():
        return []
    with closing(_connect(path)) as con:
        rows = con.execute("SELECT * FROM revisions_waiting ORDER BY quarter").fetchall()
    return [
        Waiting(
            parse_quarter(q),
            datetime.fromisoformat(since),
            datetime.fromisoformat(due) if due else None,
            changed,
            what,
        )
        for q, since, due, changed, what in rows
    ]
