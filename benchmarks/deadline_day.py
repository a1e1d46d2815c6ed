"""Deadline day at the front door, measured (`make benchmark`, or alone:
`python -m benchmarks.deadline_day [--minutes 10] [--members 100]`).

An installed service on this machine (the daemon and `liia serve`, as the units start them) with
one quarter released; then locust, headless: 33 data officers each upload three returns at random
moments within the window while members download the released workbooks. Printed: each kind of
request's p95, the upload's answer on the page, the pipeline's official answer after it, and
whether every file reached the archive and was answered."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SAMPLE = PROJECT / "sample_returns"
CACHE = PROJECT / "benchmarks" / ".cache" / "deadline_day"
RELEASED = "2025-26-Q4"  # what members download
PASSWORD = "deadline day passphrase 2026"
TARGETS = {"pages_p95_ms": 500, "upload_p95_s": 10, "explorer_p95_ms": 300}


def collected_now(today: date) -> str:
    """The quarter whose returns are being collected: the last one ended, or while its deadline
    has passed, the one under way (its returns come before their deadline, unreleased)."""
    from pipelines.collection.quarters import deadline, quarter_containing

    ended = quarter_containing(today).previous()
    return (ended if deadline(ended) >= today else ended.next()).key


def upload_files(quarter: str) -> list[list[Path]]:
    """Three files per authority for `quarter`: a clean return from the sample generator, then
    two corrections of one figure (made once, kept in the cache)."""
    from openpyxl import load_workbook

    returns = CACHE / "returns"
    if not (returns / quarter).is_dir():
        subprocess.run(
            [
                sys.executable,
                str(PROJECT / "scripts" / "make_sample_returns.py"),
                "--out",
                str(returns),
                "--last",
                quarter,
                "--quarters",
                quarter,
                "--clean",
            ],
            check=True,
            capture_output=True,
            cwd=PROJECT,
        )
    sets = []
    for source in sorted((returns / quarter).glob("*.xlsx")):
        files = [source]
        for n in (1, 2):
            corrected = returns / f"{source.stem} correction {n}.xlsx"
            if not corrected.exists():
                book = load_workbook(source)
                book["Finance"]["D7"] = (book["Finance"]["D7"].value or 0) + n * 1000
                book.save(corrected)
            files.append(corrected)
        sets.append(files)
    return sets


def make_accounts(plan_path: Path) -> None:
    """In the service's environment: an officer per authority and the members, each with an
    authenticator key, written to the plan (one Argon2 hash shared: it is the slow part)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "pipelines.web.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from pipelines.collection.catalogue import load_authorities
    from pipelines.web.people import save_person

    call_command("migrate", interactive=False, verbosity=0)
    plan = json.loads(plan_path.read_text())
    codes = load_authorities().codes
    people = [
        (f"officer{i}@load.example", "officer", o["authority"])
        for i, o in enumerate(plan["officers"])
    ]
    people += [
        (f"member{i}@load.example", "member", codes[i % len(codes)])
        for i in range(plan["members_count"])
    ]
    hashed = make_password(plan["password"])
    keys = {}
    for email, role, authority in people:
        save_person(email, role, authority, None)
        user = get_user_model().objects.get(username=email)
        user.password = hashed
        user.save(update_fields=["password"])
        keys[email] = TOTPDevice.objects.create(user=user, name="app", confirmed=True).key
    for i, officer in enumerate(plan["officers"]):
        officer.update(email=f"officer{i}@load.example", key=keys[f"officer{i}@load.example"])
    plan["members"] = [
        {"email": f"member{i}@load.example", "key": keys[f"member{i}@load.example"]}
        for i in range(plan["members_count"])
    ]
    plan_path.write_text(json.dumps(plan))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def _official_answers(warehouse: Path) -> dict[str, str]:
    import duckdb

    if not warehouse.exists():
        return {}
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return dict(con.execute("SELECT sha256, status FROM submissions").fetchall())
    except duckdb.Error:
        return {}


def _runs(env: dict) -> int:
    """How many runs the daemon made of the uploaded quarter and the one released before."""
    out = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "run", "list", "--limit", "1000"],
        env=env,
        capture_output=True,
        text=True,
    )
    return out.stdout.count("Run: ")


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else 0.0


def measure(work: Path, minutes: float, members: int) -> dict:
    from benchmarks.run import _stop_session
    from pipelines.service.install import install, read_environment_file

    uploaded = collected_now(date.today())
    sets = upload_files(uploaded)
    install(work / "root", work / "inbox")
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LIIA_", "DAGSTER_"))},
        **read_environment_file(work / "root" / "etc" / "liia" / "environment"),
        "LIIA_WEB_BEHIND_TLS": "0",
        "LIIA_WEB_HOSTS": "127.0.0.1",
    }
    liia = str(Path(sys.executable).with_name("liia"))
    inbox, reports = Path(env["LIIA_INBOX"]), Path(env["LIIA_REPORTS"])
    subprocess.run([liia, "instance"], env=env, check=True, capture_output=True)
    shutil.copytree(SAMPLE / RELEASED, inbox / RELEASED)
    subprocess.run([liia, "run", "--quarter", RELEASED], env=env, check=True, capture_output=True)
    released = reports / "members" / RELEASED
    downloads = sorted(
        p.relative_to(reports / "members").as_posix() for p in released.rglob("*.xlsx")
    )
    authorities = [f[0].name.split(" LIIA return")[0] for f in sets]
    plan = {
        "password": PASSWORD,
        "window_seconds": minutes * 60,
        "members_count": members,
        "downloads": downloads,
        "officers": [
            {"authority": a, "files": [str(p) for p in files]}
            for a, files in zip(authorities, sets, strict=True)
        ],
    }
    plan_path, out_path = work / "plan.json", work / "locust.json"
    plan_path.write_text(json.dumps(plan))
    subprocess.run(
        [sys.executable, "-m", "benchmarks.deadline_day", "--make-accounts", str(plan_path)],
        env={**env, "PYTHONPATH": str(PROJECT)},
        cwd=PROJECT,
        check=True,
    )

    def start(*args):
        return subprocess.Popen(
            [liia, *args],
            env=env,
            cwd=PROJECT,
            start_new_session=True,
            stdout=open(work / f"{args[0]}.log", "w"),
            stderr=subprocess.STDOUT,
        )

    daemon = start("daemon")
    web = start("serve", "--bind", f"127.0.0.1:{port}")
    shas = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for files in sets for p in files}
    first_answered: dict[str, float] = {}
    try:
        _wait_for(f"http://127.0.0.1:{port}/sign-in/")
        users = len(sets) + members
        load = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("locust")),
                "-f",
                str(PROJECT / "benchmarks" / "locustfile.py"),
                "--headless",
                "--only-summary",
                f"--users={users}",
                "--spawn-rate=5",
                f"--run-time={int(minutes * 60 + 60)}s",
                f"--host=http://127.0.0.1:{port}",
                "--stop-timeout=60",
                "--loglevel=WARNING",
            ],
            env={**env, "LIIA_LOAD_PLAN": str(plan_path), "LIIA_LOAD_OUT": str(out_path)},
            cwd=PROJECT,
            stdout=open(work / "locust.log", "w"),
            stderr=subprocess.STDOUT,
        )
        # the official answers, as the warehouse's analysts' copy shows them, until all are in
        warehouse = Path(env["LIIA_WAREHOUSE"])
        wanted = set(shas.values())
        give_up = None
        while True:
            now = time.time()
            for sha in _official_answers(warehouse):
                if sha in wanted:
                    first_answered.setdefault(sha, now)
            if load.poll() is not None:
                give_up = give_up or now + 600
                if wanted <= first_answered.keys() or now > give_up:
                    break
            time.sleep(2)
    finally:
        _stop_session(web)
        _stop_session(daemon)
    result = json.loads(out_path.read_text())
    result["runs"] = _runs(env)
    received = list((inbox / uploaded).rglob("*.xlsx"))
    archive = Path(env["LIIA_ARCHIVE"])
    return {
        "quarter": uploaded,
        "members": members,
        **_figures(result, shas, first_answered, archive, received, minutes),
    }


def _figures(result, shas, first_answered, archive, received, minutes) -> dict:
    by_kind: dict[str, list[float]] = {}
    failures = 0
    for kind, ms, failed in result["timings"]:
        by_kind.setdefault(kind, []).append(ms)
        failures += failed
    pages = [ms for kind, values in by_kind.items() if kind.startswith("page") for ms in values]
    uploads = result["uploads"]
    answered_after = [
        first_answered[shas[u["file"]]] - u["answered_on_page_at"]
        for u in uploads
        if shas[u["file"]] in first_answered
    ]
    archived = {p.stem for p in archive.rglob("*.xlsx")}
    return {
        "minutes": minutes,
        "officers": len({Path(f).name.split(" LIIA return")[0] for f in shas}),
        "requests": sum(len(v) for v in by_kind.values()),
        "runs": result["runs"],
        "failures": failures,
        "p95_ms": {kind: _p95(values) for kind, values in sorted(by_kind.items())},
        "count": {kind: len(values) for kind, values in sorted(by_kind.items())},
        "pages_p95_ms": _p95(pages),
        "upload_p95_s": _p95(by_kind.get("upload, to its answer on the page", [0])) / 1000,
        "uploads_sent": len(shas),
        "uploads_answered_on_page": len(uploads),
        "in_the_inbox": len(received),
        "archived": sum(sha in archived for sha in shas.values()),
        "officially_answered": sum(sha in first_answered for sha in shas.values()),
        "official_answer_after_page_median_s": statistics.median(answered_after)
        if answered_after
        else None,
        "official_answer_after_page_p95_s": _p95(answered_after) if answered_after else None,
        "official_answer_after_page_all_s": sorted(round(t, 1) for t in answered_after),
    }


def report(f: dict) -> None:
    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print(
        f"deadline day at the front door: {f['officers']} officers uploading 3 returns each of "
        f"{f['quarter']} within {f['minutes']:g} minutes, {f['members']} members downloading "
        f"({f['requests']} requests)"
    )
    for kind, p95 in f["p95_ms"].items():
        print(f"{'  ' + kind:<58} {p95:>8.0f} ms p95 ({f['count'][kind]} requests)")
    print(
        f"{'  every page':<58} {f['pages_p95_ms']:>8.0f} ms p95  target < "
        f"{TARGETS['pages_p95_ms']} ms: {verdict(f['pages_p95_ms'] < TARGETS['pages_p95_ms'])}"
    )
    if "page: explorer" in f["p95_ms"]:
        explorer = f["p95_ms"]["page: explorer"]
        print(
            f"{'  an explorer page':<58} {explorer:>8.0f} ms p95  target < "
            f"{TARGETS['explorer_p95_ms']} ms: {verdict(explorer < TARGETS['explorer_p95_ms'])}"
        )
    print(
        f"{'  upload to its answer on the page':<58} {f['upload_p95_s']:>8.2f} s p95  target < "
        f"{TARGETS['upload_p95_s']} s: {verdict(f['upload_p95_s'] < TARGETS['upload_p95_s'])}"
    )
    if f["official_answer_after_page_p95_s"] is not None:
        print(
            f"{'  then the official answer (the run), after the page':<58} "
            f"{f['official_answer_after_page_median_s']:>8.1f} s median, "
            f"{f['official_answer_after_page_p95_s']:.1f} s p95 ({f['runs']} runs in all)"
        )
    whole = (
        f["failures"] == 0
        and f["uploads_sent"]
        == f["uploads_answered_on_page"]
        == f["in_the_inbox"]
        == f["archived"]
        == f["officially_answered"]
    )
    print(
        f"{'  errors; files sent, answered on the page, in the inbox,':<58} {f['failures']:>8}; "
        f"{f['uploads_sent']}, {f['uploads_answered_on_page']}, {f['in_the_inbox']}, "
        f"{f['archived']}, {f['officially_answered']}"
    )
    print(f"{'    archived, officially answered':<58} nothing lost: {verdict(whole)}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="the uploads' window")
    parser.add_argument("--members", type=int, default=100, help="members downloading")
    parser.add_argument("--make-accounts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.make_accounts:
        make_accounts(args.make_accounts)
        return
    with tempfile.TemporaryDirectory(prefix="liia-bench-deadline-") as tmp:
        figures = measure(Path(tmp), args.minutes, args.members)
    report(figures)


if __name__ == "__main__":
    main()
