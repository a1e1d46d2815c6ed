"""The release page follows `liia release` to its end from the log the shell finishes."""

from pipelines.web.views import release_state


def test_a_release_is_running_until_its_log_says_how_it_ended():
    log = "Release of 2026-27-Q1 asked for by lead@liia.example\n2026-27 Q1: receiving...\n"
    assert release_state(log) == "running"
    assert release_state(log + "Finished with exit status 0\n") == "released"
    assert release_state(log + "Finished with exit status 1\n") == "failed"
    # a line the run printed that only looks like the end does not end it
    assert release_state(log + "  Finished with exit status 0 (quoted)\n") == "running"
