"""The whole year of tests/defs/test_year_in_the_life.py (four quarters, where the suite lives two):
runs it and prints how long it took and what it ran.

    .venv/bin/python scripts/year_in_the_life.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def main() -> int:
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rA",
            "tests/defs/test_year_in_the_life.py",
        ],
        cwd=PROJECT,
        env={**os.environ, "LIIA_YEAR_QUARTERS": "4"},
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - started
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:])
    print(f"four quarters lived in {took:.0f} s")
    if done.returncode:
        print(done.stdout[-4000:])
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
