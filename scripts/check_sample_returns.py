"""The whole sweep of tests/receive/test_sample_returns.py's same-seed test (all ten quarters,
where the suite regenerates three): regenerates every sample return with the committed seed,
checks each value against the committed files, and prints how many and how long it took.

    .venv/bin/python scripts/check_sample_returns.py
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
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"]
        + ["tests/receive/test_sample_returns.py::test_same_seed_gives_the_same_values"],
        cwd=PROJECT,
        env={**os.environ, "LIIA_SAMPLE_SWEEP": "1"},
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - started
    quarters = sorted(p.name for p in (PROJECT / "sample_returns").glob("20*"))
    files = len(list((PROJECT / "sample_returns").glob("20*/*.xlsx")))
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:])
    print(f"{files} files of {len(quarters)} quarters regenerated and compared in {took:.0f} s")
    if done.returncode:
        print(done.stdout[-4000:])
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
