from pathlib import Path

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
