"""The warehouse as Parquet files for Power BI and other tools: one file per table, each row with the
codes and the names of what it is about, and a data dictionary beside them, in two editions kept
in separate folders: restricted (the 33 authorities) and publishable (only what the public edition
shows)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.warehouse.model import (
    EDITIONS_VIEW_COLUMNS,
    GROUP_TRENDS_VIEW_COLUMNS,
    NOTES_VIEW_COLUMNS,
    UNIT_VALUES_VIEW_COLUMNS,
)
from pipelines.warehouse.tables import (
    CONTACTS,
    DIMENSIONS,
    PUBLIC_MARKING,
    PUBLIC_ROWS,
    PUBLIC_TABLES,
    RESTRICTED_MARKING,
    TABLE_BY_NAME,
    TABLES,
)
from pipelines.warehouse.tables import sql_text as _quote
from pipelines.write.layout import Book

EDITIONS = {"RESTRICTED": "restricted", "PUBLIC": "publishable"}
MARKINGS = {"RESTRICTED": RESTRICTED_MARKING, "PUBLIC": PUBLIC_MARKING}
VIEWS = {
    "group_trends": GROUP_TRENDS_VIEW_COLUMNS,
    "unit_values": UNIT_VALUES_VIEW_COLUMNS,
    "notes": NOTES_VIEW_COLUMNS,
    "figures_by_edition": EDITIONS_VIEW_COLUMNS,
}

# The names each code is exported with: (code column, dimension, its key, (name, as), ...).
NAMES = (
    (
        "authority",
        "authorities",
        "authority",
        (("name", "authority_name"), ("ons_code", "ons_code"), ("dfe_la_code", "dfe_la_code")),
    ),
    ("indicator_id", "indicators", "indicator_id", (("name", "indicator_name"),)),
    ("ref", "items", "ref", (("name", "item_name"),)),
    ("quarter", "quarters", "quarter", (("label", "quarter_label"),)),
)
NAME_COMMENTS = {
    "authority_name": "Authority name (authorities.name)",
    "ons_code": "The authority's ONS code (authorities.ons_code)",
    "dfe_la_code": "The authority's DfE local authority code (authorities.dfe_la_code)",
    "indicator_name": "What the item or indicator measures (indicators.name)",
    "item_name": "What the item measures (items.name)",
    "quarter_label": "Quarter as people read it (quarters.label)",
}


def edition_tables(edition: str) -> list[str]:
    if edition == "PUBLIC":
        return list(PUBLIC_TABLES)
    return [t.name for t in TABLES if t.name != CONTACTS] + list(VIEWS)


def columns_of(table: str) -> list[tuple[str, str]]:
    """(column, comment) of a table or exported view."""
    if table in VIEWS:
        return list(VIEWS[table].items())
    return [(name, comment) for name, _, comment in TABLE_BY_NAME[table].columns]


def named_codes(table: str) -> list[tuple]:
    """The codes of `table` exported with names: (code, dimension, key, names) of NAMES."""
    own = {name for name, _ in columns_of(table)}
    if table in DIMENSIONS:
        return []
    named = [
        (code, dimension, key, tuple(n for n in names if n[1] not in own))
        for code, dimension, key, names in NAMES
        if code in own
    ]
    return [n for n in named if n[3]]  # (a view that names its codes already is left as it is)


def export_sql(table: str, edition: str = "RESTRICTED") -> str:
    """The table's rows in the edition with, for each code it holds, the names it stands for."""
    own = [name for name, _ in columns_of(table)]
    selected = [f"t.{name}" for name in own]
    joins = []
    for code, dimension, key, names in named_codes(table):
        alias = f"d_{code}"
        joins.append(f"LEFT JOIN {dimension} AS {alias} ON {alias}.{key} = t.{code}")
        selected += [f"{alias}.{name} AS {shown}" for name, shown in names]
    lists = (
        set()
        if table in VIEWS
        else {n for n, k, _ in TABLE_BY_NAME[table].columns if k.endswith("[]")}
    )
    where = PUBLIC_ROWS.get(table) if edition == "PUBLIC" else None
    return (
        f"SELECT {', '.join(selected)}\nFROM {table} AS t\n"
        + "".join(f"{join}\n" for join in joins)
        + (f"WHERE {where}\n" if where else "")
        + f"ORDER BY {', '.join(f't.{name}' for name in own if name not in lists)}"
    )


def export_name(table: str, edition: str) -> str:
    return f"{table} {edition}.parquet"


def dictionary_frame(edition: str) -> pd.DataFrame:
    rows = []
    for table in edition_tables(edition):
        comment = TABLE_BY_NAME[table].comment if table in TABLE_BY_NAME else "view"
        added = [shown for _, _, _, names in named_codes(table) for _, shown in names]
        for name, text in [*columns_of(table), *((n, NAME_COMMENTS[n]) for n in added)]:
            rows.append(
                {
                    "file": export_name(table, edition),
                    "table": table,
                    "table_description": comment,
                    "column": name,
                    "description": text,
                    "marking": MARKINGS[edition],
                }
            )
    return pd.DataFrame(rows)


LEGACY_FOLDER = re.compile(r"^\d{4}-\d{2}-Q[1-4]$")  # a quarter's files, before the model


def export_editions(con: duckdb.DuckDBPyConnection, folder: Path) -> list[Path]:
    """Every table of each edition as Parquet, with its data dictionary, under `folder`/restricted
    and `folder`/publishable; the edition is in each file's name and its key-value metadata."""
    for old in folder.glob("*"):
        if old.is_dir() and LEGACY_FOLDER.match(old.name):
            shutil.rmtree(old)
    written = []
    for edition, sub in EDITIONS.items():
        target = folder / sub
        target.mkdir(parents=True, exist_ok=True)
        expected = {export_name(t, edition) for t in edition_tables(edition)}
        for table in edition_tables(edition):
            path = target / export_name(table, edition)
            partial = target / f".{path.name}.partial"
            metadata = {
                "marking": MARKINGS[edition],
                "warehouse_table": table,
                "source": "LIIA quarterly benchmarking",
            }
            kv = ", ".join(f"{key}: {_quote(value)}" for key, value in metadata.items())
            con.execute(
                f"COPY ({export_sql(table, edition)}) TO {_quote(str(partial))} "
                f"(FORMAT parquet, KV_METADATA {{{kv}}})"
            )
            os.replace(partial, path)
            written.append(path)
        frame = dictionary_frame(edition)
        dictionary = target / f"data_dictionary {edition}.csv"
        partial = target / f".{dictionary.name}.partial"
        frame.to_csv(partial, index=False, encoding="utf-8-sig")
        os.replace(partial, dictionary)
        written += [dictionary, dictionary_workbook(frame, edition, target)]
        for stale in target.glob("*.parquet"):
            if stale.name not in expected:
                stale.unlink()
    return written


def dictionary_workbook(frame: pd.DataFrame, edition: str, folder: Path) -> Path:
    """The data dictionary for people: the files, then every column, each described."""
    book = Book(folder / f"data_dictionary {edition}.xlsx")
    title = f"LIIA warehouse exports: data dictionary ({EDITIONS[edition]} edition)"
    files = book.sheet("Files", title, MARKINGS[edition], caps={0: 42, 1: 22, 2: 90})
    files.prose(
        "One Parquet file per table, all quarters; every row has the names beside its codes. "
        "The Columns sheet describes each column."
    )
    tables = frame.drop_duplicates("table")[["file", "table", "table_description"]]
    _listing(files, ["File", "Table", "What it holds"], tables)
    columns = book.sheet("Columns", title, MARKINGS[edition], caps={0: 22, 1: 26, 2: 90})
    _listing(columns, ["Table", "Column", "Description"], frame[["table", "column", "description"]])
    return book.close()


def _listing(sheet, labels: list[str], rows: pd.DataFrame) -> None:
    """`rows` under the sheet's lines as an Excel table, its last column wrapping, its header
    repeated on every printed page."""
    first = sheet.row + 1
    for row, values in enumerate(rows.itertuples(index=False), start=first):
        for col, value in enumerate(values):
            sheet.text(row, col, value, wrap=col == len(values) - 1)
    sheet.table(first - 1, first + len(rows) - 1, labels, sheet.name)
    sheet.ws.repeat_rows(first - 1)
    sheet.ws.freeze_panes(first, 0)
