"""Telling the data lead: a run or check that failed, and each deadline run's summary, by email
(the standard library's smtplib) and, if one is set, an incoming webhook (Slack's or Teams').

Settings come from the service's environment file (deploy/liia.env):
LIIA_ALERT_TO (one or more addresses, comma-separated), LIIA_SMTP_HOST, LIIA_SMTP_PORT (25),
LIIA_SMTP_FROM, LIIA_SMTP_USER and LIIA_SMTP_PASSWORD (if the server asks), LIIA_SMTP_STARTTLS
(`true` to upgrade the connection), LIIA_ALERT_WEBHOOK (a URL) and LIIA_ALERT_WEBHOOK_FORMAT
(`slack`, the default, or `teams`). With neither an address nor a webhook, alerts are only logged."""

from __future__ import annotations

import json
import os
import re
import smtplib
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage

from pipelines.receive.safe_text import safe_text

TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class Alert:
    subject: str
    body: str


@dataclass(frozen=True)
class AlertSettings:
    to: tuple[str, ...] = ()
    smtp_host: str = ""
    smtp_port: int = 25
    sender: str = "liia-pipeline@localhost"
    user: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    webhook: str = ""
    webhook_format: str = "slack"

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> AlertSettings:
        env = os.environ if env is None else env
        to = tuple(a.strip() for a in env.get("LIIA_ALERT_TO", "").split(",") if a.strip())
        return cls(
            to=to,
            smtp_host=env.get("LIIA_SMTP_HOST", ""),
            smtp_port=int(env.get("LIIA_SMTP_PORT") or 25),
            sender=env.get("LIIA_SMTP_FROM") or cls.sender,
            user=env.get("LIIA_SMTP_USER", ""),
            password=env.get("LIIA_SMTP_PASSWORD", ""),
            starttls=env.get("LIIA_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
            webhook=env.get("LIIA_ALERT_WEBHOOK", ""),
            webhook_format=(env.get("LIIA_ALERT_WEBHOOK_FORMAT") or "slack").lower(),
        )

    @property
    def channels(self) -> list[str]:
        return (["email"] if self.to and self.smtp_host else []) + (
            ["webhook"] if self.webhook else []
        )


# What each step does, in words, and what a person can do when it fails.
STEPS = {
    "received_returns": (
        "reading the returns",
        "check that the inbox folder is there and readable",
    ),
    "validated_returns": ("validating the returns", "read the reason; a return may need replacing"),
    "benchmarks": (
        "loading the warehouse",
        "do what the reason says if it says; else check the disk has space, and report the reason",
    ),
    "public_release": ("releasing the quarter", "report the reason: nothing was released"),
    "published_figures": (
        "loading DfE's published figures",
        "check the file in the published folder",
    ),
    "benchmark_workbooks": ("writing the workbooks", "check the reports folder is writable"),
    "feedback_workbooks": ("writing the feedback", "check the reports folder is writable"),
    "download_page": ("writing the pages", "check the reports folder is writable"),
    "analysts_warehouse": (
        "publishing the analysts' copy and exports",
        "check the reports, exports and warehouse folders are writable and the disk has space",
    ),
}
LONGEST_REASON = 400
_CLASS_PREFIX = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Failure|Exit)\w*: ")


def plain_reason(reason: str, limit: int = LONGEST_REASON) -> str:
    """An error as a person reads it: no Python class names, one line, and no longer than
    `limit` (a list of 45 paths is cut, saying how much was left out)."""
    text = " ".join(reason.split())
    while (shorter := _CLASS_PREFIX.sub("", text)) != text:
        text = shorter
    if len(text) > limit:
        text = f"{text[: limit - 40].rstrip()} ... ({len(text) - limit + 40:,} more characters)"
    return text or "no reason was recorded"


def run_link(run: str, env: dict[str, str] | None = None) -> str:
    """Where the run's log is: the Dagster UI's page for it if LIIA_DAGSTER_URL says where the UI
    is, else its id."""
    base = (os.environ if env is None else env).get("LIIA_DAGSTER_URL", "").rstrip("/")
    return f"{base}/runs/{run}" if base else f"run {run} in the Dagster UI (liia ui)"


def failure_alert(quarter: str, step: str, reason: str, when: str, next_step: str, run: str):
    """One paragraph: which quarter, which step, what happened, what to do, when it is tried
    again and where the run's log is."""
    doing, advice = STEPS.get(step, (step, "read the run's log"))
    return Alert(
        subject=f"LIIA pipeline: {quarter} failed while {doing}",
        body=(
            f"The run of {quarter} failed at {when} while {doing} ({step}): "
            f"{plain_reason(reason).rstrip('.')}. What to do: {advice}. Next: {next_step} "
            f"Log: {run_link(run)}.\n\nA message follows when a run of {quarter} succeeds."
        ),
    )


def recovered_alert(quarter: str, when: str, failed_run: str, run: str) -> Alert:
    return Alert(
        subject=f"LIIA pipeline: {quarter} recovered",
        body=(
            f"The run of {quarter} succeeded at {when}, after the failure of run {failed_run}: "
            f"its workbooks, pages and the analysts' copy are up to date. Log: {run_link(run)}."
        ),
    )


def folders_alert(missing: list[str]) -> Alert:
    return Alert(
        subject=f"LIIA pipeline: {len(missing)} folder(s) missing, no run started",
        body=(
            f"These folders are missing: {'; '.join(missing)}. No run starts until they are "
            "back, so nothing already published is lost or half rebuilt. What to do: make each "
            "again (`liia install` does) and restore its contents from the latest backup "
            "(`liia restore`). A message follows when they are back."
        ),
    )


def folders_back_alert(back: list[str]) -> Alert:
    return Alert(
        subject="LIIA pipeline: folders back, runs resume",
        body=f"These folders are back: {'; '.join(back)}. Returns waiting in the inbox are run now.",
    )


def check_alert(quarter: str, failed: list[tuple[str, str]], run: str) -> Alert:
    lines = "\n".join(f"- {name}: {description}" for name, description in failed)
    return Alert(
        subject=f"LIIA pipeline: {quarter}, {len(failed)} check(s) failed",
        body=f"The run of {quarter} finished, but these checks failed:\n\n{lines}\n\nRun: {run}.",
    )


def deadline_summary(quarter: str, completeness: str, run: str) -> Alert:
    """`completeness` as the all_authorities_returned check says it: `30 of 33 accepted; ...`."""
    headline = completeness.split(";", 1)[0]
    details = "\n".join(f"- {part.strip()}" for part in completeness.split(";")[1:])
    return Alert(
        subject=f"LIIA pipeline: {quarter} deadline run, {headline}",
        body=(
            f"The deadline run of {quarter} has finished: {headline}.\n\n"
            + (f"{details}\n\n" if details else "Every authority has an accepted return.\n\n")
            + f"Run: {run}. The status workbook in reports/liia/ has every authority's detail."
        ),
    )


def send(alert: Alert, settings: AlertSettings) -> list[str]:
    """Send by every channel set; what was sent, and what could not be, in words. A channel that
    fails costs no other."""
    outcomes = []
    if settings.to and settings.smtp_host:
        try:
            send_email(alert, settings)
            outcomes.append(f"emailed {', '.join(settings.to)}")
        except (OSError, smtplib.SMTPException) as exc:
            outcomes.append(f"email to {settings.smtp_host} failed: {exc}")
    if settings.webhook:
        try:
            post_webhook(alert, settings)
            outcomes.append("posted to the webhook")
        except (OSError, ValueError) as exc:
            outcomes.append(f"webhook failed: {exc}")
    return outcomes or [
        "no alert channel is set (LIIA_ALERT_TO and LIIA_SMTP_HOST, or LIIA_ALERT_WEBHOOK)"
    ]


def send_email(alert: Alert, settings: AlertSettings) -> None:
    message = EmailMessage()
    message["Subject"] = safe_text(alert.subject, 200)
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message.set_content(alert.body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.user:
            smtp.login(settings.user, settings.password)
        smtp.send_message(message)


def webhook_payload(alert: Alert, kind: str) -> dict:
    """Slack's incoming-webhook message, or the adaptive card a Teams workflow webhook posts."""
    if kind == "teams":
        card = {
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": alert.subject, "weight": "Bolder", "wrap": True},
                {"type": "TextBlock", "text": alert.body, "wrap": True},
            ],
        }
        return {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        }
    return {"text": f"*{alert.subject}*\n{alert.body}"}


def post_webhook(alert: Alert, settings: AlertSettings) -> None:
    data = json.dumps(webhook_payload(alert, settings.webhook_format)).encode()
    request = urllib.request.Request(
        settings.webhook, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        response.read()
