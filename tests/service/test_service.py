"""The pipeline as a service people run: `liia ui`, and the daemon and webserver started as the
systemd units in deploy/systemd/ start them."""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs.resources import environment_for
from pipelines.receive.ledger import answered
from pipelines.service.cli import STOP_SECONDS
from pipelines.service.install import read_environment_file
from tests.conftest import (
    BARE_ENVIRONMENT,
    PROJECT,
    SAMPLE,
    first_codes,
    free_port,
    liia,
    region,
    some_returns,
)

# Real servers that mostly wait: run in a stream of their own beside the rest (Makefile).
pytestmark = pytest.mark.real_servers

START_TIMEOUT = 90


def _environment(tmp_path: Path) -> dict:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    return {**os.environ, **environment_for(tmp_path, inbox)}


def _wait_for_webserver(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"it stopped before serving: {process.stdout.read()}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as r:
                assert r.status == 200
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"nothing served on port {port} in {START_TIMEOUT} s")


def _group_left(group: int) -> list[int]:
    """Processes of a process group still running (zombies have stopped)."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            left.append(int(stat.parent.name))
    return left


def test_liia_ui_on_a_port_in_use_says_so_at_once(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pipelines.service.cli", "ui", "--port", str(port)],
            capture_output=True,
            text=True,
            cwd=PROJECT,
            env=_environment(tmp_path),
            timeout=60,
        )
    assert result.returncode == 2 and time.monotonic() - started < 15
    assert result.stderr.count("\n") == 1 and f"port {port}" in result.stderr


@pytest.mark.long_running(seconds=30)
def test_liia_ui_serves_quietly_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    ui = subprocess.Popen(
        [sys.executable, "-m", "pipelines.service.cli", "ui", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=PROJECT,
        env=_environment(tmp_path),
        start_new_session=True,
    )
    try:
        _wait_for_webserver(port, ui)
        time.sleep(2)  # the daemon's first ticks
        ui.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        ui.wait(timeout=STOP_SECONDS + 15)
        # dagster dev stops in about 5 s on an idle machine; on a loaded one `liia ui` kills what
        # is left after STOP_SECONDS, and then exits (its interpreter's teardown included).
        assert time.monotonic() - stopping < STOP_SECONDS + 6
        output = ui.stdout.read()
    finally:
        if ui.poll() is None:
            os.killpg(ui.pid, signal.SIGKILL)
    time.sleep(1)
    assert _group_left(ui.pid) == []
    lines = output.strip().splitlines()
    assert lines[0].startswith(f"Dagster UI on http://127.0.0.1:{port}")
    assert lines[-1] == "Stopped."
    assert len(lines) < 10 and "Warning" not in output and "DEBUG" not in output, output


def _wait(condition, what: str, seconds: float = START_TIMEOUT * 2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {seconds:.0f} s")


@pytest.mark.long_running(seconds=70)
def test_an_installed_service_starts_empty_answers_survives_a_kill_and_stops_on_sigterm(tmp_path):
    """`liia install` into an empty root, then both units it wrote started together, as
    `systemctl enable --now` does (without the units' ExecStartPre both created the instance's
    storage and broke it). A return dropped in gets its feedback; the daemon killed in the middle
    of a run, and started again, finishes the quarter."""
    root, inbox = tmp_path / "root", tmp_path / "shared inbox"
    bare = BARE_ENVIRONMENT
    installed = liia("install", "--root", str(root), "--inbox", str(inbox), env=bare)
    assert installed.returncode == 0, installed.stderr
    environment = root / "etc" / "liia" / "environment"
    settings = read_environment_file(environment)
    assert settings["LIIA_INBOX"] == str(inbox) and inbox.is_dir()
    paths = {k: v for k, v in settings.items() if k not in ("LIIA_INBOX", "LIIA_WEB_SECRET_KEY")}
    assert all(v.startswith(str(root)) for v in paths.values())
    assert len(settings["LIIA_WEB_SECRET_KEY"]) >= 50  # the front door's, made once here
    unit = (root / "etc" / "systemd" / "system" / "liia-web.service").read_text()
    assert f"EnvironmentFile={environment}" in unit and "liia serve" in unit
    assert "\nPrivateTmp=yes\n" in unit  # an upload a killed worker left goes when it stops
    home = Path(settings["DAGSTER_HOME"])
    assert (home / "dagster.yaml").read_text() == (PROJECT / "deploy" / "dagster.yaml").read_text()
    # Run again, it keeps the operator's file.
    assert "kept" in liia("install", "--root", str(root), env=bare).stdout
    # The operator's region: the eight authorities whose returns arrive below (runs of a region
    # are quicker than of 33 with 25 that sent nothing).
    authorities = region(tmp_path / "region", first_codes(8))
    with open(environment, "a") as file:
        file.write(f"LIIA_AUTHORITIES={authorities}\n")
    settings = read_environment_file(environment)

    env = {**bare, "LIIA_ENVIRONMENT_FILE": str(environment)}
    port = free_port()
    logs = tmp_path / "journal"
    logs.mkdir()

    private: list[str] = []  # each start's /tmp of its own, as systemd's PrivateTmp gives one
    semaphores = _semaphores()

    def start(unit: str) -> subprocess.Popen:
        command, own = _unit_command(root / "etc" / "systemd" / "system" / unit, port, environment)
        own["TMPDIR"] = tempfile.mkdtemp(prefix="liia-unit-")
        private.append(own["TMPDIR"])
        with open(logs / f"{unit} {time.monotonic_ns()}.log", "w") as log:
            return subprocess.Popen(
                command,
                cwd=PROJECT,
                env={**bare, **settings, **own},  # as systemd gives the unit
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    daemon = start("liia-dagster-daemon.service")
    webserver = start("liia-dagster-webserver.service")
    try:
        _wait_for_webserver(port, webserver)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            needed = {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"}
            _wait(
                lambda: needed <= set(instance.get_daemon_heartbeats()), "the daemons' heartbeats"
            )
        # `liia` typed on the server acts on the service's instance and folders.
        health = liia("health", env=env)
        assert health.returncode == 0, health.stdout + health.stderr
        assert health.stdout.startswith(f"Healthy ({home})")
        assert "Daemon: alive" in health.stdout and "Last run: none yet" in health.stdout
        # A second daemon, or `liia ui` (which starts one), on the same instance is refused.
        for args in (["daemon"], ["ui", "--port", str(free_port())]):
            second = liia(*args, env=env, timeout=60)
            assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
            assert f"a Dagster daemon already runs on {home}" in second.stderr
        # Nothing was loaded: no warehouse, no page, no quarter.
        assert not Path(settings["LIIA_WAREHOUSE"]).exists()
        assert not any(Path(settings["LIIA_REPORTS"]).rglob("*.html"))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert instance.get_dynamic_partitions("quarters") == []

            # A return dropped into the inbox gets its feedback, with nobody acting.
            source = SAMPLE / "2026-27-Q1" / "Barnet LIIA return 2026-27 Q1.xlsx"
            shutil.copy(source, inbox / source.name)
            landed = time.monotonic()
            feedback = Path(settings["LIIA_REPORTS"]) / "authorities" / "Barnet" / "2026-27-Q1"
            _wait(lambda: any(feedback.glob("*.xlsx")), "Barnet's feedback")
            print(f"feedback {time.monotonic() - landed:.1f} s after the file landed")
            (barnets,) = instance.get_runs()

            # Seven more arrive; in the middle of their run the daemon and everything it started
            # (its code server, the run's process) are killed at once, as by the out-of-memory
            # killer or a power cut; then the service starts again.
            some_returns("2026-27-Q1", inbox, 8)

            def second_run():  # theirs, not Barnet's (which may still be writing after its feedback)
                runs = instance.get_runs(
                    filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]), limit=1
                )
                return (
                    runs[0]
                    if runs and "liia/pid" in runs[0].tags and runs[0].run_id != barnets.run_id
                    else None
                )

            killed = _wait(second_run, "the second run under way")
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(killed.tags["liia/pid"]), signal.SIGKILL)
            daemon = start("liia-dagster-daemon.service")

            def finished():
                (latest,) = instance.get_runs(
                    filters=dg.RunsFilter(tags={"dagster/partition": "2026-27 Q1"}), limit=1
                )
                return (
                    latest.status == dg.DagsterRunStatus.SUCCESS and latest.run_id != killed.run_id
                )

            _wait(finished, "the quarter finished after the restart")
            assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
        print(liia("health", env=env).stdout)  # as an operator reads it (pytest -s shows it)
        ledger = answered(Path(settings["LIIA_WORKING_DB"]).with_name("answered.sqlite"))
        assert len(ledger.shas) == 8
        for process in (daemon, webserver):
            process.send_signal(signal.SIGTERM)  # what systemd sends on stop
        for process in (daemon, webserver):
            process.wait(timeout=30)  # the units' TimeoutStopSec
    finally:
        for process in (daemon, webserver):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        for folder in private:  # with what the killed daemon's code server left there
            shutil.rmtree(folder, ignore_errors=True)
        _remove_orphaned_semaphores(semaphores)
    output = "".join(log.read_text() for log in logs.iterdir())
    assert "\x1b[" not in output  # plain lines for journald, no colour codes
    stopped = liia("health", env=env)
    assert stopped.returncode == 1 and "Daemon: NOT RUNNING" in stopped.stdout


def _semaphores() -> set[Path]:
    return set(Path("/dev/shm").glob("sem.mp-*"))


def _remove_orphaned_semaphores(before: set[Path]) -> None:
    """The named semaphores Python's multiprocessing made in the processes the test killed
    outright: their resource tracker, killed with them, could not unlink them. Only those made
    since `before` that no process still maps."""
    in_use = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        with contextlib.suppress(OSError):
            in_use.update(re.findall(r"/dev/shm/(sem\.mp-\S+)", maps.read_text()))
    for semaphore in _semaphores() - before:
        if semaphore.name not in in_use:
            semaphore.unlink(missing_ok=True)


def _unit_command(unit: Path, port: int, environment: Path) -> tuple[list[str], dict]:
    """A unit's ExecStartPre then ExecStart as one shell command, as systemd runs them, and its
    own Environment= lines; it must read the installed environment file, which it requires."""
    text = unit.read_text()
    assert f"EnvironmentFile={environment}\n" in text  # no leading "-": required
    pre = re.search(r"^ExecStartPre=(.+)$", text, re.M)[1]
    start = re.search(r"^ExecStart=(.+)$", text, re.M)[1].replace(" 3000", f" {port}")
    own = dict(re.findall(r"^Environment=(\w+)=(.+)$", text, re.M))
    assert "DAGSTER_HOME" not in own  # the environment file's, shared with `liia`
    # a /tmp of its own, emptied when it stops: a code server killed with the daemon leaves its
    # socket there, not in the server's /tmp
    assert re.search(r"^PrivateTmp=yes$", text, re.M)
    return ["bash", "-c", f"{pre} && exec {start}"], own
