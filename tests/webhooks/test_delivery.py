"""Delivery through the relay to a REAL HTTP receiver on 127.0.0.1: headers, body, signature,
retries with backoff, dead letter, connection refused."""

import json
import socket
from datetime import timedelta

import pytest
from django.test import override_settings

from odr import clock
from odr.notifications.models import Channel, OutboxMessage, OutboxStatus
from odr.notifications.relay import outbox_deliver, outbox_due_ids
from odr.webhooks.services import webhook_endpoint_rotate_secret, webhook_endpoint_update
from odr.webhooks.signing import verify
from tests.helpers import file_complaint, travel


@pytest.fixture
def filed(endpoint, consumer, merchant):
    complaint = file_complaint(consumer, merchant)
    return complaint, OutboxMessage.objects.get(channel=Channel.WEBHOOK, template="complaint.filed")


def test_receiver_gets_a_signed_json_post(filed, endpoint, receiver):
    complaint, row = filed
    assert outbox_deliver(row.pk).status == "sent"

    [request] = receiver.requests
    assert request.path == "/hooks/odr"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Webhook-Id"] == row.idempotency_key
    assert verify(secret=endpoint.secret, body=request.body, headers=request.headers)
    body = json.loads(request.body)
    assert body["type"] == "complaint.filed" and body["id"] == row.idempotency_key
    assert body["data"]["reference"] == complaint.reference
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT and row.attempts == 1 and row.sent_at
    assert outbox_deliver(row.pk).status == "skipped"  # never twice
    assert len(receiver.requests) == 1


def test_a_rotated_secret_signs_the_next_attempts(filed, endpoint, owner, receiver):
    _complaint, row = filed
    old_secret = endpoint.secret
    endpoint = webhook_endpoint_rotate_secret(endpoint=endpoint, by=owner)
    assert endpoint.secret != old_secret
    outbox_deliver(row.pk)
    request = receiver.requests[0]
    assert verify(secret=endpoint.secret, body=request.body, headers=request.headers)
    with pytest.raises(Exception, match="no valid signature"):
        verify(secret=old_secret, body=request.body, headers=request.headers)


@override_settings(ODR_OUTBOX_RETRY_BASE_SECONDS=30, ODR_OUTBOX_MAX_ATTEMPTS=3)
def test_a_receiver_answering_500_gets_retries_with_backoff_then_a_dead_letter(filed, receiver):
    _complaint, row = filed
    receiver.status = 500
    start = clock.now()
    with travel(start):
        first = outbox_deliver(row.pk)
    assert (first.status, first.retry_in) == ("retry", timedelta(seconds=30))
    row.refresh_from_db()
    assert row.status == OutboxStatus.PENDING and row.last_error.startswith("WebhookDeliveryError: HTTP 500")
    with travel(start + timedelta(seconds=10)):
        assert outbox_deliver(row.pk).status == "skipped"  # not due yet
        assert row.pk not in outbox_due_ids()
    with travel(start + timedelta(seconds=31)):
        assert row.pk in outbox_due_ids()
        second = outbox_deliver(row.pk)
    assert (second.status, second.retry_in) == ("retry", timedelta(seconds=60))
    with travel(start + timedelta(seconds=92)):
        assert outbox_deliver(row.pk).status == "dead"
    row.refresh_from_db()
    assert row.status == OutboxStatus.DEAD and row.attempts == 3
    assert len(receiver.requests) == 3
    # The same delivery each time (one Webhook-Id), signed afresh at each attempt.
    assert {r.headers["Webhook-Id"] for r in receiver.requests} == {row.idempotency_key}
    assert row.pk not in outbox_due_ids()


def test_a_redirect_is_a_failure(filed, receiver):
    _complaint, row = filed
    receiver.status = 302
    assert outbox_deliver(row.pk).status == "retry"
    row.refresh_from_db()
    assert "HTTP 302" in row.last_error


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed on leaving: nothing listens there


def test_a_receiver_that_is_down_means_retry(filed, endpoint, owner):
    _complaint, row = filed
    webhook_endpoint_update(endpoint=endpoint, by=owner, url=f"http://127.0.0.1:{_closed_port()}/hooks")
    delivery = outbox_deliver(row.pk)
    assert delivery.status == "retry"
    row.refresh_from_db()
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert "refused" in row.last_error.lower()


def test_a_disabled_endpoint_is_not_called(filed, endpoint, owner, receiver):
    _complaint, row = filed
    webhook_endpoint_update(endpoint=endpoint, by=owner, active=False)
    assert outbox_deliver(row.pk).status == "retry"
    assert receiver.requests == []


def test_http_is_refused_at_delivery_when_no_longer_allowed(filed, receiver, settings):
    _complaint, row = filed
    settings.ODR_WEBHOOKS_ALLOW_HTTP_LOCALHOST = False
    assert outbox_deliver(row.pk).status == "retry"
    assert receiver.requests == []
