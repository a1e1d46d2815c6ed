"""Where the service keeps its files: each place's environment variable (set by the service's
environment file) and its default in a checkout. Read by the pipeline's resources and by the web
front door, so both act on the same folders."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WAREHOUSE = PROJECT_ROOT / "warehouse"
DEFAULT_ENVIRONMENT_FILE = Path("/etc/liia/environment")

# name: (environment variable, default in a checkout)
PLACES = {
    "inbox": ("LIIA_INBOX", PROJECT_ROOT / "sample_returns"),
    "archive": ("LIIA_ARCHIVE", WAREHOUSE / "archive"),
    "warehouse": ("LIIA_WAREHOUSE", WAREHOUSE / "liia.duckdb"),
    "exports": ("LIIA_EXPORTS", WAREHOUSE / "exports"),
    "reports": ("LIIA_REPORTS", PROJECT_ROOT / "reports"),
    # DfE's published figures: the newest Parquet file here is loaded (drop a newer one in)
    "published": ("LIIA_PUBLISHED", PROJECT_ROOT / "reference" / "dfe"),
    "working": ("LIIA_WORKING_DB", WAREHOUSE / "working" / "liia-working.duckdb"),
    # the web front door's own files: its SQLite database, secret key and uploads being checked
    "web": ("LIIA_WEB_DATA", WAREHOUSE / "web"),
}


def place(name: str) -> Path:
    variable, default = PLACES[name]
    return Path(os.environ.get(variable) or default)


def environment_file() -> Path:
    return Path(os.environ.get("LIIA_ENVIRONMENT_FILE") or DEFAULT_ENVIRONMENT_FILE)


def read_environment_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines as systemd's EnvironmentFile reads them (comments, blank lines and
    quotes allowed)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        name, value = line.split("=", 1)
        parts = shlex.split(value) if value.strip() else [""]
        values[name.strip()] = " ".join(parts)
    return values


def load_environment_file() -> Path | None:
    """Fill the process's environment from the service's file (what the environment already sets
    wins, as for a unit's own Environment= lines). The file read, if there is one."""
    path = environment_file()
    if not path.is_file():
        return None
    for name, value in read_environment_file(path).items():
        os.environ.setdefault(name, value)
    return path
