import dagster as dg

# Every asset of the quarter, with their checks: what the schedule and the inbox sensor run. In one
# process: the steps run one after another anyway, and a process per step costs seconds each. The
# run's own terminal (the daemon's) shows warnings and errors only; its full log is in the UI.
quarter_job = dg.define_asset_job(
    "quarter_job",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    # A step that fails is tried twice more, 5 s then 10 s later (a file briefly locked, a share
    # reconnecting); a run that still fails is retried by the instance (run_retries), then by the
    # inbox sensor, spaced out (pipelines/defs/runs.py).
    op_retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
    # A run still going after an hour (a quarter takes seconds) is stopped by run monitoring,
    # and so retried, instead of holding the queue for ever. A retry runs every step again: a
    # run's outputs are staged under its own id (pipelines/write/staging.py) until its last step.
    tags={"dagster/max_runtime": 3600, "dagster/retry_strategy": "ALL_STEPS"},
    config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    description="Receive, validate and load a quarter's returns, then its benchmarks, warehouse "
    "copy and workbooks.",
)
