"""The pipeline as a service on a server: its environment file, its install, one daemon per
instance, and the health report a monitoring check reads.

The units in deploy/systemd/ and the `liia` command read one environment file
(LIIA_ENVIRONMENT_FILE, by default /etc/liia/environment), so a command typed on the server acts on
the service's inbox, warehouse and run history."""

from __future__ import annotations

import fcntl
import os
import secrets
import shlex
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.collection.places import (
    read_environment_file,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UNITS = ("liia-dagster-daemon.service", "liia-dagster-webserver.service", "liia-web.service")
DAEMON_LOCK = ".liia-daemon.lock"
HEARTBEAT_STALE_SECONDS = 120
BEATING = ("SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR")


def missing_environment_file() -> Path | None:
    """The environment file LIIA_ENVIRONMENT_FILE names, if it is missing and nothing else says
    where the service's folders are: a command would otherwise act on the checkout's own sample
    folders instead of the service's."""
    named = os.environ.get("LIIA_ENVIRONMENT_FILE")
    if not named or Path(named).is_file():
        return None
    if any(os.environ.get(v) for v in ("LIIA_INBOX", "LIIA_WORKING_DB", "DAGSTER_HOME")):
        return None
    return Path(named)


@dataclass(frozen=True)
class Layout:
    """Where an installed service keeps everything, under one root (/ on a server)."""

    root: Path

    @property
    def environment(self) -> Path:
        return self.root / "etc" / "liia" / "environment"

    @property
    def data(self) -> Path:
        return self.root / "var" / "lib" / "liia"

    @property
    def units(self) -> Path:
        return self.root / "etc" / "systemd" / "system"

    def variables(self, inbox: Path | None) -> dict[str, str]:
        data = self.data
        return {
            "DAGSTER_HOME": str(data / "dagster_home"),
            "LIIA_INBOX": str(inbox or data / "inbox"),
            "LIIA_ARCHIVE": str(data / "archive"),
            "LIIA_WORKING_DB": str(data / "working" / "liia.duckdb"),
            "LIIA_WAREHOUSE": str(data / "published" / "liia.duckdb"),
            "LIIA_EXPORTS": str(data / "exports"),
            "LIIA_REPORTS": str(data / "reports"),
            "LIIA_WEB_DATA": str(data / "web"),
        }


ENVIRONMENT_HEADER = """\
# The LIIA pipeline's service environment: read by both systemd units (EnvironmentFile=) and by
# the `liia` command on this server. Written by `liia install`; edit and restart the services.
# Alerts (pipelines/write/alerts.py): LIIA_ALERT_TO, LIIA_SMTP_HOST, LIIA_SMTP_PORT, LIIA_SMTP_FROM,
# LIIA_SMTP_USER, LIIA_SMTP_PASSWORD, LIIA_SMTP_STARTTLS, LIIA_ALERT_WEBHOOK,
# LIIA_ALERT_WEBHOOK_FORMAT (slack or teams). Release: LIIA_RELEASE_STATUS, LIIA_DEADLINE_DAY.
# Retries of a failed quarter: LIIA_RETRY_SECONDS (default 300,1800,7200, then daily).
"""


def unit_text(name: str, layout: Layout, bin_dir: Path) -> str:
    """A unit from deploy/systemd/, pointed at this installation."""
    text = (PROJECT_ROOT / "deploy" / "systemd" / name).read_text()
    return (
        text.replace("/opt/liia/.venv/bin", str(bin_dir))
        .replace("/opt/liia", str(PROJECT_ROOT))
        .replace("/etc/liia/environment", str(layout.environment))
    )


POSTGRES_BLOCK = ("storage:", "  postgres:", "    postgres_url:", "      env: LIIA_DAGSTER_PG_URL")


def psycopg2_url(url: str) -> str:
    """The URL with the driver dagster-postgres installs (SQLAlchemy would otherwise pick psycopg
    3, which is not installed)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme) :]
    return url


def instance_config(postgres: bool) -> str:
    """deploy/dagster.yaml, with its PostgreSQL storage block switched on if asked."""
    from pipelines.defs.instance import INSTANCE_CONFIG

    text = INSTANCE_CONFIG.read_text()
    if postgres:
        for line in POSTGRES_BLOCK:
            text = text.replace(f"# {line}\n", f"{line}\n")
    return text


def _top_level_blocks(text: str) -> dict[str, str]:
    """Each setting at the top of a dagster.yaml (not commented out), with its text: the comment
    lines just above it, the key and everything indented under it."""
    blocks: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line and not line[0].isspace() and not line.startswith("#") and ":" in line:
            start = i
            while start > 0 and lines[start - 1].startswith("#"):
                start -= 1
            end = i + 1
            while end < len(lines) and (not lines[end] or lines[end][0].isspace()):
                end += 1
            blocks[line.split(":", 1)[0].strip()] = "\n".join(lines[start:end]).rstrip() + "\n"
            i = end
        else:
            i += 1
    return blocks


def _leaves(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            out |= _leaves(inner, f"{prefix}{key}.")
        return out
    return {prefix.rstrip("."): value}


def instance_settings_differences(instance_text: str, project_text: str) -> tuple[list, list]:
    """(the project's settings the instance lacks, the settings both have that differ, each as
    `name: here (the project's: ...)`)."""
    import yaml

    mine = yaml.safe_load(instance_text) or {}
    theirs = yaml.safe_load(project_text) or {}
    missing = [key for key in theirs if key not in mine]
    differing = []
    for key in theirs:
        if key in mine:
            here, there = _leaves(mine[key], f"{key}."), _leaves(theirs[key], f"{key}.")
            differing += [
                f"{name}: {here.get(name, 'not set')} (the project's: {value})"
                for name, value in there.items()
                if here.get(name) != value
            ]
    return missing, differing


def bring_instance_up_to_date(config: Path, postgres: bool) -> list[str]:
    """Add to the instance's dagster.yaml each setting of the project's it lacks (a new version's
    run retries, say), with the project's comments; every setting already there is kept as the
    operator has it. The names of the settings added."""
    text = config.read_text()
    project = instance_config(postgres)
    missing, _ = instance_settings_differences(text, project)
    if not missing:
        return []
    blocks = _top_level_blocks(project)
    added = text.rstrip("\n") + "\n" + "".join(f"\n{blocks[key]}" for key in missing)
    partial = config.with_name(f".{config.name}.partial")
    partial.write_text(added)
    os.replace(partial, config)
    return missing


# Settings a version before the web front door did not write: an upgrade adds them to the file.
ADDED_ON_UPGRADE = ("LIIA_WEB_DATA", "LIIA_WEB_SECRET_KEY")


def _add_web_settings(layout: Layout, variables: dict[str, str]) -> list[str]:
    """The web front door's folder and key, appended to an environment file that lacks them
    (every line already there is kept); the names added."""
    wanted = {
        "LIIA_WEB_DATA": str(layout.data / "web"),
        "LIIA_WEB_SECRET_KEY": secrets.token_urlsafe(50),
    }
    missing = {k: v for k, v in wanted.items() if k not in variables}
    if missing:
        text = layout.environment.read_text().rstrip("\n")
        lines = "".join(f"\n{k}={shlex.quote(v)}" for k, v in missing.items())
        layout.environment.write_text(f"{text}\n# The web front door (added on upgrade){lines}\n")
        variables.update(missing)
    return list(missing)


class InstallError(ValueError):
    """What is wrong with `liia install`'s arguments, found before anything is written."""


def check_install(root: Path, inbox: Path | None, user: str | None, postgres_url: str) -> None:
    import pwd

    problems = []
    if user:
        try:
            pwd.getpwnam(user)
        except KeyError:
            problems.append(f"there is no user {user!r} on this machine (--user)")
    if postgres_url and not postgres_url.startswith(("postgresql://", "postgres://")):
        problems.append("--postgres-url must begin postgresql:// (or postgres://)")
    if inbox is not None and not inbox.is_absolute():
        problems.append(f"--inbox must be an absolute path, not {inbox}")
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        problems.append(f"{root} cannot be made: {existing} is not a folder")
    environment = Layout(root).environment
    if environment.exists():
        lacking = [
            name
            for name in Layout(root).variables(None)
            if name not in read_environment_file(environment) and name not in ADDED_ON_UPGRADE
        ]
        if lacking:
            problems.append(
                f"{environment} lacks {', '.join(lacking)}: add them, or move the file aside "
                "to have it written anew"
            )
    if problems:
        raise InstallError("; ".join(problems) + ". Nothing was written.")


def install(
    root: Path, inbox: Path | None = None, user: str | None = None, postgres_url: str = ""
) -> list[str]:
    """Create the folders, the environment file (kept if there is one), the units and the Dagster
    instance under `root`, after checking the arguments (nothing is written if one is wrong); an
    existing instance's settings gain what the project's have and it lacks. Load nothing. What
    was done, a line each."""
    check_install(root, inbox, user, postgres_url)
    layout = Layout(root)
    done = []
    if layout.environment.exists():
        variables = read_environment_file(layout.environment)
        if added := _add_web_settings(layout, variables):
            done.append(f"kept {layout.environment}, adding {', '.join(added)}")
        else:
            done.append(f"kept {layout.environment} as it is")
    else:
        variables = layout.variables(inbox)
        if postgres_url:
            variables["LIIA_DAGSTER_PG_URL"] = psycopg2_url(postgres_url)
        layout.environment.parent.mkdir(parents=True, exist_ok=True)
        # the web front door's key for sessions and signed links, made once here
        variables["LIIA_WEB_SECRET_KEY"] = secrets.token_urlsafe(50)
        lines = [f"{k}={shlex.quote(v)}" for k, v in variables.items()]
        layout.environment.touch(mode=0o640)  # it will hold passwords (SMTP, PostgreSQL)
        layout.environment.write_text(ENVIRONMENT_HEADER + "\n".join(lines) + "\n")
        done.append(f"wrote {layout.environment}")
    for name in ("LIIA_INBOX", "LIIA_ARCHIVE", "LIIA_EXPORTS", "LIIA_REPORTS", "DAGSTER_HOME"):
        Path(variables[name]).mkdir(parents=True, exist_ok=True)
    for name in ("LIIA_WORKING_DB", "LIIA_WAREHOUSE"):
        Path(variables[name]).parent.mkdir(parents=True, exist_ok=True)
    done.append(f"made the folders under {layout.data} (inbox {variables['LIIA_INBOX']})")
    layout.units.mkdir(parents=True, exist_ok=True)
    for name in UNITS:
        (layout.units / name).write_text(unit_text(name, layout, Path(sys.executable).parent))
    done.append(f"wrote {', '.join(UNITS)} to {layout.units}")
    home = Path(variables["DAGSTER_HOME"])
    postgres = bool(variables.get("LIIA_DAGSTER_PG_URL"))
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(instance_config(postgres))
    elif added := bring_instance_up_to_date(home / "dagster.yaml", postgres):
        done.append(
            f"brought {home / 'dagster.yaml'} up to date: added {', '.join(added)} (every "
            "setting already there kept)"
        )
    where = "PostgreSQL" if "LIIA_DAGSTER_PG_URL" in variables else "SQLite"
    done.append(f"Dagster instance in {home} (run history in {where})")
    if user:
        for path in (layout.data, *[Path(v) for k, v in variables.items() if k != "LIIA_INBOX"]):
            if path.exists():
                shutil.chown(path, user)
    return done


class AlreadyRunning(RuntimeError):
    pass


def hold_daemon_lock(home: Path) -> int:
    """Take the instance's daemon lock for the life of this process (and what it execs): the file
    descriptor. A second daemon on the instance is refused, saying who holds it."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / DAEMON_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise AlreadyRunning(
            f"a Dagster daemon already runs on {home} ({holder}); stop it first "
            "(systemctl stop liia-dagster-daemon) or use its UI"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M} UTC".encode(), 0)
    os.set_inheritable(fd, True)
    return fd


def daemon_lock_holder(home: Path) -> str | None:
    """Who holds the instance's daemon lock (`pid N since ...`), or None if no daemon runs."""
    path = home / DAEMON_LOCK
    if not path.exists():
        return None
    with open(path, "rb+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read(200).decode(errors="replace").strip() or "a process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def disk_use(path: Path) -> int:
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def settings_health(home: Path, postgres: bool) -> tuple[bool, list[str]]:
    """Whether the instance has every setting of the project's (a server upgraded in place keeps
    its old dagster.yaml), and a line saying how it differs."""
    config = home / "dagster.yaml"
    if not config.exists():
        return False, [f"Settings: NO dagster.yaml in {home} (liia install writes it)"]
    missing, differing = instance_settings_differences(
        config.read_text(), instance_config(postgres)
    )
    lines = []
    if missing:
        lines.append(
            f"Settings: LACKS the project's {', '.join(missing)} ({config}); `liia install` adds "
            "them, keeping every setting already there"
        )
    if differing:
        lines.append(f"Settings: your own, kept: {'; '.join(differing)}")
    return not missing, lines or ["Settings: as the project's"]


def folders_health(required: dict[str, Path]) -> tuple[bool, list[str]]:
    """The folders the service reads from or publishes to, each there and a folder."""
    lines = [
        f"Folder: {name} MISSING ({path}): make it again (liia install does) and restore its "
        "contents from the backup"
        for name, path in required.items()
        if not path.is_dir()
    ]
    return not lines, lines


def cache_health(cache: Path) -> tuple[bool, list[str]]:
    """Whether what does not change between runs can be kept (LIIA_CACHE). Runs work without it,
    only slower, so the service stays healthy; the line says so."""
    existing = cache
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return True, [f"Cache: {cache}"]
    return True, [
        f"Cache: CANNOT BE WRITTEN ({cache}): runs work, but read DfE's table again every time; "
        "make it a folder the service can write, or set LIIA_CACHE to one"
    ]


def health_report(instance, folders: dict[str, Path], now: datetime | None = None):
    """Whether the service is well (the daemon beating, no quarter failing), and a line for each
    thing an operator checks: the daemon, the last run, failing quarters, disk."""
    from dagster._core.storage.tags import PARTITION_NAME_TAG

    from pipelines.defs.runs import failed_quarters, failure_of, local_time

    now = now or datetime.now(UTC)
    lines, well = [], True
    if (named := missing_environment_file()) is not None:
        lines.append(f"Environment file: MISSING ({named}, LIIA_ENVIRONMENT_FILE)")
        well = False
    beats = instance.get_daemon_heartbeats()
    holder = daemon_lock_holder(Path(instance.root_directory))
    if holder is None:
        lines.append(
            "Daemon: NOT RUNNING (no daemon holds this instance: systemctl start liia-dagster-daemon)"
        )
        well = False
    elif not beats:
        lines.append(f"Daemon: starting ({holder}; no heartbeat yet)")
        well = False
    else:
        # the oldest of the three that matter: one of them stopped is the daemon not working
        age = max(now.timestamp() - beats[d].timestamp if d in beats else 1e9 for d in BEATING)
        alive = age < HEARTBEAT_STALE_SECONDS
        state = "alive" if alive else "NOT BEATING"
        beat = f"{age:.0f} s ago" if age < 1e9 else "never"
        lines.append(f"Daemon: {state} ({holder}; sensors, schedule and run queue beat {beat})")
        well &= alive
    records = instance.get_run_records(limit=1)
    if records:
        r = records[0]
        run = r.dagster_run
        ended = f"ended {local_time(r.end_time)}" if r.end_time else "not ended"
        quarter = run.tags.get(PARTITION_NAME_TAG, "no quarter")
        lines.append(
            f"Last run: {quarter}, {run.status.value.lower()}, {ended} (run {run.run_id[:8]})"
        )
    else:
        lines.append("Last run: none yet")
    failing = failed_quarters(instance)
    for label, record in sorted(failing.items()):
        f = failure_of(instance, record.dagster_run.run_id)
        lines.append(
            f"Failing: {label} since {local_time(record.end_time or 0)} in {f.step}: {f.reason}"
        )
    well &= not failing
    for name, path in folders.items():
        lines.append(f"Disk: {name} {human_bytes(disk_use(path))} ({path})")
    existing = next((p for p in folders.values() if p.exists()), Path("/"))
    free = shutil.disk_usage(existing).free
    lines.append(f"Disk: {human_bytes(free)} free where {existing} is")
    return well, lines
