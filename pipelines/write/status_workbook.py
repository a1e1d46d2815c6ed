"""The return status workbook of a quarter, for LIIA's data lead to chase with."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from pipelines.collection.catalogue import Authorities
from pipelines.validate.settlement import submission_tracker, unmatched_files, unmatched_text
from pipelines.write.figures import QuarterFigures, completeness, is_missing
from pipelines.write.layout import RESTRICTED, Book


def _completed_date(text):
    """`2026-09-30` as a date; anything else as the text it is."""
    try:
        return pd.Timestamp(datetime.strptime(str(text)[:10], "%Y-%m-%d"))
    except ValueError:
        return text


# Long texts wrap in columns this wide (characters), so the sheet prints at a readable size.
WRAPPED = {"Current file": 26, "Reason": 40, "Contact": 24, "Feedback": 30}
# Text beside a figure or date, which Excel puts at the right of its cell: indented, so that
# "21" and "nothing received" do not print as one.
AFTER_A_FIGURE = ("Reason", "Contact")


def write_status_workbook(
    path: Path,
    figures: QuarterFigures,
    issues: pd.DataFrame,
    authorities: Authorities,
    waiting: str = "",
) -> Path:
    """For LIIA's data lead, to chase with: every authority, problems first (not returned,
    rejected, values excluded, warnings), its current submission, status, when it arrived, the
    deadline and days late, why a return was rejected or values excluded, issue counts and its
    feedback workbook's path; and the files that could not be matched to an authority."""
    book = Book(path)
    s = book.sheet("Submissions", f"LIIA return status, {figures.quarter.label}", RESTRICTED)
    accepted, _ = completeness(figures, authorities)
    unmatched = unmatched_text(figures.submissions)
    s.line(
        f"Accepted: {accepted} of {len(authorities.codes)}."
        + (f" {unmatched} (sheet Unmatched files)." if unmatched else "")
    )
    if waiting:  # changes since the quarter's release, not yet published
        s.line(f"Waiting for the next revision: {waiting}.")
    s.produced()
    tracker = submission_tracker(
        figures.submissions,
        issues,
        authorities,
        figures.quarter,
        earlier_contacts=figures.earlier_contacts,
    )
    s.prose(
        "Problems first: not returned, rejected, values excluded, then warnings. Received is "
        "when the current file arrived in the inbox (through the portal or dropped in), and Days "
        "late counts from the deadline to then, or for nothing received to the day this "
        "workbook was written; Reason says why a return was rejected or values excluded, or its "
        "first warning; Contact is who the cover names (for nothing received, who its last return's "
        "cover named); Feedback is under the reports folder.",
        150,
    )
    top = s.row + 2
    for r, t in enumerate(tracker.to_dict("records"), start=top + 1):
        for c, column in enumerate(tracker.columns):
            value = t[column]
            if is_missing(value):
                continue
            if column in ("Received", "First received"):
                s.date(r, c, value, with_time=True)
            elif column == "Deadline":
                s.date(r, c, value)
            elif column in WRAPPED:
                s.text(
                    r, c, value, wrap=True, **({"indent": 1} if column in AFTER_A_FIGURE else {})
                )
            elif column == "Date completed":
                completed = _completed_date(value)
                if isinstance(completed, pd.Timestamp):
                    s.date(r, c, completed)
                else:
                    s.text(r, c, completed)
            elif isinstance(value, str):
                s.text(r, c, value)
            else:
                s.integer(r, c, value)
    s.table(top, top + len(tracker), list(tracker.columns), "Submissions")
    for column, width in WRAPPED.items():
        col = list(tracker.columns).index(column)
        s.caps[col] = width
        s.width(col, min(width, 24))
    s.ws.freeze_panes(top + 1, 1)
    s.ws.repeat_rows(top)
    files = unmatched_files(figures.submissions)
    if len(files):
        u = book.sheet(
            "Unmatched files",
            f"Files not matched to an authority, {figures.quarter.label}",
            RESTRICTED,
        )
        u.line(unmatched)
        first_error = (
            issues[issues["severity"] == "error"].groupby("submission_id")["problem"].first()
            if len(issues)
            else pd.Series(dtype=object)
        )
        top = u.row + 1
        for r, f in enumerate(files.sort_values("relative_path").itertuples(), start=top + 1):
            u.text(r, 0, f.relative_path)
            u.date(r, 1, f.received_at, with_time=True)
            u.text(r, 2, f.status)
            u.text(r, 3, first_error.get(f.submission_id, ""), wrap=True)
        u.table(
            top, top + len(files), ["File", "Received", "Status", "What is wrong"], "UnmatchedFiles"
        )
        u.caps.update({0: 40, 3: 60})
        u.width(3, 40)
        u.ws.repeat_rows(top)
    return book.close()
