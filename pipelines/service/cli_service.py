"""The `liia` commands an operator uses on the server: install, health, the daemon, backup and
restore, and removing a quarter added by mistake."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipelines.collection.quarters import quarter_argument


def cmd_forget(args) -> int:
    """Remove a quarter added by mistake: only one that holds no return."""
    import duckdb

    from pipelines.defs.instance import project_instance
    from pipelines.defs.partitions import quarter_partitions
    from pipelines.defs.resources import default_resources, working_db

    label = args.quarter.label
    with project_instance() as instance:
        if not instance.has_dynamic_partition(quarter_partitions.name, label):
            print(f"liia forget: {label} is not a quarter of the pipeline", file=sys.stderr)
            return 2
        with working_db(default_resources()["duckdb"]) as con:
            try:
                held = con.execute(
                    "SELECT count(*) FROM submissions WHERE quarter = ?", [args.quarter.key]
                ).fetchone()[0]
            except duckdb.CatalogException:
                held = 0
        if held:
            print(
                f"liia forget: {label} holds {held} received file(s); it stays",
                file=sys.stderr,
            )
            return 2
        instance.delete_dynamic_partition(quarter_partitions.name, label)
    print(f"Removed {label}: it held no return.")
    return 0


def cmd_install(args) -> int:
    from pipelines.defs.instance import project_instance
    from pipelines.defs.resources import default_resources, ledger_path, working_db
    from pipelines.service.install import InstallError, Layout, install, read_environment_file
    from pipelines.warehouse.migrations import upgrade

    try:
        done = install(args.root, args.inbox, args.user, args.postgres_url or "")
    except InstallError as problem:
        print(f"liia install: {problem}", file=sys.stderr)
        return 2
    for line in done:
        print(line)
    os.environ.update(read_environment_file(Layout(args.root).environment))
    with project_instance():
        pass
    resources = default_resources()
    if Path(resources["duckdb"].database).exists():  # an upgrade: carry the deployment forward
        with working_db(resources["duckdb"]) as con:
            said = upgrade(con, ledger_path(resources["duckdb"]))
        print("\n".join(said) or "The pipeline's database is at the latest version.")
    print(
        "The instance's storage is ready. Nothing was loaded; returns dropped in the inbox are "
        "run by the daemon. Start: systemctl daemon-reload && systemctl enable --now "
        "liia-dagster-daemon liia-dagster-webserver"
    )
    return 0


def cmd_health(args) -> int:
    from pipelines.defs.instance import dagster_home, project_instance
    from pipelines.defs.resources import database_health, default_resources, kept_cache
    from pipelines.service.install import (
        cache_health,
        folders_health,
        health_report,
        settings_health,
    )

    resources = default_resources()
    paths = resources["paths"]
    folders = {
        "archive": Path(paths.archive),
        "run history": dagster_home(),
        "pipeline database": Path(resources["duckdb"].database).parent,
        "reports": Path(paths.reports),
    }
    home = dagster_home()
    postgres = bool(os.environ.get("LIIA_DAGSTER_PG_URL"))
    with project_instance() as instance:
        well, lines = health_report(instance, folders)
    for ok, more in (
        settings_health(home, postgres),
        folders_health(
            {
                "inbox": Path(paths.inbox),
                "reports": Path(paths.reports),
                "archive": Path(paths.archive),
            }
        ),
        database_health(resources["duckdb"]),
        cache_health(kept_cache(resources["duckdb"])),
    ):
        well &= ok
        lines += more
    print(("Healthy" if well else "NOT HEALTHY") + f" ({instance.root_directory})")
    print("\n".join(lines))
    return 0 if well else 1


def cmd_daemon(args) -> int:
    """The Dagster daemon, one per instance: a second is refused in one line."""
    from pipelines.defs.instance import dagster_home
    from pipelines.service.install import AlreadyRunning, hold_daemon_lock

    home = dagster_home()
    try:
        hold_daemon_lock(home)
    except AlreadyRunning as exc:
        print(f"liia daemon: {exc}", file=sys.stderr)
        return 2
    daemon = Path(sys.executable).with_name("dagster-daemon")
    command = [str(daemon), "run", "-m", "pipelines.definitions"]
    command += ["--log-level", "warning", "--log-format", "json"]
    os.execv(command[0], command)  # keeps the lock: the descriptor is inherited


def _state_folders():
    from pipelines.defs.instance import dagster_home_path
    from pipelines.defs.resources import default_resources

    resources = default_resources()
    paths = resources["paths"]
    return (
        Path(paths.archive),
        Path(resources["duckdb"].database),
        dagster_home_path(),
        Path(paths.warehouse),
        Path(paths.reports),
    )


def cmd_backup(args) -> int:
    from pipelines.service.backup import backup

    archive, working, home, _, reports = _state_folders()
    manifest = backup(args.to, archive, working, home, reports)
    files = manifest["files"]
    print(
        f"Backed up to {args.to}: {files['archive']} archived files, the pipeline's database "
        f"({files['database']} files), the run history ({files['history']} files) and the "
        f"reports ({files['reports']} files, every release as published)."
    )
    return 0


def cmd_restore(args) -> int:
    from pipelines.service.backup import RestoreRefused, restore

    archive, working, home, published, reports = _state_folders()
    try:
        manifest = restore(args.source, archive, working, home, published, reports)
    except RestoreRefused as exc:
        print(f"liia restore: {exc}", file=sys.stderr)
        return 2
    print(
        f"Restored the backup of {manifest['made']} into {archive}, {working.parent}, {home} and "
        f"{reports}; published {published} again. The next run writes the exports again."
    )
    return 0


def add_service_commands(sub) -> None:
    p = sub.add_parser(
        "forget",
        help="remove a quarter added by mistake (one that holds no return)",
        description="Removes the quarter from the Dagster UI's quarters, if no file was received for it.",
    )
    p.add_argument("--quarter", type=quarter_argument, required=True, help="e.g. 2030-31-Q1")
    p.set_defaults(func=cmd_forget)
    p = sub.add_parser(
        "install",
        help="set up the service on a server: folders, environment file, units, instance",
        description="Creates under ROOT (/ on a server) /etc/liia/environment (kept if it exists), "
        "the folders under /var/lib/liia, the two systemd units pointed at this checkout, and the "
        "Dagster instance. It loads no data.",
    )
    p.add_argument("--root", type=Path, default=Path("/"), help="default /")
    p.add_argument("--inbox", type=Path, help="where returns arrive (default /var/lib/liia/inbox)")
    p.add_argument("--user", help="the service's user, to own the folders")
    p.add_argument(
        "--postgres-url",
        help="keep the run history in PostgreSQL (postgresql://user:password@host:port/db)",
    )
    p.set_defaults(func=cmd_install)
    p = sub.add_parser(
        "health",
        help="is the service well: the daemon, the last run, failing quarters, disk",
        description="For a monitoring check: exits 0 when the daemon is beating and no quarter's "
        "latest run failed, 1 otherwise.",
    )
    p.set_defaults(func=cmd_health)
    p = sub.add_parser(
        "daemon",
        help="run the Dagster daemon (what the service unit starts); one per instance",
        description="Starts dagster-daemon with plain log lines; refuses in one line if a daemon "
        "(or liia ui) already runs on this DAGSTER_HOME.",
    )
    p.set_defaults(func=cmd_daemon)
    p = sub.add_parser(
        "backup",
        help="back up the archive, the pipeline's database and the run history",
        description="Writes one .tar.gz, consistent while the service runs.",
    )
    p.add_argument("--to", type=Path, required=True, help="the .tar.gz to write")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser(
        "restore",
        help="restore a backup into empty folders, and publish the analysts' copy again",
        description="Restores into the folders the environment names (LIIA_ARCHIVE, "
        "LIIA_WORKING_DB, DAGSTER_HOME), refusing any that is not empty.",
    )
    p.add_argument("--from", dest="source", type=Path, required=True, help="the backup .tar.gz")
    p.set_defaults(func=cmd_restore)
