"""A quarter released early, then revised as its late returns arrive: 2026-27 Q2 of the sample
returns released by the data lead with the first two returns, then a revision after every few late
ones, each audited together with every release before it. Prints each run's release step and the
run, so a disclosure audit that grows out of bounds shows.

    .venv/bin/python -m scripts.late_revisions [--per-run 3] [--runs 11]

The suite keeps the part of this audit that HiGHS without its presolve could not answer
(tests/release/data/hard_part.json, in tests/release/test_disclosure.py).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

QUARTER = "2026-27-Q2"
EARLY = "2026-10-20T09:00:00+01:00"  # before the quarter's deadline
MONDAY = "2026-11-16T07:00:00+00:00"  # a revision moment after it
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _step_seconds(result, step: str) -> float:
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS" and event.step_key == step:
            return event.event_specific_data.duration_ms / 1000
    raise LookupError(step)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-run", type=int, default=3, help="late returns a revision adds")
    parser.add_argument("--runs", type=int, default=11, help="revisions")
    args = parser.parse_args(argv)

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from pipelines.release.timing import AS_OF_TAG, RELEASE_TAG
    from tests.conftest import SAMPLE, run_quarter

    with tempfile.TemporaryDirectory(prefix="liia-late-") as tmp:
        work = Path(tmp)
        inbox = work / "inbox" / QUARTER
        inbox.mkdir(parents=True)
        files = sorted((SAMPLE / QUARTER).glob("*.xlsx"))

        def run(as_of: str, release: str):
            tags = {AS_OF_TAG: as_of, RELEASE_TAG: release}
            result = run_quarter(work, inbox.parent, QUARTER, tags=tags, run_config=QUIET)
            assert result.success
            return result

        for file in files[:2]:
            shutil.copy(file, inbox)
        result = run(EARLY, "requested")
        print(f"release 1, 2 returns: release step {_step_seconds(result, 'public_release'):.1f} s")
        late = files[2:]
        for n in range(args.runs):
            batch = late[n * args.per_run : (n + 1) * args.per_run]
            if not batch:
                break
            for file in batch:
                shutil.copy(file, inbox)
            started = time.perf_counter()
            result = run(MONDAY, "revision")
            returns = 2 + n * args.per_run + len(batch)
            print(
                f"revision {n + 2}, {returns} returns: release step "
                f"{_step_seconds(result, 'public_release'):.1f} s, "
                f"run {time.perf_counter() - started:.1f} s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
