"""Which values of a quarter count: validation findings, submission statuses, current returns."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from pipelines.collection.catalogue import Authorities, Catalogue
from pipelines.collection.quarters import Quarter, deadline
from pipelines.validate.checks import (
    ISSUE_COLUMNS,
    convert_values,
    distribution_warnings,
    plausibility_warnings,
    shown,
    validate_quarter,
)
from pipelines.validate.feedback import feedback_path

# Statuses of files that give nothing to the benchmarks.
NOT_USED = ("rejected", "not a workbook")


def settle_quarter(
    submissions: pd.DataFrame,
    values: pd.DataFrame,
    structure_issues: pd.DataFrame,
    previous_values: pd.DataFrame,
    catalogue: Catalogue,
    quarter_number: int,
    population: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(submissions with status and is_current, every value with its status, every issue).

    A value with an error is excluded (status `error`); a rejected return contributes nothing; the
    current return of an authority is its latest non-rejected one by date completed, then file time.
    `previous_values` holds the previous quarter's current values (authority, ref, value);
    `population` (0-17, by authority) enables the London-distribution warnings."""
    submissions = submissions.copy()
    accepted = submissions[submissions["status"] == "received"]
    versions = dict(
        zip(accepted["submission_id"], accepted["template_version"].astype(int), strict=True)
    )
    values = convert_values(values[values["submission_id"].isin(versions)], catalogue)
    issues = validate_quarter(values, versions, catalogue)
    values = values.merge(submissions[["submission_id", "authority"]], on="submission_id")
    warnings = plausibility_warnings(values, previous_values, catalogue, quarter_number)
    frames = [structure_issues.reindex(columns=ISSUE_COLUMNS), issues, warnings]
    if population is not None:
        covered = values.assign(
            population=covered_population(values, submissions, population, catalogue)
        )
        per = catalogue.items.drop_duplicates("ref").set_index("ref").get("per")
        per = {} if per is None else per.dropna().to_dict()
        frames.append(distribution_warnings(covered[covered["status"] == "ok"], per=per))
    issues = pd.concat(frames, ignore_index=True)
    bad = issues[(issues["severity"] == "error") & issues["ref"].notna()]
    bad_keys = set(zip(bad["submission_id"], bad["ref"], strict=True))
    in_error = [k in bad_keys for k in zip(values["submission_id"], values["ref"], strict=True)]
    values.loc[in_error, "status"] = "error"
    values.loc[in_error, "value"] = None

    errors = bad.groupby("submission_id").size()
    has_errors = submissions["submission_id"].map(errors).fillna(0) > 0
    submissions.loc[submissions["status"] == "received", "status"] = "accepted"
    submissions.loc[has_errors & (submissions["status"] == "accepted"), "status"] = (
        "accepted with value errors"
    )
    order = submissions.sort_values(
        ["completed_on", "received_at", "file_name"], na_position="first"
    )
    candidates = order[order["status"].str.startswith("accepted")]
    current = set(candidates.groupby("authority").tail(1)["submission_id"])
    submissions["is_current"] = submissions["submission_id"].isin(current)
    superseded = ~submissions["is_current"] & submissions["status"].str.startswith("accepted")
    submissions.loc[superseded, "status"] = "superseded"
    values["is_current"] = values["submission_id"].isin(current)
    cols = [
        "submission_id",
        "authority",
        "sheet",
        "ref",
        "cell",
        "raw",
        "note",
        "value",
        "status",
        "is_current",
    ]
    values = values[cols].assign(raw=values["raw"].map(shown))
    return submissions, values, issues


def authority_summary(submissions: pd.DataFrame, issues: pd.DataFrame) -> pd.DataFrame:
    """Per authority: files received, accepted (incl. with value errors), rejected, errors, warnings."""
    counted = issues.groupby(["submission_id", "severity"]).size().unstack(fill_value=0)
    subs = submissions.join(
        counted.reindex(columns=["error", "warning"], fill_value=0), on="submission_id"
    )
    subs = subs.fillna({"error": 0, "warning": 0, "authority": "(not identified)"})
    grouped = subs.groupby("authority")
    return pd.DataFrame(
        {
            "received": grouped.size(),
            "accepted": grouped["status"].agg(lambda s: int(s.str.startswith("accepted").sum())),
            "rejected": grouped["status"].agg(lambda s: int(s.isin(NOT_USED).sum())),
            "errors": grouped["error"].sum().astype(int),
            "warnings": grouped["warning"].sum().astype(int),
        }
    ).reset_index()


def current_values(values: pd.DataFrame) -> pd.DataFrame:
    """The values that count: from current returns, without an error or x."""
    return values.loc[values["is_current"] & (values["status"] == "ok")]


def missing_authorities(submissions: pd.DataFrame, authorities: Authorities) -> list[str]:
    """Names of the authorities without an accepted current return, in the region's order."""
    accepted = set(submissions.loc[submissions["is_current"], "authority"])
    return [authorities.name(c) for c in authorities.codes if c not in accepted]


def completeness_text(submissions: pd.DataFrame, authorities: Authorities) -> str:
    """`30 of 33 accepted; not returned: Hackney, Westminster; rejected: Lewisham`."""
    missing = missing_authorities(submissions, authorities)
    sent = {authorities.name(c) for c in submissions["authority"].dropna()}
    text = f"{len(authorities.codes) - len(missing)} of {len(authorities.codes)} accepted"
    not_returned = [n for n in missing if n not in sent]
    rejected = [n for n in missing if n in sent]
    if not_returned:
        text += f"; not returned: {', '.join(not_returned)}"
    if rejected:
        text += f"; no return accepted (rejected): {', '.join(rejected)}"
    if unmatched := unmatched_text(submissions):
        text += f"; {unmatched}"
    return text


def unmatched_files(submissions: pd.DataFrame) -> pd.DataFrame:
    """Files that name no authority we know (unreadable, not a workbook, or a cover that names
    none): they get the Unidentified feedback."""
    return submissions[submissions["authority"].isna()]


def unmatched_text(submissions: pd.DataFrame) -> str:
    """`4 files could not be matched to an authority`, or nothing when every file was."""
    n = len(unmatched_files(submissions))
    if not n:
        return ""
    return f"{n} file{'s' if n > 1 else ''} could not be matched to an authority"


def structural_problems(
    submissions: pd.DataFrame, values: pd.DataFrame, catalogue: Catalogue
) -> list[str]:
    """What would poison the benchmarks: more than one current return per authority, a current
    return with no authority, or a current value for an item the catalogue does not know."""
    problems = []
    current = submissions[submissions["is_current"]]
    doubled = current["authority"][current["authority"].duplicated()]
    problems += [f"{a} has more than one current return" for a in sorted(set(doubled))]
    if current["authority"].isna().any():
        problems.append("a current return has no authority")
    unknown = set(current_values(values)["ref"]) - set(catalogue.items["ref"])
    problems += [f"current values for unknown item {ref}" for ref in sorted(unknown)]
    return problems


def covered_population(
    values: pd.DataFrame, submissions: pd.DataFrame, population: pd.Series, catalogue: Catalogue
) -> pd.Series:
    """The 0-17 population each value covers: the authority's, or for the workforce items of a joint
    workforce return, both partners' together."""
    own = values["authority"].map(population)
    partner = values["submission_id"].map(
        submissions.set_index("submission_id")["joint_workforce_with"]
    )
    workforce = values["ref"].isin(
        catalogue.items.loc[catalogue.items["theme"] == "workforce", "ref"]
    )
    partner_population = partner.map(population).astype("float64").fillna(0)
    return own.astype("float64") + partner_population * workforce


def _contact(submission) -> str | None:
    """`Name, email` as the cover gives them (submissions joined to their contacts), or None."""
    found = [
        str(submission.get(k)).strip()
        for k in ("completed_by", "email")
        if isinstance(submission.get(k), str) and submission.get(k).strip()
    ]
    return ", ".join(found) or None


# Problems first: who to chase, then who to help, then who is done.
CHASE_ORDER = {
    "not returned": 0,
    "rejected": 1,
    "not a workbook": 1,
    "accepted with value errors": 2,
    "accepted": 3,
}


def _warning_reason(problem) -> str | None:
    return f"Warning: {problem}" if isinstance(problem, str) and problem else None


def submission_tracker(
    submissions: pd.DataFrame,
    issues: pd.DataFrame,
    authorities: Authorities,
    quarter: Quarter | None = None,
    today: date | None = None,
    earlier_contacts: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One row per authority, by name: its current return (or latest, if none is current), status,
    when it arrived, error and warning counts, and how many files it sent. Given the quarter, also
    the deadline, days late, why a return was rejected or values excluded, when its first file
    arrived, the contact its cover names (where the frame carries it) and the feedback workbook's
    path under the reports folder, problems first. An authority with nothing received is late
    from the deadline to `today` (the day the tracker is made, unless given); an accepted return
    with warnings gives the first warning as its reason, and one with nothing received the
    contact of its last return (`earlier_contacts`, by LIIA code), to chase."""
    counts = issues.groupby(["submission_id", "severity"]).size().unstack(fill_value=0)
    errors = issues[issues["severity"] == "error"] if len(issues) else issues
    first_error = errors.groupby("submission_id")["problem"].first() if len(errors) else {}
    warned = issues[issues["severity"] == "warning"] if len(issues) else issues
    first_warning = warned.groupby("submission_id")["problem"].first() if len(warned) else {}
    due = deadline(quarter) if quarter else None
    today = today or date.today()
    rows = []
    for code in sorted(authorities.codes, key=authorities.name):
        name = authorities.name(code)
        mine = submissions[submissions["authority"] == code].sort_values("received_at")
        current = mine[mine["is_current"]]
        shown = current.iloc[-1] if len(current) else (mine.iloc[-1] if len(mine) else None)
        row = {"Authority": name, "Status": "not returned", "Files": len(mine)}
        if shown is not None:
            sid = shown["submission_id"]
            version = shown["template_version"]
            received = pd.Timestamp(shown["received_at"])
            row.update(
                {
                    "Status": shown["status"],
                    "Current file": shown["file_name"],
                    "Received": received,
                    "Date completed": shown["completed_on"],
                    "Template version": None if pd.isna(version) else int(version),
                    **{
                        label: int(counts.at[sid, severity])
                        if sid in counts.index and severity in counts.columns
                        else 0
                        for label, severity in (("Errors", "error"), ("Warnings", "warning"))
                    },
                    "Reason": first_error.get(sid)
                    if shown["status"] != "accepted"
                    else _warning_reason(first_warning.get(sid)),
                    "First received": pd.Timestamp(mine["received_at"].min()),
                    "Contact": _contact(shown),
                }
            )
            if due is not None:
                row["Days late"] = max(0, (received.date() - due).days)
                row["Feedback"] = feedback_path(Path("."), quarter, name).as_posix()
        if due is not None:
            row["Deadline"] = pd.Timestamp(due)
            if shown is None:
                row["Contact"] = (earlier_contacts or {}).get(code)
                row["Days late"] = max(0, (today - due).days)
                row["Reason"] = "nothing received" + (
                    f" by the deadline of {due:%-d %B %Y}" if today > due else " yet"
                )
        rows.append(row)
    columns = ["Authority", "Status", "Current file", "Received", "Date completed"]
    columns += ["Template version", "Errors", "Warnings", "Files"]
    if quarter is not None:
        columns += ["Deadline", "Days late", "Reason", "First received", "Contact", "Feedback"]
    tracker = pd.DataFrame(rows).reindex(columns=columns)
    tracker["Received"] = pd.to_datetime(tracker["Received"])
    if quarter is not None:
        tracker["First received"] = pd.to_datetime(tracker["First received"])
    if quarter is not None:
        order = tracker["Status"].map(CHASE_ORDER).fillna(1)
        warned = tracker["Warnings"].fillna(0) > 0
        tracker = (
            tracker.assign(_order=order * 2 - warned)
            .sort_values(["_order", "Authority"], kind="stable")
            .drop(columns="_order")
            .reset_index(drop=True)
        )
    return tracker
