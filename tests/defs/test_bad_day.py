"""A bad day on a real instance: a step fails, the data lead is told (a real SMTP server and a real
HTTP server, started here), the cause is removed, and the sensor's next tick retries and succeeds
with nobody acting; the previous release stays whole meanwhile."""

import hashlib
import json
import re
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
from openpyxl import load_workbook

from pipelines.defs.alerts import run_failure_alert, run_outcome_report
from pipelines.defs.resources import LiiaPaths, environment_for, working_resource
from pipelines.defs.runs import ATTEMPT_TAG, INBOX_TAG, retry_plan
from pipelines.defs.sensors import inbox_sensor
from pipelines.receive.ledger import answered, waiting
from pipelines.release.timing import RELEASE_TAG
from pipelines.write.alerts import AlertSettings, deadline_summary, send, webhook_payload
from tests.conftest import (
    BARE_ENVIRONMENT,
    PROJECT,
    SAMPLE,
    first_codes,
    free_port,
    liia,
    run_quarter,
    some_returns,
    use_region,
)
from tests.defs.test_automation import _settled, evaluate_sensor

QUARTER = "2026-27-Q1"


@pytest.fixture
def webhook():
    posts = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"1")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield posts, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()


@pytest.fixture
def alerting(mailbox, webhook, monkeypatch):
    box, port = mailbox
    posts, url = webhook
    for name, value in {
        "LIIA_ALERT_TO": "data.lead@liia.example.gov.uk",
        "LIIA_SMTP_HOST": "127.0.0.1",
        "LIIA_SMTP_PORT": str(port),
        "LIIA_SMTP_FROM": "liia-pipeline@liia.example.gov.uk",
        "LIIA_ALERT_WEBHOOK": url,
        "LIIA_RETRY_SECONDS": "2,2,2",
        "LIIA_DAGSTER_URL": "http://liia-server:3000",
    }.items():
        monkeypatch.setenv(name, value)
    return box, posts


def _wait_for(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "nothing arrived"
        time.sleep(0.05)


def _run_request(instance, tmp_path, inbox, request):
    return run_quarter(
        tmp_path, inbox, request.partition_key, instance, tags=request.tags, raise_on_error=False
    )


def _why(instance, folder, inbox) -> str:
    """Why the sensor's tick started nothing."""
    result = evaluate_sensor(instance, folder, inbox)
    assert not result.run_requests
    return result.skip_reason.skip_message


def _reports(folder):
    """Every file of the reports but the feedback workbooks, by path: its SHA-256."""
    return {
        p.relative_to(folder).as_posix(): _sha(p)
        for p in folder.rglob("*")
        if p.is_file() and "LIIA feedback" not in p.name
    }


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _alert_for(instance, result, sensor):
    run = instance.get_run_by_id(result.run_id)
    kind = (
        dg.DagsterEventType.RUN_FAILURE if not result.success else dg.DagsterEventType.RUN_SUCCESS
    )
    (entry,) = instance.all_logs(result.run_id, of_type=kind)
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    )
    sensor(context.for_run_failure() if not result.success else context)


@pytest.mark.long_running(seconds=45)
def test_a_bad_day_alerts_the_data_lead_and_heals_itself(tmp_path, alerting, few_authorities):
    box, posts = alerting
    inbox = tmp_path / "inbox"
    some_returns(QUARTER, inbox)
    for path in inbox.rglob("*.xlsx"):
        _settled(path)
    home = tmp_path / "dagster_home"
    home.mkdir()
    # The project's instance, its immediate retry (the daemon's, run_retries) taken as used up: a
    # run made in this process is one the daemon cannot re-execute.
    config = (PROJECT / "deploy" / "dagster.yaml").read_text()
    (home / "dagster.yaml").write_text(config.replace("max_retries: 1", "max_retries: 0"))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (first,) = evaluate_sensor(instance, tmp_path, inbox).run_requests
        assert _run_request(instance, tmp_path, inbox, first).success
        published = tmp_path / "published" / "liia.duckdb"
        before = _sha(published)
        exports = tmp_path / "exports" / "restricted" / "benchmarks RESTRICTED.parquet"
        export_before = _sha(exports)
        reports_before = _reports(tmp_path / "reports")
        assert _why(instance, tmp_path, inbox) == "No file without an answer."

        # A resubmission lands while the exports folder cannot be written (here: replaced by a
        # file): the run fails in its last step.
        wb = load_workbook(inbox / QUARTER / "Barnet LIIA return 2026-27 Q1.xlsx")
        wb["Finance"]["D7"] = 81_234_567
        wb.save(inbox / QUARTER / "Barnet corrected.xlsx")
        _settled(inbox / QUARTER / "Barnet corrected.xlsx")
        shutil.move(tmp_path / "exports", tmp_path / "exports moved")
        (tmp_path / "exports").write_text("not a folder")
        (second,) = evaluate_sensor(instance, tmp_path, inbox).run_requests
        failed = _run_request(instance, tmp_path, inbox, second)
        assert not failed.success

        # The previous release is whole: the analysts' copy, every workbook and page, and the
        # ledger are as they were (only Barnet's feedback, its answer, is new).
        assert _sha(published) == before
        assert _reports(tmp_path / "reports") == reports_before
        assert _sha(tmp_path / "exports moved" / "restricted" / exports.name) == export_before
        assert len(answered(tmp_path / "answered.sqlite").shas) == 6

        # The data lead is told, by email and by the webhook, which quarter, step and reason.
        _alert_for(instance, failed, run_failure_alert)
        _wait_for(lambda: box.messages and posts)
        (mail,) = box.messages
        print(mail)  # as the data lead reads it (pytest -s shows it)
        assert mail["To"] == "data.lead@liia.example.gov.uk"
        subject = "LIIA pipeline: 2026-27 Q1 failed while publishing the analysts' copy and exports"
        assert mail["Subject"] == subject
        body = mail.get_content()
        # one readable paragraph: what happened, what to do, when it is tried again, where the log is
        first = body.split("\n\n")[0]
        assert "exports" in first and "retry 1 of 3 at" in first and "What to do: " in first
        assert f"/runs/{failed.run_id}" in first
        assert not re.search(r"\w+(Error|Exception)\b", first) and len(first) < 1200
        assert posts[0]["text"].startswith(f"*{subject}*")

        # The tick that follows says why it starts nothing, and when it will.
        reason = _why(instance, tmp_path, inbox)
        assert reason.startswith("2026-27 Q1 failed at ") and " in analysts_warehouse: " in reason
        assert "retry 1 of 3 at " in reason

        # The cause is removed; once the back-off has passed the sensor retries, with a new run
        # key, and the retry succeeds: nobody acted.
        (tmp_path / "exports").unlink()
        shutil.move(tmp_path / "exports moved", tmp_path / "exports")
        time.sleep(2.1)
        (retry,) = evaluate_sensor(instance, tmp_path, inbox).run_requests
        assert retry.run_key != second.run_key and retry.tags[ATTEMPT_TAG] == "1"
        assert retry.tags[INBOX_TAG] == second.tags[INBOX_TAG]
        healed = _run_request(instance, tmp_path, inbox, retry)
        assert healed.success
        assert _sha(published) != before
        # and the data lead hears that it recovered
        _alert_for(instance, healed, run_outcome_report)
        _wait_for(lambda: len(box.messages) == 2)
        assert box.messages[1]["Subject"] == "LIIA pipeline: 2026-27 Q1 recovered"
        assert failed.run_id in box.messages[1].get_content()
        after = _reports(tmp_path / "reports")
        changed = {k for k in after if after[k] != reports_before.get(k)}
        # the restricted figures are new; the public ones wait for the week's revision, and the
        # data team's page and status workbook say so
        assert {
            "members/2026-27-Q1/LIIA finance benchmarks 2026-27-Q1.xlsx",
            "liia/2026-27-Q1/LIIA return status 2026-27-Q1.xlsx",
            "liia/index.html",
        } <= changed
        public_csv = "public/2026-27-Q1/LIIA benchmarks 2026-27-Q1 publishable.csv"
        assert public_csv not in changed and not any("release 1" in k for k in after)
        (pending,) = waiting(tmp_path / "answered.sqlite")
        assert pending.what.startswith("corrected return from Barnet")
        assert pending.what in (tmp_path / "reports" / "liia" / "index.html").read_text()
        assert len(answered(tmp_path / "answered.sqlite").shas) == 7
        assert _why(instance, tmp_path, inbox) == "No file without an answer."


def test_the_retry_plan_spaces_attempts_out_then_goes_daily():
    class Run:
        def __init__(self, status, tags):
            self.status, self.tags, self.run_id = status, tags, "abcdef0123456789"

    ended = datetime(2026, 11, 16, 14, 2, tzinfo=UTC)

    class Record:
        def __init__(self, status, tags):
            self.dagster_run, self.end_time = Run(status, tags), ended.timestamp()

    failed = dg.DagsterRunStatus.FAILURE
    plan = retry_plan(Record(failed, {}), None, ended + timedelta(minutes=1))
    assert plan.run_key is None and "retry 1 of 3 at 16/11/2026 14:07" in plan.reason
    plan = retry_plan(Record(failed, {}), None, ended + timedelta(minutes=5))
    assert plan.run_key == "retry 1 after abcdef0123456789" and plan.tags == {ATTEMPT_TAG: "1"}
    plan = retry_plan(Record(failed, {ATTEMPT_TAG: "1"}), None, ended)
    assert "retry 2 of 3 at 16/11/2026 14:32" in plan.reason
    plan = retry_plan(Record(failed, {ATTEMPT_TAG: "3", RELEASE_TAG: "deadline"}), None, ended)
    assert "daily retry 1 at 17/11/2026 14:02" in plan.reason
    plan = retry_plan(
        Record(failed, {ATTEMPT_TAG: "3", RELEASE_TAG: "deadline"}), None, ended + timedelta(days=1)
    )
    assert plan.tags == {ATTEMPT_TAG: "4", RELEASE_TAG: "deadline"}  # a deadline run stays one
    # New files since the failure (perhaps the fix) are run at once.
    assert retry_plan(Record(failed, {INBOX_TAG: "a"}), "b", ended).run_key == "b"
    # Years ahead, in British Summer Time: the times said are London's, the back-off the same.
    summer = datetime(2031, 8, 15, 6, 2, tzinfo=UTC)  # the 07:02 after a deadline run
    plan = retry_plan(Record(failed, {}), None, summer)  # ended at 14:02 UTC in November 2026
    assert plan.run_key == "retry 1 after abcdef0123456789"  # long overdue: at once
    ended = summer
    plan = retry_plan(Record(failed, {ATTEMPT_TAG: "1"}), None, summer + timedelta(minutes=29))
    assert plan.run_key is None and "retry 2 of 3 at 15/08/2031 07:32" in plan.reason
    running = Record(dg.DagsterRunStatus.STARTED, {INBOX_TAG: "a"})
    assert retry_plan(running, "a", ended).run_key is None


def test_a_deadline_summary_reaches_the_data_lead(tmp_path, alerting, latest_quarter_run):
    box, posts = alerting
    home = tmp_path / "dagster_home"  # a copy: the shared run history stays as it was
    shutil.copytree(latest_quarter_run / "dagster_home", home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (record,) = instance.get_run_records(
            dg.RunsFilter(tags={"dagster/partition": "2026-27 Q2"}), limit=1
        )
        run = record.dagster_run
        instance.add_run_tags(run.run_id, {RELEASE_TAG: "deadline"})
        run = instance.get_run_by_id(run.run_id)
        (entry,) = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
        context = dg.build_run_status_sensor_context(
            sensor_name=run_outcome_report.name,
            dagster_event=entry.dagster_event,
            dagster_instance=instance,
            dagster_run=run,
        )
        run_outcome_report(context)
    _wait_for(lambda: box.messages)
    (mail,) = box.messages
    assert mail["Subject"] == "LIIA pipeline: 2026-27 Q2 deadline run, 30 of 33 accepted"
    body = mail.get_content()
    assert "not returned: Hackney, Westminster" in body


def test_a_teams_webhook_gets_an_adaptive_card_and_a_dead_channel_costs_no_other(mailbox, webhook):
    box, port = mailbox
    posts, url = webhook
    alert = deadline_summary("2026-27 Q2", "33 of 33 accepted", "run-1")
    settings = AlertSettings(
        to=("lead@example.org",),
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        webhook=url,
        webhook_format="teams",
    )
    outcomes = send(alert, settings)  # no SMTP server on that port
    assert (
        outcomes[0].startswith("email to 127.0.0.1 failed")
        and outcomes[1] == "posted to the webhook"
    )
    (card,) = posts
    assert card == webhook_payload(alert, "teams")
    assert card["attachments"][0]["content"]["body"][0]["text"] == alert.subject
    assert box.messages == []


def test_a_missing_folder_stops_runs_and_is_told_once_then_its_return(
    tmp_path, alerting, monkeypatch
):
    use_region(tmp_path / "region", first_codes(2), monkeypatch)
    box, _ = alerting
    inbox = tmp_path / "inbox"
    some_returns(QUARTER, inbox, 2)
    for path in inbox.rglob("*.xlsx"):
        _settled(path)
    paths = LiiaPaths(
        inbox=str(inbox),
        archive=str(tmp_path / "archive"),
        reports=str(tmp_path / "reports"),
        warehouse=str(tmp_path / "published" / "liia.duckdb"),
    )
    resources = {"paths": paths, "duckdb": working_resource(tmp_path / "liia.duckdb")}
    with dg.instance_for_test() as instance:
        cursor = None

        def tick():
            nonlocal cursor
            with dg.build_sensor_context(
                instance=instance, cursor=cursor, resources=resources
            ) as context:
                result = inbox_sensor(context)
            cursor = result.cursor if isinstance(result, dg.SensorResult) else cursor
            return result

        (request,) = tick().run_requests
        assert run_quarter(tmp_path, inbox, QUARTER, instance, tags=request.tags).success
        shutil.move(tmp_path / "reports", tmp_path / "reports moved")  # deleted by mistake
        _settled(shutil.copy(SAMPLE / QUARTER / "Brent LIIA return 2026-27 Q1.xlsx", inbox))
        for _ in range(3):  # told once, however many ticks
            result = tick()
            assert result.run_requests == []
            assert result.skip_reason.skip_message.startswith(
                f"No run starts while these folders are missing: reports {tmp_path / 'reports'}"
            )
        _wait_for(lambda: box.messages)
        time.sleep(0.5)
        (mail,) = box.messages
        assert mail["Subject"] == "LIIA pipeline: 1 folder(s) missing, no run started"
        assert "liia restore" in mail.get_content()

        shutil.move(tmp_path / "reports moved", tmp_path / "reports")
        (request,) = tick().run_requests  # Brent's return, waiting, now runs
        assert request.partition_key == "2026-27 Q1"
        _wait_for(lambda: len(box.messages) == 2)
        assert box.messages[1]["Subject"] == "LIIA pipeline: folders back, runs resume"


def test_a_run_started_by_hand_that_fails_is_alerted_too(tmp_path, mailbox, few_authorities):
    box, port = mailbox
    inbox = tmp_path / "inbox"
    some_returns(QUARTER, inbox, 2)
    folder = tmp_path / "service"
    folder.mkdir()
    # the run fails in its first step (one failing in its last is the unwritable-folder test's)
    (folder / "archive").write_text("not a folder")
    env = {
        **BARE_ENVIRONMENT,
        **environment_for(folder, inbox),
        "LIIA_ALERT_TO": "data.lead@liia.example.gov.uk",
        "LIIA_SMTP_HOST": "127.0.0.1",
        "LIIA_SMTP_PORT": str(port),
        "LIIA_AUTHORITIES": str(few_authorities),
    }
    ran = liia("run", "--quarter", QUARTER, env=env)
    assert ran.returncode == 1
    assert "failed: received_returns: " in ran.stderr and "Error" not in ran.stderr
    _wait_for(lambda: box.messages)
    (mail,) = box.messages
    assert "failed while reading the returns" in mail["Subject"]
    assert "started by `liia run`" in mail.get_content()
