"""Liveness and readiness (issue 15): /healthz reads nothing; /readyz has one entry per check, 200 only
when all pass, and each check fails on its own cause and only that one."""

import logging
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.urls import reverse

from odr.deadlines.models import DeadlineKind
from odr.deadlines.services import deadline_open
from odr.deadlines.tasks import sweep
from odr.notifications.models import Channel, OutboxMessage, OutboxStatus
from odr.notifications.relay import outbox_resend
from odr.ops import health
from odr.ops.heartbeat import SWEEP_JOB, heartbeat_record
from odr.ops.models import JobHeartbeat
from tests.helpers import file_complaint, travel
from tests.processes import free_port
from tests.test_celery_worker import RedisServer

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def at_now():
    with travel(NOW):
        yield


@pytest.fixture
def swept(db, at_now):
    """A sweep that just finished, nothing due: the all-ready baseline."""
    heartbeat_record(job=SWEEP_JOB)


TOKEN = "readiness-figures-token"


@pytest.fixture(autouse=True)
def _token(settings):
    """The figures of /readyz are for whoever may scrape /metrics."""
    settings.ODR_METRICS_TOKEN = TOKEN
    settings.DEBUG = False


def readyz(client, *checks):
    response = client.get(
        reverse("readyz"), {"check": list(checks)} if checks else {}, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    return response.status_code, response.json()


def failing(body) -> set[str]:
    return {name for name, result in body["checks"].items() if not result["ok"]}


def outbox_row(key: str, **fields) -> OutboxMessage:
    values = {
        "channel": Channel.EMAIL,
        "template": "complaint_filed_d1",
        "idempotency_key": key,
        "to_address": "someone@example.org",
        "created_at": NOW,
    }
    values.update(fields)
    return OutboxMessage.objects.create(**values)


def test_healthz_answers_without_touching_the_database(client):
    # No `db` fixture: pytest-django refuses any database access here, so a query would fail the test.
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_every_check_passes(client, swept):
    status, body = readyz(client)
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "sweep", "outbox"}
    assert failing(body) == set()


@pytest.mark.parametrize("rows", [1, 40])
def test_readyz_queries_are_bounded_whatever_the_volume(
    client, swept, consumer, rows, django_assert_max_num_queries
):
    for n in range(rows):
        outbox_row(f"sent-{n}", status=OutboxStatus.SENT)
        outbox_row(f"pending-{n}", channel=Channel.WEBHOOK)
    # database 1, sweep 3 (heartbeat, due deadlines, due reminders), outbox 2 (pending, dead)
    with django_assert_max_num_queries(6):
        readyz(client)


def test_database_check_fails_alone_when_the_database_is_unreachable(client, swept, monkeypatch, tmp_path):
    default = connections["default"]
    settings_dict = dict(default.settings_dict)
    if default.vendor == "postgresql":
        settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))  # nothing listens there
    else:
        settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")  # a folder that does not exist
    broken = type(default)(settings_dict, alias="readiness-broken")
    monkeypatch.setattr(health, "_database", lambda: broken)
    try:
        status, body = readyz(client)
    finally:
        broken.close()
    assert status == 503
    assert failing(body) == {"database"}
    assert body["checks"]["database"]["error"] == "OperationalError"


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_broker_check_fails_alone_when_redis_is_down(client, swept, settings, tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    settings.CELERY_BROKER_URL = server.url
    try:
        status, body = readyz(client)
        assert status == 200, body
        assert body["checks"]["broker"]["transport"] == "redis"
        server.stop()
        status, body = readyz(client)
    finally:
        if server.process.poll() is None:
            server.stop()
    assert status == 503
    assert failing(body) == {"broker"}
    assert body["checks"]["broker"]["ms"] < 1500  # the PING's short timeout, not Celery's retries


def test_broker_check_on_the_embedded_transport_checks_its_folder(client, swept, settings, tmp_path):
    settings.CELERY_BROKER_URL = "odr-filesystem://"  # the embedded default (odr/broker_filesystem.py)
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "absent")}
    status, body = readyz(client)
    assert (status, failing(body)) == (503, {"broker"})
    (tmp_path / "absent").mkdir()
    status, body = readyz(client)
    assert status == 200, body


def test_sweep_check_fails_alone_on_a_backlog(client, db, consumer):
    with travel(NOW - timedelta(minutes=10)):
        deadline_open(
            subject=consumer,
            kind=DeadlineKind.PROPOSAL_RESPONSE,  # no reminders: the lag is the due date's
            due_at=NOW - timedelta(minutes=5),
            case_reference="M-2026-000001",
        )
    with travel(NOW):
        heartbeat_record(job=SWEEP_JOB)  # the sweep runs, yet the deadline waits (a backlog)
        status, body = readyz(client)
    assert status == 503
    assert failing(body) == {"sweep"}
    assert body["checks"]["sweep"]["lag_seconds"] == 300
    assert body["checks"]["sweep"]["due"] == 1


def test_sweep_check_fails_alone_when_no_sweep_ran_lately(client, db):
    with travel(NOW - timedelta(seconds=121)):
        heartbeat_record(job=SWEEP_JOB)
    with travel(NOW):
        status, body = readyz(client)
    assert status == 503
    assert failing(body) == {"sweep"}
    assert body["checks"]["sweep"]["lag_seconds"] == 121
    assert body["checks"]["sweep"]["due"] == 0  # nothing due: only the heartbeat tells


def test_sweep_check_fails_when_no_sweep_ever_finished(client, db, at_now):
    status, body = readyz(client)
    assert status == 503
    assert failing(body) == {"sweep"}
    assert body["checks"]["sweep"]["error"] == "no sweep has finished yet"


def test_the_sweep_task_beats_and_counts(db, consumer, merchant, agent, client):
    filed = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the merchant's answer is due on 1 April
    with travel(filed):
        complaint = file_complaint(consumer, merchant)
    after = datetime(2026, 4, 2, 0, 5, tzinfo=UTC)
    with travel(after):
        assert readyz(client, "sweep")[1]["checks"]["sweep"]["due"] == 1
        result = sweep.apply().get()  # the beat's task, as the worker runs it
        status, body = readyz(client, "sweep")
    assert result["due"] == 1, complaint.reference
    heartbeat = JobHeartbeat.objects.get(job=SWEEP_JOB)
    assert (heartbeat.runs, heartbeat.fired, heartbeat.failed, heartbeat.finished_at) == (1, 1, 0, after)
    assert status == 200, body
    with travel(after + timedelta(minutes=1)):
        sweep.apply()
    heartbeat.refresh_from_db()
    assert (heartbeat.runs, heartbeat.fired) == (2, 1)  # cumulative; nothing fired twice


def test_outbox_check_fails_alone_on_rows_due_too_long(client, swept, settings):
    settings.ODR_READY_OUTBOX_BACKLOG_MINUTES = 10
    outbox_row("fresh", created_at=NOW - timedelta(minutes=9))
    outbox_row(
        "retry-later",
        created_at=NOW - timedelta(hours=2),
        attempts=3,
        next_attempt_at=NOW + timedelta(minutes=5),
    )
    outbox_row("sent", created_at=NOW - timedelta(hours=2), status=OutboxStatus.SENT)
    assert readyz(client)[0] == 200
    outbox_row("stuck", created_at=NOW - timedelta(minutes=11))
    status, body = readyz(client)
    assert status == 503
    assert failing(body) == {"outbox"}
    assert body["checks"]["outbox"]["backlog"] == 1
    settings.ODR_READY_OUTBOX_BACKLOG_MAX = 1
    assert readyz(client)[0] == 200


def test_outbox_check_fails_alone_on_an_email_dead_letter(client, swept, settings):
    outbox_row("hook", channel=Channel.WEBHOOK, status=OutboxStatus.DEAD, attempts=8)
    assert readyz(client)[0] == 200  # a merchant's broken endpoint does not make the platform unready
    outbox_row("mail", status=OutboxStatus.DEAD, attempts=8)
    status, body = readyz(client)
    assert status == 503
    assert failing(body) == {"outbox"}
    assert body["checks"]["outbox"]["dead_letters"] == 1
    settings.ODR_READY_DEAD_LETTER_CHANNELS = ["email", "webhook"]
    assert readyz(client)[1]["checks"]["outbox"]["dead_letters"] == 2


def test_readyz_probes_a_subset(client, db, at_now):
    # No sweep ever ran: the whole readiness fails, the process's own reach does not.
    assert readyz(client)[0] == 503
    status, body = readyz(client, "database", "broker")
    assert status == 200
    assert set(body["checks"]) == {"database", "broker"}


def test_readyz_refuses_an_unknown_check(client, db):
    response = client.get(reverse("readyz"), {"check": "coffee"})
    assert response.status_code == 400
    assert response.json()["unknown"] == ["coffee"]


def test_operators_see_the_heartbeat_in_the_admin(admin_client, swept):
    response = admin_client.get(reverse("admin:ops_jobheartbeat_changelist"))
    assert response.status_code == 200
    assert SWEEP_JOB in response.content.decode()
    assert admin_client.get(reverse("admin:ops_jobheartbeat_add")).status_code == 403


def test_an_acknowledged_dead_letter_no_longer_fails_readiness(admin_client, client, swept):
    dead = outbox_row("bounces", status=OutboxStatus.DEAD, attempts=8)
    assert readyz(client)[0] == 503
    response = admin_client.post(
        reverse("admin:notifications_outboxmessage_changelist"),
        {"action": "acknowledge_dead", "_selected_action": [dead.pk]},
        follow=True,
    )
    assert response.status_code == 200
    status, body = readyz(client)
    assert status == 200, body
    assert body["checks"]["outbox"]["dead_letters"] == 0
    dead.refresh_from_db()
    assert dead.status == OutboxStatus.DEAD and dead.dead_acknowledged_at == NOW  # the record stays
    # Sent again and dead again: that is news, it counts again.
    outbox_resend(message=dead)
    dead.refresh_from_db()
    assert dead.dead_acknowledged_at is None
    OutboxMessage.objects.filter(pk=dead.pk).update(status=OutboxStatus.DEAD)
    assert readyz(client)[0] == 503


def test_readyz_runs_each_check_once_however_often_it_is_named(client, swept, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # the sweep check's three queries, once
        response = client.get(reverse("readyz"), {"check": ["sweep"] * 50})
    assert response.status_code == 200
    assert list(response.json()["checks"]) == ["sweep"]


def test_readyz_shows_figures_only_to_a_scraper(client, swept, settings):
    outbox_row("mail", status=OutboxStatus.DEAD, attempts=8)
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}):
        response = client.get(reverse("readyz"), **headers)
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["outbox"] == {"ok": False}
        assert checks["sweep"] == {"ok": True}
    assert readyz(client)[1]["checks"]["outbox"]["dead_letters"] == 1
    settings.ODR_METRICS_TOKEN, settings.DEBUG = "", True  # the demo shows everything
    assert client.get(reverse("readyz")).json()["checks"]["outbox"]["dead_letters"] == 1


def test_a_failing_probe_is_not_logged_as_a_server_error(client, db, at_now, caplog):
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        assert readyz(client)[0] == 503  # no sweep ever finished
    assert [r for r in caplog.records if r.name == "django.request"] == []


@pytest.mark.parametrize("host", ["10.1.2.3:8000", "[fd00::7]", "pod-name.internal"])
def test_probes_answer_whatever_host_they_call(client, swept, host):
    assert client.get(reverse("healthz"), HTTP_HOST=host).status_code == 200
    assert client.get(reverse("readyz"), HTTP_HOST=host).status_code == 200
    # Everything else still refuses a host it does not serve.
    assert client.get("/", HTTP_HOST=host).status_code == 400
