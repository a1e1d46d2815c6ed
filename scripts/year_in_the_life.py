"""The whole year of tests/defs/test_year_in_the_life.py (four quarters, where the suite lives two):
runs it and prints how long it took and what it ran.

    .venv/bin/python scripts/year_in_the_life.py
"""

from __future__ import annotations

import sys

from scripts.sweep import run_tests


def main() -> int:
    code, took = run_tests(["tests/defs/test_year_in_the_life.py"], {"LIIA_YEAR_QUARTERS": "4"})
    print(f"four quarters lived in {took:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
