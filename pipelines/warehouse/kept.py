"""Empty databases made once per version of their statements and kept (LIIA_CACHE), each new
database starting as a copy of one: DuckDB takes longer over hundreds of statements of tables,
comments and keys than over copying the file they made."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path


def kept_database(folder: Path, stem: str, key: str, make: Callable[[Path], None]) -> Path:
    """`folder`/<stem>.<key>.duckdb, made by `make(path)` the first time it is asked for; any
    other key's file of the same stem is removed then (a version of the statements gone)."""
    path = folder / f"{stem}.{key}.duckdb"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{path.name}.{uuid.uuid4().hex}.partial"
    try:
        make(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
        Path(f"{partial}.wal").unlink(missing_ok=True)
    for older in folder.glob(f"{stem}.*.duckdb"):
        if older != path:
            older.unlink(missing_ok=True)
    return path


def copy_of_kept(kept: Callable[[], Path], target: Path, folder: Path) -> None:
    """`target` as a copy of the file `kept()` gives (in `folder`). Where several deployments
    share the folder (LIIA_CACHE), another version may remove this version's file between its
    making and its copying: it is made again."""
    for _ in range(3):
        try:
            shutil.copyfile(kept(), target)
            return
        except FileNotFoundError:
            continue
    raise RuntimeError(
        f"An empty database kept in {folder} kept disappearing before it could be copied: "
        "another version of the pipeline shares that folder (LIIA_CACHE). Give each deployment "
        "its own."
    )
