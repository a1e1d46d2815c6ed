"""Local government financial-year quarters: key `2026-27-Q2`, label `2026-27 Q2`."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from datetime import date


class QuarterError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Quarter:
    year: int  # first calendar year of the financial year: 2026 for 2026-27
    q: int

    @property
    def key(self) -> str:
        return f"{self.year}-{(self.year + 1) % 100:02d}-Q{self.q}"

    @property
    def label(self) -> str:
        return f"{self.year}-{(self.year + 1) % 100:02d} Q{self.q}"

    @property
    def start(self) -> date:
        month = 4 + 3 * (self.q - 1)
        return date(self.year + (month > 12), (month - 1) % 12 + 1, 1)

    @property
    def end(self) -> date:
        nxt = self.next().start
        return date.fromordinal(nxt.toordinal() - 1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.q == 4 else Quarter(self.year, self.q + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.q == 1 else Quarter(self.year, self.q - 1)

    def year_earlier(self) -> Quarter:
        return Quarter(self.year - 1, self.q)

    def __str__(self) -> str:
        return self.label


# The return deadline: this day of the month, this many months after the quarter ends.
DEADLINE_DAY = int(os.environ.get("LIIA_DEADLINE_DAY", "15"))
DEADLINE_MONTHS_AFTER = int(os.environ.get("LIIA_DEADLINE_MONTHS_AFTER", "2"))


def deadline(quarter: Quarter) -> date:
    """The quarter's return deadline: the 15th of the second month after it ends, by default."""
    month = quarter.end.year * 12 + quarter.end.month - 1 + DEADLINE_MONTHS_AFTER
    return date(month // 12, month % 12 + 1, DEADLINE_DAY)


_YEAR = r"(?P<y1>\d{4})\s*[-/–]\s*(?P<y2>\d{2}|\d{4})"
_Q = r"Q\s*(?P<q>[1-4])"
_PATTERNS = [
    re.compile(rf"^{_YEAR}\s*[-\s]\s*{_Q}$", re.IGNORECASE),
    re.compile(rf"^{_Q}\s+{_YEAR}$", re.IGNORECASE),
]


def parse_quarter(text: object) -> Quarter:
    """Read a quarter as people type it: `2026-27 Q2`, `2026-27-Q2`, `Q2 2026-27`, `2026/27 Q2`,
    `2026-2027 Q2`. Anything else (a bare `Q2`, a date, years that do not follow) is refused."""
    s = re.sub(r"\s+", " ", str(text if text is not None else "").replace("\xa0", " ")).strip()
    for pattern in _PATTERNS:
        m = pattern.match(s)
        if not m:
            continue
        y1, y2 = int(m["y1"]), m["y2"]
        follows = int(y2) == y1 + 1 if len(y2) == 4 else int(y2) == (y1 + 1) % 100
        if not follows:
            raise QuarterError(
                f"'{s}' is not a financial year: the second year must follow the first"
            )
        return Quarter(y1, int(m["q"]))
    raise QuarterError(
        f"'{s}' is not a quarter we can read; write it as financial year and quarter, e.g. 2026-27 Q2"
    )


def quarter_argument(text: str) -> Quarter:
    """A quarter on the command line (`--quarter 2026-27-Q2`), or argparse's usage error."""
    try:
        return parse_quarter(text)
    except QuarterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def quarter_containing(day: date) -> Quarter:
    year = day.year if day.month >= 4 else day.year - 1
    return Quarter(year, ((day.month - 4) % 12) // 3 + 1)


def quarter_range(first: Quarter, last: Quarter) -> list[Quarter]:
    out, q = [], first
    while q <= last:
        out.append(q)
        q = q.next()
    return out
