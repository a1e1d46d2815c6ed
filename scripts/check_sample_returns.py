"""The whole sweep of tests/receive/test_sample_returns.py's same-seed test (all ten quarters,
where the suite regenerates three): regenerates every sample return with the committed seed,
checks each value against the committed files, and prints how many and how long it took.

    .venv/bin/python scripts/check_sample_returns.py
"""

from __future__ import annotations

import sys

from scripts.sweep import PROJECT, run_tests


def main() -> int:
    code, took = run_tests(
        ["tests/receive/test_sample_returns.py::test_same_seed_gives_the_same_values"],
        {"LIIA_SAMPLE_SWEEP": "1"},
    )
    quarters = sorted(p.name for p in (PROJECT / "sample_returns").glob("20*"))
    files = len(list((PROJECT / "sample_returns").glob("20*/*.xlsx")))
    print(f"{files} files of {len(quarters)} quarters regenerated and compared in {took:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
