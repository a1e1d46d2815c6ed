import dagster as dg

# Every asset of the quarter, with their checks: what the schedule and the inbox sensor run. In one
# process: the steps run one after another anyway, and a process per step costs seconds each. The
# run's own terminal (the daemon's) shows warnings and errors only; its full log is in the UI.
quarter_job = dg.define_asset_job(
    "quarter_job",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    description="Receive, validate and load a quarter's returns, then its benchmarks, warehouse "
    "copy and workbooks.",
)
