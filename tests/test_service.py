"""The pipeline as a service people run: `liia ui`, and the daemon and webserver started as the
systemd units in deploy/systemd/ start them."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs.resources import environment_for
from tests.conftest import PROJECT

UNITS = PROJECT / "deploy" / "systemd"
START_TIMEOUT = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
            [sys.executable, "-m", "pipelines.cli", "ui", "--port", str(port)],
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
    port = _free_port()
    ui = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "ui", "--port", str(port)],
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
        ui.wait(timeout=20)
        assert time.monotonic() - stopping < 12
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


def _unit_command(name: str, port: int, env: dict) -> tuple[list[str], dict]:
    """A unit's ExecStartPre then ExecStart as one shell command, as systemd runs them, with the
    install folder as this checkout; and its Environment."""
    text = (UNITS / name).read_text().replace("/opt/liia", str(PROJECT))
    pre = re.search(r"^ExecStartPre=(.+)$", text, re.M)[1]
    start = re.search(r"^ExecStart=(.+)$", text, re.M)[1].replace(" 3000", f" {port}")
    unit_env = dict(re.findall(r"^Environment=(\w+)=(.+)$", text, re.M))
    assert set(unit_env) == {"DAGSTER_HOME"}
    return ["bash", "-c", f"{pre} && exec {start}"], {**env, "DAGSTER_HOME": env["DAGSTER_HOME"]}


def test_the_service_units_start_the_daemon_and_the_webserver_and_stop_on_sigterm(tmp_path):
    """Started together on a new DAGSTER_HOME, as `systemctl enable --now` does: without the
    units' ExecStartPre both created the instance's storage and broke it."""
    env = _environment(tmp_path)
    home = Path(env["DAGSTER_HOME"])
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT / "deploy" / "dagster.yaml").read_text())
    port = _free_port()
    processes = []
    for unit in ("liia-dagster-daemon.service", "liia-dagster-webserver.service"):
        command, unit_env = _unit_command(unit, port, env)
        processes.append(
            subprocess.Popen(
                command,
                cwd=PROJECT,
                env=unit_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        )
    daemon, webserver = processes
    try:
        _wait_for_webserver(port, webserver)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and not instance.get_daemon_heartbeats():
                assert daemon.poll() is None, daemon.stdout.read()
                time.sleep(1)
            beating = set(instance.get_daemon_heartbeats())
        assert {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"} <= beating
        for process in processes:
            process.send_signal(signal.SIGTERM)  # what systemd sends on stop
        for process in processes:
            process.wait(timeout=30)  # the units' TimeoutStopSec
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
