"""The house style of every workbook we write, with XlsxWriter (built to write files as Excel
itself saves them): titles and the security marking on every sheet, headers that wrap, columns as
wide as their content, text always stored as text, numbers in the unit's format, tables, and A4
print set-up. A workbook is written beside its target and renamed into place, so nobody ever opens
a half-written file."""

from __future__ import annotations

import math
import os
import textwrap
import uuid
import zipfile
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_range, xl_rowcol_to_cell

from pipelines.benchmark.comparisons import printed_band
from pipelines.warehouse.tables import RESTRICTED_MARKING

A4 = 9
BLUE, DARK, GREY, RED = "#1D70B8", "#0B0C0C", "#505A5F", "#C00000"
ROW_HEIGHT = 15  # points, one line of 11-point text
MIN_WIDTH, MAX_WIDTH = 6, 48  # column widths in characters
# Values: percentages are stored as fractions, so Excel shows 14.0% and sums them right.
NUMBER_FORMATS = {
    "gbp": "£#,##0",
    "gbp_m": '£#,##0.0"m"',
    "percent": "0.0%",
    "rate_10k": "#,##0.0",
    "ratio": "#,##0.0",
    "fte": "#,##0.0",
    "count": "#,##0",
    "weeks": "#,##0.0",
    "days": "#,##0.0",
}
UNIT_WORDS = {
    "gbp": "£",
    "gbp_m": "£ million",
    "percent": "%",
    "rate_10k": "per 10,000 children",
    "ratio": "ratio",
    "fte": "FTE",
}


def unit_words(ind) -> str:
    """An indicator's unit as a reader says it: the catalogue's words for it (a ratio's "days
    lost per FTE"), else its unit's label."""
    return getattr(ind, "unit_words", "") or UNIT_WORDS.get(ind.unit, ind.unit)


def named(ind) -> str:
    """The indicator's name with its unit, once: a name that already says it ("(£m)", "(%)",
    "per 10k children") is left as it is."""
    name = ind.name
    if name.rstrip().endswith(")") or " per " in name:
        return name
    return f"{name} ({unit_words(ind)})"


# The marking of each edition, under every sheet's title.
RESTRICTED = RESTRICTED_MARKING
PUBLISHABLE = (
    "OFFICIAL: publishable edition. Counts from 1 to 5, and any figure from which one could be "
    "worked back, are shown as [c]."
)
SYMBOL_LEGEND = (
    "Symbols: [x] not available (not returned, rejected or not held); [z] not applicable (not "
    "collected that quarter, or a zero denominator); [u] low reliability (denominator under 10: "
    "shown, not ranked); [c] suppressed (publishable edition only)."
)
# Light fills, so black text stays readable; the band is always written beside the value.
BAND_FILLS = {"A": "#C6EFCE", "B": "#E2F0D9", "C": "#FFF2CC", "D": "#F8CBAD"}
POSITION_FILLS = {"Q1": "#F2F2F2", "Q2": "#E6E6E6", "Q3": "#D9D9D9", "Q4": "#CCCCCC"}


def change_format(unit: str) -> str:
    """A change, signed, in the unit's own terms: percentages change by percentage points."""
    if unit == "percent":
        return '+0.0" pp";-0.0" pp";0.0" pp"'
    fmt = NUMBER_FORMATS.get(unit, "#,##0.0")
    return f"+{fmt};-{fmt};{fmt}"


# The benchmarks field each change is the difference from
CHANGE_FROM = {"change_on_quarter": "previous_value", "change_on_year": "year_earlier_value"}


def _as_printed(value: float, unit: str) -> Decimal:
    """A figure rounded as its unit's format prints it (half away from zero, as Excel rounds)."""
    fmt = NUMBER_FORMATS.get(unit, "#,##0.0")
    places = len(fmt.split(".")[1].rstrip('%"m')) if "." in fmt else 0
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def change_as_shown(b: dict, field: str, unit: str):
    """The change a reader can check against the two figures beside it: the difference of the
    figures as printed, not of the unrounded values (16.0% then 15.6% is -0.4 pp, not -0.3 pp).
    Where either is not a number (a symbol, nothing), the change as stored."""
    now, before = b.get("value"), b.get(CHANGE_FROM.get(field, ""))
    numbers = all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in (now, before)
    )
    change = b.get(field)
    if not numbers or change is None or isinstance(change, str):
        return change
    if isinstance(change, float) and math.isnan(change):
        return change
    return float(_as_printed(now, unit) - _as_printed(before, unit))


def bracketed(symbol: str) -> str:
    """A symbol as the Government Analysis Function asks it shown: `[c]`, never a bare `c`."""
    return f"[{symbol}]" if symbol and not symbol.startswith("[") else symbol


# A neutral indicator's place in London, in words: never Q1-Q4, which readers take for quarters.
def band_text(band: str) -> str:
    """A quartile band as printed: A-D for rates, the place in words for neutral indicators."""
    return printed_band(band)


def stored(value: float, unit: str) -> float:
    """A figure as a workbook holds it: a percentage as a fraction (14.0 -> 0.14)."""
    return value / 100 if unit == "percent" else value


def partial_path(path: Path) -> Path:
    """A hidden name beside `path`, unique to this writer: two runs writing the same file at once
    each rename their own complete copy into place."""
    return path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")


def save_text(text: str, path: Path) -> Path:
    """A text file written beside `path` and renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path


class Book:
    """One workbook being written."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.partial = path, partial_path(path)
        self.workbook = xlsxwriter.Workbook(
            str(self.partial),
            {
                # Text stays text: nothing an authority wrote becomes a formula, number or link.
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
                "nan_inf_to_errors": True,
                "in_memory": True,  # small files: no temporary file per sheet
            },
        )
        self._formats: dict[tuple, object] = {}
        self.sheets: list[Sheet] = []

    def format(self, **properties):
        key = tuple(sorted(properties.items()))
        if key not in self._formats:
            self._formats[key] = self.workbook.add_format(
                {"font_name": "Arial", "font_size": 10, "valign": "top", **properties}
            )
        return self._formats[key]

    def sheet(self, name: str, title: str, marking: str | None = None, **options) -> Sheet:
        sheet = Sheet(self, name, title, marking, **options)
        self.sheets.append(sheet)
        return sheet

    def close(self) -> Path:
        for sheet in self.sheets:
            sheet.finish()
        try:
            self.workbook.close()
            if not same_workbook(self.partial, self.path):  # else the file stays byte for byte
                self.partial.replace(self.path)
        finally:
            self.partial.unlink(missing_ok=True)
        return self.path


def same_workbook(new: Path, old: Path) -> bool:
    """Whether two workbooks hold the same, whenever each was written (only the time it was made,
    in docProps/core.xml, may differ)."""
    if not old.is_file():
        return False
    try:
        with zipfile.ZipFile(new) as a, zipfile.ZipFile(old) as b:
            # each part's checksum and size first, from the zips' directories: a workbook that
            # changed is told at once, without decompressing; one that may not is read whole
            parts = _parts(a)
            return parts == _parts(b) and all(a.read(n) == b.read(n) for n, _, _ in parts)
    except (OSError, zipfile.BadZipFile, KeyError):
        return False


def _parts(book: zipfile.ZipFile) -> list[tuple[str, int, int]]:
    return [
        (i.filename, i.CRC, i.file_size)
        for i in book.infolist()
        if i.filename != "docProps/core.xml"
    ]


class Sheet:
    """A worksheet that remembers what it holds, to size its columns and rows when finished."""

    def __init__(
        self,
        book: Book,
        name: str,
        title: str,
        marking: str | None = None,
        landscape: bool = True,
        one_page: bool = False,
        caps: dict[int, int] | None = None,
    ):
        self.book, self.name, self.title = book, name, title
        self.ws = book.workbook.add_worksheet(name)
        self.lengths: dict[int, int] = {}
        self.minimums: dict[int, int] = {}
        self.caps = caps or {}
        self.wrapped: dict[int, list[tuple[int, str]]] = {}  # row -> (column, text) that wraps
        self.heights: dict[int, float] = {}
        self.breaks: list[int] = []  # rows a printed page starts at
        self.chart_names: list[str] = []  # the names and figures of the chart last laid out
        self.chart_values: list[float] = []
        self.sparklines: list[tuple[int, int, int, int]] = []
        self.ws.set_paper(A4)
        if landscape:
            self.ws.set_landscape()
        else:
            self.ws.set_portrait()
        self.ws.fit_to_pages(1, 1 if one_page else 0)
        self.ws.set_margins(left=0.5, right=0.5, top=0.75, bottom=0.75)
        word = (marking or "").split(":")[0]
        if word:
            self.ws.set_header(f'&C&"Arial,Bold"&K{RED[1:]}{_escape_header(word)}')
        self.ws.set_footer(f"&L{_escape_header(title[:120])}&RPage &P of &N")
        self.ws.write_string(0, 0, title, book.format(bold=True, font_size=14))
        self.heights[0] = 20
        self.row = 1
        if marking:
            self.ws.write_string(1, 0, marking, book.format(bold=True, font_color=RED))
            self.row = 2

    # --- cells -------------------------------------------------------------------------------

    def text(self, row: int, col: int, value: object, wrap: bool = False, **style) -> None:
        """Text, stored as text whatever it looks like (`=SUM(...)`, `+44`, `-1` stay strings)."""
        text = (
            "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        )
        properties = {**style, **({"text_wrap": True} if wrap else {})}
        if not text:
            self.ws.write_blank(row, col, None, self.book.format(**properties))
            return
        self.ws.write_string(row, col, text, self.book.format(**properties))
        if wrap:  # as wide as the text up to the column's cap, then it wraps
            self.wrapped.setdefault(row, []).append((col, text))
            self.minimums[col] = max(self.minimums.get(col, 0), _longest_word(text))
        self._measure(col, len(text))

    def line(self, text: str, **style) -> int:
        """A line of text under the title, in column A, left to run across: its row."""
        row = self.row
        self.ws.write_string(row, 0, text, self.book.format(**style))
        self.row += 1
        return row

    def prose(self, text: str, characters: int = 120, **style) -> int:
        """Text under the title in lines of about `characters`, one a row, each running on across
        the empty cells beside it: no merged cells, and it prints whole at any column widths
        (as long as the page is that wide). Its first row."""
        first = self.row
        for piece in textwrap.wrap(text, characters, break_on_hyphens=False) or [""]:
            self.line(piece, **style)
        return first

    def number(self, row: int, col: int, value, unit: str | None = None, **style) -> None:
        """A figure in its unit's format; a symbol (x, z, c, u) or nothing in its place."""
        if self._no_figure(row, col, value, style):
            return
        shown = stored(float(value), unit or "")
        fmt = NUMBER_FORMATS.get(unit or "", "#,##0.0")
        self.ws.write_number(row, col, shown, self.book.format(num_format=fmt, **style))
        self._measure(col, len(_as_text(float(value), unit)) + 3)

    def change(self, row: int, col: int, value, unit: str | None = None, **style) -> None:
        """A change, signed, in percentage points for a percentage (never as a fraction)."""
        if self._no_figure(row, col, value, style):
            return
        fmt = change_format(unit or "")
        self.ws.write_number(row, col, float(value), self.book.format(num_format=fmt, **style))
        self._measure(col, len(_as_text(float(value), unit)) + 4)

    def _no_figure(self, row: int, col: int, value, style: dict) -> bool:
        """Nothing, or a symbol in brackets, where there is no figure: whether it wrote one."""
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            self.ws.write_blank(row, col, None, self.book.format(**style))
            return True
        if isinstance(value, str):
            self.text(row, col, bracketed(value), align="right", **style)
            return True
        return False

    def sparkline(self, row: int, col: int, first: int, last: int) -> None:
        """A small line in (row, col) of the figures from `first` to `last` of the same row, the
        last point red. Written in one group when the sheet is finished: XlsxWriter works out a
        style for every call, and a group shares one."""
        self.sparklines.append((row, col, first, last))

    def integer(self, row: int, col: int, value, **style) -> None:
        if value is None or pd.isna(value):
            self.ws.write_blank(row, col, None, self.book.format(**style))
            return
        self.ws.write_number(row, col, int(value), self.book.format(num_format="0", **style))
        self._measure(col, len(str(int(value))))

    def date(self, row: int, col: int, value, with_time: bool = False) -> None:
        if value is None or pd.isna(value):
            return
        stamp = pd.Timestamp(value).to_pydatetime()
        fmt = "dd/mm/yyyy hh:mm" if with_time else "dd/mm/yyyy"
        self.ws.write_datetime(row, col, stamp, self.book.format(num_format=fmt))
        self._measure(col, len(fmt))

    def produced(self) -> int:
        """`Produced: 29 November 2026 20:08` under the title, as text: a date cell in a narrow
        column prints as ###, while text runs on across the empty cells beside it."""
        return self.line(f"Produced: {datetime.now():%-d %B %Y %H:%M}")

    def header(self, row: int, labels: list[str], first_col: int = 0) -> None:
        """Bold headers that wrap: a column is never narrower than a header's longest word."""
        fmt = self._header_format()
        for col, label in enumerate(labels, start=first_col):
            self.ws.write_string(row, col, label, fmt)
            self.wrapped.setdefault(row, []).append((col, label))
            self.minimums[col] = max(self.minimums.get(col, 0), _longest_word(label) + 1)

    def _header_format(self):
        return self.book.format(bold=True, text_wrap=True, bg_color="#DEE0E2", bottom=1)

    def table(self, header_row: int, last_row: int, labels: list[str], name: str) -> None:
        """The header row and the rows under it as an Excel table (filters, banded rows)."""
        self.header(header_row, labels)
        if last_row > header_row:
            self.ws.add_table(
                header_row,
                0,
                last_row,
                len(labels) - 1,
                {
                    "name": name,
                    "style": "Table Style Light 1",
                    "columns": [
                        {"header": label, "header_format": self._header_format()}
                        for label in labels
                    ],
                },
            )

    def width(self, col: int, characters: int) -> None:
        """A column at least this wide (for what is not written cell by cell, e.g. a chart)."""
        self.minimums[col] = max(self.minimums.get(col, 0), characters)

    def _measure(self, col: int, length: int) -> None:
        if length > self.lengths.get(col, 0):
            self.lengths[col] = length

    # --- the end -----------------------------------------------------------------------------

    def column_widths(self) -> dict[int, float]:
        columns = set(self.lengths) | set(self.minimums)
        widths = {}
        for col in columns:
            content = self.lengths.get(col, 0) + 2
            width = min(max(content, MIN_WIDTH), self.caps.get(col, MAX_WIDTH))
            widths[col] = max(width, self.minimums.get(col, 0))
        return widths

    def finish(self) -> None:
        if self.sparklines:
            sheet = "'" + self.name.replace("'", "''") + "'"
            self.ws.add_sparkline(
                self.sparklines[0][0],
                self.sparklines[0][1],
                {
                    "location": [xl_rowcol_to_cell(r, c) for r, c, _, _ in self.sparklines],
                    "range": [f"{sheet}!{xl_range(r, a, r, b)}" for r, _, a, b in self.sparklines],
                    "markers": True,
                    "weight": 2.25,
                    "series_color": BLUE,
                    "markers_color": BLUE,
                    "last_point": True,
                    "last_color": RED,
                },
            )
        widths = self.column_widths()
        if self.lengths.get(0, 0) > 60 and self.minimums.get(0, 0) <= 18:
            widths[0] = min(widths[0], 18)  # long lines in column A run across, not widen it
        for col, width in widths.items():
            self.ws.set_column(col, col, width)
        for row, cells in self.wrapped.items():
            # Arial 10 is narrower than the width unit (a '0' in Calibri 11): len/width lines
            lines = max(
                math.ceil(len(text) / max(widths.get(col, MIN_WIDTH), 1)) or 1
                for col, text in cells
            )
            self.heights[row] = max(self.heights.get(row, ROW_HEIGHT), ROW_HEIGHT * lines)
        for row, height in self.heights.items():
            self.ws.set_row(row, height)


def _longest_word(text: str) -> int:
    return max((len(w) for w in str(text).split()), default=0)


def _as_text(value: float, unit: str | None) -> str:
    if unit == "percent":
        return f"{value:,.1f}%"
    if unit in ("gbp", "count"):
        return f"£{value:,.0f}" if unit == "gbp" else f"{value:,.0f}"
    if unit == "gbp_m":
        return f"£{value:,.1f}m"
    return f"{value:,.1f}"


def _escape_header(text: str) -> str:
    """Excel's header codes start with &: a literal & is &&."""
    return text.replace("&", "&&")
