"""Backing up and restoring what the pipeline cannot make again: the archive of every file
received, its own database (the working warehouse and the ledger of answered files), the run
history (DAGSTER_HOME) and the reports (every release's public files kept as published, which no
later run writes again). The analysts' copy and the exports are made from these, and a restore
makes the analysts' copy again.

A backup is one .tar.gz. Its copies are consistent while the service runs: the working database
is copied under its writer lock (no run writes it meanwhile), and each SQLite file (the ledger,
Dagster's run, event and schedule storage) through SQLite's own backup."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import duckdb

try:  # extraction filters (PEP 706) for Pythons before 3.11.4, such as Debian's 3.11.2
    from backports import tarfile
except ImportError:
    import tarfile

from pipelines.defs.resources import writer_lock
from pipelines.warehouse.analysts_copy import publish

PARTS = ("archive", "database", "history", "reports")
MANIFEST = "liia-backup.json"


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def _copy_tree(source: Path, target: Path) -> int:
    """Copy a folder, each SQLite file through SQLite's backup (its -wal and -shm left out)."""
    copied = 0
    if not source.exists():
        return 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_dir() or path.name.endswith(("-wal", "-shm", ".lock")):
            continue
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        if _is_sqlite(path):
            with closing(sqlite3.connect(path)) as src, closing(sqlite3.connect(out)) as dst:
                src.backup(dst)
        else:
            shutil.copy2(path, out)
        copied += 1
    return copied


def backup(target: Path, archive: Path, working: Path, home: Path, reports: Path) -> dict:
    """Write the backup to `target` (.tar.gz): what it holds, by part."""
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp)
        counts = {"archive": _copy_tree(archive, staging / "archive")}
        with writer_lock(working):
            database = staging / "database"
            database.mkdir()
            for path in sorted(working.parent.glob(f"{working.name}*")):
                if not path.name.endswith(".lock"):
                    shutil.copy2(path, database / path.name)
            ledger = working.with_name("answered.sqlite")
            if ledger.exists():
                with closing(sqlite3.connect(ledger)) as src:
                    with closing(sqlite3.connect(database / ledger.name)) as dst:
                        src.backup(dst)
            counts["database"] = len(list(database.iterdir()))
        counts["history"] = _copy_tree(home, staging / "history")
        counts["reports"] = _copy_tree(reports, staging / "reports")
        manifest = {
            "made": datetime.now(UTC).isoformat(timespec="seconds"),
            "working_database": working.name,
            "files": counts,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        with tarfile.open(partial, "w:gz") as tar:
            for name in (MANIFEST, *PARTS):
                if (staging / name).exists():
                    tar.add(staging / name, arcname=name)
        partial.replace(target)
    return manifest


class RestoreRefused(RuntimeError):
    pass


def restore(
    source: Path, archive: Path, working: Path, home: Path, published: Path, reports: Path
) -> dict:
    """Unpack a backup into empty folders, then publish the analysts' copy from the restored
    database. Refused if any target already holds something (a restore never overwrites)."""
    folders = (archive, working.parent, home, reports)
    busy = [p for p in folders if p.exists() and any(p.iterdir())]
    if busy:
        raise RestoreRefused(
            f"{busy[0]} is not empty: restore only into empty folders (a restore never "
            "overwrites what is there)"
        )
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(source, "r:gz") as tar:
        try:
            tar.extractall(tmp, filter="data")
        except tarfile.FilterError as exc:
            raise RestoreRefused(
                f"{source} is not a backup `liia backup` made ({exc}); nothing was restored"
            ) from None
        unpacked = Path(tmp)
        manifest = json.loads((unpacked / MANIFEST).read_text())
        for part, target in (("archive", archive), ("history", home), ("reports", reports)):
            if (unpacked / part).exists():
                shutil.copytree(unpacked / part, target, dirs_exist_ok=True)
        working.parent.mkdir(parents=True, exist_ok=True)
        for path in (unpacked / "database").iterdir():
            name = path.name
            if name.startswith(manifest["working_database"]):
                name = working.name + name[len(manifest["working_database"]) :]
            shutil.copy2(path, working.parent / name)
    if working.exists():
        with writer_lock(working), duckdb.connect(str(working)) as con:
            publish(con, published)
    return manifest
