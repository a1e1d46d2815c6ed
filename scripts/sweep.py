"""What the sweep scripts share: tests of the suite run again with a setting that makes them
exhaustive, in a process of their own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def run_tests(tests: list[str], setting: dict[str, str]) -> tuple[int, float]:
    """Run `tests` with `setting` added to the environment; print pytest's last line (its whole
    tail if they failed). (exit code, seconds taken)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", *tests],
        cwd=PROJECT,
        env={**os.environ, **setting},
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - started
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:])
    if done.returncode:
        print(done.stdout[-4000:])
    return done.returncode, took
