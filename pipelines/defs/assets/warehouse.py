"""The analysts' warehouse: the copy analysts open and the exports, put in place with
everything the run wrote, last."""

import time
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.benchmark.published import latest_published_file, loaded_file
from pipelines.collection.catalogue import load_authorities
from pipelines.defs.assets.quarterly import (
    QUARTERLY,
    report,
    run_id_of,
    step_quarter,
)
from pipelines.defs.assets.reports import download_page
from pipelines.defs.resources import LiiaPaths, kept_cache, ledger_path, working_db
from pipelines.receive.ledger import record_answered
from pipelines.warehouse.analysts_copy import build_copy, put_copy_in_place
from pipelines.warehouse.database import export_every_published_row
from pipelines.warehouse.model import forget_build, record_build
from pipelines.warehouse.tables import ANALYST_STORAGE_VERSION
from pipelines.write import staging
from pipelines.write.exports import export_editions


def _copy_and_exports(duckdb: DuckDBResource, paths: LiiaPaths, quarter, run_id: str):
    """The analysts' copy built beside its target, the exports staged and every folder tried:
    (copy, the quarter's files' sha256, export files). Raises, having put nothing in place, when
    a folder cannot take its files."""
    with working_db(duckdb) as con:
        record_build(con, run_id)
        staged = staging.begin(Path(paths.exports), run_id)
        exports = export_editions(con, staged)
        file = latest_published_file(Path(paths.published))
        if file is not None and loaded_file(con) == file.sha256:
            every_row = Path("published") / "published_values.parquet"
            export_every_published_row(
                con,
                file,
                load_authorities(),
                Path(paths.exports) / every_row,
                staged / every_row,
                kept_cache(duckdb),
            )
        copy = build_copy(con, Path(paths.warehouse), kept_cache(duckdb))
        shas = [
            r[0]
            for r in con.execute(
                "SELECT sha256 FROM submissions WHERE quarter = ?", [quarter.key]
            ).fetchall()
        ]
    # Whole or not at all: every folder is tried before anything is put in place, and the
    # analysts' copy goes last, so nobody sees figures whose workbooks and exports are not there.
    live = (Path(paths.reports), Path(paths.exports))
    problems = [p for folder in live for p in staging.cannot_put_in_place(folder, run_id)]
    if problems:
        copy.unlink(missing_ok=True)
        raise dg.Failure(
            description=f"Nothing was published: {'; '.join(problems)}. Every earlier output is "
            "as it was. Make the folder writable (or free space); the run is tried again.",
        )
    return copy, shas, exports


@dg.asset(group_name="warehouse", deps=[download_page], **QUARTERLY)
def analysts_warehouse(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> dg.MaterializeResult:
    """The copy analysts open (warehouse/liia.duckdb, read-only on disk, readable by DuckDB 1.x,
    its keys declared), replaced atomically with the working warehouse and its build recorded, and
    the Parquet exports of every table in both editions. Last of the run, so analysts never see a quarter
    whose workbooks and pages are not all written; then the quarter's files are recorded as
    answered in the pipeline's own ledger, which is all the inbox sensor reads."""
    quarter = step_quarter(context)
    run_id = run_id_of(context)
    started = time.perf_counter()
    try:
        copy, shas, exports = _copy_and_exports(duckdb, paths, quarter, run_id)
    except BaseException:
        with working_db(duckdb) as con:
            forget_build(con, run_id)  # the builds table lists only what analysts had
        raise
    files = staging.put_in_place(Path(paths.reports), run_id)
    files += staging.put_in_place(Path(paths.exports), run_id, deletions=True)
    published = put_copy_in_place(copy, Path(paths.warehouse))
    recorded = record_answered(ledger_path(duckdb), quarter, shas, run_id)
    report(
        context,
        quarter,
        "warehouse",
        f"published to {published}; {len(exports)} export files; {files} workbooks, "
        f"pages and exports put in place; {recorded} files answered "
        f"({time.perf_counter() - started:.1f} s)",
    )
    return dg.MaterializeResult(
        metadata={
            "published": dg.MetadataValue.path(str(published)),
            "storage_version": ANALYST_STORAGE_VERSION,
            "parquet_files": len(exports),
            "files_answered": recorded,
        }
    )
