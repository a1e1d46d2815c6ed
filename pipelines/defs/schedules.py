"""The quarterly run after each return deadline, and the revisions' rhythm."""

from datetime import date, datetime

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.collection.quarters import (
    DEADLINE_DAY,
    DEADLINE_MONTHS_AFTER,
    Quarter,
    quarter_containing,
)
from pipelines.defs.jobs import quarter_job
from pipelines.defs.partitions import open_quarters
from pipelines.defs.resources import ledger_path
from pipelines.receive.ledger import waiting
from pipelines.release.timing import (
    AS_OF_TAG,
    RELEASE_TAG,
    RevisionRhythm,
)

QUARTER_END_MONTHS = (6, 9, 12, 3)


def deadline_cron(day: int = DEADLINE_DAY, months_after: int = DEADLINE_MONTHS_AFTER) -> str:
    """Cron for 07:00 on each deadline: the default is 15 Feb, May, Aug and Nov."""
    months = sorted((end - 1 + months_after) % 12 + 1 for end in QUARTER_END_MONTHS)
    return f"0 7 {day} {','.join(str(m) for m in months)} *"


def quarter_due(day: date, months_after: int = DEADLINE_MONTHS_AFTER) -> Quarter:
    """The quarter whose deadline falls in `day`'s month."""
    month = day.year * 12 + day.month - 1 - months_after
    return quarter_containing(date(month // 12, month % 12 + 1, 1))


@dg.schedule(
    job=quarter_job,
    cron_schedule=deadline_cron(),
    execution_timezone="Europe/London",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="After each return deadline (LIIA_DEADLINE_DAY, default the 15th, of the "
    "LIIA_DEADLINE_MONTHS_AFTER-th month, default the second, after the quarter ends), runs the "
    "quarter just ended.",
)
def quarter_deadline_schedule(context: dg.ScheduleEvaluationContext, duckdb: DuckDBResource):
    quarter = quarter_due(context.scheduled_execution_time.date())
    open_quarters(context.instance, [quarter])
    # The tick's own moment: the run releases the quarter as of its deadline, whenever it starts.
    moment = context.scheduled_execution_time
    first = dg.RunRequest(
        run_key=f"deadline {quarter.key}",
        partition_key=quarter.label,
        tags={AS_OF_TAG: moment.isoformat(), RELEASE_TAG: "deadline"},
    )
    # and the earlier quarters' changes waiting for a revision, published with it
    return [first, *revision_requests(duckdb, moment, due_by=moment)]


def revision_requests(duckdb: DuckDBResource, moment: datetime, due_by: datetime) -> list:
    """A revision run of each quarter whose changes wait and are due by `due_by`."""
    return [
        dg.RunRequest(
            run_key=f"revision {w.quarter.key} {moment.isoformat()}",
            partition_key=w.quarter.label,
            tags={AS_OF_TAG: moment.isoformat(), RELEASE_TAG: "revision"},
        )
        for w in waiting(ledger_path(duckdb))
        if w.due is None or w.due <= due_by
    ]


@dg.schedule(
    job=quarter_job,
    cron_schedule=RevisionRhythm.from_environment().cron(),
    execution_timezone="Europe/London",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Weekly (LIIA_REVISION_DAY, default Monday, 07:00): publishes, as one revision "
    "each, the released quarters whose late returns and corrections are waiting (LIIA_REVISIONS "
    "weekly, the default; with `with next release` they wait for the deadline run instead).",
)
def revision_schedule(context: dg.ScheduleEvaluationContext, duckdb: DuckDBResource):
    moment = context.scheduled_execution_time
    if RevisionRhythm.from_environment().mode != "weekly":
        return dg.SkipReason("Revisions are not weekly (LIIA_REVISIONS).")
    requests = revision_requests(duckdb, moment, due_by=moment)
    return requests or dg.SkipReason("No released quarter has changes waiting.")
