"""The front door's tests: accounts of every role (each with its authenticator app set up),
clients signed in through the real sign-in and second-factor forms, and the service's folders in
the test's own temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "a long test passphrase 7"
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
    }
    for name, variable in (
        ("inbox", "LIIA_INBOX"),
        ("archive", "LIIA_ARCHIVE"),
        ("reports", "LIIA_REPORTS"),
        ("warehouse", "LIIA_WAREHOUSE"),
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
