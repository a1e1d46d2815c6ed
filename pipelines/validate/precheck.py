"""Files checked before they are sent, as the pipeline would check them: each file's status and
its feedback rows, for `liia validate` and the web front door's upload page. Nothing is archived
and no other authority's data is needed (the London comparison runs when the return is sent)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.collection.catalogue import load_catalogue
from pipelines.collection.quarters import Quarter
from pipelines.receive.returns import ISSUE_COLUMNS
from pipelines.receive.submissions import check_files
from pipelines.validate.feedback import feedback_rows
from pipelines.validate.settlement import current_values, settle_quarter


@dataclass(frozen=True)
class Checked:
    """One file's answer: its status, its authority and quarter as the cover names them, and
    every error and warning as the feedback workbook's rows (FEEDBACK_COLUMNS)."""

    file_name: str
    authority: str | None
    quarter: Quarter | None
    status: str
    unreadable: bool
    errors: int
    warnings: int
    rows: pd.DataFrame
    submission: pd.DataFrame


def check_returns(paths: list[Path]) -> tuple[list[Checked], bool]:
    """Every file's answer, quarters in order so each is compared with the previous quarter's
    return given with it; and whether any was so compared. The same bytes twice are one file."""
    catalogue = load_catalogue()
    measures = catalogue.items.set_index("ref")["measure"]
    no_previous = pd.DataFrame(columns=["authority", "ref", "value"])
    settled: dict[str, pd.DataFrame] = {}
    compared = False
    answers = []
    checked = sorted(check_files(paths), key=lambda c: (c[0] is None, c[0] or 0))
    for quarter, subs, values, structure in checked:
        if (subs["status"] == "received").any():
            previous = settled.get(quarter.previous().key, no_previous) if quarter else no_previous
            compared |= not previous.empty
            subs, values, issues = settle_quarter(
                subs, values, structure, previous, catalogue, quarter.q if quarter else 1
            )
            if quarter:
                settled[quarter.key] = current_values(values)
        else:  # nothing was read to check or compare: what reading found is the whole answer
            subs = subs.assign(is_current=False)
            issues = structure.reindex(columns=ISSUE_COLUMNS)
        for sub in subs.itertuples():
            mine = issues[issues["submission_id"] == sub.submission_id]
            one = subs[subs["submission_id"] == sub.submission_id]
            rows = feedback_rows(one, mine, measures)
            accepted = sub.status.startswith("accepted") and rows.empty
            answers.append(
                Checked(
                    file_name=sub.file_name,
                    authority=sub.authority if isinstance(sub.authority, str) else None,
                    quarter=quarter,
                    status="accepted" if accepted else sub.status,
                    unreadable=sub.status == "not a workbook" or not pd.isna(sub.unreadable),
                    errors=int((mine["severity"] == "error").sum()),
                    warnings=int((mine["severity"] == "warning").sum()),
                    rows=rows,
                    submission=one,
                )
            )
    return answers, compared
