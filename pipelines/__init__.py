"""The LIIA quarterly benchmarking pipeline, one package per stage as the data goes downhill:
collection, receive, validate, benchmark, warehouse, release, write; then defs (Dagster) and
service (install, health, backup, the command line). definitions.py assembles the code location."""

import gc

# Importing the pipeline makes about 180,000 objects that live as long as the process (Dagster,
# pandas, pandera, scipy), and Python's cyclic collector, run every 700 new objects, went through
# them 474 times (3 of them whole) to free 1,000: about 0.1 of the 1.35 CPU-seconds each `liia`
# command spends importing (a run process or code server, which imports Dagster first, saves
# part of it). Every 10,000 new objects instead: 40 times, none whole. A run's own work costs
# the same (a quarter's peak memory 379-382 MB either way; at every 50,000 it was 406).
gc.set_threshold(10_000, 10, 10)
