import dagster as dg

from pipelines.defs.assets import (
    analysts_warehouse,
    benchmark_workbooks,
    benchmarks,
    download_page,
    feedback_workbooks,
    received_returns,
    validated_returns,
)
from pipelines.defs.resources import default_resources

all_assets = [
    received_returns,
    validated_returns,
    benchmarks,
    analysts_warehouse,
    feedback_workbooks,
    benchmark_workbooks,
    download_page,
]

defs = dg.Definitions(assets=all_assets, resources=default_resources())
