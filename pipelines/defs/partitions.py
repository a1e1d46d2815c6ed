from datetime import date

import dagster as dg

from pipelines.quarters import Quarter, quarter_range

FIRST_QUARTER = Quarter(2024, 1)


def quarter_containing(day: date) -> Quarter:
    year = day.year if day.month >= 4 else day.year - 1
    return Quarter(year, ((day.month - 4) % 12) // 3 + 1)


def quarter_partition_keys(until: date | None = None) -> list[str]:
    """Every quarter from the first collected to the one under way, as people write them
    (`2026-27 Q2`): the partitions the Dagster UI shows."""
    last = quarter_containing(until or date.today())
    return [q.label for q in quarter_range(FIRST_QUARTER, last)]


quarter_partitions = dg.StaticPartitionsDefinition(quarter_partition_keys())
