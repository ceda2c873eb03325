"""Giving, withdrawing and expiry of consents (D31, D33), their audit (D34) and e-mails (D32)."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from odr.audit.models import AuditEvent
from odr.audit.services import audit_verify
from odr.consent.models import ConsentPurpose, ConsentReceipt, ConsentRecord, ConsentState
from odr.consent.receipts import receipt_verify
from odr.consent.services import consent_expire, consent_give, consent_withdraw
from odr.errors import Forbidden, InvalidInput, TransitionRefused
from odr.notifications.emails import build_email
from odr.notifications.models import OutboxMessage

from .helpers import NOTICE, give

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def test_d31_consent_given_is_recorded_with_a_given_receipt(consumer):
    record = give(consumer)

    assert record.state == ConsentState.GIVEN and record.is_in_force
    assert record.person == consumer and record.notice_text == NOTICE
    receipt = record.receipts.get()
    assert receipt.event_type == ConsentState.GIVEN
    assert receipt_verify(receipt.jws).valid


def test_d31_unknown_purpose_or_missing_notice_is_refused_and_leaves_nothing(consumer):
    with pytest.raises(InvalidInput):
        give(consumer, purpose="marketing")
    with pytest.raises(InvalidInput):
        give(consumer, notice_text="  ")

    assert not ConsentRecord.objects.exists() and not OutboxMessage.objects.exists()


def test_d32_receipt_is_emailed_with_its_pdf(consumer, settings):
    receipt = give(consumer).receipts.get()
    message = OutboxMessage.objects.get()

    assert message.idempotency_key == f"consent.receipt:{receipt.receipt_id}"
    assert message.template == "consent_receipt" and message.to_user == consumer
    assert message.case_reference == "C-2026-000123"
    assert message.context["receipt_id"] == str(receipt.receipt_id)
    assert message.context["event_type"] == "given"
    assert message.context["purpose"] == ConsentPurpose.COMPLAINT_PROCESSING

    # The e-mail's own wording is the notifications package's; stand-in templates let us build it.
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [settings.BASE_DIR / "templates"],
            "OPTIONS": {
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {
                            "email/consent_receipt.subject.txt": "Receipt {{ receipt_id }}",
                            "email/consent_receipt.txt": "{{ event_type }}",
                            "email/consent_receipt.html": "<p>{{ event_type }}</p>",
                        },
                    ),
                    "django.template.loaders.filesystem.Loader",
                    "django.template.loaders.app_directories.Loader",
                ],
            },
        }
    ]
    email = build_email(message)
    [(filename, content, mimetype)] = email.attachments

    assert filename == f"consent-receipt-{receipt.receipt_id}.pdf"
    assert mimetype == "application/pdf" and content.startswith(b"%PDF-")


def test_d33_withdrawal_issues_withdrawn_receipt_in_one_step(consumer):
    with time_machine.travel(NOW, tick=False):
        record = give(consumer)
    with time_machine.travel(NOW + timedelta(days=3), tick=False):
        record = consent_withdraw(record=record, by=consumer)  # the one step, like consent_give

    assert record.state == ConsentState.WITHDRAWN and not record.is_in_force
    assert record.withdrawn_at == NOW + timedelta(days=3)
    given, withdrawn = record.receipts.order_by("issued_at")
    assert (given.event_type, withdrawn.event_type) == ("given", "withdrawn")
    claims = receipt_verify(withdrawn.jws).claims
    assert claims["event"]["event_type"] == "withdrawn" and claims["event"]["event_state"] == "withdrawn"
    assert claims["event"]["record_id"] == given.payload["event"]["record_id"] == str(record.uid)
    assert claims["consentTimestamp"] == given.payload["consentTimestamp"]  # when consent was given
    assert claims["event"]["event_time"] == (NOW + timedelta(days=3)).isoformat()
    assert OutboxMessage.objects.filter(context__event_type="withdrawn", to_user=consumer).count() == 1


def test_d33_only_the_person_can_withdraw(consumer, other_consumer, mediator):
    record = give(consumer)
    before = (ConsentReceipt.objects.count(), AuditEvent.objects.count(), OutboxMessage.objects.count())

    for someone in (other_consumer, mediator):
        with pytest.raises(Forbidden):
            consent_withdraw(record=record, by=someone)

    record.refresh_from_db()
    assert record.state == ConsentState.GIVEN
    assert (
        ConsentReceipt.objects.count(),
        AuditEvent.objects.count(),
        OutboxMessage.objects.count(),
    ) == before


def test_d33_withdrawing_twice_is_refused(consumer):
    record = consent_withdraw(record=give(consumer), by=consumer)

    with pytest.raises(TransitionRefused, match="n'est plus en vigueur"):
        consent_withdraw(record=record, by=consumer)
    assert record.receipts.count() == 2


def test_d34_consent_given_is_audited(consumer):
    record = give(consumer)
    event = AuditEvent.objects.get(stream="C-2026-000123")

    assert event.kind == "consent.given"
    assert event.actor == consumer and event.actor_role == "pii_principal"
    assert event.payload == {
        "consent": str(record.uid),
        "purpose": "complaint_processing",
        "receipt_id": str(record.receipts.get().receipt_id),
        "notice_version": "2026-01",
        "notice_sha256": record.notice_sha256,
    }
    assert "camille" not in str(event.payload)  # ids, not personal data


def test_d34_consent_without_a_case_is_audited_on_the_persons_chain(consumer):
    record = give(consumer, case_reference="")
    consent_withdraw(record=record, by=consumer)

    kinds = list(AuditEvent.objects.filter(stream=f"U-{consumer.pk}").values_list("kind", flat=True))
    assert kinds == ["consent.given", "consent.withdrawn"]
    assert audit_verify().ok


def test_d31_consent_expires_at_its_end_of_validity_with_an_expired_receipt(consumer):
    with time_machine.travel(NOW, tick=False):
        record = give(consumer, valid_until=NOW + timedelta(days=30))
        with pytest.raises(TransitionRefused, match="pas encore atteinte"):
            consent_expire(record=record)
    with time_machine.travel(NOW + timedelta(days=30, seconds=1), tick=False):
        assert not record.is_in_force  # already, before the sweep runs
        call_command("expire_consents", stdout=StringIO())

    record.refresh_from_db()
    assert record.state == ConsentState.EXPIRED
    expired = record.receipts.get(event_type="expired")
    event = receipt_verify(expired.jws).claims["event"]
    assert event["event_by"] == "system" and event["validity_until"] == (NOW + timedelta(days=30)).isoformat()
    audit = AuditEvent.objects.filter(stream="C-2026-000123").last()
    assert audit.kind == "consent.expired" and audit.actor is None
    with pytest.raises(TransitionRefused):
        consent_withdraw(record=record, by=consumer)


def test_d31_end_of_validity_must_be_in_the_future(consumer):
    with time_machine.travel(NOW, tick=False), pytest.raises(InvalidInput):
        consent_give(
            person=consumer,
            purpose=ConsentPurpose.ENTER_MEDIATION,
            notice_text=NOTICE,
            notice_version="1",
            valid_until=NOW,
        )
