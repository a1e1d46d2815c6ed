"""Reading a return workbook with python-calamine: the cover, and every value with its cell."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

from pipelines.catalogue import THEMES, load_authorities
from pipelines.quarters import Quarter, QuarterError, parse_quarter
from pipelines.template import HEADER

RETURN_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
MAX_UNCOMPRESSED_BYTES = 50_000_000  # a real return is well under 1 MB unzipped


@dataclass
class Issue:
    severity: str  # "error" or "warning"
    sheet: str | None
    cell: str | None
    ref: str | None
    found: str | None
    problem: str
    fix: str


VALUE_COLUMNS = ["sheet", "ref", "cell", "raw", "note"]


@dataclass
class ParsedReturn:
    path: Path
    authority: str | None = None
    quarter: Quarter | None = None
    template_version: int | None = None
    joint_workforce_with: str | None = None
    completed_on: str | None = None
    records: list[dict] = field(default_factory=list)  # one per value: sheet, ref, cell, raw, note
    issues: list[Issue] = field(default_factory=list)

    @property
    def values(self) -> pd.DataFrame:
        return pd.DataFrame(self.records, columns=VALUE_COLUMNS)

    @property
    def rejected(self) -> bool:
        """A cover or structure error rejects the whole return."""
        return any(i.severity == "error" and i.ref is None for i in self.issues)


def cell_name(row: int, col: int) -> str:
    """0-based row and column -> `D14`."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


_MESSY = re.compile(r"\s{2}|[^\S ]")  # two spaces, or any space other than a plain one


def _clean(text: object) -> str:
    text = str(text)
    if not _MESSY.search(text):
        return text.strip()
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).strip()


def _structure_error(problem: str, fix: str, sheet: str | None = None, cell: str | None = None):
    return Issue("error", sheet, cell, None, None, problem, fix)


def _reason(exc: Exception) -> str:
    """The first line of a library's error, kept short: never a traceback or a megabyte message."""
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _open_workbook(path: Path) -> CalamineWorkbook:
    if path.suffix.lower() in {".xlsx", ".xlsm"} and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            if sum(i.file_size for i in z.infolist()) > MAX_UNCOMPRESSED_BYTES:
                raise ValueError(
                    "the file unpacks to more than 50 MB, far larger than any return; "
                    "save a fresh copy of the template with only your figures"
                )
    return CalamineWorkbook.from_path(str(path))


def read_cover_quarter(path: Path) -> Quarter | None:
    """Only the quarter on the cover (None where it cannot be read): a cheap look at a file."""
    parsed = ParsedReturn(Path(path))
    try:
        wb = _open_workbook(parsed.path)
    except Exception:
        return None
    _read_cover(wb, {_clean(name).lower(): name for name in wb.sheet_names}, parsed)
    return parsed.quarter


def read_return(path: Path) -> ParsedReturn:
    """Everything in one return; problems become Issues, never exceptions."""
    parsed = ParsedReturn(Path(path))
    try:
        wb = _open_workbook(parsed.path)
    except Exception as exc:  # calamine raises several types for unreadable files
        reason = _reason(exc)
        if "password" in reason.lower():
            problem = "The workbook is password-protected, so it cannot be read."
            fix = "Remove the password (File > Info > Protect Workbook > Encrypt with Password) and send it again."
        else:
            problem = f"The file could not be opened as a workbook ({reason})."
            fix = "Send the return as an Excel workbook (.xlsx) saved from the LIIA template."
        parsed.issues.append(_structure_error(problem, fix))
        return parsed
    sheets = {_clean(name).lower(): name for name in wb.sheet_names}
    try:
        _read_cover(wb, sheets, parsed)
    except Exception as exc:
        parsed.issues.append(
            _structure_error(
                f"The Cover sheet could not be read ({_reason(exc)}).",
                "Copy your cover details into a fresh LIIA template and send that.",
                sheet="Cover",
            )
        )
    records: list[dict] = []
    for sheet in THEMES.values():
        actual = sheets.get(sheet.lower())
        if actual is None:
            parsed.issues.append(
                _structure_error(
                    f"The {sheet} sheet is missing (sheets found: {', '.join(wb.sheet_names)}).",
                    f"Use the LIIA template and keep its sheet named '{sheet}'.",
                    sheet=sheet,
                )
            )
            continue
        try:
            rows = wb.get_sheet_by_name(actual).to_python()
        except Exception as exc:  # malformed sheet XML, e.g. an entity-expansion attack
            parsed.issues.append(
                _structure_error(
                    f"The {sheet} sheet could not be read ({_reason(exc)}).",
                    "Copy your figures into a fresh LIIA template and send that.",
                    sheet=sheet,
                )
            )
            continue
        records += _read_theme(rows, sheet, parsed)
    parsed.records = records
    return parsed


def _read_cover(wb: CalamineWorkbook, sheets: dict, parsed: ParsedReturn) -> None:
    if "cover" not in sheets:
        parsed.issues.append(
            _structure_error(
                "The Cover sheet is missing, so we cannot tell which authority and quarter this is.",
                "Use the LIIA template and fill in its Cover sheet.",
                sheet="Cover",
            )
        )
        return
    found: dict[str, tuple[object, str]] = {}
    for r, row in enumerate(wb.get_sheet_by_name(sheets["cover"]).to_python()):
        if len(row) >= 2 and isinstance(row[0], str) and _clean(row[0]):
            found[_clean(row[0]).lower()] = (row[1], cell_name(r, 1))
    value, cell = found.get("local authority", ("", "B3"))
    code = load_authorities().resolve(value)
    if code is None:
        parsed.issues.append(
            Issue(
                "error",
                "Cover",
                cell,
                None,
                _clean(value),
                f"The local authority '{_clean(value)}' is not one we recognise.",
                "Choose your authority from the drop-down, or give its ONS or DfE code.",
            )
        )
    parsed.authority = code
    value, cell = found.get("quarter", ("", "B4"))
    try:
        parsed.quarter = parse_quarter(value)
    except QuarterError as exc:
        parsed.issues.append(
            Issue(
                "error",
                "Cover",
                cell,
                None,
                _clean(value),
                f"The quarter {exc}.",
                "Write the quarter as on the template, e.g. 2026-27 Q2.",
            )
        )
    value, cell = found.get("template version", ("", "B5"))
    try:
        parsed.template_version = int(float(str(value).strip()))
    except ValueError:
        parsed.issues.append(
            Issue(
                "error",
                "Cover",
                cell,
                None,
                _clean(value),
                "The template version is not a number.",
                "Use the current LIIA template; its cover shows the version.",
            )
        )
    value, _ = found.get("date completed", (None, None))
    if value not in (None, ""):
        parsed.completed_on = (
            value.isoformat()[:10] if hasattr(value, "isoformat") else _clean(value)
        )
    value, _ = found.get("workforce reported jointly with", (None, None))
    if value not in (None, ""):
        parsed.joint_workforce_with = load_authorities().resolve(value)


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
                "ref": _clean(ref).upper(),
                "cell": f"{sheet}!{cell_name(r, col['value'])}",
                "raw": raw,
                "note": _clean(note) if note not in (None, "") else "",
            }
        )
    return records
