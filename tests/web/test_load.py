"""The deadline-day load test (`make benchmark`: benchmarks/deadline_day.py) in small: its
accounts made as it makes them, and its locustfile driving `liia serve` for a few seconds, one
officer uploading and two members downloading, with no request failing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT, SAMPLE

pytestmark = pytest.mark.real_servers


def test_the_load_tests_people_sign_in_upload_and_download(served, tmp_path):
    url, env, folder = served
    barnet = SAMPLE / "2026-27-Q1" / "Barnet LIIA return 2026-27 Q1.xlsx"
    released = folder / "reports" / "members" / "2025-26-Q4"
    released.mkdir(parents=True)
    shutil.copy(barnet, released / "LIIA finance benchmarks 2025-26-Q4.xlsx")  # a workbook
    plan, out = tmp_path / "plan.json", tmp_path / "out.json"
    plan.write_text(
        json.dumps(
            {
                "password": "a long load-test passphrase 4",
                "window_seconds": 1,
                "members_count": 2,
                "downloads": ["2025-26-Q4/LIIA finance benchmarks 2025-26-Q4.xlsx"],
                "officers": [{"authority": "Barnet", "files": [str(barnet)]}],
            }
        )
    )
    made = subprocess.run(
        [sys.executable, "-m", "benchmarks.deadline_day", "--make-accounts", str(plan)],
        env={**env, "PYTHONPATH": str(PROJECT)},
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert len(json.loads(plan.read_text())["members"]) == 2
    load = subprocess.run(
        [
            str(Path(sys.executable).with_name("locust")),
            *("-f", str(PROJECT / "benchmarks" / "locustfile.py")),
            *("--headless", "--only-summary", "--users=3", "--spawn-rate=3"),
            *("--run-time=8s", f"--host={url}", "--loglevel=WARNING"),
        ],
        env={**env, "LIIA_LOAD_PLAN": str(plan), "LIIA_LOAD_OUT": str(out)},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(out.read_text())
    kinds = {kind for kind, _, _ in result["timings"]}
    assert {"sign in: second factor", "upload, to its answer on the page"} <= kinds
    assert {"download: a workbook", "page: explorer"} <= kinds, load.stdout + load.stderr
    assert not [t for t in result["timings"] if t[2]], load.stdout + load.stderr
    assert [Path(u["file"]).name for u in result["uploads"]] == [barnet.name]
    assert len(list((folder / "inbox" / "2026-27-Q1" / "Barnet").glob("*.xlsx"))) == 1
