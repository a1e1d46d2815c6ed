import dagster as dg

from pipelines.defs.alerts import run_failure_alert, run_outcome_report
from pipelines.defs.assets.benchmarks import benchmarks, published_figures
from pipelines.defs.assets.receiving import received_returns
from pipelines.defs.assets.release import public_release
from pipelines.defs.assets.reports import benchmark_workbooks, download_page, feedback_workbooks
from pipelines.defs.assets.validation import validated_returns
from pipelines.defs.assets.warehouse import analysts_warehouse
from pipelines.defs.jobs import quarter_job
from pipelines.defs.resources import default_resources
from pipelines.defs.schedules import quarter_deadline_schedule, revision_schedule
from pipelines.defs.sensors import inbox_sensor, published_figures_sensor

all_assets = [
    published_figures,
    received_returns,
    validated_returns,
    benchmarks,
    public_release,
    analysts_warehouse,
    feedback_workbooks,
    benchmark_workbooks,
    download_page,
]

defs = dg.Definitions(
    assets=all_assets,
    jobs=[quarter_job],
    schedules=[quarter_deadline_schedule, revision_schedule],
    sensors=[inbox_sensor, published_figures_sensor, run_failure_alert, run_outcome_report],
    resources=default_resources(),
)
