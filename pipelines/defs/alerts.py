"""Sensors that tell the data lead: a run that failed for good (one Dagster is not about to retry),
a check that failed in a run that finished, and the summary of each deadline run."""

from datetime import UTC, datetime

import dagster as dg
from dagster._core.storage.tags import PARTITION_NAME_TAG, WILL_RETRY_TAG

from pipelines.defs.jobs import quarter_job
from pipelines.defs.runs import failure_of, local_time, retry_plan
from pipelines.release.timing import RELEASE_TAG
from pipelines.write.alerts import (
    AlertSettings,
    check_alert,
    deadline_summary,
    failure_alert,
    recovered_alert,
    send,
)

COMPLETENESS_CHECK = "all_authorities_returned"


def _quarter_of(run: dg.DagsterRun) -> str:
    return run.tags.get(PARTITION_NAME_TAG, "a quarter")


@dg.run_failure_sensor(
    monitored_jobs=[quarter_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
    description="Emails the data lead (and posts to the webhook, if set) when a run fails and "
    "Dagster will not retry it at once: the quarter, the step, the reason and when it is tried "
    "again.",
)
def run_failure_alert(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    if run.tags.get(WILL_RETRY_TAG) == "true":
        context.log.info(f"{run.run_id}: Dagster retries it now; no alert.")
        return
    failure = failure_of(context.instance, run.run_id)
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = (record.end_time if record else None) or datetime.now(UTC).timestamp()
    plan = retry_plan(record, None, datetime.now(UTC), failure)
    next_step = plan.reason.split("; ")[-1] if plan.reason else "run it again once fixed."
    alert = failure_alert(
        _quarter_of(run),
        failure.step,
        failure.reason,
        local_time(ended),
        f"the inbox sensor tries again ({next_step.rstrip('.')}) until a run succeeds.",
        run.run_id,
    )
    for outcome in send(alert, AlertSettings.from_environment()):
        context.log.info(f"{run.run_id}: {outcome}")


def _failure_alerted_before(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """The run before this one of the same quarter, if it failed and its failure was alerted (not
    one Dagster retried at once): the id the "recovered" message names."""
    label = run.tags.get(PARTITION_NAME_TAG)
    if not label:
        return None
    records = instance.get_run_records(dg.RunsFilter(tags={PARTITION_NAME_TAG: label}), limit=10)
    ids = [r.dagster_run.run_id for r in records]
    if run.run_id not in ids or ids.index(run.run_id) + 1 >= len(ids):
        return None
    before = records[ids.index(run.run_id) + 1].dagster_run
    if before.status != dg.DagsterRunStatus.FAILURE or before.tags.get(WILL_RETRY_TAG) == "true":
        return None
    return before.run_id


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[quarter_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
    description="After each finished run: alerts the data lead to any check that failed with "
    "severity ERROR, and after a deadline run sends the quarter's summary (accepted n of 33, who "
    "is missing or rejected).",
)
def run_outcome_report(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    quarter = _quarter_of(run)
    evaluations = [
        e.dagster_event.event_specific_data
        for e in context.instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
        if e.dagster_event
    ]
    settings = AlertSettings.from_environment()
    earlier = _failure_alerted_before(context.instance, run)
    if earlier is not None:
        record = context.instance.get_run_record_by_id(run.run_id)
        ended = (record.end_time if record else None) or datetime.now(UTC).timestamp()
        alert = recovered_alert(quarter, local_time(ended), earlier, run.run_id)
        for outcome in send(alert, settings):
            context.log.info(f"{run.run_id} recovered: {outcome}")
    failed = [
        (e.check_name, e.description or "")
        for e in evaluations
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    if failed:
        for outcome in send(check_alert(quarter, failed, run.run_id), settings):
            context.log.info(f"{run.run_id} checks: {outcome}")
    if run.tags.get(RELEASE_TAG) == "deadline":
        completeness = next(
            (e.description for e in evaluations if e.check_name == COMPLETENESS_CHECK), None
        )
        text = (completeness or "").removeprefix(f"{quarter}: ") or "no summary recorded"
        for outcome in send(deadline_summary(quarter, text, run.run_id), settings):
            context.log.info(f"{run.run_id} summary: {outcome}")
