"""Make the deployment an earlier version left, for the upgrade test: that version's own code (a git
worktree of COMMIT) runs every quarter of a small inbox (four authorities' sample returns in two
quarters) with this project's Python, and its pipeline database and instance settings are kept in
tests/fixtures/deployment-<commit>/.

    .venv/bin/python -m scripts.make_upgrade_fixture --commit 73389a2

The earlier version's dependencies are this project's, or a subset of them (73389a2: the same
pandas, DuckDB and Dagster), so its files are what that version wrote in use."""

from __future__ import annotations

import argparse
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
QUARTERS = ("2025-26-Q4", "2026-27-Q1")
AUTHORITIES = ("Barnet", "Camden", "City of London", "Hackney")


def fixture_folder(commit: str) -> Path:
    return PROJECT / "tests" / "fixtures" / f"deployment-{commit}"


def small_inbox(inbox: Path) -> list[Path]:
    copied = []
    for key in QUARTERS:
        (inbox / key).mkdir(parents=True, exist_ok=True)
        label = key[:7] + " " + key[8:]
        for name in AUTHORITIES:
            source = PROJECT / "sample_returns" / key / f"{name} LIIA return {label}.xlsx"
            copied.append(Path(shutil.copy(source, inbox / key / source.name)))
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="73389a2")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="liia-upgrade-fixture-"))
    code = work / "code"
    try:
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(code), args.commit], cwd=PROJECT, check=True
        )
        deployment = work / "deployment"
        small_inbox(deployment / "inbox")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("LIIA_", "DAGSTER_"))},
            "PYTHONPATH": str(code),
            "LIIA_INBOX": str(deployment / "inbox"),
            "LIIA_ARCHIVE": str(deployment / "archive"),
            "LIIA_WAREHOUSE": str(deployment / "published" / "liia.duckdb"),
            "LIIA_EXPORTS": str(deployment / "exports"),
            "LIIA_REPORTS": str(deployment / "reports"),
            "LIIA_WORKING_DB": str(deployment / "working" / "liia.duckdb"),
            "DAGSTER_HOME": str(deployment / "dagster_home"),
            "LIIA_ENVIRONMENT_FILE": str(deployment / "environment"),
        }
        (deployment / "dagster_home").mkdir(parents=True)
        subprocess.run(
            [sys.executable, "-m", "pipelines.service.cli", "run", "--all"],
            cwd=code,
            env=env,
            check=True,
        )
        out = fixture_folder(args.commit)
        out.mkdir(parents=True, exist_ok=True)
        database = (deployment / "working" / "liia.duckdb").read_bytes()
        (out / "working.duckdb.xz").write_bytes(lzma.compress(database, preset=9))
        shutil.copy(deployment / "dagster_home" / "dagster.yaml", out / "dagster.yaml")
        print(f"Wrote {out}: the pipeline database ({len(database):,} bytes) and dagster.yaml")
        return 0
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(code)], cwd=PROJECT)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
