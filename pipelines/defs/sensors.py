"""A run whenever a file arrives in the inbox."""

import json
from pathlib import Path

import dagster as dg

from pipelines.defs.jobs import quarter_job
from pipelines.defs.partitions import new_quarters, quarter_partitions
from pipelines.defs.resources import LiiaPaths
from pipelines.inbox import look_at_inbox, published


@dg.sensor(
    job=quarter_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a run of the quarter a file without an answer yet belongs to (adding the "
    "quarter if it is new), then of each later quarter already loaded, whose comparisons it "
    "changes. The same bytes again start nothing; a file modified in the last few seconds is left "
    "until it settles. A file has its answer once the published warehouse holds it.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, paths: LiiaPaths):
    loaded = published(Path(paths.warehouse))
    look = look_at_inbox(Path(paths.inbox), Path(paths.archive), loaded.shas)
    requests: dict[str, dg.RunRequest] = {}
    for quarter in sorted(look.waiting):
        key = look.run_key(quarter)
        requests.setdefault(quarter.label, dg.RunRequest(run_key=key, partition_key=quarter.label))
        for later in loaded.quarters_with_returns:
            if later > quarter:
                requests.setdefault(
                    later.label,
                    dg.RunRequest(run_key=f"{key} then {later.key}", partition_key=later.label),
                )
    for relative in look.settling:
        context.log.info(f"{relative} is still being written; it will be read once it settles.")
    cursor = json.dumps({"files": look.files, "waiting": sum(map(len, look.waiting.values()))})
    ordered = [requests[label] for label in sorted(requests)]
    return dg.SensorResult(
        run_requests=ordered,
        dynamic_partitions_requests=[
            quarter_partitions.build_add_request(labels)
            for labels in [new_quarters(context.instance, look.waiting)]
            if labels
        ],
        cursor=cursor,
        skip_reason=None if ordered else "No file without an answer.",
    )
