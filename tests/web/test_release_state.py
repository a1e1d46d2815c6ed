"""The release page: it follows `liia release` to its end from the log the shell finishes, and lists
the revisions waiting from the pipeline's ledger."""

import os
import subprocess

from pipelines.web.views import release_state


def test_a_release_is_running_until_its_log_says_how_it_ended():
    log = "Release of 2026-27-Q1 asked for by lead@liia.example\n2026-27 Q1: receiving...\n"
    assert release_state(log) == "running"
    assert release_state(log + "Finished with exit status 0\n") == "released"
    assert release_state(log + "Finished with exit status 1\n") == "failed"
    # a line the run printed that only looks like the end does not end it
    assert release_state(log + "  Finished with exit status 0 (quoted)\n") == "running"


def test_a_release_whose_process_is_gone_without_its_end_line_is_stopped():
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: no process has this number now
    log = f"Release of 2026-27-Q1 asked for by lead@liia.example\nProcess {gone.pid}\n"
    assert release_state(log) == "stopped"
    assert release_state(f"Process {os.getpid()}\n") == "running"  # alive
    assert release_state(log + "Finished with exit status 0\n") == "released"


def test_the_release_page_lists_the_revisions_waiting_from_the_ledger(accounts, places):
    from datetime import UTC, datetime

    from pipelines.collection.quarters import parse_quarter
    from pipelines.receive.ledger import record_waiting
    from tests.web.conftest import sign_in

    working = places["working"]
    team = sign_in(accounts["team"])
    assert "None: every released quarter" in team.get("/team/release/").content.decode()
    record_waiting(
        working.with_name("answered.sqlite"),
        parse_quarter("2026-27-Q1"),
        datetime(2026, 11, 10, 9, 0, tzinfo=UTC),
        datetime(2026, 11, 16, 7, 0, tzinfo=UTC),
        56,
        "late return from <b>Brent</b>: 56 published figures changed",
    )
    page = team.get("/team/release/").content.decode()
    assert (
        "<strong>2026-27-Q1</strong>: late return from &lt;b&gt;Brent&lt;/b&gt;: 56 published "
        "figures changed; due Monday 16 November 2026 07:00" in page
    )
