"""The LIIA quarterly benchmarking pipeline, one package per stage as the data goes downhill:
collection, receive, validate, benchmark, warehouse, release, write; then defs (Dagster) and
service (install, health, backup, the command line). definitions.py assembles the code location."""
