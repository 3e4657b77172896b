"""Delivering alerts to a real webhook receiver and a real SMTP server on 127.0.0.1: a failure is recorded
and retried, nothing is lost, nothing is sent twice; the delivery sensor on the real Dagster instance."""

from __future__ import annotations

import os

import dagster as dg
import pytest
from support.local_servers import SmtpServer, WebhookReceiver

from gmp_assets import database
from gmp_assets.alerts import rules
from gmp_assets.alerts.config import SinkSettings, SmtpSettings
from gmp_assets.alerts.delivery import EmailSink, WebhookSink, backoff_s, deliver_due
from gmp_assets.alerts.rules import Condition
from gmp_assets.alerts.store import record
from gmp_assets.orchestration.alert_sensors import alert_delivery_sensor
from gmp_assets.resources import PostgresResource
from tests.conftest import query

ALL = 10_000  # alerts per pass in these tests: every due one, whatever other tests left undelivered


def open_alert(project_key: str, kind: str = rules.EAC_OVER_GMP, message: str = "EAC $10.8M is 8.0% over") -> int:
    with database.connect() as conn:
        record(conn, project_key, [Condition(kind, f"{message} ({project_key})")], None)
    ((alert_id,),) = query(
        "SELECT alert_id FROM ml.alerts WHERE project_key = %s AND kind = %s AND resolved_at IS NULL",
        (project_key, kind),
    )
    return alert_id


def state(alert_id: int) -> dict:
    columns = ("delivered_at", "delivery_attempts", "last_delivery_error", "delivered_sinks", "next_delivery_at")
    (row,) = query(f"SELECT {', '.join(columns)} FROM ml.alerts WHERE alert_id = %s", (alert_id,))
    return dict(zip(columns, row))


def due_now(alert_id: int) -> None:
    """The backoff elapsed (instead of waiting for it)."""
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute("UPDATE ml.alerts SET next_delivery_at = now() WHERE alert_id = %s", (alert_id,))


@pytest.fixture
def project(pg, request):
    key = f"delivery-{request.node.name[5:28]}".replace("_", "-")
    yield key
    with database.connect() as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM ml.alerts WHERE project_key = %s", (key,))


def smtp_settings(server: SmtpServer) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=server.port, sender="gmp@test.invalid", timeout_s=5)


def deliver_what_others_left() -> None:
    """The due alerts of other test files delivered first: a webhook that refuses its first request
    must refuse this test's alert, not one of theirs."""
    with WebhookReceiver() as hook, SmtpServer() as smtp:
        sinks = [WebhookSink(hook.url, timeout_s=5), EmailSink(("pm@test.invalid",), smtp_settings(smtp))]
        deliver_due(database.connect, sinks, limit=ALL)


def test_a_failed_webhook_is_retried_and_email_is_not_sent_twice(project):
    deliver_what_others_left()
    alert_id = open_alert(project)
    with WebhookReceiver(fail_first=1) as hook, SmtpServer() as smtp:
        sinks = [
            WebhookSink(hook.url, timeout_s=5),
            EmailSink(("pm@test.invalid", "cm@test.invalid"), smtp_settings(smtp)),
        ]
        first = deliver_due(database.connect, sinks, limit=ALL)
        assert alert_id not in first.delivered and "HTTP 500" in first.failed[alert_id]
        after_first = state(alert_id)
        assert after_first["delivered_at"] is None and after_first["delivery_attempts"] == 1
        assert after_first["delivered_sinks"] == ["email"]
        assert after_first["last_delivery_error"] == "webhook: webhook answered HTTP 500 Internal Server Error"
        assert hook.url not in after_first["last_delivery_error"]  # the URL is the webhook's secret
        (mail,) = smtp.mails(project)
        assert mail["Subject"] == f"[GMP] {project}: EAC over GMP"
        assert {r for recipients, _ in smtp.messages for r in recipients} >= {"pm@test.invalid", "cm@test.invalid"}

        assert alert_id not in deliver_due(database.connect, sinks, limit=ALL).failed  # not due yet: backoff
        assert state(alert_id)["delivery_attempts"] == 1 and hook.refused == 1

        due_now(alert_id)
        second = deliver_due(database.connect, sinks, limit=ALL)
        assert alert_id in second.delivered
        done = state(alert_id)
        assert done["delivered_at"] is not None and done["delivery_attempts"] == 2
        assert done["delivered_sinks"] == ["email", "webhook"]
        (text,) = hook.texts(project)
        assert text.startswith(f"[GMP] {project}: EAC over GMP\nEAC $10.8M is 8.0% over")
        assert len(smtp.mails(project)) == 1  # e-mail took it the first time: not sent again

        due_now(alert_id)  # even if due again, a delivered alert is never picked up
        deliver_due(database.connect, sinks, limit=ALL)
        assert len(hook.texts(project)) == 1 and len(smtp.mails(project)) == 1


def test_a_refusing_smtp_server_then_a_retry(project):
    alert_id = open_alert(project, rules.PENDING_MAPPINGS, "$250K sits under 2 unmapped division names")
    with SmtpServer(fail_first=1) as smtp:
        sinks = [EmailSink(("pm@test.invalid",), smtp_settings(smtp))]
        deliver_due(database.connect, sinks, limit=ALL)
        first = state(alert_id)
        assert first["delivered_at"] is None and first["delivery_attempts"] == 1
        assert first["last_delivery_error"].startswith(f"email: SMTP 127.0.0.1:{smtp.port} answered 451")
        assert smtp.mails(project) == []
        due_now(alert_id)
        deliver_due(database.connect, sinks, limit=ALL)
        assert state(alert_id)["delivered_at"] is not None
        (mail,) = smtp.mails(project)
        assert "$250K sits under 2 unmapped division names" in mail.get_content()


def test_an_unreachable_sink_keeps_the_alert(project):
    alert_id = open_alert(project)
    with WebhookReceiver() as hook:
        url = hook.url
    deliver_due(database.connect, [WebhookSink(url, timeout_s=2)], limit=ALL)  # the receiver is gone
    failed = state(alert_id)
    assert failed["delivered_at"] is None and failed["last_delivery_error"].startswith("webhook: webhook unreachable")
    with WebhookReceiver() as hook:
        due_now(alert_id)
        deliver_due(database.connect, [WebhookSink(hook.url, timeout_s=5)], limit=ALL)
        assert len(hook.texts(project)) == 1 and state(alert_id)["delivered_at"] is not None


def test_a_failing_sink_is_tried_once_per_pass(project):
    """An unreachable webhook costs one try per pass; the e-mails still go out, the webhook's turn comes later."""
    alerts = [open_alert(project), open_alert(project, rules.EAC_JUMP, "EAC rose 6.2% in a month")]
    with WebhookReceiver() as gone:
        url = gone.url
    with SmtpServer() as smtp:
        deliver_due(
            database.connect,
            [WebhookSink(url, timeout_s=2), EmailSink(("pm@test.invalid",), smtp_settings(smtp))],
            limit=ALL,
        )
        assert len(smtp.mails(project)) == 2
    states = [state(a) for a in alerts]
    assert all(s["delivered_sinks"] == ["email"] and s["delivered_at"] is None for s in states)
    assert sum(s["last_delivery_error"] is not None for s in states) <= 1  # the webhook tried once at most
    with WebhookReceiver() as hook, SmtpServer() as smtp:
        for alert_id in alerts:
            due_now(alert_id)
        deliver_due(
            database.connect,
            [WebhookSink(hook.url, timeout_s=5), EmailSink(("pm@test.invalid",), smtp_settings(smtp))],
            limit=ALL,
        )
        assert len(hook.texts(project)) == 2 and smtp.mails(project) == []  # e-mail had them: not sent again
    assert all(state(a)["delivered_at"] is not None for a in alerts)


def test_backoff_doubles_up_to_an_hour():
    assert [backoff_s(n) for n in (1, 2, 3, 7, 8, 20)] == [60, 120, 240, 3600, 3600, 3600]


def sensor_context(instance) -> dg.SensorEvaluationContext:
    return dg.build_sensor_context(
        instance=instance, resources={"postgres": PostgresResource(url=os.environ["GMP_DATABASE_URL_RESOLVED"])}
    )


def test_delivery_sensor_on_the_instance(project, instance, monkeypatch):
    alert_id = open_alert(project)
    for name in ("GMP_ALERT_WEBHOOK", "GMP_ALERT_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    result = alert_delivery_sensor.evaluate_tick(sensor_context(instance))
    assert "no alert sink configured" in result.skip_message and not result.run_requests
    assert state(alert_id)["delivery_attempts"] == 0  # recorded, kept for when a sink is configured

    with WebhookReceiver(fail_first=1, fail_containing=project) as hook, SmtpServer() as smtp:
        monkeypatch.setenv("GMP_ALERT_WEBHOOK", hook.url)
        monkeypatch.setenv("GMP_ALERT_EMAIL", "pm@test.invalid")
        monkeypatch.setenv("GMP_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("GMP_SMTP_PORT", str(smtp.port))
        for _ in range(20):  # ticks until this alert was tried (others may be due before it)
            result = alert_delivery_sensor.evaluate_tick(sensor_context(instance))
            if state(alert_id)["delivery_attempts"]:
                break
        assert not result.run_requests
        assert state(alert_id)["delivered_at"] is None and hook.refused == 1 and hook.texts(project) == []
        due_now(alert_id)
        for _ in range(20):
            alert_delivery_sensor.evaluate_tick(sensor_context(instance))
            if state(alert_id)["delivered_at"] is not None:
                break
        assert len(hook.texts(project)) == 1 and len(smtp.mails(project)) == 1
        alert_delivery_sensor.evaluate_tick(sensor_context(instance))  # a later tick sends nothing again
        assert len(hook.texts(project)) == 1 and len(smtp.mails(project)) == 1


def test_bad_sink_settings_fail_the_tick_with_the_reason(pg, instance, monkeypatch):
    monkeypatch.setenv("GMP_ALERT_EMAIL", "pm@test.invalid")
    monkeypatch.delenv("GMP_SMTP_HOST", raising=False)
    with pytest.raises(Exception, match="GMP_SMTP_HOST is not"):
        alert_delivery_sensor.evaluate_tick(sensor_context(instance))
    assert SinkSettings.from_env({"GMP_ALERT_WEBHOOK": "https://hooks.example/x"}).configured
