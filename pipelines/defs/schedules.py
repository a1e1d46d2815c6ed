"""The quarterly run after each return deadline."""

from datetime import date

import dagster as dg

from pipelines.defs.jobs import quarter_job
from pipelines.defs.partitions import open_quarters
from pipelines.quarters import Quarter, quarter_containing
from pipelines.release import AS_OF_TAG, DEADLINE_DAY, DEADLINE_MONTHS_AFTER, RELEASE_TAG

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
def quarter_deadline_schedule(context: dg.ScheduleEvaluationContext):
    quarter = quarter_due(context.scheduled_execution_time.date())
    open_quarters(context.instance, [quarter])
    # The tick's own moment: the run releases the quarter as of its deadline, whenever it starts.
    return dg.RunRequest(
        run_key=f"deadline {quarter.key}",
        partition_key=quarter.label,
        tags={AS_OF_TAG: context.scheduled_execution_time.isoformat(), RELEASE_TAG: "deadline"},
    )
