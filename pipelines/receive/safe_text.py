"""Text that came from outside (a return's cells, notes, cover, sheet and file names) made safe for
every place it is shown: a workbook cell, the download page, a terminal, the warehouse.

Control characters (Excel keeps them as `_x0001_`), terminal escapes and bidirectional overrides
become a visible mark rather than vanishing, so `12\\x0034` can never read as the number 1234;
line breaks and tabs become spaces; text longer than a cell should hold is cut with a visible note.
Whether text becomes a formula is the writer's business: every writer stores it as a string."""

from __future__ import annotations

import re

SHOWN_FOR_CONTROL = "\N{REPLACEMENT CHARACTER}"
MAX_TEXT = 500  # a value, name or note longer than this is not a return's figure or reason
_WHITESPACE = re.compile(r"[\t\n\r\v\f\x1c-\x1f\x85\u2028\u2029]+")
# C0 and C1 controls, DEL, the bidirectional controls that reorder what a reader sees, and lone
# surrogates (a file name's undecodable bytes), which no output encoding accepts.
_CONTROL = re.compile(
    r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def safe_text(value: object, limit: int = MAX_TEXT) -> str:
    """One line of printable text: controls shown as �, line breaks as spaces, cut at `limit`."""
    text = "" if value is None else str(value)
    if text.isprintable() and len(text) <= limit:
        return text
    text = _CONTROL.sub(SHOWN_FOR_CONTROL, _WHITESPACE.sub(" ", text))
    if len(text) > limit:
        text = f"{text[:limit].rstrip()}… [cut: {len(text):,} characters in all]"
    return text


def csv_cell(value: object) -> str:
    """Text for a CSV cell that Excel shows as text, never runs: a leading = + - @ (a formula to
    a spreadsheet) gets an apostrophe before it, as OWASP advises."""
    text = safe_text(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
