"""A run whenever a return arrives in the inbox."""

from pathlib import Path

import dagster as dg

from pipelines.defs.jobs import quarter_job
from pipelines.defs.partitions import quarter_partitions
from pipelines.defs.resources import LiiaPaths
from pipelines.inbox import InboxState, inbox_changes


@dg.sensor(
    job=quarter_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a run of the quarter a new or changed return's cover names. The same "
    "bytes again start nothing; a file modified in the last few seconds is left until it settles.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, paths: LiiaPaths):
    changes = inbox_changes(Path(paths.inbox), InboxState.from_cursor(context.cursor))
    known = set(quarter_partitions.get_partition_keys())
    requests, skipped = [], []
    for quarter in sorted(changes.arrived):
        if quarter.label in known:
            requests.append(
                dg.RunRequest(run_key=changes.run_key(quarter), partition_key=quarter.label)
            )
        else:
            skipped.append(quarter.label)
    for relative in changes.settling:
        context.log.info(f"{relative} is still being written; it will be read once it settles.")
    for relative in changes.unplaced:
        context.log.warning(f"{relative}: neither its cover nor its folder names a quarter.")
    if skipped:
        context.log.warning(f"Returns for quarters not run yet: {', '.join(skipped)}.")
    context.update_cursor(changes.state.to_cursor())
    if not requests:
        return dg.SkipReason("No new returns.")
    return requests
