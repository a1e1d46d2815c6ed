"""The return template, generated from the catalogue with XlsxWriter: blank for authorities, or
filled in (the sample returns, tests). Each sheet prints on one A4 page with its labels beside
their inputs; what LIIA fills in (labels, the quarter, the template version, Refs and measures) is
locked, and only the white-on-yellow input cells are open."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.collection.catalogue import (
    HEADER,
    THEME_TITLES,
    THEMES,
    Catalogue,
    Rule,
    load_authorities,
    load_catalogue,
    parse_rules,
)
from pipelines.collection.quarters import Quarter, deadline
from pipelines.write.layout import Book

if TYPE_CHECKING:
    import pandas as pd

COVER_LABELS = [
    "Local authority",
    "Quarter",
    "Template version",
    "Completed by",
    "Email",
    "Date completed",
    "Workforce reported jointly with",
]
PREFILLED = {"Quarter", "Template version"}
WIDTHS = [7, 50, 8, 13, 28, 40]
# What the period of an item (the catalogue's `period`) means to the person filling it in.
PERIOD_WORDS = {
    "full_year": "For the whole financial year.",
    "year_to_date": "From 1 April to the last day of the quarter.",
    "quarter_end": "On the last day of the quarter.",
    "in_quarter": "During the quarter.",
    "rolling_12m": "Over the 12 months to the last day of the quarter.",
}
HEADER_ROW = 5  # guidance sits above; readers find the header by content, not by this number
OPEN = "#FFF2CC"


def guidance(theme: str, quarter: Quarter) -> list[str]:
    return [
        f"LIIA quarterly return: {THEME_TITLES[theme]}, {quarter.label}",
        "Enter whole numbers for counts and pounds; FTE, weeks and days may have decimals. "
        "Do not enter percentages: LIIA derives every rate.",
        "If a figure is not available enter x in Value and say why in Notes. Do not leave Value "
        "empty. Definition and checks says what each item is and what is checked as you type.",
    ]


def how_to_send(quarter: Quarter) -> list[str]:
    """The cover's last words: when the return is due, how to send it and whom to ask."""
    from pipelines.release.timing import ReleaseSettings

    settings = ReleaseSettings.from_environment()
    return [
        f"Due: {deadline(quarter):%-d %B %Y}, for {quarter.label}.",
        "How to send it: upload it on the LIIA portal (Upload a return), signed in with your "
        "authority's account; you see its checks at once and the full answer within minutes. "
        "Your usual secure route still works.",
        f"Questions: {settings.contact_text()}.",
    ]


def whole_numbers(item, catalogue: Catalogue) -> bool:
    """Whether the item's unit takes whole numbers only (counts, pounds: `units.csv` decimals 0)."""
    return int(catalogue.units.at[item.unit, "decimals"]) == 0


def _rule_words(rule: Rule, measures) -> str:
    limit = "No more than" if rule.op == "<=" else "At least"
    terms = " + ".join(rule.terms)
    named = f" ({measures[rule.terms[0]]})" if len(rule.terms) == 1 else ""
    return f"{limit} {terms}{named}."


def item_measures(catalogue: Catalogue) -> pd.Series:
    """Each item's measure, by its Ref."""
    return catalogue.items.drop_duplicates("ref").set_index("ref")["measure"]


def definition(item, catalogue: Catalogue, measures: pd.Series | None = None) -> str:
    """What an item is and what the template checks as it is filled, in words, from the
    catalogue: its period, whole numbers or decimals, its sign and its of-which rules.
    `measures`: `item_measures(catalogue)`, given when many items are defined at once."""
    measures = item_measures(catalogue) if measures is None else measures
    parts = [PERIOD_WORDS.get(item.period, "")]
    unit = catalogue.units.at[item.unit, "in_words"] if "in_words" in catalogue.units else ""
    if isinstance(unit, str) and unit:
        parts.append(unit)
    if not (isinstance(unit, str) and "whole number" in unit):
        parts.append("A whole number." if whole_numbers(item, catalogue) else "Decimals allowed.")
    parts.append("May be negative." if item.can_be_negative else "Not negative.")
    parts += [_rule_words(rule, measures) for rule in parse_rules(item.ref, item.rule)]
    return " ".join(p for p in parts if p)


def validation(cell: str, item, catalogue: Catalogue, where: dict[str, str]) -> tuple[str, str]:
    """(formula, message) that Excel checks as a Value cell is filled: x, or a number of the
    right kind (whole, not negative) within its of-which rules. A rule whose other items are not
    yet filled in is not checked, so the cells can be filled in any order; the pipeline checks
    every rule again when the return arrives."""
    checks = [f"ISNUMBER({cell})"]
    words = []
    if whole_numbers(item, catalogue):
        checks.append(f"INT({cell})={cell}")
        words.append("a whole number")
    else:
        words.append("a number")
    if not item.can_be_negative:
        checks.append(f"{cell}>=0")
        words[-1] += ", not negative"
    for rule in parse_rules(item.ref, item.rule):
        if not all(term in where for term in rule.terms):
            continue  # an item of another template version
        others = ",".join(where[term] for term in rule.terms)
        total = "+".join(where[term] for term in rule.terms)
        checks.append(f"OR(COUNT({others})<{len(rule.terms)},{cell}{rule.op}{total})")
        words.append(("no more than " if rule.op == "<=" else "at least ") + " + ".join(rule.terms))
    message = f"Enter {', '.join(words)}; or x if not available, saying why in Notes."
    return f'OR({cell}="x",AND({",".join(checks)}))', message[:255]


def _formula_result(formula: str) -> float:
    """The cached result of a simple arithmetic formula (`=120+35`), as Excel stores one."""
    from pipelines.collection.catalogue import evaluate_formula

    return evaluate_formula(formula.lstrip("="), {})


def write_template(
    path: Path,
    quarter: Quarter,
    values: dict | None = None,
    cover: dict | None = None,
    extra_guidance: dict[str, int] | None = None,
) -> Path:
    """The return workbook for `quarter`: blank, or with `values` ({ref: value, or (value, note)};
    a string starting `=` is a formula, stored with its result) and `cover` ({label: value}).
    `extra_guidance` ({sheet: rows}) puts more guidance rows above a sheet's header, as some
    authorities do."""
    catalogue, authorities = load_catalogue(), load_authorities()
    measures = item_measures(catalogue)
    version = catalogue.template_version(quarter)
    book = Book(path)
    wb = book.workbook
    # the same template, the same bytes: made "on" the quarter's last day
    wb.set_properties({"created": datetime(quarter.end.year, quarter.end.month, quarter.end.day)})
    locked = book.format()
    label = book.format(bold=True)
    open_cell = book.format(locked=False, bg_color=OPEN, border=1, border_color="#BFBFBF")
    open_wrap = book.format(
        locked=False, bg_color=OPEN, border=1, border_color="#BFBFBF", text_wrap=True
    )

    ws = wb.add_worksheet("Cover")
    ws.set_paper(9)
    ws.set_portrait()
    ws.fit_to_pages(1, 1)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 44)
    ws.write_string(0, 0, "LIIA quarterly data return", book.format(bold=True, font_size=14))
    cover_values = {"Quarter": quarter.label, "Template version": version} | (cover or {})
    for row, name in enumerate(COVER_LABELS, start=2):
        ws.write_string(row, 0, name, label)
        value = cover_values.get(name)
        fmt = book.format(bold=True, bg_color="#E7E6E6") if name in PREFILLED else open_cell
        if value is None:
            ws.write_blank(row, 1, None, fmt)
        elif isinstance(value, int | float):
            ws.write_number(row, 1, value, fmt)
        else:
            ws.write_string(row, 1, str(value), fmt)
    notes = [
        "The quarter and template version are filled in by LIIA and locked.",
        *how_to_send(quarter),
    ]
    wrapped = book.format(text_wrap=True, valign="top")
    for k, text in enumerate(notes, start=len(COVER_LABELS) + 3):
        ws.merge_range(
            k, 0, k, 1, text, book.format(italic=True) if k == len(COVER_LABELS) + 3 else wrapped
        )
        ws.set_row(k, 15 * max(1, math.ceil(len(text) / 80)))
    ws.data_validation(
        2,
        1,
        2,
        1,
        {
            "validate": "list",
            "source": f"=Lists!$A$1:$A${len(authorities.table)}",
            "error_title": "Local authority",
            "error_message": "Choose your authority from the list.",
        },
    )
    ws.protect()

    # where each item's Value cell is, for the of-which rules that span sheets
    where = {}
    for theme, sheet in THEMES.items():
        first = HEADER_ROW + (extra_guidance or {}).get(sheet, 0) + 1
        for k, ref in enumerate(catalogue.items_for(version, theme)["ref"]):
            where[ref] = f"'{sheet}'!$D${first + k}"
    for theme, sheet in THEMES.items():
        ws = wb.add_worksheet(sheet)
        ws.set_paper(9)
        ws.set_portrait()
        ws.fit_to_pages(1, 1)
        ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        for col, width in enumerate(WIDTHS):
            ws.set_column(col, col, width)
        lines = guidance(theme, quarter)
        extra = (extra_guidance or {}).get(sheet, 0)
        if extra:
            lines += ["Please read the guidance on the LIIA website before completing this sheet."]
            lines += [""] * (extra - 1)
        for row, text in enumerate(lines):
            fmt = book.format(bold=True) if row == 0 else book.format(italic=True)
            ws.write_string(row, 0, text, fmt)
        header_row = HEADER_ROW - 1 + extra
        for col, name in enumerate(HEADER):
            ws.write_string(header_row, col, name, book.format(bold=True, bottom=1))
        items = catalogue.items_for(version, theme)
        wrap = book.format(text_wrap=True)
        for row, item in enumerate(items.itertuples(), start=header_row + 1):
            ws.write_string(row, 0, item.ref, locked)
            ws.write_string(row, 1, item.measure, wrap)
            ws.write_string(row, 2, catalogue.units.at[item.unit, "label"], locked)
            value = (values or {}).get(item.ref)
            value, note = value if isinstance(value, tuple) else (value, None)
            if value is None:
                ws.write_blank(row, 3, None, open_cell)
            elif isinstance(value, str) and value.startswith("="):
                ws.write_formula(row, 3, value, open_cell, _formula_result(value))
            elif isinstance(value, str):
                ws.write_string(row, 3, value, open_cell)
            else:
                ws.write_number(row, 3, value, open_cell)
            if note:
                ws.write_string(row, 4, note, open_wrap)
            else:
                ws.write_blank(row, 4, None, open_wrap)
            defined = definition(item, catalogue, measures)
            ws.write_string(row, 5, defined, wrap)
            # Arial 10 lines in the columns' widths, 13 points a line
            lines = max(
                math.ceil(len(item.measure) * 0.95 / WIDTHS[1]),
                math.ceil(len(defined) * 0.95 / WIDTHS[5]),
                1,
            )
            if lines > 1:
                ws.set_row(row, 13 * lines + 2)
            formula, message = validation(f"D{row + 1}", item, catalogue, where)
            ws.data_validation(
                row,
                3,
                row,
                3,
                {
                    "validate": "custom",
                    "value": formula,
                    "ignore_blank": True,
                    "error_title": "Value",
                    "error_message": message,
                },
            )
        ws.freeze_panes(header_row + 1, 0)
        ws.protect()
    lists = wb.add_worksheet("Lists")  # the drop-down's names: Excel limits an inline list
    for i, name in enumerate(authorities.table["name"]):
        lists.write_string(i, 0, name, locked)
    lists.hide()
    return book.close()


def build_template(quarter: Quarter, path: Path) -> Path:
    """The blank return for `quarter`."""
    return write_template(path, quarter)
