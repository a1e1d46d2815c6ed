"""Reading a return: the cover, and every value with its cell, from the rows a bounded worker read
(see pipelines.receive.reader). Every problem becomes an Issue in plain words, never an exception; text
from the file is made safe (pipelines.receive.safe_text) before anything else sees it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from pipelines.collection.catalogue import HEADER, THEMES, load_authorities, load_catalogue
from pipelines.collection.quarters import Quarter, QuarterError, parse_quarter
from pipelines.receive.reader import UNREADABLE, read_workbooks
from pipelines.receive.safe_text import safe_text

WANTED_SHEETS = frozenset(["cover", *(s.lower() for s in THEMES.values())])
# What a computer leaves beside files and nobody sends: not submissions.
SYSTEM_FILES = {".ds_store", "thumbs.db", "desktop.ini"}
EXCEL_FAMILY = {".xlsx", ".xlsm", ".xltx", ".xltm"}
NOTE_LIMIT = 1000


def is_system_file(path: Path) -> bool:
    """An Excel lock file (`~$...`), a hidden file, a folder's thumbnail cache, or a README that
    tells people what the folder is for."""
    name = path.name
    return (
        name.startswith(("~$", "."))
        or name.lower() in SYSTEM_FILES
        or name.lower().startswith("readme")
    )


# An issue as a row, as every stage stores and reports it.
ISSUE_COLUMNS = [
    "submission_id",
    "severity",
    "sheet",
    "cell",
    "ref",
    "found",
    "problem",
    "fix",
    "rule",  # which check found it: the schema check's name, the rule's text, or the warning's
]


@dataclass
class Issue:
    severity: str  # "error" or "warning"
    sheet: str | None
    cell: str | None
    ref: str | None
    found: str | None
    problem: str
    fix: str
    rule: str | None = None  # which check found it (validation_issues.rule)


VALUE_COLUMNS = ["sheet", "ref", "cell", "raw", "note"]


@dataclass
class ParsedReturn:
    path: Path
    authority: str | None = None
    quarter: Quarter | None = None
    template_version: int | None = None
    joint_workforce_with: str | None = None
    completed_on: str | None = None
    # who the cover names as having completed it: for LIIA's team to chase, never published
    completed_by: str | None = None
    email: str | None = None
    records: list[dict] = field(default_factory=list)  # one per value: sheet, ref, cell, raw, note
    issues: list[Issue] = field(default_factory=list)
    not_a_workbook: bool = False
    unreadable: str | None = None  # why the file could not be read at all (see reader.UNREADABLE)

    @property
    def values(self) -> pd.DataFrame:
        return pd.DataFrame(self.records, columns=VALUE_COLUMNS)

    @property
    def rejected(self) -> bool:
        """A cover or structure error rejects the whole return."""
        return any(i.severity == "error" and i.ref is None for i in self.issues)

    @property
    def status(self) -> str:
        if self.not_a_workbook:
            return "not a workbook"
        return "rejected" if self.rejected else "received"


def cell_name(row: int, col: int) -> str:
    """0-based row and column -> `D14`."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


_MESSY = re.compile(r"\s{2}|[^\S ]")  # two spaces, or any space other than a plain one


def _clean(text: object, limit: int | None = None) -> str:
    text = safe_text(text) if limit is None else safe_text(text, limit)
    if not _MESSY.search(text):
        return text.strip()
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()


def _structure_error(
    problem: str, fix: str, rule: str, sheet: str | None = None, cell: str | None = None
) -> Issue:
    return Issue("error", sheet, cell, None, None, problem, fix, rule)


def _resave_advice(path: Path) -> str:
    if path.suffix.lower() in EXCEL_FAMILY:
        return "Open it in Excel to check it, save it again, and send the new copy."
    return (
        "Open it in your spreadsheet program, save it as an Excel Workbook (.xlsx), and send that."
    )


def unreadable_issue(path: Path, answer: dict) -> tuple[Issue, bool]:
    """The one line for a file that cannot be read at all, and whether it is not a workbook."""
    kind, description = answer["unreadable"], answer.get("description", "")
    if kind == "other":
        if "format we do not read" in description or "too old" in description:
            problem = f"This file cannot be read as a workbook: it is {description}."
            fix = "Open it in Excel or LibreOffice, save it as an Excel Workbook (.xlsx), and send that."
        else:
            problem = f"This is not a workbook: it is {description}."
            fix = (
                "Send your return as the LIIA template filled in, an Excel workbook (.xlsx); "
                "a PDF, document, CSV or web page cannot be read."
            )
        return _structure_error(problem, fix, "unreadable file: not a workbook"), True
    if kind == "password":
        problem = "The workbook is password-protected, so it cannot be read."
        fix = (
            "Remove the password and send it again (Excel: File > Info > Protect Workbook > "
            "Encrypt with Password, and clear it; LibreOffice: File > Save As, with "
            "'Save with password' unticked)."
        )
    elif kind == "damaged":
        problem = (
            f"The file is damaged and could not be opened ({description}): it may have been cut "
            "short while being copied or attached."
        )
        fix = _resave_advice(path)
    elif kind == "too large":
        problem = f"The file was not read: it is {description}, far larger than any return."
        fix = "Copy your figures into a fresh LIIA template and send that."
    elif kind == "missing":
        problem = "The file disappeared before it could be read."
        fix = "Send it again."
    else:
        problem = f"The file could not be read: {UNREADABLE.get(kind, 'it is damaged')}."
        fix = _resave_advice(path)
    return _structure_error(problem, fix, f"unreadable file: {kind}"), False


def read_returns(paths: list[Path], today: date | None = None) -> list[ParsedReturn]:
    """Every return in `paths`, each read in a bounded worker; problems become Issues."""
    answers = read_workbooks(paths, WANTED_SHEETS)
    return [parse_return(Path(p), a, today) for p, a in zip(paths, answers, strict=True)]


def read_return(path: Path) -> ParsedReturn:
    return read_returns([path])[0]


def read_cover_quarters(paths: list[Path], today: date | None = None) -> list[Quarter | None]:
    """The quarter each file's cover names (None where it names none we accept): a cheap look."""
    answers = read_workbooks(paths, frozenset(["cover"]))
    quarters = []
    for path, answer in zip(paths, answers, strict=True):
        parsed = ParsedReturn(Path(path))
        if "unreadable" not in answer:
            cover = _sheet(answer, "cover")
            if cover is not None:
                _read_cover(answer["rows"][cover], parsed, today)
        quarters.append(parsed.quarter)
    return quarters


def _sheet(answer: dict, wanted: str) -> str | None:
    """The workbook's own name of a sheet (`' finance '` for `finance`)."""
    for name in answer["names"]:
        if " ".join(str(name).split()).lower() == wanted:
            return name
    return None


def parse_return(path: Path, answer: dict, today: date | None = None) -> ParsedReturn:
    """A return from what the reader sent back for it."""
    parsed = ParsedReturn(path)
    if "unreadable" in answer:
        issue, parsed.not_a_workbook = unreadable_issue(path, answer)
        parsed.unreadable = answer["unreadable"]
        parsed.issues.append(issue)
        return parsed
    names = [safe_text(n, 100) for n in answer["names"]]
    found = {sheet: _sheet(answer, sheet.lower()) for sheet in ["Cover", *THEMES.values()]}
    if not any(found.values()):
        parsed.issues.append(
            _structure_error(
                "This is not a LIIA return: it has no Cover sheet and none of the Finance, "
                f"Adolescents, Workforce or SEND sheets (sheets found: {', '.join(names) or 'none'}).",
                "Fill in the LIIA return template for the quarter and send that.",
                "not a return",
            )
        )
        return parsed
    if found["Cover"] is None:
        parsed.issues.append(
            _structure_error(
                "The Cover sheet is missing, so we cannot tell which authority and quarter this is.",
                "Use the LIIA template and fill in its Cover sheet.",
                "sheet missing",
                sheet="Cover",
            )
        )
    elif found["Cover"] in answer["problems"]:
        parsed.issues.append(_unreadable_sheet("Cover", answer["problems"][found["Cover"]]))
    else:
        _read_cover(answer["rows"][found["Cover"]], parsed, today)
    records: list[dict] = []
    for sheet in THEMES.values():
        actual = found[sheet]
        if actual is None:
            parsed.issues.append(
                _structure_error(
                    f"The {sheet} sheet is missing (sheets found: {', '.join(names)}).",
                    f"Use the LIIA template and keep its sheet named '{sheet}'.",
                    "sheet missing",
                    sheet=sheet,
                )
            )
        elif actual in answer["problems"]:
            parsed.issues.append(_unreadable_sheet(sheet, answer["problems"][actual]))
        else:
            records += _read_theme(answer["rows"][actual], sheet, parsed)
    parsed.records = records
    return parsed


def _unreadable_sheet(sheet: str, why: str) -> Issue:
    return _structure_error(
        f"The {sheet} sheet could not be read: {why}.",
        "Copy your figures into a fresh LIIA template and send that.",
        "sheet unreadable",
        sheet=sheet,
    )


def _cover_error(
    parsed: ParsedReturn, cell: str, found: object, problem: str, fix: str, rule: str
) -> None:
    parsed.issues.append(Issue("error", "Cover", cell, None, _clean(found), problem, fix, rule))


def _read_cover(rows: list[list], parsed: ParsedReturn, today: date | None = None) -> None:
    found: dict[str, tuple[object, str]] = {}
    for r, row in enumerate(rows):
        if len(row) >= 2 and isinstance(row[0], str) and _clean(row[0]):
            found[_clean(row[0]).lower()] = (row[1], cell_name(r, 1))
    authorities, catalogue = load_authorities(), load_catalogue()
    value, cell = found.get("local authority", ("", "B3"))
    parsed.authority = authorities.resolve(_clean(value))
    if parsed.authority is None:
        _cover_error(
            parsed,
            cell,
            value,
            f"The local authority '{_clean(value)}' is not one we recognise.",
            "Choose your authority from the drop-down, or give its ONS or DfE code.",
            "cover: authority",
        )
    value, cell = found.get("quarter", ("", "B4"))
    try:
        quarter = parse_quarter(_clean(value))
    except QuarterError as exc:
        _cover_error(
            parsed,
            cell,
            value,
            f"The quarter {exc}.",
            "Write the quarter as on the template, e.g. 2026-27 Q2.",
            "cover: quarter",
        )
    else:
        first = catalogue.first_quarter
        if quarter.start > (today or date.today()):
            _cover_error(
                parsed,
                cell,
                value,
                f"The quarter {quarter.label} has not started yet.",
                "Check the quarter on the cover: a return is for a quarter that has ended.",
                "cover: quarter",
            )
        elif quarter < first:
            _cover_error(
                parsed,
                cell,
                value,
                f"The quarter {quarter.label} is before LIIA's collection began ({first.label}).",
                "Check the quarter on the cover.",
                "cover: quarter",
            )
        else:
            parsed.quarter = quarter
    _read_template_version(found, parsed, catalogue)
    value, _ = found.get("date completed", (None, None))
    if value not in (None, ""):
        parsed.completed_on = (
            value.isoformat()[:10] if hasattr(value, "isoformat") else _clean(value, 40)
        )
    for label, attribute in (("completed by", "completed_by"), ("email", "email")):
        value, _ = found.get(label, (None, None))
        if value not in (None, ""):
            setattr(parsed, attribute, _clean(value, 120))
    value, _ = found.get("workforce reported jointly with", (None, None))
    if value not in (None, ""):
        parsed.joint_workforce_with = authorities.resolve(_clean(value))


def _read_template_version(found: dict, parsed: ParsedReturn, catalogue) -> None:
    value, cell = found.get("template version", ("", "B5"))
    issued = sorted(int(v) for v in catalogue.template_versions["version"])
    try:
        version = int(float(str(value).strip()))
    except (ValueError, OverflowError):
        version = None
    if version not in issued:
        _cover_error(
            parsed,
            cell,
            value,
            f"The template version '{_clean(value)}' is not one LIIA has issued "
            f"({', '.join(map(str, issued))}).",
            "Use the LIIA template for the quarter; its cover shows the version.",
            "cover: template version",
        )
        return
    parsed.template_version = version
    if parsed.quarter is None:
        return
    expected = catalogue.template_version(parsed.quarter)
    if version < expected:
        items = catalogue.items
        missing = items.loc[
            (items["since_template"] > version) & (items["since_template"] <= expected), "ref"
        ]
        parsed.issues.append(
            Issue(
                "warning",
                "Cover",
                cell,
                None,
                str(version),
                f"This return is on template version {version}, but {parsed.quarter.label} uses "
                f"version {expected}: the items version {version} does not have "
                f"({', '.join(missing)}) are shown as not collected (z) for you this quarter.",
                f"Use the version {expected} template next time (LIIA sends it; "
                f"`liia template --quarter {parsed.quarter.key}` writes it).",
                "old template",
            )
        )


def _read_theme(rows: list[list], sheet: str, parsed: ParsedReturn) -> list[dict]:
    """The theme sheet's rows below its header, each with its Value cell."""
    wanted = [h.lower() for h in HEADER[:4]]
    for r, row in enumerate(rows):
        labels = [_clean(c).lower() if isinstance(c, str) else "" for c in row]
        if all(w in labels for w in wanted):
            header_row, col = r, {w: labels.index(w) for w in wanted}
            note_col = labels.index("notes") if "notes" in labels else None
            break
    else:
        parsed.issues.append(
            _structure_error(
                f"No table header with Ref, Measure, Unit and Value was found on the {sheet} sheet.",
                "Keep the template's header row (Ref, Measure, Unit, Value, Notes) above the figures.",
                "no header",
                sheet=sheet,
            )
        )
        return []
    records = []
    for r in range(header_row + 1, len(rows)):
        row = rows[r]
        ref = row[col["ref"]] if col["ref"] < len(row) else ""
        if not isinstance(ref, str) or not _clean(ref):
            continue  # blank or trailing rows
        raw = row[col["value"]] if col["value"] < len(row) else ""
        note = row[note_col] if note_col is not None and note_col < len(row) else ""
        records.append(
            {
                "sheet": sheet,
                "ref": _clean(ref, 40).upper(),
                "cell": f"{sheet}!{cell_name(r, col['value'])}",
                "raw": safe_text(raw) if isinstance(raw, str) else raw,
                "note": _clean(note, NOTE_LIMIT) if note not in (None, "") else "",
            }
        )
    return records
