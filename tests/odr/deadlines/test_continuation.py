"""A sweep run that stops at its cap sends the next run at once (odr/deadlines/tasks.py), through a
real Redis broker started by the test; an uncapped run, or one that only failed, leaves it to beat."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis

from odr.deadlines.tasks import sweep as sweep_task
from odr.tasks_enqueue import breaker_reset
from tests.helpers import file_complaint, travel
from tests.test_celery_worker import RedisServer, broker

PARIS = ZoneInfo("Europe/Paris")
FILED = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)  # merchant's answer due 1 April 23:59:59
AFTER_DUE = datetime(2026, 4, 2, 0, 1, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _closed_breaker():
    breaker_reset()
    yield
    breaker_reset()


@pytest.fixture
def server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def two_lapsing(consumer, merchant):
    with travel(FILED):
        return [file_complaint(consumer, merchant) for _ in range(2)]


def queued_tasks(server) -> list[str]:
    """Task names waiting in the broker's default queue (kombu's Redis list)."""
    client = redis.Redis.from_url(server.url)
    try:
        return [json.loads(raw)["headers"]["task"] for raw in client.lrange("default", 0, -1)]
    finally:
        client.close()


def run_sweep(server) -> dict:
    with broker(server.url), travel(AFTER_DUE):
        return sweep_task.apply().get()


def test_a_capped_run_sends_the_next_run_at_once_and_the_last_one_does_not(two_lapsing, server, settings):
    settings.ODR_SWEEP_MAX_ITEMS = 1
    first = run_sweep(server)
    assert (first["due"], first["capped"], first["continued"]) == (1, True, True)
    assert queued_tasks(server) == ["odr.deadlines.sweep"]

    second = run_sweep(server)  # the continuation: one left, within the cap
    assert (second["due"], second["capped"], second["continued"]) == (1, False, False)
    assert queued_tasks(server) == ["odr.deadlines.sweep"]  # nothing more sent


def test_a_capped_run_that_only_failed_waits_for_beat(two_lapsing, server, settings, monkeypatch):
    from complaints import services

    def broken(*, complaint):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(services, "complaint_response_lapsed", broken)
    settings.ODR_SWEEP_MAX_ITEMS = 1
    result = run_sweep(server)
    assert (result["due"], result["failed"], result["capped"]) == (0, 1, True)
    assert result["continued"] is False
    assert queued_tasks(server) == []


def test_continuation_can_be_turned_off(two_lapsing, server, settings):
    settings.ODR_SWEEP_MAX_ITEMS = 1
    settings.ODR_SWEEP_CONTINUE = False
    result = run_sweep(server)
    assert (result["due"], result["capped"], result["continued"]) == (1, True, False)
    assert queued_tasks(server) == []
