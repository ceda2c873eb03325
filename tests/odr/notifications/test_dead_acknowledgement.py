"""Acknowledging a dead letter (D34): who and when on the row, one event on the case's audit chain,
readiness and metrics stop counting it; sending it again clears both and is audited too."""

import logging

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from odr import clock
from odr.audit.models import AuditEvent
from odr.audit.services import audit_verify
from odr.notifications.models import Channel, OutboxMessage, OutboxStatus
from odr.notifications.relay import outbox_acknowledge_dead, outbox_deliver
from odr.ops.status import outbox_status
from tests.factories import UserFactory
from tests.helpers import file_complaint

CHANGELIST = "admin:notifications_outboxmessage_changelist"


@pytest.fixture
def dead(consumer, merchant, settings):
    """The consumer's acknowledgement of receipt, given up on after its one attempt."""
    file_complaint(consumer, merchant)
    message = OutboxMessage.objects.get(template="complaint_acknowledgement")
    settings.EMAIL_BACKEND = "tests.odr.notifications.test_relay.BrokenSMTP"
    settings.ODR_OUTBOX_MAX_ATTEMPTS = 1
    assert outbox_deliver(message.pk).status == "dead"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return message


@pytest.fixture
def staff(db):
    """A staff member who may change outbox rows, and nothing more (not a superuser)."""
    user = UserFactory(email="operator@example.test", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="notifications",
            codename__in=["view_outboxmessage", "change_outboxmessage"],
        )
    )
    client = Client()
    client.force_login(user)
    return user, client


def act(client, action, message):
    data = {"action": action, "_selected_action": [message.pk]}
    response = client.post(reverse(CHANGELIST), data, follow=True)
    assert response.status_code == 200
    return response


def case_events(message, kind):
    return list(AuditEvent.objects.filter(stream=message.case_reference, kind=kind))


def test_staff_acknowledgement_is_recorded_with_who_and_audited_on_the_case(dead, staff):
    user, client = staff
    assert outbox_status(clock.now()).channel(Channel.EMAIL).dead == 1
    before = AuditEvent.objects.filter(stream=dead.case_reference).count()

    act(client, "acknowledge_dead", dead)

    dead.refresh_from_db()
    assert dead.status == OutboxStatus.DEAD  # the record of the notice stays
    assert dead.dead_acknowledged_at is not None and dead.dead_acknowledged_by == user
    assert outbox_status(clock.now()).channel(Channel.EMAIL).dead == 0
    [event] = case_events(dead, "outbox.dead_acknowledged")
    assert AuditEvent.objects.filter(stream=dead.case_reference).count() == before + 1
    assert event.actor_id == user.pk and event.actor_role == "staff"
    expected = {"message_id": dead.pk, "template": "complaint_acknowledgement", "channel": "email"}
    assert event.payload == expected
    assert dead.to_address not in str(event.payload)  # never the address
    assert audit_verify(stream=dead.case_reference).ok

    # Acknowledging again changes nothing and writes nothing.
    act(client, "acknowledge_dead", dead)
    assert len(case_events(dead, "outbox.dead_acknowledged")) == 1


def test_resend_clears_the_acknowledgement_and_is_audited(dead, staff):
    user, client = staff
    act(client, "acknowledge_dead", dead)

    act(client, "resend", dead)

    dead.refresh_from_db()
    assert dead.status == OutboxStatus.PENDING
    assert dead.dead_acknowledged_at is None and dead.dead_acknowledged_by is None
    [event] = case_events(dead, "outbox.resent")
    assert event.actor_id == user.pk
    assert event.payload["message_id"] == dead.pk
    assert event.payload["previous_status"] == "dead" and event.payload["acknowledgement_cleared"] is True
    kinds = list(
        AuditEvent.objects.filter(stream=dead.case_reference).order_by("seq").values_list("kind", flat=True)
    )
    assert kinds[-2:] == ["outbox.dead_acknowledged", "outbox.resent"]
    assert audit_verify(stream=dead.case_reference).ok
    # Dead again: it counts again, until someone acknowledges it again.
    OutboxMessage.objects.filter(pk=dead.pk).update(status=OutboxStatus.DEAD)
    assert outbox_status(clock.now()).channel(Channel.EMAIL).dead == 1


def test_a_row_without_a_case_is_logged_by_id_only(db, staff, caplog):
    user, _client = staff
    row = OutboxMessage.objects.create(
        channel=Channel.EMAIL,
        template="password_reset",
        idempotency_key="password-reset-1",
        to_address="someone@example.test",
        status=OutboxStatus.DEAD,
        created_at=clock.now(),
    )
    events = AuditEvent.objects.count()
    with caplog.at_level(logging.INFO, logger="odr.notifications.relay"):
        assert outbox_acknowledge_dead(OutboxMessage.objects.all(), by=user) == 1
    row.refresh_from_db()
    assert row.dead_acknowledged_by == user
    assert AuditEvent.objects.count() == events  # no chain to write on
    [record] = [r for r in caplog.records if r.getMessage().startswith("outbox.dead_acknowledged")]
    assert record.outbox_message_id == row.pk and record.user_id == user.pk
    assert "someone@example.test" not in record.getMessage()


def test_acknowledging_many_costs_a_bounded_number_of_queries_per_row(
    db, staff, django_assert_max_num_queries
):
    user, _client = staff
    now = clock.now()
    OutboxMessage.objects.bulk_create(
        OutboxMessage(
            channel=Channel.EMAIL,
            template="complaint_acknowledgement",
            idempotency_key=f"k-{n}",
            case_reference=f"CASE-{n}",
            to_address="x@example.test",
            status=OutboxStatus.DEAD,
            created_at=now,
        )
        for n in range(5)
    )
    # Fixed: a savepoint and its release, the locking select, the update. Per row: the chain head
    # (lock; on first use a savepoint, its creation, the release, the re-lock), the event, the head's update.
    with django_assert_max_num_queries(4 + 5 * 7):
        assert outbox_acknowledge_dead(OutboxMessage.objects.all(), by=user) == 5
    assert AuditEvent.objects.filter(kind="outbox.dead_acknowledged").count() == 5
    assert audit_verify().ok
