"""Receiving: the quarter's files in the inbox, read as returns."""

import time
from pathlib import Path

import dagster as dg

from pipelines.defs.assets.quarterly import FOR_THE_AUTHORITY, QUARTERLY, report, step_quarter
from pipelines.defs.resources import LiiaPaths
from pipelines.receive.submissions import receive_quarter


@dg.asset(group_name="receiving", io_manager_key="quarter_store", **QUARTERLY, **FOR_THE_AUTHORITY)
def received_returns(context: dg.AssetExecutionContext, paths: LiiaPaths) -> dict:
    """Every file in the inbox that belongs to the quarter (its cover's quarter, else its folder's,
    else the quarter being collected when it arrived), copied byte for byte to the archive under
    its SHA-256 and read in a bounded worker: the submissions, their raw values with source cells,
    and cover or structure problems. The inbox is never changed."""
    quarter = step_quarter(context)
    started = time.perf_counter()
    submissions, values, issues = receive_quarter(Path(paths.inbox), Path(paths.archive), quarter)
    report(
        context,
        quarter,
        "receiving",
        f"{len(submissions)} files read, {len(values)} values "
        f"({time.perf_counter() - started:.1f} s)",
    )
    context.add_output_metadata({"dagster/row_count": len(submissions)})
    return {"submissions": submissions, "values": values, "issues": issues}
