"""The pipeline's official answers, read from the analysts' copy of the warehouse (read-only, a
short connection each time: the pipeline replaces the copy whole when a run publishes)."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from pipelines.collection.places import place

SUBMISSION_FIELDS = "quarter, authority, file_name, sha256, received_at, status, is_current"
log = logging.getLogger(__name__)


def _query(sql: str, parameters: list) -> list[dict]:
    """Rows of `sql` on the copy; none while it cannot be opened (not made yet, or an analyst
    holds it read-write). A copy that opens but cannot answer is an error, not "no answer yet"."""
    copy = place("warehouse")
    if not Path(copy).exists():
        return []
    try:
        con = duckdb.connect(str(copy), read_only=True)
    except duckdb.Error as error:
        log.warning("The official answers cannot be read from %s for now: %s", copy, error)
        return []
    with con:
        cursor = con.execute(sql, parameters)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def official_answers(shas: list[str]) -> dict[str, dict]:
    """Each file's answer from the last run that took it, by SHA-256."""
    if not shas:
        return {}
    rows = _query(
        f"SELECT {SUBMISSION_FIELDS} FROM submissions WHERE sha256 IN "
        f"(SELECT unnest(?::VARCHAR[])) ORDER BY quarter",
        [shas],
    )
    return {row["sha256"]: row for row in rows}


def authority_submissions(authority: str) -> list[dict]:
    """Every file the pipeline has answered for one authority, however it arrived, newest first."""
    return _query(
        f"SELECT {SUBMISSION_FIELDS} FROM submissions WHERE authority = ? "
        "ORDER BY quarter DESC, received_at DESC",
        [authority],
    )


def quarters_answered() -> list[str]:
    return [
        r["quarter"] for r in _query("SELECT DISTINCT quarter FROM submissions ORDER BY 1 DESC", [])
    ]


def quarter_submissions(quarter: str) -> list[dict]:
    """Every authority's files in a quarter, for LIIA's team's chasing."""
    return _query(
        f"SELECT {SUBMISSION_FIELDS} FROM submissions WHERE quarter = ? ORDER BY received_at",
        [quarter],
    )
