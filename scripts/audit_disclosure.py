"""The disclosure audit of every sample quarter, exactly, with figures: `uv run python -m
scripts.audit_disclosure` (about two minutes; the suite audits two quarters and a hard synthetic
one).

Runs every sample quarter through the pipeline (`liia run --all`, in a temporary folder), then for
each released quarter audits its stored release as an intruder would read it: for every small count
(1 to 5) behind a published figure, its smallest and largest possible value given everything the
public edition shows (the true values checked to satisfy the model first). Prints the suppressions
of each kind, how many counts are protected, and what the same audit finds with the complementary
suppressions taken away. Exits 1 if any count is left unprotected.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.collection.catalogue import load_authorities, load_catalogue
from pipelines.collection.quarters import parse_quarter
from pipelines.defs.resources import environment_for
from pipelines.release.audit import PROTECTION_MARGIN
from pipelines.release.disclosure import Suppression, exact_audit
from pipelines.release.public_edition import (
    earlier_releases,
    quarter_inputs,
    released_quarters,
    stored_suppression,
)

PROJECT = Path(__file__).resolve().parent.parent


def audit_warehouse(path: Path, bounds: bool = True) -> int:
    """Audit every released quarter of the warehouse at `path`; the number left unprotected."""
    catalogue = load_catalogue()
    population = load_authorities().table.set_index("liia_code")["population_0_17"]
    con = duckdb.connect(str(path), read_only=True)
    print(
        f"{'quarter':<11} {'primary':>7} {'compl.':>6} {'groups':>6} {'counts':>6} "
        f"{'protected':>9} {'smallest max':>12} {'largest min':>11} "
        f"{'without compl.: exposed':>23} {'s':>5}"
    )
    exposed_total = 0
    for key in released_quarters(con):
        started = time.perf_counter()
        benchmarks, groups, items = quarter_inputs(con, key)
        hidden = stored_suppression(con, key)
        # the latest release read together with every earlier one of the quarter
        (latest,) = con.execute(
            "SELECT max(release) FROM releases WHERE quarter = ?", [key]
        ).fetchone()
        earlier = earlier_releases(con, parse_quarter(key), catalogue, before=latest)
        findings = exact_audit(
            benchmarks, groups, items, hidden, catalogue, population, bounds, earlier
        )
        bare = exact_audit(
            benchmarks,
            groups,
            items,
            Suppression(set(hidden.primary)),
            catalogue,
            population,
            bounds,
        )
        protected = sum(f.protected for f in findings)
        exposed_total += len(findings) - protected
        exposed = [f for f in bare if not f.protected]
        pinned = sum(f.smallest is not None and f.smallest == f.largest for f in exposed)
        print(
            f"{key:<11} {len(hidden.primary):>7} {len(hidden.complementary):>6} "
            f"{len(hidden.groups):>6} {len(findings):>6} {protected:>9} "
            f"{max((f.smallest or 0) for f in findings):>12.0f} "
            f"{min((f.largest or 0) for f in findings):>11.0f} "
            f"{f'{len(exposed)} ({pinned} pinned exactly)':>23} "
            f"{time.perf_counter() - started:>5.1f}"
        )
    con.close()
    print(
        f"Protected: each count's range runs from 0 to at least {PROTECTION_MARGIN}. "
        f"Unprotected counts: {exposed_total}."
    )
    return exposed_total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, help="audit this warehouse instead of a new run")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="whether each count can be 0 and the margin, not its bounds (seconds, not minutes)",
    )
    args = parser.parse_args(argv)
    if args.warehouse:
        return 1 if audit_warehouse(args.warehouse, not args.quick) else 0
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **environment_for(Path(tmp), PROJECT / "sample_returns")}
        Path(env["DAGSTER_HOME"]).mkdir()
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "pipelines.service.cli", "run", "--all"],
            env=env,
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            print(run.stdout[-2000:], run.stderr[-2000:], sep="\n")
            return 2
        print(f"Every sample quarter run in {time.perf_counter() - started:.0f} s.")
        return 1 if audit_warehouse(Path(tmp) / "published" / "liia.duckdb", not args.quick) else 0


if __name__ == "__main__":
    sys.exit(main())
