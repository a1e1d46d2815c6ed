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
import smtplib
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage

from pipelines.safe_text import safe_text

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


def failure_alert(quarter: str, step: str, reason: str, when: str, next_step: str, run: str):
    return Alert(
        subject=f"LIIA pipeline: {quarter} failed in {step}",
        body=(
            f"The run of {quarter} failed at {when} in {step}.\n\n"
            f"Reason: {reason}\n\n"
            f"What happens next: {next_step}\n\n"
            f"Run: {run} (its log is in the Dagster UI; `liia health` on the server says how the "
            "latest runs ended)."
        ),
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
