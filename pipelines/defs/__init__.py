"""Dagster only: the assets of each stage, resources, partitions, the schedule, sensors and alerts
on runs. Thin: each asset calls the stages' pure functions; imports any stage, never service."""
