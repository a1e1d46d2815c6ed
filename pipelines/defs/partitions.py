from datetime import date

import dagster as dg

from pipelines.quarters import Quarter, quarter_range

FIRST_QUARTER = Quarter(2024, 1)


def quarter_containing(day: date) -> Quarter:
    year = day.year if day.month >= 4 else day.year - 1
    return Quarter(year, ((day.month - 4) % 12) // 3 + 1)


def quarter_keys(until: date | None = None) -> list[str]:
    last = quarter_containing(until or date.today())
    return [q.key for q in quarter_range(FIRST_QUARTER, last)]


quarter_partitions = dg.StaticPartitionsDefinition(quarter_keys())
