"""Upgrading a deployment in place: the database an earlier version made is migrated step by step,
its ledger rebuilt from what it had answered, and a new return is then processed as usual."""

import logging
import lzma
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import working_db
from pipelines.receive.ledger import answered
from pipelines.service.install import read_environment_file
from pipelines.warehouse import database
from pipelines.warehouse.database import create_schema
from pipelines.warehouse.migrations import (
    EMPTY_DATABASE,
    LATEST,
    MIGRATIONS,
    empty_database,
    migrate,
    version,
)
from pipelines.warehouse.tables import TABLE_BY_NAME
from scripts.make_upgrade_fixture import QUARTERS, fixture_folder, small_inbox
from tests.conftest import BARE_ENVIRONMENT, SAMPLE, liia, run_quarter
from tests.defs.test_automation import evaluate_sensor

EARLIER = "73389a2"  # the code of 1 December 2026, the last deployment made without migrations


def _earlier_deployment(folder: Path) -> Path:
    """The deployment EARLIER left (tests/fixtures, made by scripts/make_upgrade_fixture.py), laid
    out as run_resources expects, with the inbox it had answered."""
    fixture = fixture_folder(EARLIER)
    (folder / "liia.duckdb").write_bytes(
        lzma.decompress((fixture / "working.duckdb.xz").read_bytes())
    )
    for kept in ("archive", "reports"):  # there on the server (their files are not needed here)
        (folder / kept).mkdir()
    inbox = folder / "inbox"
    for path in small_inbox(inbox):
        past = time.time() - 3600
        shutil.os.utime(path, (past, past))
    return inbox


class _Said(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_an_earlier_deployment_is_upgraded_and_runs_a_new_return(tmp_path):
    inbox = _earlier_deployment(tmp_path)
    database = tmp_path / "liia.duckdb"
    with duckdb.connect(str(database), read_only=True) as con:
        assert version(con) == 0  # made before versions were recorded
        columns = [r[0] for r in con.execute("DESCRIBE indicators").fetchall()]
        assert "period" not in columns

    # the daemon's first look after the upgrade: every file was answered, nothing is queued
    progress, said_lines = logging.getLogger("liia.progress"), _Said()
    with dg.instance_for_test() as instance:
        progress.addHandler(said_lines)
        progress.setLevel(logging.INFO)
        try:
            result = evaluate_sensor(instance, tmp_path, inbox)
        finally:
            progress.removeHandler(said_lines)
        assert result.run_requests == []
        said = " ".join(said_lines.lines)
        assert f"from version 0 to {LATEST}" in said
        assert "8 files already answered" in said
        ledger = answered(tmp_path / "answered.sqlite")
        assert [q.key for q in ledger.quarters] == list(QUARTERS)
        assert len(ledger.shas) == 8

        # a new return arrives: only its quarter is asked for, and the run succeeds
        brent = SAMPLE / "2026-27-Q1" / "Brent LIIA return 2026-27 Q1.xlsx"
        arrived = Path(shutil.copy(brent, inbox / "2026-27-Q1" / brent.name))
        past = time.time() - 60
        shutil.os.utime(arrived, (past, past))
        (request,) = evaluate_sensor(instance, tmp_path, inbox).run_requests
        assert request.partition_key == "2026-27 Q1"
        assert run_quarter(tmp_path, inbox, "2026-27-Q1", instance).success

    with duckdb.connect(str(database), read_only=True) as con:
        assert version(con) == LATEST
        counts = dict(
            con.execute(
                "SELECT quarter, count(*) FROM submissions WHERE is_current GROUP BY ALL"
            ).fetchall()
        )
        assert counts == {"2025-26-Q4": 4, "2026-27-Q1": 5}  # the earlier quarter kept as it was
        columns = [r[0] for r in con.execute("DESCRIBE indicators").fetchall()]
        assert columns == [c for c, _, _ in TABLE_BY_NAME["indicators"].columns]
        released = con.execute(
            "SELECT DISTINCT quarter, released, latest_release FROM benchmarks ORDER BY 1"
        ).fetchall()
        # the earlier quarter was never released under the release rules (73389a2 had none)
        assert released == [("2025-26-Q4", False, None), ("2026-27-Q1", True, 1)]
        applied = con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        assert [v for (v,) in applied] == [m.version for m in MIGRATIONS]
    with duckdb.connect(str(tmp_path / "published" / "liia.duckdb"), read_only=True) as con:
        (n,) = con.execute(
            "SELECT count(*) FROM submissions WHERE quarter = '2026-27-Q1'"
        ).fetchone()
        assert n == 5


def test_a_new_database_starts_at_the_latest_version_and_says_nothing(tmp_path):
    resource = DuckDBResource(database=str(tmp_path / "new.duckdb"))
    with working_db(resource) as con:
        assert version(con) == LATEST
        assert migrate(con) == []


def _catalogue_and_versions(path: Path) -> tuple[set, list]:
    with duckdb.connect(str(path), read_only=True) as con:
        return (
            set(con.execute(database.CATALOGUE_SQL).fetchall()),
            con.execute(
                "SELECT version, says, applied_at FROM schema_migrations ORDER BY 1"
            ).fetchall(),
        )


def test_a_new_database_is_the_kept_empty_one_as_if_made_statement_by_statement(
    tmp_path, monkeypatch
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("LIIA_CACHE", str(cache))
    with duckdb.connect(str(tmp_path / "by statements.duckdb")) as con:
        migrate(con)  # as every new database was made before one was kept
    kept = empty_database(cache)
    assert kept.name.startswith(EMPTY_DATABASE)
    with duckdb.connect(str(kept)) as con:  # kept since long ago
        con.execute("UPDATE schema_migrations SET applied_at = '2020-01-01'")
    made_at = kept.stat().st_mtime_ns
    started = datetime.now(UTC)
    first, second = tmp_path / "a" / "liia.duckdb", tmp_path / "b" / "liia.duckdb"
    with working_db(DuckDBResource(database=str(first))) as con:
        assert version(con) == LATEST
    with working_db(DuckDBResource(database=str(second))) as con:
        assert migrate(con) == []
    assert kept.stat().st_mtime_ns == made_at  # copied, not made again
    assert list(cache.glob(f"{EMPTY_DATABASE}.*")) == [kept]
    expected, versions = _catalogue_and_versions(tmp_path / "by statements.duckdb")
    for path in (first, second):
        catalogue, recorded = _catalogue_and_versions(path)
        assert catalogue == expected
        assert [r[:2] for r in recorded] == [r[:2] for r in versions]
        assert all(r[2] >= started for r in recorded)  # applied when the database was made
    assert not [p for p in tmp_path.rglob("*.partial")]
    # What create_schema expects, read from the kept database, is what it makes in memory.
    monkeypatch.setattr(database, "_EXPECTED", [])
    in_memory = database._expected_catalogue()
    monkeypatch.setattr(database, "_EXPECTED", [])
    database.expect_catalogue_of(kept, leave_out="schema_migrations")
    assert database._expected_catalogue() == in_memory


def test_a_cache_that_cannot_be_written_still_gives_a_new_database(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv("LIIA_CACHE", str(tmp_path / "cache"))
    with working_db(DuckDBResource(database=str(tmp_path / "working" / "liia.duckdb"))) as con:
        assert version(con) == LATEST
        assert "submissions" in {r[0] for r in con.execute("SHOW TABLES").fetchall()}


def test_a_new_deployments_ledger_starts_empty_so_its_first_run_is_not_answered_half_way(tmp_path):
    # The first run's benchmarks step has loaded a file; a later step opens the database before
    # the run has published. Were the ledger rebuilt from the database then (as for a deployment
    # made before the ledger existed), the file would count as answered if the run then failed,
    # and the inbox sensor would never ask for it again.
    resource = DuckDBResource(database=str(tmp_path / "working" / "liia.duckdb"))
    with working_db(resource) as con:
        con.execute(
            "INSERT INTO submissions BY NAME SELECT '2026-27-Q1' AS quarter, 'a1' AS sha256"
        )
    with working_db(resource):
        pass
    assert answered(tmp_path / "working" / "answered.sqlite").shas == frozenset()


def test_columns_added_at_the_end_are_put_in_the_dictionarys_order(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("CREATE TABLE submissions (quarter VARCHAR)")  # an unversioned database
        con.execute("CREATE TABLE group_aggregates (quarter VARCHAR, value DOUBLE, extra INTEGER)")
        con.execute("INSERT INTO group_aggregates VALUES ('2026-27-Q1', 1.5, 7)")
        lines = migrate(con)
        assert lines[0].startswith("version 1:")
        columns = [r[0] for r in con.execute("DESCRIBE group_aggregates").fetchall()]
        defined = [c for c, _, _ in TABLE_BY_NAME["group_aggregates"].columns]
        assert columns == [*defined, "extra"]  # a column the dictionary lacks is kept, at the end
        assert con.execute("SELECT quarter, value, extra FROM group_aggregates").fetchall() == [
            ("2026-27-Q1", 1.5, 7)
        ]


def test_kinds_of_suppression_leave_the_published_table(tmp_path):
    """A release stored by 8d5cf00 kept primary/complementary in public_benchmarks, which the
    publishable exports hold whole, with the status and reliability of suppressed figures."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        create_schema(con)
        con.execute("DROP TABLE suppressions")
        con.execute("ALTER TABLE public_benchmarks ADD COLUMN suppression VARCHAR")
        con.execute(
            """INSERT INTO public_benchmarks BY NAME
            SELECT * FROM (VALUES
                ('2026-27-Q1', 1, 'FIN-I01', 'BAR', 'BAR', 'c', 'value', 'ok', false, 'primary'),
                ('2026-27-Q1', 1, 'FIN-I01', 'CAM', 'CAM', 'c', 'value', 'ok', true, 'complementary'),
                ('2026-27-Q1', 1, 'FIN-I01', 'HCK', 'HCK', NULL, NULL, 'ok', false, NULL)
            ) AS t(quarter, release, indicator_id, authority, reporting_unit, symbol,
                   suppressed_columns, status, low_reliability, suppression)"""
        )
        con.execute(
            "CREATE TABLE schema_migrations (version INTEGER, says VARCHAR, applied_at TIMESTAMPTZ)"
        )
        con.execute("INSERT INTO schema_migrations VALUES (1, 'columns', now())")
        assert migrate(con)[0] == f"version 2: {MIGRATIONS[1].says}"
        assert "suppression" not in [
            r[0] for r in con.execute("DESCRIBE public_benchmarks").fetchall()
        ]
        assert con.execute(
            "SELECT reporting_unit, kind FROM suppressions ORDER BY 1"
        ).fetchall() == [("BAR", "primary"), ("CAM", "complementary")]
        assert con.execute(
            "SELECT authority, status, low_reliability FROM public_benchmarks ORDER BY 1"
        ).fetchall() == [("BAR", None, None), ("CAM", None, None), ("HCK", "ok", False)]


def test_a_failing_migration_keeps_nothing_of_its_step_and_says_what_to_do(tmp_path, monkeypatch):
    import pipelines.warehouse.migrations as migrations

    def broken(con):
        con.execute("CREATE TABLE half_done (x INTEGER)")
        raise ValueError("disk on fire")

    monkeypatch.setattr(
        migrations, "MIGRATIONS", (*MIGRATIONS, migrations.Migration(LATEST + 1, "a step", broken))
    )
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("CREATE TABLE submissions (quarter VARCHAR)")
        with pytest.raises(RuntimeError, match=f"version {LATEST + 1} .*disk on fire.*Restore"):
            migrations.migrate(con)
        assert version(con) == LATEST  # the steps before it were kept, each in its own commit
        assert not con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'half_done'"
        ).fetchone()[0]


def test_install_on_an_upgraded_server_adds_the_new_settings_and_keeps_the_operators(tmp_path):
    root = tmp_path / "root"
    env = {**BARE_ENVIRONMENT, "LIIA_ENVIRONMENT_FILE": str(root / "etc" / "liia" / "environment")}
    assert liia("install", "--root", str(root), env=env).returncode == 0
    home = Path(read_environment_file(root / "etc" / "liia" / "environment")["DAGSTER_HOME"])
    # the server as 73389a2 left it, with the operator's own change to the queue
    earlier = (fixture_folder(EARLIER) / "dagster.yaml").read_text()
    assert "run_retries" not in earlier
    (home / "dagster.yaml").write_text(
        earlier.replace("max_concurrent_runs: 1", "max_concurrent_runs: 2")
    )
    health = liia("health", env=env)
    assert (
        health.returncode == 1
        and "Settings: LACKS the project's run_coordinator, run_retries" in (health.stdout)
    )

    again = liia("install", "--root", str(root), env=env)
    assert again.returncode == 0, again.stderr
    assert "added run_coordinator, run_retries (every setting already there kept)" in again.stdout
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["run_retries"] == {
        "enabled": True,
        "max_retries": 1,
        "retry_on_asset_or_op_failure": True,
    }
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 2  # the operator's, kept
    health = liia("health", env=env)
    assert "LACKS" not in health.stdout
    assert "concurrency.runs.max_concurrent_runs: 2 (the project's: 1)" in health.stdout


def test_install_checks_its_arguments_before_writing_anything(tmp_path):
    root = tmp_path / "root"
    refused = liia(
        "install",
        "--root",
        str(root),
        "--user",
        "no-such-user-here",
        "--postgres-url",
        "mysql://x",
        env=BARE_ENVIRONMENT,
    )
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "no user 'no-such-user-here'" in refused.stderr and "postgresql://" in refused.stderr
    assert "Nothing was written" in refused.stderr and not root.exists()


def test_a_missing_folder_or_environment_file_is_said_not_passed_over(tmp_path):
    root = tmp_path / "root"
    environment = root / "etc" / "liia" / "environment"
    env = {**BARE_ENVIRONMENT, "LIIA_ENVIRONMENT_FILE": str(environment)}
    assert liia("install", "--root", str(root), env=env).returncode == 0
    settings = read_environment_file(environment)
    shutil.rmtree(settings["LIIA_INBOX"])
    health = liia("health", env=env)
    assert health.returncode == 1 and health.stdout.startswith("NOT HEALTHY")
    assert f"Folder: inbox MISSING ({settings['LIIA_INBOX']})" in health.stdout
    assert "\nCache: /" in health.stdout and "CANNOT BE WRITTEN" not in health.stdout

    environment.rename(tmp_path / "moved aside")
    for command in (["health"], ["status", "--quarter", "2026-27-Q1"]):
        refused = liia(*command, env=env)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert (
            f"environment file {environment} (LIIA_ENVIRONMENT_FILE) is missing" in refused.stderr
        )


def test_a_cache_that_cannot_be_written_is_said_by_health_and_keeps_it_healthy(tmp_path):
    from pipelines.service.install import cache_health

    not_yet = tmp_path / "cache" / "made by the first run"
    assert cache_health(not_yet) == (True, [f"Cache: {not_yet}"])
    (tmp_path / "a file").write_text("")
    for unwritable in (tmp_path / "a file", tmp_path / "a file" / "below"):
        well, (line,) = cache_health(unwritable)
        assert well and line.startswith(f"Cache: CANNOT BE WRITTEN ({unwritable}): runs work")
