"""Upgrades of the pipeline's own database, one small ordered step at a time.

A deployment made by an earlier version is carried forward by the first command or run that opens
its working database after an upgrade: `create_schema` adds the tables and columns that are new,
then each migration not yet applied runs in its own transaction and is recorded in
`schema_migrations` (version, what it did, when). A new database starts at the latest version. A
migration is written once and never changed: the next change to the tables is the next migration.

The ledger of answered files (pipelines.receive.ledger) is rebuilt from the database where it is missing:
a deployment made before the ledger existed has answered every file its database holds, and
re-running all of them would queue every quarter at once."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.collection.quarters import parse_quarter
from pipelines.receive.ledger import record_answered
from pipelines.warehouse.database import (
    comment_statements,
    create_schema,
    create_views,
    expect_catalogue_of,
    view_statements,
)
from pipelines.warehouse.kept import copy_of_kept, kept_database
from pipelines.warehouse.model import RELEASE_STATE_SQL
from pipelines.warehouse.tables import TABLE_BY_NAME, TABLES

VERSIONS_TABLE = "schema_migrations"
progress = logging.getLogger("liia.progress")


@dataclass(frozen=True)
class Migration:
    version: int
    says: str  # what it does, as the operator reads it
    apply: Callable[[duckdb.DuckDBPyConnection], None]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            """SELECT column_name FROM duckdb_columns()
            WHERE table_name = ? AND schema_name = 'main' AND database_name = current_database()
            ORDER BY column_index""",
            [table],
        ).fetchall()
    ]


def columns_in_dictionary_order(con: duckdb.DuckDBPyConnection) -> None:
    """Version 1. An earlier version added each new column at the end of its table, while loads
    placed values by position, so a value could land in its neighbour's column (the upgrade from
    1 December 2026 failed converting `lower_is_better` into `polarity`). Each table whose columns
    are out of the dictionary's order is rebuilt in that order, every row and column kept (a column
    the dictionary no longer has stays, at the end)."""
    for name, table in TABLE_BY_NAME.items():
        have = _columns(con, name)
        defined = [c for c, _, _ in table.columns]
        wanted = [c for c in defined if c in have] + [c for c in have if c not in defined]
        if not have or have == wanted:
            continue
        listed = ", ".join(wanted)
        con.execute(f"CREATE TABLE {name}__ordered AS SELECT {listed} FROM {name}")
        con.execute(f"DROP TABLE {name}")
        con.execute(f"ALTER TABLE {name}__ordered RENAME TO {name}")


def suppression_kinds_restricted(con: duckdb.DuckDBPyConnection) -> None:
    """Version 2. The kind of each suppression (primary or complementary) moves from
    `public_benchmarks`, which the publishable exports hold whole, to the restricted
    `suppressions`: knowing which hidden figures are complements narrows them."""
    if "suppression" not in _columns(con, "public_benchmarks"):
        return
    con.execute(
        """INSERT INTO suppressions BY NAME
        SELECT DISTINCT quarter, release, indicator_id, reporting_unit, suppression AS kind
        FROM public_benchmarks AS p
        WHERE suppression IS NOT NULL
          AND NOT EXISTS (
              SELECT 1 FROM suppressions AS s
              WHERE s.quarter = p.quarter AND s.release = p.release
                AND s.indicator_id = p.indicator_id AND s.reporting_unit = p.reporting_unit)"""
    )
    con.execute("ALTER TABLE public_benchmarks DROP COLUMN suppression")
    # a suppressed figure is c and nothing else, in the releases already stored too
    con.execute(
        """UPDATE public_benchmarks SET status = NULL, low_reliability = NULL
        WHERE list_contains(string_split(suppressed_columns, ','), 'value')"""
    )


def release_state_on_every_row(con: duckdb.DuckDBPyConnection) -> None:
    """Version 3. Every row of the quarterly tables says whether its quarter is released, and in
    which release (the columns are new: filled here for the quarters already loaded)."""
    con.execute(RELEASE_STATE_SQL)


def england_positions_read_again(con: duckdb.DuckDBPyConnection) -> None:
    """Version 4. DfE's figures carry each authority's England rank and quartile band, worked out
    when DfE's file is read: the record of the file loaded is cleared, so that the next run reads
    the same file again and fills them."""
    if _has_table(con, "published_files"):
        con.execute("DELETE FROM published_files")


MIGRATIONS = (
    Migration(1, "columns put in the dictionary's order", columns_in_dictionary_order),
    Migration(
        2,
        "kinds of suppression moved from public_benchmarks to the restricted suppressions",
        suppression_kinds_restricted,
    ),
    Migration(
        3,
        "every row of the quarterly tables says whether its quarter is released",
        release_state_on_every_row,
    ),
    Migration(
        4,
        "DfE's figures read again at the next run, for each authority's England rank and band",
        england_positions_read_again,
    ),
)
LATEST = MIGRATIONS[-1].version


def _tables(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> set[str]:
    # duckdb_tables(), not duckdb_columns(): this runs at every connection, and is 8 times quicker
    found = con.execute(
        f"""SELECT table_name FROM duckdb_tables()
        WHERE table_name IN ({", ".join("?" for _ in names)})
          AND schema_name = 'main' AND database_name = current_database()""",
        list(names),
    ).fetchall()
    return {row[0] for row in found}


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(_tables(con, (name,)))


def version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The database's version: None for a database with none of the pipeline's tables yet, 0 for
    one made before versions were recorded."""
    present = _tables(con, (VERSIONS_TABLE, "submissions"))
    if VERSIONS_TABLE in present:
        ((found,),) = con.execute(
            f"SELECT coalesce(max(version), 0) FROM {VERSIONS_TABLE}"
        ).fetchall()
        return int(found)
    return 0 if "submissions" in present else None


def pending(found: int | None) -> list[Migration]:
    """The migrations a database at version `found` (see `version`) still needs."""
    return [m for m in MIGRATIONS if found is not None and m.version > found]


_UNREAD = object()  # a version not read yet (None is one: a new database)


def _record(con: duckdb.DuckDBPyConnection, migration: Migration) -> None:
    con.execute(
        f"""CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} (
            version INTEGER PRIMARY KEY, says VARCHAR, applied_at TIMESTAMPTZ)"""
    )
    con.execute(
        f"INSERT INTO {VERSIONS_TABLE} VALUES (?, ?, now())", [migration.version, migration.says]
    )


def migrate(con: duckdb.DuckDBPyConnection, found=_UNREAD) -> list[str]:
    """Bring the database to the latest version: a line for each migration applied (none for a
    database already there, or a new one, which starts at the latest version). `found`: its
    version, if the caller has just read it."""
    found = version(con) if found is _UNREAD else found
    todo = pending(found)
    if found is not None and not todo:
        return []
    con.execute("BEGIN TRANSACTION")
    try:
        create_schema(con)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    if found is None:  # a new database: nothing to carry forward
        con.execute("BEGIN TRANSACTION")
        for migration in MIGRATIONS:
            _record(con, migration)
        con.execute("COMMIT")
        return []
    lines = []
    for migration in todo:
        con.execute("BEGIN TRANSACTION")
        try:
            migration.apply(con)
            _record(con, migration)
            con.execute("COMMIT")
        except Exception as error:
            con.execute("ROLLBACK")
            raise RuntimeError(
                f"Upgrading the pipeline's database to version {migration.version} "
                f"({migration.says}) failed: {error}. Nothing of that step was kept; the "
                f"database is at version {version(con)}. Restore the backup taken before the "
                "upgrade, or report this with the error."
            ) from error
        lines.append(f"version {migration.version}: {migration.says}")
    create_views(con)  # over the tables as migrated
    return lines


def ledger_from_database(con: duckdb.DuckDBPyConnection, ledger: Path) -> int:
    """Where the ledger is missing, every file the database holds was answered by the deployment
    that loaded it: record them (by quarter), so the upgrade queues no run for them. How many."""
    if ledger.exists() or not _has_table(con, "submissions"):
        return 0
    rows = con.execute(
        "SELECT quarter, list(DISTINCT sha256) FROM submissions GROUP BY quarter ORDER BY quarter"
    ).fetchall()
    return sum(
        record_answered(ledger, parse_quarter(q), shas, "answered before the upgrade")
        for q, shas in rows
    )


def upgrade(con: duckdb.DuckDBPyConnection, ledger: Path) -> list[str]:
    """Everything an upgrade carries forward, as one line each the operator reads."""
    before = version(con)
    lines = migrate(con, before)
    said = []
    if lines:
        said.append(
            f"Upgraded the pipeline's database from version {before} to {LATEST}: "
            + "; ".join(lines)
        )
    answered = ledger_from_database(con, ledger)
    if answered:
        said.append(
            f"Ledger of answered files rebuilt from the database: {answered} files already "
            "answered, none of them run again"
        )
    for line in said:
        progress.info(line)
    return said


# --- a new database, from the empty one kept for this version ----------------------------------

EMPTY_DATABASE = "working_schema"


@functools.cache  # asked at every connection; the statements are the code's
def _empty_database_key() -> str:
    """What the empty database is made of: DuckDB's version, every table's columns, comments and
    views, and the migrations it records as applied."""
    statements = [duckdb.__version__]
    for table in TABLES:
        statements.append(f"{table.name} {table.columns!r}")
        statements += comment_statements(table.name)
    statements += view_statements()
    statements += [f"{m.version} {m.says}" for m in MIGRATIONS]
    return hashlib.sha256("\n".join(statements).encode()).hexdigest()[:16]


def _make_empty(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        migrate(con)


def empty_database(folder: Path) -> Path:
    """The empty database of this version, kept in `folder` (made the first time): what a new
    database is, every migration recorded as applied. `create_schema` takes what it expects of a
    database from it, instead of making it again in memory."""
    path = kept_database(folder, EMPTY_DATABASE, _empty_database_key(), _make_empty)
    expect_catalogue_of(path, leave_out=VERSIONS_TABLE)
    return path


def start_new_database(database: Path, folder: Path) -> bool:
    """Where `database` does not exist yet, make it a copy of the empty one kept in `folder`, its
    migrations recorded as applied now; put in place whole. Whether it was made."""
    if database.exists():
        return False
    database.parent.mkdir(parents=True, exist_ok=True)
    partial = database.with_name(f".{database.name}.{uuid.uuid4().hex}.partial")
    try:
        copy_of_kept(lambda: empty_database(folder), partial, folder)
        with duckdb.connect(str(partial)) as con:
            con.execute(f"UPDATE {VERSIONS_TABLE} SET applied_at = now()")
        os.replace(partial, database)
    finally:
        partial.unlink(missing_ok=True)
        Path(f"{partial}.wal").unlink(missing_ok=True)
    return True
