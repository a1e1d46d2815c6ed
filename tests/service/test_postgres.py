"""The run history in PostgreSQL: a real server (Debian's postgresql package, which `make test`
installs) started here, a service installed to use it, a quarter run recorded in it, and the
front door's accounts kept in the same database."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import dagster as dg
import pytest

from pipelines.service.install import read_environment_file
from tests.conftest import BARE_ENVIRONMENT, first_codes, free_port, liia, region, some_returns

# Real servers that mostly wait: run in a stream of their own beside the rest (Makefile).
pytestmark = pytest.mark.real_servers


@pytest.fixture
def postgres_url():
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert binaries, "PostgreSQL is missing: `make test` installs Debian's postgresql package"
    # PostgreSQL refuses to run as root: as root, the server runs as the package's user.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="liia-pg-"))
    try:
        yield from _server_in(folder, binaries[-1].parent, as_user)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # whether or not the server started


def _server_in(folder: Path, bin_dir: Path, as_user: list[str]):
    folder.chmod(0o755)
    data = folder / "data"
    data.mkdir()
    if as_user:
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
    port = free_port()

    def run(*command):
        done = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{Path(command[0]).name}: {done.stdout}{done.stderr}"

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "liia", "--auth=trust")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(folder / "log"),
        "-w",
        "start",
    )
    try:
        yield f"postgresql://liia@127.0.0.1:{port}/postgres"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")


@pytest.mark.long_running(seconds=25)
def test_a_service_keeps_its_run_history_in_postgresql(tmp_path, postgres_url):
    root, inbox = tmp_path / "root", tmp_path / "inbox"
    bare = BARE_ENVIRONMENT

    def server_liia(*args, input=None):
        env = {**bare, "LIIA_ENVIRONMENT_FILE": str(root / "etc" / "liia" / "environment")}
        return liia(*args, env=env, timeout=180, input=input)

    installed = server_liia(
        "install", "--root", str(root), "--inbox", str(inbox), "--postgres-url", postgres_url
    )
    assert installed.returncode == 0, installed.stderr
    assert "run history in PostgreSQL" in installed.stdout
    settings = read_environment_file(root / "etc" / "liia" / "environment")
    assert settings["LIIA_DAGSTER_PG_URL"] == postgres_url.replace(
        "postgresql:", "postgresql+psycopg2:"
    )
    assert (root / "etc" / "liia" / "environment").stat().st_mode & 0o077 == 0o040
    some_returns("2026-27-Q1", inbox)
    # The operator's region: the six authorities whose returns arrive (a quicker run than 33).
    with open(root / "etc" / "liia" / "environment", "a") as file:
        file.write(f"LIIA_AUTHORITIES={region(tmp_path / 'region', first_codes(6))}\n")
    ran = server_liia("run", "--quarter", "2026-27-Q1")
    assert ran.returncode == 0, ran.stdout + ran.stderr

    os.environ["LIIA_DAGSTER_PG_URL"] = settings["LIIA_DAGSTER_PG_URL"]
    try:
        with dg.DagsterInstance.from_config(settings["DAGSTER_HOME"]) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            (run,) = instance.get_runs()
            assert run.status == dg.DagsterRunStatus.SUCCESS
            assert run.tags["dagster/partition"] == "2026-27 Q1"
            assert instance.get_dynamic_partitions("quarters") == ["2026-27 Q1"]
    finally:
        del os.environ["LIIA_DAGSTER_PG_URL"]
    # Nothing of the history is in DAGSTER_HOME's SQLite files.
    assert not list(Path(settings["DAGSTER_HOME"]).rglob("*.db"))
    health = server_liia("health")
    assert "Last run: 2026-27 Q1, success" in health.stdout, health.stdout

    # the front door's accounts live in the same PostgreSQL database, beside Dagster's tables
    added = server_liia(
        "users",
        "add",
        "lead@liia.example",
        "--role",
        "team",
        "--password-stdin",
        input="a long postgres passphrase 3\n",
    )
    assert added.returncode == 0, added.stderr
    listed = server_liia("users", "list")
    assert "lead@liia.example\tteam" in listed.stdout, listed.stdout + listed.stderr
    import psycopg2

    with psycopg2.connect(postgres_url) as con, con.cursor() as cursor:
        cursor.execute(
            "SELECT u.username, a.role FROM auth_user u JOIN web_account a ON a.user_id = u.id"
        )
        assert cursor.fetchall() == [("lead@liia.example", "team")]
    assert not list(root.rglob("web.sqlite3"))
