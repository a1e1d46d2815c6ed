"""The one Dagster instance every run records into: `liia run`, `liia ui`, the daemon's schedule and
sensor. It lives in DAGSTER_HOME (`.dagster_home/` in the project unless set), configured by
`deploy/dagster.yaml`: a run queue, run retries, run monitoring and retention."""

import fcntl
import os
import socket
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import PARENT_RUN_ID_TAG

from pipelines.collection.processes import alive

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_CONFIG = PROJECT_ROOT / "deploy" / "dagster.yaml"
# Tags on runs `liia run` makes in its own process, so one it left behind can be recognised.
LAUNCHED_BY, PROCESS, HOST = "liia/launched_by", "liia/pid", "liia/host"
# The run whose process PROCESS is: a retry copies its parent's tags, whose process is not its own.
PROCESS_OF = "liia/pid_of_run"


def dagster_home_path() -> Path:
    """Where DAGSTER_HOME is, made or not."""
    return Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster_home").resolve()


def dagster_home() -> Path:
    """DAGSTER_HOME, set up with the project's dagster.yaml the first time."""
    home = dagster_home_path()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_CONFIG.read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def project_instance() -> dg.DagsterInstance:
    """The instance, its storage created or upgraded by one process at a time (two `liia run`s
    started together would otherwise both create its tables)."""
    home = dagster_home()
    with open(home / ".liia-instance.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            instance = dg.DagsterInstance.get()
            instance.get_runs(limit=1)  # opens, and if need be creates, each storage
            instance.get_asset_keys()
            return instance
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def cli_run_tags() -> dict[str, str]:
    return {LAUNCHED_BY: "liia run", PROCESS: str(os.getpid()), HOST: socket.gethostname()}


_MARKED: set[tuple[str, int]] = set()  # (run, process) already tagged


def mark_run_process(instance: dg.DagsterInstance, run_id: str) -> None:
    """Tag the run with the process running it, so that a run whose process died (killed, out of
    memory, a restart) can be told from one still going. Once per run and process: every step
    asks, and each tagging is a write to the run history."""
    if (run_id, os.getpid()) in _MARKED:
        return
    tags = {PROCESS: str(os.getpid()), HOST: socket.gethostname(), PROCESS_OF: run_id}
    instance.add_run_tags(run_id, tags)
    _MARKED.add((run_id, os.getpid()))


def release_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Runs on this machine whose process ended without finishing them (a `liia run` or a run
    worker killed): marked failed, so that the instance's run retries and the inbox sensor try them
    again. Their ids. (Dagster's run monitoring cannot tell with its default run launcher.)"""
    unfinished = instance.get_runs(
        filters=RunsFilter(
            statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING],
            tags={HOST: socket.gethostname()},
        )
    )
    released = []
    for run in unfinished:
        own = run.tags.get(PROCESS_OF) == run.run_id or (
            run.tags.get(LAUNCHED_BY) and PARENT_RUN_ID_TAG not in run.tags
        )
        pid = int(run.tags.get(PROCESS, "0")) if own else 0
        if pid and not alive(pid):
            who = "liia run" if run.tags.get(LAUNCHED_BY) else "run worker"
            instance.report_run_failed(run, f"The {who} process ({pid}) ended without finishing.")
            released.append(run.run_id)
    return released
