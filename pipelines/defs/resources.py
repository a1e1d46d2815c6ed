import os
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WAREHOUSE = PROJECT_ROOT / "warehouse"


class LiiaPaths(dg.ConfigurableResource):
    """Where returns arrive, where received files are archived, where the analysts' copy of the
    warehouse and its Parquet exports are published, and where workbooks are written."""

    inbox: str = str(PROJECT_ROOT / "sample_returns")
    archive: str = str(WAREHOUSE / "archive")
    warehouse: str = str(WAREHOUSE / "liia.duckdb")
    exports: str = str(WAREHOUSE / "exports")
    reports: str = str(PROJECT_ROOT / "reports")


ENVIRONMENT = {
    "inbox": "LIIA_INBOX",
    "archive": "LIIA_ARCHIVE",
    "warehouse": "LIIA_WAREHOUSE",
    "exports": "LIIA_EXPORTS",
    "reports": "LIIA_REPORTS",
}


def default_resources() -> dict:
    """The resources, each path overridable by its environment variable. `duckdb` is the pipeline's
    own working database; analysts read the published copy at `paths.warehouse`."""
    paths = {
        field: os.environ.get(variable, LiiaPaths.model_fields[field].default)
        for field, variable in ENVIRONMENT.items()
    }
    return {
        "paths": LiiaPaths(**paths),
        "duckdb": DuckDBResource(
            database=os.environ.get(
                "LIIA_WORKING_DB", str(WAREHOUSE / "working" / "liia-working.duckdb")
            )
        ),
    }
