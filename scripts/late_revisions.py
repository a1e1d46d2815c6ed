"""A quarter released early, then revised as its late returns arrive: 2026-27 Q2 of the sample
returns released by the data lead with the first two returns, then a revision after every few late
ones, each audited together with every release before it. Prints each run's release step and the
run (each recorded in an instance of its own, as `liia run` records it), so a disclosure audit
that grows out of bounds shows.

    .venv/bin/python -m scripts.late_revisions [--per-run 3] [--runs 11]

The suite keeps the part of this audit that HiGHS without its presolve could not answer
(tests/release/data/hard_part.json, in tests/release/test_disclosure.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

QUARTER = "2026-27-Q2"
EARLY = "2026-10-20T09:00:00+01:00"  # before the quarter's deadline
MONDAY = "2026-11-16T07:00:00+00:00"  # a revision moment after it


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-run", type=int, default=3, help="late returns a revision adds")
    parser.add_argument("--runs", type=int, default=11, help="revisions")
    args = parser.parse_args(argv)

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from benchmarks.run import SAMPLE, _materialize, stage_seconds
    from pipelines.defs.resources import environment_for
    from pipelines.release.timing import AS_OF_TAG, RELEASE_TAG

    with tempfile.TemporaryDirectory(prefix="liia-late-") as tmp:
        work = Path(tmp)
        inbox = work / "inbox" / QUARTER
        inbox.mkdir(parents=True)
        os.environ.update(environment_for(work, inbox.parent))
        files = sorted((SAMPLE / QUARTER).glob("*.xlsx"))

        def run(as_of: str, release: str) -> float:
            """The run's release step, in seconds."""
            result = _materialize(QUARTER, tags={AS_OF_TAG: as_of, RELEASE_TAG: release})
            assert result.success
            return stage_seconds(result.run_id)["public_release"]

        for file in files[:2]:
            shutil.copy(file, inbox)
        print(f"release 1, 2 returns: release step {run(EARLY, 'requested'):.1f} s")
        late = files[2:]
        for n in range(args.runs):
            batch = late[n * args.per_run : (n + 1) * args.per_run]
            if not batch:
                break
            for file in batch:
                shutil.copy(file, inbox)
            started = time.perf_counter()
            release = run(MONDAY, "revision")
            returns = 2 + n * args.per_run + len(batch)
            print(
                f"revision {n + 2}, {returns} returns: release step {release:.1f} s, "
                f"run {time.perf_counter() - started:.1f} s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
