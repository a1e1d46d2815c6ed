"""The front door's tests: accounts of every role (each with its authenticator app set up),
clients signed in through the real sign-in and second-factor forms, and the service's folders in
the test's own temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from pipelines.defs.resources import environment_for
from tests.conftest import BARE_ENVIRONMENT, PROJECT, free_port, region

PASSWORD = "a long test passphrase 7"
PASSWORD_SERVED = "a long browser passphrase 5"  # the accounts of `liia serve` in `served`
# role name in the tests: (email, role, authority)
ACCOUNTS = {
    "barnet": ("officer@barnet.example", "officer", "Barnet"),
    "camden": ("officer@camden.example", "officer", "Camden"),
    "member": ("reader@ealing.example", "member", "Ealing"),
    "team": ("lead@liia.example", "team", None),
}


@pytest.fixture
def places(tmp_path, monkeypatch) -> dict[str, Path]:
    """The service's folders, each in this test's folder (read by the web at each request)."""
    folders = {
        "inbox": tmp_path / "inbox",
        "archive": tmp_path / "archive",
        "reports": tmp_path / "reports",
        "warehouse": tmp_path / "published" / "liia.duckdb",
        "working": tmp_path / "working" / "liia-working.duckdb",
    }
    for name, variable in (
        ("inbox", "LIIA_INBOX"),
        ("archive", "LIIA_ARCHIVE"),
        ("reports", "LIIA_REPORTS"),
        ("warehouse", "LIIA_WAREHOUSE"),
        ("working", "LIIA_WORKING_DB"),
    ):
        monkeypatch.setenv(variable, str(folders[name]))
    monkeypatch.setenv("LIIA_WEB_DATA", str(tmp_path / "web"))
    folders["inbox"].mkdir()
    return folders


@pytest.fixture
def reports(places) -> Path:
    """A reports tree as the pipeline lays it out, one file of each kind."""
    root = places["reports"]
    files = {
        "public/index.html": "<html><style>p{}</style><p>public</p></html>",
        "public/2026-27-Q1/LIIA benchmarks 2026-27-Q1 publishable.csv": "a,b\n",
        "members/index.html": "<html><p>members</p></html>",
        "members/2026-27-Q1/LIIA finance benchmarks 2026-27-Q1.xlsx": "restricted",
        "members/2026-27-Q1/packs/LIIA pack 2026-27-Q1 Camden.xlsx": "pack",
        "authorities/Barnet/index.html": "<html><p>Barnet</p></html>",
        "authorities/Barnet/2026-27-Q1/LIIA feedback 2026-27-Q1 Barnet.xlsx": "barnet feedback",
        "authorities/Camden/index.html": "<html><p>Camden</p></html>",
        "authorities/Camden/2026-27-Q1/LIIA feedback 2026-27-Q1 Camden.xlsx": "camden feedback",
        "liia/index.html": "<html><p>team</p></html>",
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def code_now(user) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


@pytest.fixture
def accounts(db) -> dict:
    """Every role's account, saved as `liia users add` saves it, each with its app set up."""
    from pipelines.web.people import save_person

    made = {}
    for name, (email, role, authority) in ACCOUNTS.items():
        save_person(email, role, authority, PASSWORD)
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(username=email)
        TOTPDevice.objects.create(user=user, name="app", confirmed=True)
        made[name] = user
    return made


def browser(**kwargs) -> Client:
    """A client whose requests come over HTTPS through the reverse proxy, as in production, from
    the service's own pages (over HTTPS, Django's CSRF check wants the Referer to be its own)."""
    headers = {"X-Forwarded-Proto": "https", "Referer": "https://testserver/"}
    return Client(secure=True, headers=headers, **kwargs)


def sign_in(user, password: str = PASSWORD) -> Client:
    """A browser-like client signed in through the forms: password, then the app's code."""
    client = browser()
    answer = client.post("/sign-in/", {"username": user.username, "password": password})
    assert answer.status_code == 302, answer.content[:500]
    answer = client.post("/second-factor/", {"token": code_now(user)})
    assert answer.status_code == 302, answer.content[:500]
    return client


@pytest.fixture
def clients(accounts) -> dict[str, Client]:
    signed = {name: sign_in(user) for name, user in accounts.items()}
    signed["anonymous"] = browser()
    return signed


@pytest.fixture
def served(tmp_path):
    """`liia serve` on a free port, over the service's folders in tmp_path (a region of two)."""
    env = {
        **BARE_ENVIRONMENT,
        **environment_for(tmp_path, tmp_path / "inbox"),
        "LIIA_CACHE": os.environ.get("LIIA_CACHE", ""),
        "LIIA_AUTHORITIES": str(region(tmp_path / "region", ["BAR", "CAM"])),
        "LIIA_WEB_DATA": str(tmp_path / "web"),
        "LIIA_WEB_BEHIND_TLS": "0",  # plain HTTP on localhost: no proxy in front here
        "LIIA_WEB_HOSTS": "127.0.0.1",
    }
    (tmp_path / "inbox").mkdir()
    for email, role, authority in (
        ("officer@barnet.example", "officer", "Barnet"),
        ("lead@liia.example", "team", None),
    ):
        args = ["users", "add", email, "--role", role, "--password-stdin"]
        args += ["--authority", authority] if authority else []
        made = subprocess.run(
            [sys.executable, "-m", "pipelines.service.cli", *args],
            input=PASSWORD_SERVED + "\n",
            capture_output=True,
            text=True,
            env=env,
            cwd=PROJECT,
        )
        assert made.returncode == 0, made.stderr
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pipelines.service.cli", "serve", "--bind", f"127.0.0.1:{port}"],
        env=env,
        cwd=PROJECT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield url, env, tmp_path
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
