"""A real Celery worker on a real Redis: nothing is lost when the broker is down at commit time,
and the sweep runs as a task end to end. PostgreSQL run of .ci/run only (threads share the database).
"""

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from odr import clock
from odr.celery import app
from odr.notifications.models import OutboxMessage, OutboxStatus
from odr.notifications.tasks import deliver_outbox_message, outbox_relay_pending
from tests.helpers import file_complaint
from tests.processes import free_port

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


class RedisServer:
    """A redis-server of the test's own, on a spare port, that the test can stop and start."""

    def __init__(self, directory):
        self.port = free_port()
        self.directory = directory
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def _forget_connections():
    # What Celery itself does after a fork: the next publish opens a pool for the current URL.
    # (kombu keeps pools in a global registry keyed by URL, so closing them would break reuse.)
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def broker(url: str):
    """Point the Celery app at `url` (the test's own Redis) for the duration of the block."""
    previous = app.conf.broker_url
    app.conf.broker_url = url
    _forget_connections()
    try:
        yield
    finally:
        app.conf.broker_url = previous
        _forget_connections()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@contextmanager
def worker():
    with start_worker(
        app, pool="solo", perform_ping_check=False, queues=["default", "notifications"], shutdown_timeout=20
    ):
        yield


def test_email_committed_while_broker_is_down_is_delivered_exactly_once(redis_server, consumer, merchant):
    with broker(redis_server.url):
        redis_server.stop()
        complaint = file_complaint(consumer, merchant)  # commits; enqueueing fails, the row stays
        acknowledgement = OutboxMessage.objects.get(template="complaint_acknowledgement")
        assert acknowledgement.status == OutboxStatus.PENDING
        assert mail.outbox == []

        redis_server.start()
        with worker():
            # What beat does every minute, plus a duplicate delivery of the same message.
            outbox_relay_pending.delay()
            deliver_outbox_message.delay(acknowledgement.pk)
            deliver_outbox_message.delay(acknowledgement.pk)
            assert wait_until(lambda: not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists())
            time.sleep(1)  # let the duplicates run too
    # Every row of this complaint (acknowledgement, two consent receipts) went out exactly once.
    keys = [
        m.extra_headers["X-ODR-Message"]
        for m in mail.outbox
        if m.extra_headers["X-ODR-Case"] == complaint.reference
    ]
    rows = OutboxMessage.objects.filter(case_reference=complaint.reference)
    assert sorted(keys) == sorted(rows.values_list("idempotency_key", flat=True))
    assert keys.count(acknowledgement.idempotency_key) == 1
    assert set(rows.values_list("status", flat=True)) == {OutboxStatus.SENT}


def test_sweep_runs_as_a_task_on_a_real_worker(redis_server, consumer, merchant):
    from odr.deadlines.tasks import sweep

    with clock.at(clock.now() - timedelta(days=31)):
        complaint = file_complaint(consumer, merchant)
    with broker(redis_server.url), worker():
        sweep.delay()
        assert wait_until(lambda: OutboxMessage.objects.filter(template="complaint_lapsed_d4").exists())
        lapse = OutboxMessage.objects.get(template="complaint_lapsed_d4")
        deliver_outbox_message.delay(lapse.pk)
        assert wait_until(lambda: OutboxMessage.objects.get(pk=lapse.pk).status == OutboxStatus.SENT)
    complaint.refresh_from_db()
    assert complaint.response_lapsed_at is not None
