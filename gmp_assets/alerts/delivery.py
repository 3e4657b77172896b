"""Delivering alerts to the configured sinks (a Slack-compatible webhook, e-mail over SMTP), with retries.

Each alert goes once to each sink: the sinks that took it are recorded, so a retry after a partial failure
sends only to the others, and a delivered alert is never sent again. A sink that fails leaves the alert
undelivered with its error and the attempt counted; the next try waits :func:`backoff_s`. Delivery is at
least once: a process killed between a send and its record sends that alert again.
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import psycopg2.extensions

from gmp_assets.alerts.config import SinkSettings, SmtpSettings
from gmp_assets.alerts.rules import PLATFORM_KEY, TITLES
from gmp_assets.alerts.store import Alert, due_alerts, record_delivery

BATCH = 20  # alerts per delivery pass
FIRST_RETRY_S, MAX_RETRY_S = 60.0, 3600.0
MAX_ERROR_CHARS = 500


def backoff_s(attempts: int) -> float:
    """Seconds to wait after ``attempts`` failed tries: 1 minute, doubling, at most an hour."""
    return min(FIRST_RETRY_S * 2 ** max(attempts - 1, 0), MAX_RETRY_S)


def subject(alert: Alert) -> str:
    scope = "platform" if alert.project_key == PLATFORM_KEY else alert.project_key
    state = " (resolved)" if alert.resolved_at is not None else ""
    return f"[GMP] {scope}: {TITLES.get(alert.kind, alert.kind)}{state}"


def text(alert: Alert) -> str:
    """The alert as one message: its subject line, the message, when it was first seen."""
    resolved = f" Resolved since, at {alert.resolved_at:%Y-%m-%d %H:%M %Z}." if alert.resolved_at else ""
    return f"{subject(alert)}\n{alert.message}\nFirst seen {alert.first_seen:%Y-%m-%d %H:%M %Z}.{resolved}"


class Sink(Protocol):
    name: str

    def send(self, alert: Alert) -> None:
        """Deliver the alert; raise on failure."""


@dataclass(frozen=True)
class WebhookSink:
    """A JSON POST of ``{"text": ...}`` (Slack incoming webhooks and the many that copy them)."""

    url: str
    timeout_s: float = 10.0
    name: str = "webhook"

    def send(self, alert: Alert) -> None:
        body = json.dumps({"text": text(alert)}).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "gmp-alerts"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:  # the URL carries the webhook's secret: never in the error
            raise DeliveryError(f"webhook answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise DeliveryError(f"webhook unreachable: {reason}") from None


@dataclass(frozen=True)
class EmailSink:
    """One e-mail per alert to the recipients, through an SMTP server (STARTTLS and login if configured)."""

    recipients: tuple[str, ...]
    smtp: SmtpSettings
    name: str = "email"

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = (
            subject(alert),
            self.smtp.sender,
            ", ".join(self.recipients),
        )
        message["Date"], message["Message-ID"] = formatdate(localtime=True), make_msgid(domain="gmp-alerts")
        message.set_content(text(alert))
        try:
            with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.smtp.timeout_s) as server:
                if self.smtp.starttls:
                    server.starttls()
                if self.smtp.user:
                    server.login(self.smtp.user, self.smtp.password)
                server.send_message(message)
        except smtplib.SMTPResponseException as exc:
            said = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise DeliveryError(f"SMTP {self.smtp.host}:{self.smtp.port} answered {exc.smtp_code} {said}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.smtp.host}:{self.smtp.port}: {exc or type(exc).__name__}") from None


class DeliveryError(Exception):
    """A sink did not take an alert (the message is safe to record: no secrets)."""


def sinks_from(settings: SinkSettings) -> list[Sink]:
    """The configured sinks (none: alerts stay recorded only)."""
    sinks: list[Sink] = []
    if settings.webhook_url:
        sinks.append(WebhookSink(settings.webhook_url, settings.timeout_s))
    if settings.email_to and settings.smtp is not None:
        sinks.append(EmailSink(settings.email_to, settings.smtp))
    return sinks


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    delivered: list[int] = field(default_factory=list)  # alert ids now delivered to every sink
    failed: dict[int, str] = field(default_factory=dict)  # alert id -> its errors, to be retried

    def describe(self) -> str:
        failed = "; ".join(f"alert {i}: {e}" for i, e in sorted(self.failed.items()))
        return f"{len(self.delivered)} delivered, {len(self.failed)} to retry" + (f" ({failed})" if failed else "")


def deliver_due(
    connect: Callable[[], AbstractContextManager[psycopg2.extensions.connection]],
    sinks: list[Sink],
    limit: int = BATCH,
) -> DeliveryReport:
    """Send the due undelivered alerts to each sink that has not taken them yet and record each attempt in
    its own transaction; nothing with no sink. A sink that fails is not tried again in the same pass (an
    unreachable server costs one timeout per pass): alerts left waiting only for it stay due, untouched.
    ``connect`` gives a connection in a transaction."""
    report = DeliveryReport()
    if not sinks:
        return report
    with connect() as conn:
        alerts = due_alerts(conn, limit)
    wanted, down = [s.name for s in sinks], set()
    for alert in alerts:
        todo = [s for s in sinks if s.name not in alert.delivered_sinks]
        if todo and all(s.name in down for s in todo):
            continue
        took, errors = [], []
        for sink in todo:
            if sink.name in down:
                continue
            try:
                sink.send(alert)
                took.append(sink.name)
            except DeliveryError as exc:
                errors.append(f"{sink.name}: {exc}")
                down.add(sink.name)
            except (TimeoutError, OSError, ValueError) as exc:
                errors.append(f"{sink.name}: {type(exc).__name__}: {exc}")
                down.add(sink.name)
        error = "; ".join(errors)[:MAX_ERROR_CHARS] or None
        retry_in_s = backoff_s(alert.delivery_attempts + 1) if error else 0.0  # a sink skipped: due at once
        with connect() as conn:
            done = record_delivery(conn, alert.alert_id, took, wanted, error, retry_in_s)
        if done:
            report.delivered.append(alert.alert_id)
        elif error:
            report.failed[alert.alert_id] = error
    return report
