"""A quarter's workbooks, and where each is written: the status workbook; once the quarter is
released, the theme workbooks in both editions and a pack for each authority. The workbooks are
independent files, written across the machine's cores."""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.collection.catalogue import THEMES, Authorities, Catalogue
from pipelines.collection.quarters import Quarter
from pipelines.receive.reader import die_with_parent
from pipelines.validate.feedback import authority_folder
from pipelines.write.figures import QuarterFigures
from pipelines.write.layout import PUBLISHABLE, RESTRICTED
from pipelines.write.packs import pack_inputs, write_pack
from pipelines.write.status_workbook import write_status_workbook
from pipelines.write.theme_workbook import write_theme_workbook

# One tree per audience under reports/, each with its own page that links only inside it.
PUBLIC, MEMBERS, AUTHORITIES, LIIA_TEAM = "public", "members", "authorities", "liia"


def theme_workbook_path(
    reports: Path, quarter: Quarter, theme: str, publishable: bool = False
) -> Path:
    if publishable:
        name = f"LIIA {theme} benchmarks {quarter.key} publishable.xlsx"
        return reports / PUBLIC / quarter.key / name
    return reports / MEMBERS / quarter.key / f"LIIA {theme} benchmarks {quarter.key}.xlsx"


def public_csv_path(reports: Path, quarter: Quarter) -> Path:
    return reports / PUBLIC / quarter.key / f"LIIA benchmarks {quarter.key} publishable.csv"


def ees_stem(quarter: Quarter) -> str:
    """The name of the quarter's open data file (DfE's standard: lower case, underscores)."""
    return f"liia_benchmarks_{quarter.key.replace('-', '_').lower()}"


def status_workbook_path(reports: Path, quarter: Quarter) -> Path:
    return reports / LIIA_TEAM / quarter.key / f"LIIA return status {quarter.key}.xlsx"


def pack_path(reports: Path, quarter: Quarter, name: str) -> Path:
    return reports / MEMBERS / quarter.key / "packs" / f"LIIA pack {quarter.key} {name}.xlsx"


def own_pack_path(reports: Path, quarter: Quarter, name: str) -> Path:
    return authority_folder(reports, name) / quarter.key / f"LIIA pack {quarter.key} {name}.xlsx"


# --- writing a quarter's workbooks across the cores -------------------------------------------

# the figures instead of having them pickled. Each task is a call; workers get its index.
_TASKS: list = []


@dataclass(frozen=True)
class WriteFailure:
    """A file that could not be written, and why: the others are written all the same."""

    path: str
    reason: str


def _attempt(function, args, kwargs):
    try:
        return function(*args, **kwargs)
    except Exception as exc:
        return WriteFailure(str(args[0]) if args else "", f"{type(exc).__name__}: {exc}"[:300])


def _run_task(index: int):
    return _attempt(*_TASKS[index])


def in_parallel(calls: list[tuple], workers: int | None = None) -> list:
    """The results of (function, args, kwargs) calls, in order, across the machine's cores; a
    call that raises gives a WriteFailure instead of stopping the rest. Workers end with this
    process, however it ends."""
    workers = min(workers or os.cpu_count() or 1, len(calls))
    # a few small files are quicker written here than by a pool started for them
    if workers <= 1 or len(calls) < 8 or "fork" not in multiprocessing.get_all_start_methods():
        return [_attempt(*call) for call in calls]
    _TASKS[:] = calls
    # What exists at the fork is left out of the children's garbage collection: another thread of
    # this process (a run's, a server's) may have been mid-change to it, and collecting such an
    # object in a child can crash it.
    gc.freeze()
    try:
        with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            return list(pool.map(_run_task, range(len(calls))))
    finally:
        gc.unfreeze()
        _TASKS.clear()


def write_quarter_workbooks(
    reports: Path,
    figures: QuarterFigures,
    issues: pd.DataFrame,
    authorities: Authorities,
    catalogue: Catalogue,
    public: QuarterFigures | None = None,
    workers: int | None = None,
    release: list[tuple[str, str]] = (),
    waiting: str = "",
) -> dict[str, list[Path]]:
    """Every workbook of the quarter: the status workbook; and once the quarter is released
    (`public`, its stored public edition, and `release`, what it says of its release), the four
    theme workbooks, their publishable editions and a pack for each authority."""
    quarter = figures.quarter
    tasks = {"themes": [], "status": [], "packs": []}
    status = status_workbook_path(reports, quarter)
    tasks["status"].append(
        (write_status_workbook, (status, figures, issues, authorities), {"waiting": waiting})
    )
    if public is None:
        return _written(tasks, workers)
    published = public
    shared = pack_inputs(figures, authorities, catalogue, issues)
    for edition, marking in ((figures, RESTRICTED), (published, PUBLISHABLE)):
        for theme in THEMES:
            path = theme_workbook_path(reports, quarter, theme, publishable=edition is published)
            args = (path, edition, theme, authorities, catalogue)
            about = {"marking": marking, "release": release if edition is published else ()}
            tasks["themes"].append((write_theme_workbook, args, about))
    for code, name in shared.order:
        args = (pack_path(reports, quarter, name), shared, code, name)
        tasks["packs"].append(
            (write_pack, args, {"copy_to": own_pack_path(reports, quarter, name)})
        )
    return _written(tasks, workers)


def _written(tasks: dict[str, list], workers: int | None) -> dict[str, list]:
    paths = in_parallel([t for kind in tasks.values() for t in kind], workers)
    out, start = {}, 0
    for kind, kind_tasks in tasks.items():
        out[kind] = paths[start : start + len(kind_tasks)]
        start += len(kind_tasks)
    return out
