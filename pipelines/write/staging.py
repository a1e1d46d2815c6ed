"""A run's outputs kept back until the run has made all of them: the quarter's workbooks, pages
and Parquet exports are written into a staging copy beside the live folder, and put in place by
the run's last step, just before the analysts' copy is published. A run that fails anywhere
leaves the live folders as the previous run left them.

The staging copy starts as hard links to every live file (so pages that list what exists see the
whole tree), and every writer replaces a file by renaming a new one over it, never by writing in
place, so a live file is never changed through its link. Putting in place renames each new or
changed file over its live one: a reader sees each file old or new, whole."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


def staging_folder(live: Path, run_id: str) -> Path:
    """Beside the live folder (same file system, so links and renames work), outside any tree a
    web server serves."""
    return live.with_name(f".{live.name}-staging") / run_id


def begin(live: Path, run_id: str) -> Path:
    """The run's staging copy of `live`, made the first time the run asks (the run's own later
    steps, and step retries, reuse it). Staging copies of other runs are removed: runs write one
    at a time, and a run retried is a new run that starts again from the beginning."""
    staged = staging_folder(live, run_id)
    if staged.exists():
        return staged
    for other in staged.parent.glob("*"):
        if other.is_dir():
            shutil.rmtree(other, ignore_errors=True)
        else:
            other.unlink()
    partial = staged.with_name(f"{run_id}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    if live.exists():
        shutil.copytree(live, partial, copy_function=os.link, dirs_exist_ok=True)
    # What each staged file was when staged: a file the run did not write is left alone, even if
    # its live one was replaced meanwhile (feedback is written straight to the live reports).
    linked = {
        path.relative_to(partial).as_posix(): path.stat().st_ino
        for path in partial.rglob("*")
        if path.is_file()
    }
    _manifest(staged).write_text(json.dumps(linked))
    partial.rename(staged)
    return staged


def _manifest(staged: Path) -> Path:
    return staged.with_name(f"{staged.name}.linked.json")


def _changed(staged: Path) -> list[Path]:
    """The files the run wrote into its staging copy (not the links made when staged)."""
    linked = json.loads(_manifest(staged).read_text())
    return [
        path
        for path in sorted(staged.rglob("*"))
        if not path.is_dir()
        and linked.get(path.relative_to(staged).as_posix()) != path.stat().st_ino
    ]


def cannot_put_in_place(live: Path, run_id: str) -> list[str]:
    """Why the run's staged files could not all be put in place, found before any is: each
    folder that would receive one is tried with a file of its own (a permission, a full disk, a
    file where a folder should be, a read-only mount); nothing is made or left in the live tree."""
    staged = staging_folder(live, run_id)
    if not staged.exists():
        return []
    folders = {live / path.parent.relative_to(staged) for path in _changed(staged)} | {live}
    problems = []
    for folder in sorted(folders):
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is None or not existing.is_dir():
            problems.append(f"{folder}: {existing} is not a folder")
            continue
        probe = existing / f".liia-probe-{run_id}"
        try:
            probe.touch()
            probe.unlink()
        except OSError as error:
            problems.append(f"{folder}: {error.strerror or error}")
    return problems


def put_in_place(live: Path, run_id: str, deletions: bool = False) -> int:
    """Move every file the run wrote from its staging copy to the live folder, and with
    `deletions` remove the live files the run removed (only where nothing else writes the live
    folder meanwhile: feedback is written straight to the live reports); then remove the staging
    copy. How many files were put in place (none if the run staged nothing)."""
    staged = staging_folder(live, run_id)
    if not staged.exists():
        return 0
    if deletions and live.exists():
        for path in sorted(live.rglob("*")):
            if path.is_file() and not (staged / path.relative_to(live)).exists():
                path.unlink()
    moved = 0
    for path in _changed(staged):
        target = live / path.relative_to(staged)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        moved += 1
    shutil.rmtree(staged)
    _manifest(staged).unlink()
    return moved
