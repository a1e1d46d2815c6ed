"""The feedback workbook one authority receives: a summary, and every issue with its sheet and
cell (the rows are validate.feedback's)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.validate.feedback import FEEDBACK_COLUMNS, summary_lines
from pipelines.write.layout import Book


def write_feedback(
    path: Path, name: str, quarter_label: str, submissions: pd.DataFrame, rows: pd.DataFrame
) -> Path:
    """The authority's feedback workbook: a summary, and every issue with its sheet and cell."""
    book = Book(path)
    title, *lines = summary_lines(name, quarter_label, submissions, rows)
    summary = book.sheet("Summary", title, landscape=False, one_page=True)
    summary.caps[0] = 80
    for line in lines:
        if line:
            summary.text(summary.row, 0, line, wrap=True)
        summary.row += 1
    summary.width(0, 80)
    if len(rows):
        issues = book.sheet("Issues", f"Issues: {name}, {quarter_label}")
        top = issues.row + 1
        wrapped = {"File", "Measure", "What is wrong", "How to fix it"}
        for r, row in enumerate(rows.itertuples(index=False), start=top + 1):
            for c, (column, value) in enumerate(zip(FEEDBACK_COLUMNS, row, strict=True)):
                issues.text(r, c, value, wrap=column in wrapped)
        issues.table(top, top + len(rows), FEEDBACK_COLUMNS, "Issues")
        issues.caps.update({1: 30, 5: 34, 6: 16, 7: 44, 8: 40})
        issues.width(7, 30)
        issues.width(8, 28)
        issues.ws.freeze_panes(top + 1, 0)
        issues.ws.repeat_rows(top)
    return book.close()
