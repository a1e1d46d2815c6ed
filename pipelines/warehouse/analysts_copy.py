"""The analysts' copy of the working database: every table but the covers' contacts, with its
primary and foreign keys declared, its views and comments, in a file DuckDB 1.x opens; made beside
its target and renamed over it, so a reader sees the old copy or the new one, whole."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.warehouse.database import comment_statements, view_statements
from pipelines.warehouse.kept import copy_of_kept, kept_database
from pipelines.warehouse.model import keyed_order, keyed_table_sql
from pipelines.warehouse.tables import ANALYST_STORAGE_VERSION, CONTACTS, TABLE_BY_NAME
from pipelines.warehouse.tables import sql_text as _quote


def publish(con: duckdb.DuckDBPyConnection, target: Path, schemas: Path | None = None) -> Path:
    """Copy the working database, less the covers' contacts, into a new file DuckDB 1.x can open
    and rename it over `target`.

    The rename is atomic: a reader who opened `target` before keeps reading the old version, one who
    opens it after sees the new one; nobody sees a partial copy and nobody's lock is in the way."""
    return put_copy_in_place(build_copy(con, target, schemas), target)


def build_copy(con: duckdb.DuckDBPyConnection, target: Path, schemas: Path | None = None) -> Path:
    """The analysts' copy, made beside `target` and not yet in its place: the file made. It starts
    as a copy of the keyed schema, made once per version of the tables and kept in `schemas`
    (by default beside the working database; see `copy_schema`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.partial*"):
        stale.unlink()  # left by a run killed while publishing; publishing holds the writer lock
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    source = con.execute("SELECT current_database()").fetchone()[0]
    own = _folder_of(con) or target.parent
    if schemas is not None and schemas != own:
        for earlier in own.glob(f"{SCHEMA_FILE}.*.duckdb"):  # where earlier versions kept it
            earlier.unlink(missing_ok=True)
    try:
        _start_from_schema(con, schemas or own, partial)
        con.execute(f"ATTACH {_quote(str(partial))} AS {COPY_ALIAS}")
        try:
            _fill_copy(con, source)
        finally:
            con.execute(f"DETACH {COPY_ALIAS}")
        # Read-only on disk: a client that opens it read-write by default gets an error saying so,
        # not a lock on the file (the pipeline never reads it: its own copy is the working one).
        partial.chmod(0o444)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        Path(f"{partial}.wal").unlink(missing_ok=True)
    return partial


COPY_ALIAS = "analysts_copy"
SCHEMA_FILE = "analysts_copy_schema"


def _copied_tables() -> list[str]:
    """Every table but the covers' contacts (personal data stays in the working database), each
    after the tables its foreign keys refer to."""
    return [name for name in keyed_order() if name != CONTACTS]


def _schema_statements() -> list[str]:
    """The analysts' copy without rows: each table with its primary and foreign keys and its
    comments (DuckDB refuses to comment a table once another refers to it), then the views and
    their comments, bound to the copy's tables."""
    statements = []
    for name in _copied_tables():
        statements += [keyed_table_sql(name, COPY_ALIAS), *comment_statements(name)]
    return statements + list(view_statements())


def copy_schema(con: duckdb.DuckDBPyConnection, folder: Path) -> Path:
    """The empty keyed copy, in `folder`, named for its statements, DuckDB's version and the
    storage version: made once, then copied by each build (five hundred statements of comments
    and keys cost more than the rows)."""
    statements = _schema_statements()
    key = hashlib.sha256(
        "\n".join([duckdb.__version__, ANALYST_STORAGE_VERSION, *statements]).encode()
    ).hexdigest()[:16]
    return kept_database(folder, SCHEMA_FILE, key, lambda path: _make_schema(con, path, statements))


def _make_schema(
    con: duckdb.DuckDBPyConnection, path: Path, statements: list[str] | None = None
) -> None:
    """The empty keyed copy, made statement by statement in a new file at `path`."""
    source = con.execute("SELECT current_database()").fetchone()[0]
    con.execute(
        f"ATTACH {_quote(str(path))} AS {COPY_ALIAS} "
        f"(STORAGE_VERSION {_quote(ANALYST_STORAGE_VERSION)})"
    )
    try:
        with _inside_the_copy(con, source):
            for statement in statements or _schema_statements():
                con.execute(statement)
    finally:
        con.execute(f"DETACH {COPY_ALIAS}")


def _start_from_schema(con: duckdb.DuckDBPyConnection, folder: Path, partial: Path) -> None:
    """`partial` as a copy of the empty keyed schema kept in `folder`; made in place where that
    folder cannot be written (the cache only saves time)."""
    try:
        copy_of_kept(lambda: copy_schema(con, folder), partial, folder)
    except OSError:
        partial.unlink(missing_ok=True)
        _make_schema(con, partial)


def _folder_of(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The folder of the connection's database file (None in memory)."""
    (path,) = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return Path(path).parent if path else None


def put_copy_in_place(partial: Path, target: Path) -> Path:
    """Rename a copy made by `build_copy` over `target`."""
    try:
        # A read-write session on the published file that died leaves its log beside it, and
        # DuckDB would replay that log onto the new copy: nothing a reader left there is kept.
        _remove_readers_leftovers(target)
        os.replace(partial, target)
        _remove_readers_leftovers(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _remove_readers_leftovers(target: Path) -> None:
    for leftover in (Path(f"{target}.wal"), Path(f"{target}.tmp")):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


# Each key's index holds about a megabyte in memory until it is written (sixty keys: a hundred
# megabytes at once); written every few tables, a quarter of the 33 peaks 40 MB lower for 0.04 s.
TABLES_PER_COMMIT = 8


def _fill_copy(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Every copied table's rows, parents first, committed and written a few tables at a time: a
    row whose key does not hold fails the publish, naming the constraint (the file is not in
    place until it is whole, so a failure part way puts nothing anywhere)."""
    tables = _copied_tables()
    for start in range(0, len(tables), TABLES_PER_COMMIT):
        with _inside_the_copy(con, source):
            for name in tables[start : start + TABLES_PER_COMMIT]:
                columns = ", ".join(c for c, _, _ in TABLE_BY_NAME[name].columns)
                con.execute(f'INSERT INTO {name} SELECT {columns} FROM "{source}".{name}')
        con.execute(f"CHECKPOINT {COPY_ALIAS}")


@contextmanager
def _inside_the_copy(con: duckdb.DuckDBPyConnection, source: str):
    """The attached copy as the connection's database, in one transaction (one commit, not one
    per statement), committed whole or rolled back; then `source` again."""
    con.execute(f"USE {COPY_ALIAS}")
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute(f'USE "{source}"')
