"""A broker outage never holds a request (issue 14, Build item 4).

With the broker (its own redis-server, stopped by the test) down, filing a complaint through the real
views answers at once, the complaint is saved and its e-mails wait as pending outbox rows; once Redis
is back, the relay run by a real Celery worker sends them, each once. PostgreSQL + Redis pass of .ci/run.
"""

import shutil
import time

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from complaints.models import Complaint
from odr.notifications.models import OutboxMessage, OutboxStatus
from odr.notifications.tasks import outbox_relay_pending
from odr.tasks_enqueue import breaker_open, breaker_reset
from tests.test_celery_worker import RedisServer, broker, wait_until, worker

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

DETAILS = {
    "category": "non_delivery",
    "order_reference": "CMD-2026-0999",
    "order_date": "2026-02-14",
    "amount": "89.90",
    "currency": "EUR",
    "description": "Commande payée le 14 février, jamais livrée malgré deux relances.",
    "desired_outcome": "Le remboursement de 89,90 €.",
    "written_complaint_date": "",
}


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"
    breaker_reset()
    yield
    breaker_reset()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def step(name: str) -> str:
    return reverse("complaints:file_step", args=[name])


def file_through_the_wizard(client: Client, merchant) -> tuple[float, object]:
    """The consumer's three steps, then the filing itself (the request that commits and enqueues).
    Returns the filing request's duration and its response."""
    assert client.post(step("merchant"), {"merchant": merchant.pk}).status_code == 302
    assert client.post(step("details"), DETAILS).status_code == 302
    started = time.monotonic()
    response = client.post(step("review"), {"consent_processing": "on", "consent_sharing": "on"})
    return time.monotonic() - started, response


def test_filing_with_the_broker_down_answers_at_once_and_the_email_goes_out_when_it_returns(
    redis_server, consumer, merchant
):
    client = Client()
    client.force_login(consumer)
    with broker(redis_server.url):
        redis_server.stop()

        elapsed, response = file_through_the_wizard(client, merchant)

        complaint = Complaint.objects.get(consumer=consumer)
        assert response.status_code == 302
        assert response["Location"] == reverse("complaints:detail", args=[complaint.reference])
        assert elapsed < 2.0, f"filing took {elapsed:.2f} s with the broker down"
        rows = OutboxMessage.objects.filter(case_reference=complaint.reference)
        acknowledgement = rows.get(template="complaint_acknowledgement", to_user=consumer)
        assert set(rows.values_list("status", flat=True)) == {OutboxStatus.PENDING}
        assert mail.outbox == []
        # The failure paused publishing: the next requests of this process do not try again.
        assert breaker_open()

        redis_server.start()
        with worker():
            outbox_relay_pending.delay()  # what beat does every minute (its own publisher)
            assert wait_until(lambda: not rows.filter(status=OutboxStatus.PENDING).exists())

    acknowledgement.refresh_from_db()
    assert acknowledgement.status == OutboxStatus.SENT
    sent = [m for m in mail.outbox if m.extra_headers.get("X-ODR-Message") == acknowledgement.idempotency_key]
    assert len(sent) == 1
    assert sent[0].to == [consumer.email]
    # Every row of the complaint went out exactly once.
    keys = [m.extra_headers["X-ODR-Message"] for m in mail.outbox]
    assert sorted(keys) == sorted(rows.values_list("idempotency_key", flat=True))


def test_with_the_broker_up_filing_enqueues_at_once(redis_server, consumer, merchant):
    """The same path with Redis up: the messages reach the broker (no silent skipping)."""
    import redis

    client = Client()
    client.force_login(consumer)
    with broker(redis_server.url):
        elapsed, response = file_through_the_wizard(client, merchant)
    assert response.status_code == 302
    assert not breaker_open()
    complaint = Complaint.objects.get(consumer=consumer)
    queued = redis.Redis.from_url(redis_server.url).llen("notifications")
    assert queued == OutboxMessage.objects.filter(case_reference=complaint.reference).count() > 0
    assert elapsed < 2.0
