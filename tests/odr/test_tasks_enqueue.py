"""Publishing from a request never waits on the broker (odr/tasks_enqueue.py): one short attempt, then
a pause. No server needed: the broker is a Redis URL on a port where nothing listens."""

import logging
import socket
import time

import pytest

from odr.notifications.tasks import deliver_outbox_message
from odr.tasks_enqueue import breaker_open, breaker_reset, enqueue_task
from tests.test_celery_worker import broker


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # released on close: nothing listens there


@pytest.fixture(autouse=True)
def _closed_breaker():
    breaker_reset()
    yield
    breaker_reset()


def test_a_dead_broker_fails_fast_then_is_skipped_until_the_pause_ends(settings, monkeypatch, caplog):
    settings.ODR_BROKER_BREAKER_SECONDS = 30
    # A Celery worker started in this process by an earlier test reconfigures logging.
    monkeypatch.setattr(logging.getLogger("odr.tasks_enqueue"), "disabled", False)
    caplog.set_level(logging.WARNING, logger="odr.tasks_enqueue")
    attempts = []
    real = deliver_outbox_message.apply_async
    monkeypatch.setattr(
        deliver_outbox_message, "apply_async", lambda *a, **kw: attempts.append(kw) or real(*a, **kw)
    )
    with broker(f"redis://127.0.0.1:{closed_port()}/0"):
        started = time.monotonic()
        assert enqueue_task(deliver_outbox_message, 41, what="outbox message 41") is False
        assert time.monotonic() - started < 2.0  # Celery's own producer retried for ~6 s
        assert attempts == [{"producer": attempts[0]["producer"], "retry": False}]
        assert breaker_open()
        assert "outbox message 41 left for the periodic pick-up" in caplog.text

        # While the breaker is open, nothing reaches for the broker.
        assert enqueue_task(deliver_outbox_message, 42, what="outbox message 42") is False
        assert len(attempts) == 1

        # Once the pause is over, the next publish tries again (and fails again, here).
        monkeypatch.setattr("odr.tasks_enqueue._open_until", time.monotonic() - 1)
        assert not breaker_open()
        assert enqueue_task(deliver_outbox_message, 43, what="outbox message 43") is False
        assert len(attempts) == 2


def test_publishing_follows_the_configured_broker(settings):
    """The helper's connection is remade when the broker URL changes (a deployment's settings, tests)."""
    from odr.tasks_enqueue import _publish_connection

    first = closed_port()
    with broker(f"redis://127.0.0.1:{first}/0"):
        connection = _publish_connection()
        assert connection.port == first
        assert connection.transport_options["max_retries"] == 0
        assert connection.connect_timeout == settings.ODR_BROKER_PUBLISH_TIMEOUT_SECONDS
        assert _publish_connection() is connection
    assert _publish_connection() is not connection  # back to the settings' broker
