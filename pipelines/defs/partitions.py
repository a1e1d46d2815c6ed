"""Quarters as Dagster partitions, named as people write them (`2026-27 Q2`).

The set grows with the calendar and with what arrives, with no restart or reload: the deadline
schedule adds its quarter, the inbox sensor adds the quarter a new file belongs to, and `liia run`
adds the quarters it runs. Nothing else ever needs to."""

from collections.abc import Iterable

import dagster as dg

from pipelines.collection.quarters import Quarter

quarter_partitions = dg.DynamicPartitionsDefinition(name="quarters")


def new_quarters(instance: dg.DagsterInstance, quarters: Iterable[Quarter]) -> list[str]:
    """The labels of `quarters` that are not partitions yet, oldest first."""
    known = set(instance.get_dynamic_partitions(quarter_partitions.name))
    return sorted({q.label for q in quarters} - known, key=lambda label: label)


def open_quarters(instance: dg.DagsterInstance, quarters: Iterable[Quarter]) -> None:
    """Make each quarter a partition (those that are already are left alone)."""
    quarters = list(quarters)
    for label in new_quarters(instance, quarters):
        try:
            instance.add_dynamic_partitions(quarter_partitions.name, [label])
        except Exception:  # another process added it at the same moment
            if not instance.has_dynamic_partition(quarter_partitions.name, label):
                raise
