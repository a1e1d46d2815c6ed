"""The whole sweep of tests/defs/test_faults.py's killed run and unwritable folder (a run killed
at each point, each output folder made unwritable in turn, where the suite tries one of each):
runs them and prints how many and how long it took.

    .venv/bin/python scripts/fault_sweep.py
"""

from __future__ import annotations

import sys

from scripts.sweep import run_tests

TESTS = [
    "tests/defs/test_faults.py::test_a_run_killed_mid_way_leaves_no_half_loaded_warehouse_and_no_process",
    "tests/defs/test_faults.py::test_a_folder_that_cannot_be_written_publishes_nothing_and_the_retry_publishes_once",
]


def main() -> int:
    code, took = run_tests(TESTS, {"LIIA_FAULT_SWEEP": "1"})
    print(f"a run killed at every point, and every output folder unwritable, in {took:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
