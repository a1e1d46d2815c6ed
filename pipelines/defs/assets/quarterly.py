"""What every quarterly asset shares: the partitions, the warehouse's pool, the step's quarter,
its checks and the progress lines `liia run` shows."""

import logging
import warnings

import dagster as dg
import pandas as pd

from pipelines.collection.quarters import Quarter, parse_quarter
from pipelines.defs.instance import mark_run_process
from pipelines.defs.partitions import quarter_partitions

# `liia run` shows these lines as its progress display; the Dagster UI shows them in the run log.
progress = logging.getLogger("liia.progress")


QUARTERLY = {"partitions_def": quarter_partitions}

# Of the steps ready at once, what an authority waits for runs first: its feedback is written
# before DfE's figures are read and the benchmarks loaded, not after (Dagster's step priority).
FOR_THE_AUTHORITY = {"op_tags": {"dagster/priority": "1"}}


def step_quarter(context: dg.AssetExecutionContext) -> Quarter:
    """The step's quarter. Every step begins here, so the run is tagged with the process that runs
    it (a retry from a failed step runs in a new one): a run whose process died is then told."""
    if context.run:
        mark_run_process(context.instance, context.run.run_id)
    return parse_quarter(context.partition_key)


def quarter_check(
    name: str, asset: str, description: str, blocking: bool = False
) -> dg.AssetCheckSpec:
    """A check whose every result is about one quarter (a partitioned check, a preview feature of
    Dagster 1.13, which warns so each time; the warning says nothing a reader can act on)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name,
            asset=asset,
            description=description,
            blocking=blocking,
            partitions_def=quarter_partitions,
        )


def run_id_of(context: dg.AssetExecutionContext) -> str:
    return context.run.run_id if context.run else "no-run"


def report(context, quarter: Quarter, stage: str, text: str) -> None:
    context.log.info(f"{quarter.label} {stage}: {text}")
    progress.info(text, extra={"quarter": quarter.label, "stage": stage})


def metadata_table(frame: pd.DataFrame) -> dg.MetadataValue:
    columns = [
        dg.TableColumn(
            c, "string" if frame[c].dtype == object or str(frame[c].dtype) == "str" else "int"
        )
        for c in frame.columns
    ]
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r) for r in frame.to_dict("records")],
        schema=dg.TableSchema(columns=columns),
    )
