"""What the run history says about a quarter: its latest run, how a failed run failed, and when
the inbox sensor tries a failed quarter again.

Dagster's own run retries (`run_retries` in dagster.yaml) re-run a failed or killed run at once,
for what a second try cures (a process killed, a restart). What needs a person or time (a full
disk, a folder missing, a file locked) is tried again by the inbox sensor, spaced out, until a run
succeeds: every attempt is a new run key, so Dagster never skips it as a duplicate."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRunStatus, RunRecord, RunsFilter
from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, PARTITION_NAME_TAG, WILL_RETRY_TAG

from pipelines.release.timing import AS_OF_TAG, LONDON, RELEASE_TAG
from pipelines.write.alerts import plain_reason

INBOX_TAG = "liia/inbox"  # the waiting files a run was asked for (a hash of their SHA-256s)
ATTEMPT_TAG = "liia/attempt"  # how many times the sensor has asked again for the quarter
# How long after a failure the sensor asks again (LIIA_RETRY_SECONDS, default 5 min, 30 min, 2 h):
# then once a day for as long as it fails.
DEFAULT_RETRY_SECONDS = "300,1800,7200"
DAILY = timedelta(days=1)
DAEMON_RETRY_GRACE = timedelta(minutes=2)  # for the daemon's own retry (run_retries) to start


def retry_delays() -> tuple[timedelta, ...]:
    text = os.environ.get("LIIA_RETRY_SECONDS") or DEFAULT_RETRY_SECONDS
    return tuple(timedelta(seconds=float(s)) for s in text.split(",") if s.strip())


IN_PROGRESS = {
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
}
# Tags a retry carries over from the run it retries (when the quarter is released as of, and why).
CARRIED = (AS_OF_TAG, RELEASE_TAG)


def latest_run_of(instance: dg.DagsterInstance, quarter_label: str) -> RunRecord | None:
    """The newest run of the quarter, whoever started it."""
    records = instance.get_run_records(
        RunsFilter(tags={PARTITION_NAME_TAG: quarter_label}), limit=1
    )
    return records[0] if records else None


def failed_quarters(instance: dg.DagsterInstance, limit: int = 500) -> dict[str, RunRecord]:
    """Each quarter whose newest run failed, with that run (the newest `limit` runs looked at)."""
    newest: dict[str, RunRecord] = {}
    for record in instance.get_run_records(limit=limit):
        label = record.dagster_run.tags.get(PARTITION_NAME_TAG)
        if label and label not in newest:
            newest[label] = record
    return {
        label: r for label, r in newest.items() if r.dagster_run.status == DagsterRunStatus.FAILURE
    }


@dataclass(frozen=True)
class Failure:
    step: str  # the step that failed, or "the run" when no step did (a killed process)
    reason: str


def failure_of(instance: dg.DagsterInstance, run_id: str) -> Failure:
    """The first failed step of a run and its error, in one line each."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = entry.dagster_event
        error = event.step_failure_data.error if event else None
        while error is not None and error.cause is not None:  # the error Dagster wrapped
            error = error.cause
        message = error.message.strip().splitlines()[-1] if error and error.message else ""
        step = event.step_key if event else "a step"
        return Failure(step, plain_reason(message))
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        message = (entry.dagster_event.message if entry.dagster_event else None) or entry.message
        return Failure("the run", (message or "no message").strip().splitlines()[0])
    return Failure("the run", "no failure recorded")


def local_time(moment: datetime | float) -> str:
    if isinstance(moment, float | int):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(LONDON).strftime("%d/%m/%Y %H:%M")


@dataclass(frozen=True)
class Plan:
    """What the sensor does for a quarter: ask for a run (run_key, tags) or say why not."""

    run_key: str | None
    reason: str = ""
    tags: dict[str, str] | None = None


def retry_plan(
    latest: RunRecord | None,
    fresh_key: str | None,
    now: datetime,
    failure: Failure | None = None,
) -> Plan:
    """Whether to ask for the quarter now. `fresh_key` names the files waiting for an answer
    (None if none are); `latest` is the quarter's newest run and `failure` how it failed."""
    if latest is None or latest.dagster_run.status not in IN_PROGRESS | {DagsterRunStatus.FAILURE}:
        return Plan(fresh_key) if fresh_key else Plan(None, "has nothing waiting.")
    run = latest.dagster_run
    if run.status in IN_PROGRESS:
        if fresh_key and run.tags.get(INBOX_TAG) != fresh_key:
            return Plan(fresh_key, "has files that arrived since its current run began.")
        return Plan(None, f"is being run (run {run.run_id[:8]}, {run.status.value.lower()}).")
    if fresh_key and run.tags.get(INBOX_TAG) != fresh_key:
        return Plan(fresh_key)  # files that arrived since it failed: perhaps the fix
    ended = latest.end_time or latest.update_timestamp.timestamp()
    where = f"failed at {local_time(ended)} in {failure.step}" if failure else "failed"
    why = f": {failure.reason}" if failure else ""
    retrying = run.tags.get(WILL_RETRY_TAG) == "true" and not run.tags.get(AUTO_RETRY_RUN_ID_TAG)
    if retrying and now.timestamp() < ended + DAEMON_RETRY_GRACE.total_seconds():
        # (Past the grace, nobody did: a run Dagster cannot re-execute, made by `liia run`.)
        return Plan(None, f"{where}{why}; Dagster is retrying it now.")
    attempt = int(run.tags.get(ATTEMPT_TAG, "0")) + 1
    delays = retry_delays()
    delay = delays[attempt - 1] if attempt <= len(delays) else DAILY
    due = datetime.fromtimestamp(ended, UTC) + delay
    which = (
        f"retry {attempt} of {len(delays)}"
        if attempt <= len(delays)
        else f"daily retry {attempt - len(delays)}"
    )
    tags = {k: v for k, v in run.tags.items() if k in CARRIED} | {ATTEMPT_TAG: str(attempt)}
    if now < due:
        return Plan(None, f"{where}{why}; {which} at {local_time(due)}.")
    return Plan(f"retry {attempt} after {run.run_id}", f"{where}{why}; {which} now.", tags)
