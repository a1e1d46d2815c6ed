from pathlib import Path

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import LiiaPaths
from scripts.make_sample_returns import main as make_sample_returns

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def generated_returns(tmp_path_factory) -> Path:
    """A fresh run of the generator with the committed seed."""
    out = tmp_path_factory.mktemp("generated")
    make_sample_returns(["--out", str(out)])
    return out


def run_resources(tmp_path: Path, inbox: Path) -> dict:
    """The pipeline's resources with every output under `tmp_path`."""
    return {
        "paths": LiiaPaths(
            inbox=str(inbox),
            archive=str(tmp_path / "archive"),
            warehouse=str(tmp_path / "published" / "liia.duckdb"),
            exports=str(tmp_path / "exports"),
            reports=str(tmp_path / "reports"),
        ),
        "duckdb": DuckDBResource(database=str(tmp_path / "liia.duckdb")),
    }


@pytest.fixture(scope="session")
def latest_quarter_run(tmp_path_factory) -> Path:
    """The two latest sample quarters run through every asset, outputs under one folder."""
    from pipelines.definitions import all_assets

    tmp = tmp_path_factory.mktemp("run")
    for quarter in ("2026-27-Q1", "2026-27-Q2"):
        result = dg.materialize(
            all_assets,
            partition_key=quarter,
            resources=run_resources(tmp, PROJECT / "sample_returns"),
        )
        assert result.success
    return tmp
