import dagster as dg

from pipelines.defs.assets import (
    benchmark_workbooks,
    benchmarks,
    received_returns,
    validated_returns,
)
from pipelines.defs.resources import default_resources

all_assets = [received_returns, validated_returns, benchmarks, benchmark_workbooks]

defs = dg.Definitions(assets=all_assets, resources=default_resources())
