"""Stage 1: filing, answering, offers, closing — the complaint state machine and rules D1–D8."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complaints.models import Complaint, ComplaintState, Message, Offer, OfferStatus
from complaints.services import (
    complaint_answer,
    complaint_expire,
    complaint_post_message,
    complaint_resolve,
    complaint_response_lapsed,
    complaint_withdraw,
    offer_make,
    offer_respond,
    offer_withdraw,
)
from mediation.services import case_refer
from odr.audit.models import AuditEvent
from odr.audit.services import audit_verify
from odr.deadlines.models import Deadline, DeadlineKind, DeadlineStatus
from odr.errors import Forbidden, InvalidInput, TransitionRefused
from tests.helpers import file_complaint, outbox, travel

PARIS = ZoneInfo("Europe/Paris")
FILED = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)


@pytest.fixture
def complaint(consumer, merchant, agent):
    with travel(FILED):
        return file_complaint(consumer, merchant)


def events(complaint):
    return list(AuditEvent.objects.filter(stream=complaint.reference).values_list("kind", flat=True))


# --- D1: reference and acknowledgement -----------------------------------------------------------


def test_d1_complaint_gets_unique_human_readable_reference(consumer, merchant):
    with travel(FILED):
        first = file_complaint(consumer, merchant)
        second = file_complaint(consumer, merchant)
    assert re.fullmatch(r"C-2026-\d{6}", first.reference)
    assert first.reference == "C-2026-000001"
    assert second.reference == "C-2026-000002"


def test_d1_reference_numbers_restart_each_local_year(consumer, merchant):
    # 23:30 UTC on 31 December is already the new year in Paris.
    with travel(datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo("UTC"))):
        complaint = file_complaint(consumer, merchant)
    assert complaint.reference == "C-2027-000001"


def test_d1_consumer_gets_immediate_acknowledgement(complaint, consumer, agent, owner):
    ack = outbox("complaint_acknowledgement").get()
    assert ack.to_user == consumer
    assert ack.context["reference"] == complaint.reference
    # The merchant's staff are told too, each once.
    assert set(outbox("complaint_new_for_merchant").values_list("to_user", flat=True)) == {agent.pk}


def test_d1_filing_is_audited_and_the_chain_verifies(complaint):
    # Filing records the two consents of D31 on the same chain.
    assert events(complaint) == ["complaint.filed", "consent.given", "consent.given"]
    assert audit_verify(stream=complaint.reference).ok


def test_only_consumers_file_complaints(agent, merchant):
    with pytest.raises(Forbidden):
        file_complaint(agent, merchant)
    assert not Complaint.objects.exists()


def test_empty_description_is_refused_and_nothing_is_saved(consumer, merchant):
    with pytest.raises(InvalidInput):
        file_complaint(consumer, merchant, description="   ")
    assert not Complaint.objects.exists()
    assert not AuditEvent.objects.exists()


# --- D2/D3: response period ----------------------------------------------------------------------


def test_d3_merchant_answer_due_30_calendar_days_after_filing(complaint):
    assert complaint.response_due_at == datetime(2026, 4, 1, 23, 59, 59, tzinfo=PARIS)
    deadline = Deadline.objects.get(kind=DeadlineKind.MERCHANT_RESPONSE)
    assert deadline.due_at == complaint.response_due_at
    assert deadline.status == DeadlineStatus.PENDING
    assert deadline.case_reference == complaint.reference


def test_d3_response_period_is_a_setting(settings, consumer, merchant):
    settings.ODR_MERCHANT_RESPONSE_DAYS = 15
    with travel(FILED):
        complaint = file_complaint(consumer, merchant)
    assert complaint.response_due_at == datetime(2026, 3, 17, 23, 59, 59, tzinfo=PARIS)


def test_d3_referral_refused_while_merchant_still_has_time(complaint, consumer):
    with travel(datetime(2026, 4, 1, 23, 59, tzinfo=PARIS)), pytest.raises(TransitionRefused) as refused:
        case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)
    assert "dispose encore d'un délai pour répondre" in str(refused.value)
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.FILED
    assert events(complaint) == ["complaint.filed", "consent.given", "consent.given"]


def test_d3_consumer_may_refer_at_once_when_period_lapses(complaint, consumer):
    with travel(datetime(2026, 4, 2, 0, 0, 1, tzinfo=PARIS)):
        case = case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.REFERRED
    assert case.complaint == complaint


def test_d3_d4_lapse_records_breach_and_sends_mediator_details(complaint, merchant):
    with travel(datetime(2026, 4, 2, 8, 0, tzinfo=PARIS)):
        complaint_response_lapsed(complaint=complaint)
    deadline = Deadline.objects.get(kind=DeadlineKind.MERCHANT_RESPONSE)
    assert deadline.status == DeadlineStatus.BREACHED
    notice = outbox("complaint_lapsed_d4").get()
    assert notice.context["mediator_name"] == merchant.mediation_body.name
    assert notice.context["mediator_website"] == merchant.mediation_body.website
    assert notice.context["merchant_takes_part"] is True


def test_d3_lapse_before_due_date_is_refused(complaint):
    with travel(datetime(2026, 4, 1, 12, 0, tzinfo=PARIS)), pytest.raises(TransitionRefused):
        complaint_response_lapsed(complaint=complaint)
    assert not outbox("complaint_lapsed_d4").exists()


# --- D4: answer ----------------------------------------------------------------------------------


def test_d4_rejection_sends_mediator_name_website_and_participation(complaint, agent, merchant):
    merchant.takes_part_in_mediation = False
    merchant.save()
    with travel(FILED + timedelta(days=3)):
        complaint_answer(complaint=complaint, by=agent, decision="reject", text="Colis livré selon nous.")
    notice = outbox("complaint_rejected_d4").get()
    assert notice.to_user == complaint.consumer
    assert notice.context["mediator_name"] == "Médiateur du e-commerce"
    assert notice.context["mediator_website"] == merchant.mediation_body.website
    assert notice.context["merchant_takes_part"] is False
    assert Deadline.objects.get(kind=DeadlineKind.MERCHANT_RESPONSE).status == DeadlineStatus.MET


def test_answer_with_offer_opens_the_offer_ledger(complaint, agent):
    complaint_answer(
        complaint=complaint, by=agent, decision="offer", text="Nous proposons un avoir.", amount_cents=5000
    )
    offer = Offer.objects.get()
    assert (offer.kind, offer.side, offer.status, offer.amount_cents) == ("offer", "merchant", "open", 5000)
    assert events(complaint)[-1] == "complaint.answered"


def test_answer_twice_is_refused_and_changes_nothing(complaint, agent):
    complaint_answer(complaint=complaint, by=agent, decision="accept", text="D'accord.")
    with pytest.raises(TransitionRefused) as refused:
        complaint_answer(complaint=complaint, by=agent, decision="reject", text="Finalement non.")
    assert "déjà reçu une réponse" in str(refused.value)
    complaint.refresh_from_db()
    assert complaint.answer_decision == "accept"
    assert events(complaint).count("complaint.answered") == 1


def test_another_merchants_staff_cannot_answer(complaint, other_agent):
    with pytest.raises(Forbidden):
        complaint_answer(complaint=complaint, by=other_agent, decision="reject", text="Non.")
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.FILED


def test_consumer_cannot_answer_own_complaint(complaint, consumer):
    with pytest.raises(Forbidden):
        complaint_answer(complaint=complaint, by=consumer, decision="accept", text="Oui.")


def test_unknown_decision_is_refused(complaint, agent):
    with pytest.raises(InvalidInput):
        complaint_answer(complaint=complaint, by=agent, decision="maybe", text="Peut-être.")


# --- Offers and messages -------------------------------------------------------------------------


@pytest.fixture
def answered(complaint, agent):
    return complaint_answer(
        complaint=complaint, by=agent, decision="offer", text="Avoir de 50 €.", amount_cents=5000
    )


def test_counter_offer_declines_the_offer_it_answers(answered, consumer):
    offer = Offer.objects.get()
    counter = offer_make(
        complaint=answered, by=consumer, terms="Remboursement total.", amount_cents=8990, responds_to=offer
    )
    offer.refresh_from_db()
    assert offer.status == OfferStatus.DECLINED
    assert (counter.kind, counter.side, counter.responds_to) == ("counter_offer", "consumer", offer)


def test_accepting_an_offer_resolves_the_complaint_and_tells_recourse(answered, consumer):
    offer_respond(offer=Offer.objects.get(), by=consumer, accept=True)
    answered.refresh_from_db()
    assert answered.state == ComplaintState.RESOLVED
    assert answered.closed_at is not None
    assert outbox("complaint_closed_recourse").get().context["closed_as"] == "resolved"
    assert not Deadline.objects.filter(status=DeadlineStatus.PENDING).exists()


def test_nobody_answers_their_own_offer(answered, agent):
    with pytest.raises(Forbidden):
        offer_respond(offer=Offer.objects.get(), by=agent, accept=True)


def test_withdrawn_offer_can_no_longer_be_accepted(answered, agent, consumer):
    offer = Offer.objects.get()
    offer_withdraw(offer=offer, by=agent)
    with pytest.raises(TransitionRefused):
        offer_respond(offer=offer, by=consumer, accept=True)
    answered.refresh_from_db()
    assert answered.state == ComplaintState.ANSWERED


def test_messages_between_the_parties_are_audited(complaint, consumer, agent):
    complaint_post_message(complaint=complaint, by=consumer, body="Où en est ma commande ?")
    complaint_post_message(complaint=complaint, by=agent, body="Nous vérifions.")
    assert list(Message.objects.values_list("side", flat=True)) == ["consumer", "merchant"]
    assert events(complaint).count("complaint.message") == 2


def test_strangers_cannot_post_messages(complaint, other_consumer):
    with pytest.raises(Forbidden):
        complaint_post_message(complaint=complaint, by=other_consumer, body="Bonjour")
    assert not Message.objects.exists()


# --- Closing: withdraw, resolve, expire (D6, D8) -------------------------------------------------


def test_d6_withdrawal_closes_and_tells_further_recourse(complaint, consumer):
    with travel(FILED + timedelta(days=5)):
        complaint_withdraw(complaint=complaint, by=consumer, reason="Réglé par téléphone.")
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.WITHDRAWN
    assert complaint.withdrawal_reason == "Réglé par téléphone."
    recourse = outbox("complaint_closed_recourse").get()
    assert recourse.context["mediator_name"] == "Médiateur du e-commerce"
    assert set(Deadline.objects.values_list("status", flat=True)) == {DeadlineStatus.CANCELLED}


def test_merchant_cannot_withdraw_the_consumers_complaint(complaint, agent):
    with pytest.raises(Forbidden):
        complaint_withdraw(complaint=complaint, by=agent)


def test_resolve_needs_an_answer_first(complaint, consumer):
    with pytest.raises(TransitionRefused):
        complaint_resolve(complaint=complaint, by=consumer)


def test_d8_referral_window_is_one_year_from_the_written_complaint(complaint):
    assert complaint.referral_window_ends_at == datetime(2027, 3, 2, 23, 59, 59, tzinfo=PARIS)
    assert Deadline.objects.get(kind=DeadlineKind.REFERRAL_WINDOW).due_at == complaint.referral_window_ends_at


def test_d8_written_complaint_made_elsewhere_starts_the_window_earlier(consumer, merchant):
    with travel(FILED):
        complaint = file_complaint(
            consumer, merchant, written_complaint_at=datetime(2025, 6, 10, tzinfo=PARIS)
        )
    assert complaint.referral_window_ends_at == datetime(2026, 6, 10, 23, 59, 59, tzinfo=PARIS)


def test_d8_complaint_expires_when_window_closes(complaint):
    with travel(datetime(2027, 3, 3, 0, 0, 1, tzinfo=PARIS)):
        complaint_expire(complaint=complaint)
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.EXPIRED
    assert Deadline.objects.get(kind=DeadlineKind.REFERRAL_WINDOW).status == DeadlineStatus.MET


def test_d8_referral_after_one_year_is_refused(complaint, agent, consumer):
    complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
    with travel(datetime(2027, 3, 3, 9, 0, tzinfo=PARIS)), pytest.raises(TransitionRefused) as refused:
        case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)
    assert "plus d'un an" in str(refused.value)


def test_expire_before_window_closes_is_refused(complaint):
    with travel(datetime(2027, 3, 2, 23, 0, tzinfo=PARIS)), pytest.raises(TransitionRefused):
        complaint_expire(complaint=complaint)


# --- The state machine, every transition allowed and refused ------------------------------------

ALLOWED = {
    "answer": {ComplaintState.FILED},
    "resolve": {ComplaintState.ANSWERED},
    "withdraw": {ComplaintState.FILED, ComplaintState.ANSWERED},
    "expire": {ComplaintState.FILED, ComplaintState.ANSWERED},
    "refer": {ComplaintState.FILED, ComplaintState.ANSWERED},
}


def _bring_to(state, complaint, consumer, agent):
    if state == ComplaintState.FILED:
        return complaint
    if state == ComplaintState.WITHDRAWN:
        return complaint_withdraw(complaint=complaint, by=consumer)
    with travel(FILED + timedelta(days=1)):
        complaint = complaint_answer(complaint=complaint, by=agent, decision="accept", text="Oui.")
    if state == ComplaintState.RESOLVED:
        return complaint_resolve(complaint=complaint, by=consumer)
    if state == ComplaintState.REFERRED:
        with travel(FILED + timedelta(days=2)):
            case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)
        return Complaint.objects.get(pk=complaint.pk)
    if state == ComplaintState.EXPIRED:
        with travel(FILED + timedelta(days=400)):
            return complaint_expire(complaint=complaint)
    return complaint


def _attempt(transition, complaint, consumer, agent):
    at = FILED + (timedelta(days=400) if transition == "expire" else timedelta(days=40))
    with travel(at):
        if transition == "answer":
            complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
        elif transition == "resolve":
            complaint_resolve(complaint=complaint, by=consumer)
        elif transition == "withdraw":
            complaint_withdraw(complaint=complaint, by=consumer)
        elif transition == "expire":
            complaint_expire(complaint=complaint)
        elif transition == "refer":
            case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)


@pytest.mark.parametrize("state", list(ComplaintState))
@pytest.mark.parametrize("transition", sorted(ALLOWED))
def test_every_transition_allowed_or_refused(state, transition, complaint, consumer, agent):
    complaint = _bring_to(state, complaint, consumer, agent)
    assert complaint.state == state
    before = AuditEvent.objects.count()
    if state in ALLOWED[transition]:
        _attempt(transition, complaint, consumer, agent)
        assert AuditEvent.objects.count() > before
    else:
        with pytest.raises(TransitionRefused):
            _attempt(transition, complaint, consumer, agent)
        assert Complaint.objects.get(pk=complaint.pk).state == state
        assert AuditEvent.objects.count() == before


def test_state_cannot_be_assigned_directly(complaint):
    with pytest.raises(AttributeError):
        complaint.state = ComplaintState.RESOLVED


def test_file_complaint_command_uses_the_service(consumer, merchant, capsys):
    from django.core.management import call_command

    with travel(FILED):
        call_command("file_complaint", "--consumer", consumer.email, "--merchant", "Lumière")
    complaint = Complaint.objects.get()
    assert (
        f"Filed {complaint.reference}; the merchant must answer by 2026-04-01 23:59"
        in capsys.readouterr().out
    )
    assert outbox("complaint_acknowledgement").exists()


def test_file_complaint_command_refuses_a_merchant_as_consumer(agent, merchant):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Seul un consommateur peut déposer une réclamation"):
        call_command("file_complaint", "--consumer", agent.email, "--merchant", "Lumière")


def test_d3_d8_response_period_runs_from_a_written_complaint_made_elsewhere(consumer, merchant):
    """The merchant has had the written complaint since it was sent: a consumer who complained 350
    days ago must not be kept waiting 30 more days while the one-year window closes (D8)."""
    with travel(FILED):
        complaint = file_complaint(consumer, merchant, written_complaint_at=FILED - timedelta(days=350))
        assert complaint.response_due_at < FILED
        case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.REFERRED


def test_d4_rejection_after_the_period_lapsed_still_sends_the_rejection_notice(complaint, agent):
    with travel(datetime(2026, 4, 2, 8, 0, tzinfo=PARIS)):
        complaint_response_lapsed(complaint=complaint)
        complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non, finalement.")
    assert outbox("complaint_lapsed_d4").count() == 1
    assert outbox("complaint_rejected_d4").count() == 1


def test_withdrawal_after_the_merchant_let_its_period_lapse_keeps_the_breach(complaint, consumer):
    with travel(FILED + timedelta(days=45)):
        complaint_withdraw(complaint=complaint, by=consumer)
    assert Deadline.objects.get(kind=DeadlineKind.MERCHANT_RESPONSE).status == DeadlineStatus.BREACHED
    assert Deadline.objects.get(kind=DeadlineKind.REFERRAL_WINDOW).status == DeadlineStatus.CANCELLED


def test_d33_withdrawing_the_processing_consent_closes_the_complaint(
    complaint, consumer, agent, other_consumer
):
    from complaints.services import complaint_consent_withdraw
    from odr.consent.models import ConsentPurpose, ConsentReceipt, ConsentRecord

    record = ConsentRecord.objects.get(
        case_reference=complaint.reference, purpose=ConsentPurpose.COMPLAINT_PROCESSING
    )
    with pytest.raises(Forbidden):
        complaint_consent_withdraw(complaint=complaint, by=other_consumer, record=record)
    with travel(FILED + timedelta(days=2)):
        complaint = complaint_consent_withdraw(complaint=complaint, by=consumer, record=record)
    assert complaint.state == ComplaintState.WITHDRAWN
    assert ConsentReceipt.objects.filter(record=record, event_type="withdrawn").count() == 1
    assert outbox("complaint_withdrawn", to_user=agent).exists()
    assert events(complaint)[-2:] == ["consent.withdrawn", "complaint.withdrawn"]
