import dagster as dg

# Every asset of the quarter, with their checks: what the schedule and the inbox sensor run.
quarter_job = dg.define_asset_job(
    "quarter_job",
    selection=dg.AssetSelection.all(),
    description="Receive, validate and load a quarter's returns, then its benchmarks, warehouse "
    "copy and workbooks.",
)
