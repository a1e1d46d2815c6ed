import os
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class LiiaPaths(dg.ConfigurableResource):
    """Where returns arrive, where received files are archived and where workbooks are written."""

    inbox: str = str(PROJECT_ROOT / "sample_returns")
    archive: str = str(PROJECT_ROOT / "warehouse" / "archive")
    reports: str = str(PROJECT_ROOT / "reports")


def default_resources() -> dict:
    return {
        "paths": LiiaPaths(
            inbox=os.environ.get("LIIA_INBOX", LiiaPaths.model_fields["inbox"].default),
            archive=os.environ.get("LIIA_ARCHIVE", LiiaPaths.model_fields["archive"].default),
            reports=os.environ.get("LIIA_REPORTS", LiiaPaths.model_fields["reports"].default),
        ),
        "duckdb": DuckDBResource(
            database=os.environ.get(
                "LIIA_WAREHOUSE", str(PROJECT_ROOT / "warehouse" / "liia.duckdb")
            )
        ),
    }
