"""A run whenever a file arrives in the inbox, tried again after a failure until it succeeds."""

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.collection.quarters import parse_quarter
from pipelines.defs.instance import release_abandoned_runs
from pipelines.defs.jobs import quarter_job
from pipelines.defs.partitions import new_quarters, quarter_partitions
from pipelines.defs.resources import LiiaPaths, ledger_path, upgraded
from pipelines.defs.runs import INBOX_TAG, failed_quarters, failure_of, latest_run_of, retry_plan
from pipelines.receive.inbox import look_at_inbox
from pipelines.receive.ledger import answered
from pipelines.write.alerts import AlertSettings, folders_alert, folders_back_alert, send


@dg.sensor(
    job=quarter_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a run of the quarter a file without an answer yet belongs to (adding the "
    "quarter if it is new), then of each later quarter already answered, whose comparisons it "
    "changes. The same bytes again start nothing; a file modified in the last few seconds is left "
    "until it settles. A file has its answer once a run has written every output of its quarter "
    "(the pipeline's own ledger says so). A run that failed is asked for again, spaced out, until "
    "one succeeds; each tick that starts nothing says why.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, paths: LiiaPaths, duckdb: DuckDBResource):
    instance = context.instance
    for run_id in release_abandoned_runs(instance):
        context.log.warning(f"Run {run_id} lost its process; marked failed, to be run again.")
    if not upgraded(duckdb):
        return dg.SkipReason("The pipeline's database is being upgraded by a run; next tick.")
    memory = answered(ledger_path(duckdb))
    earlier = json.loads(context.cursor or "{}")
    missing = missing_folders(paths, published_before=bool(memory.quarters))
    told = _tell_about_folders(earlier.get("missing", []), missing)
    if told:
        context.log.warning(f"{told}: {', '.join(missing) or 'every folder back'}")
    if missing:
        return dg.SensorResult(
            cursor=json.dumps({**earlier, "missing": missing}),
            skip_reason=f"No run starts while these folders are missing: {'; '.join(missing)}.",
        )
    look = look_at_inbox(Path(paths.inbox), Path(paths.archive), memory.shas)
    fresh: dict[str, str] = {}  # quarter label: the key of the files it waits for
    for quarter in sorted(look.waiting):
        key = look.run_key(quarter)
        fresh.setdefault(quarter.label, key)
        for later in memory.quarters:
            if later > quarter:
                fresh.setdefault(later.label, f"{key} then {later.key}")
    failed = failed_quarters(instance)
    now = datetime.now(UTC)
    requests, reasons = [], []
    for label in sorted(set(fresh) | set(failed), key=lambda q: parse_quarter(q)):
        latest = failed.get(label) or latest_run_of(instance, label)
        failure = failure_of(instance, latest.dagster_run.run_id) if label in failed else None
        plan = retry_plan(latest, fresh.get(label), now, failure)
        if plan.run_key is None:
            reasons.append(f"{label} {plan.reason}")
            continue
        if plan.reason:
            context.log.warning(f"{label} {plan.reason}")
        tags = (plan.tags or {}) | ({INBOX_TAG: fresh[label]} if label in fresh else {})
        requests.append(dg.RunRequest(run_key=plan.run_key, partition_key=label, tags=tags))
    for relative in look.settling:
        context.log.info(f"{relative} is still being written; it will be read once it settles.")
    cursor = json.dumps(
        {"files": look.files, "waiting": sum(map(len, look.waiting.values())), "missing": []}
    )
    if look.settling:
        reasons.append(f"{len(look.settling)} file(s) still being written.")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[
            quarter_partitions.build_add_request(labels)
            for labels in [new_quarters(instance, look.waiting)]
            if labels
        ],
        cursor=cursor,
        skip_reason=None if requests else " ".join(reasons) or "No file without an answer.",
    )


def missing_folders(paths: LiiaPaths, published_before: bool) -> list[str]:
    """The folders a run needs that are not there, in words: the inbox always; the archive and
    the reports once something has been published into them (a run would otherwise start them
    anew and every earlier release's files would be gone)."""
    needed = {"inbox": paths.inbox}
    if published_before:
        needed |= {"archive": paths.archive, "reports": paths.reports}
    return [f"{name} {path}" for name, path in needed.items() if not Path(path).is_dir()]


def _tell_about_folders(before: list[str], now: list[str]) -> str:
    """Alert the data lead when folders go missing, and when they are back: once each."""
    if now and now != before:
        outcomes = send(folders_alert(now), AlertSettings.from_environment())
    elif before and not now:
        outcomes = send(folders_back_alert(before), AlertSettings.from_environment())
    else:
        return ""
    return "; ".join(outcomes)


PUBLISHED_TAG = "liia/published_file"


@dg.sensor(
    job=quarter_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When a newer file of DfE's published figures is dropped into the published "
    "folder, runs the latest quarter with answered returns again, so that its workbooks, packs "
    "and page carry the new context. The first look only notes what is there: the next run loads "
    "it anyway.",
)
def published_figures_sensor(
    context: dg.SensorEvaluationContext, paths: LiiaPaths, duckdb: DuckDBResource
):
    files = sorted(
        Path(paths.published).glob("*.parquet"), key=lambda p: (p.stat().st_mtime, p.name)
    )
    if not files:
        return dg.SkipReason(f"No published figures in {paths.published}.")
    newest = files[-1].stat()
    seen = f"{files[-1].name}:{newest.st_size}:{newest.st_mtime_ns}"
    if context.cursor is None or context.cursor == seen:
        context.update_cursor(seen)
        return dg.SkipReason(f"{files[-1].name} is the published file already noted.")
    context.update_cursor(seen)
    quarters = answered(ledger_path(duckdb)).quarters
    if not quarters:
        return dg.SkipReason(f"{files[-1].name} is new; the first run will load it.")
    latest = max(quarters)
    return dg.RunRequest(
        run_key=f"published {seen}",
        partition_key=latest.label,
        tags={PUBLISHED_TAG: files[-1].name},
    )
