"""The outbox: nothing before commit, delivery with backoff, dead letters, re-sending, the dev mailbox."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings

from odr import clock
from odr.notifications.models import DevMailboxEmail, OutboxMessage, OutboxStatus
from odr.notifications.relay import backoff, outbox_deliver, outbox_due_ids, outbox_resend
from tests.helpers import file_complaint, travel


class BrokenSMTP:
    """Stands in for an SMTP server that is down (the edge of the world)."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp.example.test:587 refused the connection")


@pytest.fixture
def acknowledgement(consumer, merchant):
    file_complaint(consumer, merchant)
    return OutboxMessage.objects.get(template="complaint_acknowledgement")


def test_d1_acknowledgement_is_delivered_once(acknowledgement, consumer):
    assert outbox_deliver(acknowledgement.pk).status == "sent"
    assert outbox_deliver(acknowledgement.pk).status == "skipped"
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [consumer.email]
    assert acknowledgement.case_reference in sent.subject
    assert sent.extra_headers["X-ODR-Message"] == acknowledgement.idempotency_key
    assert {mimetype for _content, mimetype in sent.alternatives} == {"text/html"}
    acknowledgement.refresh_from_db()
    assert acknowledgement.status == OutboxStatus.SENT and acknowledgement.attempts == 1


def test_nothing_is_queued_for_a_change_that_rolled_back(consumer, merchant):
    from odr.errors import InvalidInput

    with pytest.raises(InvalidInput):
        file_complaint(consumer, merchant, description="")
    assert not OutboxMessage.objects.exists()


@override_settings(ODR_OUTBOX_RETRY_BASE_SECONDS=30, ODR_OUTBOX_MAX_ATTEMPTS=3)
def test_failures_back_off_exponentially_then_dead_letter(acknowledgement, settings):
    settings.EMAIL_BACKEND = "tests.odr.notifications.test_relay.BrokenSMTP"
    start = clock.now()
    with travel(start):
        first = outbox_deliver(acknowledgement.pk)
    assert (first.status, first.retry_in) == ("retry", timedelta(seconds=30))
    with travel(start + timedelta(seconds=10)):
        assert outbox_deliver(acknowledgement.pk).status == "skipped"  # not due yet
        assert acknowledgement.pk not in outbox_due_ids()
    with travel(start + timedelta(seconds=31)):
        assert acknowledgement.pk in outbox_due_ids()
        second = outbox_deliver(acknowledgement.pk)
    assert second.retry_in == timedelta(seconds=60)
    with travel(start + timedelta(seconds=200)):
        assert outbox_deliver(acknowledgement.pk).status == "dead"
    acknowledgement.refresh_from_db()
    assert acknowledgement.status == OutboxStatus.DEAD
    assert acknowledgement.attempts == 3
    assert "refused the connection" in acknowledgement.last_error
    assert acknowledgement.pk not in outbox_due_ids()


def test_backoff_is_capped(settings):
    settings.ODR_OUTBOX_RETRY_BASE_SECONDS = 30
    settings.ODR_OUTBOX_RETRY_MAX_SECONDS = 3600
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


def test_dead_letter_can_be_sent_again(acknowledgement, settings):
    settings.EMAIL_BACKEND = "tests.odr.notifications.test_relay.BrokenSMTP"
    settings.ODR_OUTBOX_MAX_ATTEMPTS = 1
    assert outbox_deliver(acknowledgement.pk).status == "dead"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    outbox_resend(message=acknowledgement)
    assert outbox_deliver(acknowledgement.pk).status == "sent"
    assert len(mail.outbox) == 1


def test_admin_resends_dead_letters(acknowledgement, admin_client, settings):
    settings.EMAIL_BACKEND = "tests.odr.notifications.test_relay.BrokenSMTP"
    settings.ODR_OUTBOX_MAX_ATTEMPTS = 1
    outbox_deliver(acknowledgement.pk)
    response = admin_client.post(
        "/admin/notifications/outboxmessage/",
        {"action": "resend", "_selected_action": [acknowledgement.pk]},
        follow=True,
    )
    assert response.status_code == 200
    acknowledgement.refresh_from_db()
    assert acknowledgement.status == OutboxStatus.PENDING and acknowledgement.attempts == 0


def test_dev_mailbox_keeps_what_was_sent(acknowledgement, settings, client):
    settings.EMAIL_BACKEND = "odr.notifications.devmailbox.DevMailboxBackend"
    outbox_deliver(acknowledgement.pk)
    kept = DevMailboxEmail.objects.get()
    assert acknowledgement.case_reference in kept.subject
    assert kept.html and kept.text
    # The mailbox pages exist only with DEBUG on.
    assert client.get("/dev/mailbox/").status_code == 404
    with override_settings(ROOT_URLCONF="tests.odr.notifications.debug_urls"):
        page = client.get("/dev/mailbox/")
        assert kept.subject in page.content.decode()
        detail = client.get(f"/dev/mailbox/{kept.pk}/")
        assert acknowledgement.case_reference in detail.content.decode()
