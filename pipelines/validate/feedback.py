"""Feedback to one authority: every error and warning of its returns, or a receipt."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.collection.quarters import Quarter

FEEDBACK_COLUMNS = [
    "Severity",
    "File",
    "Sheet",
    "Cell",
    "Ref",
    "Measure",
    "Value found",
    "What is wrong",
    "How to fix it",
]


def feedback_rows(
    submissions: pd.DataFrame, issues: pd.DataFrame, measures: pd.Series
) -> pd.DataFrame:
    """One authority's issues as the rows of its feedback workbook, errors first."""
    rows = issues.merge(submissions[["submission_id", "file_name"]], on="submission_id")
    rows = rows.assign(measure=rows["ref"].map(measures).fillna(""))
    rows = rows.sort_values(["severity", "file_name", "sheet", "ref"], na_position="first")
    out = rows[
        ["severity", "file_name", "sheet", "cell", "ref", "measure", "found", "problem", "fix"]
    ]
    out.columns = FEEDBACK_COLUMNS
    return out.fillna("").reset_index(drop=True)


def summary_lines(
    name: str, quarter_label: str, submissions: pd.DataFrame, rows: pd.DataFrame
) -> list[str]:
    lines = [f"LIIA return feedback: {name}, {quarter_label}", ""]
    submissions = submissions.sort_values("received_at")
    current = (
        submissions["is_current"]
        if "is_current" in submissions
        else submissions["status"] != "rejected"
    )
    for sub, is_current in zip(submissions.itertuples(), current, strict=True):
        used = " (the return used in the benchmarks)" if is_current and len(submissions) > 1 else ""
        lines.append(f"{sub.file_name}: {sub.status}{used}")
    # errors in a return since replaced need no action; with no usable return, all of them do
    live_files = set(submissions.loc[current, "file_name"]) or set(submissions["file_name"])
    live = rows["File"].isin(live_files)
    errors = int(((rows["Severity"] == "error") & live).sum())
    replaced = int(((rows["Severity"] == "error") & ~live).sum())
    warnings = int(((rows["Severity"] == "warning") & live).sum())
    if errors and not current.any():
        lines.append(
            f"{errors} error(s) to fix. The return was rejected: none of its values are in the "
            "benchmarks until a corrected return arrives. Send a corrected return, which replaces "
            "this one as a whole."
        )
    elif errors:
        lines.append(
            f"{errors} error(s) to fix. Values with errors are left out of the benchmarks until "
            "corrected; send a corrected return, which replaces this one as a whole."
        )
    if replaced:
        lines.append(
            f"{replaced} error(s) listed are in a file since replaced: nothing to do about them."
        )
    if warnings:
        lines.append(
            f"{warnings} warning(s): the values are used, but please confirm them or say why in Notes."
        )
    if not errors and not warnings:
        lines.append("Your return was accepted with no errors or warnings. Thank you.")
    return lines


def authority_folder(reports: Path, name: str) -> Path:
    """What one authority alone receives (reports/authorities/<name>/); files that name no
    authority are answered by LIIA's team (reports/liia/unidentified/)."""
    if name == "Unidentified":
        return reports / "liia" / "unidentified"
    return reports / "authorities" / name


def feedback_path(reports: Path, quarter: Quarter, name: str) -> Path:
    return (
        authority_folder(reports, name) / quarter.key / f"LIIA feedback {quarter.key} {name}.xlsx"
    )
