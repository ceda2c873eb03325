"""Stage 2: referral, admissibility, saisine, proposal and outcome — rules D7–D30."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from complaints.models import ComplaintState
from mediation.models import (
    CaseState,
    MediationCase,
    Proposal,
    ProposalResponse,
    RefusalReason,
    ResponseDecision,
)
from mediation.services import (
    case_add_representative,
    case_assign,
    case_complete_file,
    case_disclose_conflict,
    case_extend,
    case_mark_overdue,
    case_merchant_decline,
    case_open,
    case_refer,
    case_reject,
    case_request_documents,
    case_withdraw,
    proposal_deem_refused,
    proposal_issue,
    proposal_respond,
)
from odr.audit.models import AuditEvent
from odr.audit.services import audit_verify
from odr.deadlines.models import Deadline, DeadlineKind, DeadlineStatus
from odr.errors import Forbidden, InvalidInput, TransitionRefused
from tests.helpers import outbox, referred_case, rejected_complaint, travel

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=PARIS)  # the complaint is filed and rejected
REFERRED = datetime(2026, 1, 20, 11, 0, tzinfo=PARIS)
SAISINE = datetime(2026, 1, 31, 10, 0, tzinfo=PARIS)  # DOMAIN.md's D38 example


@pytest.fixture
def case(consumer, merchant, agent):
    with travel(T0):
        complaint = rejected_complaint(consumer, merchant, agent)
    with travel(REFERRED):
        return case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)


@pytest.fixture
def opened(case, mediator):
    with travel(SAISINE):
        return case_open(case=case, by=mediator)


@pytest.fixture
def proposal(opened, mediator):
    with travel(SAISINE + timedelta(days=20)):
        return proposal_issue(case=opened, by=mediator, solution="Remboursement de 89,90 € sous 14 jours.")


ANSWERING = datetime(2026, 3, 1, 12, 0, tzinfo=PARIS)  # inside the proposal's 15 days


def kinds(case):
    return list(AuditEvent.objects.filter(stream=case.reference).values_list("kind", flat=True))


def fresh(case):
    return MediationCase.objects.get(pk=case.pk)


# --- Referral (D7–D10) ---------------------------------------------------------------------------


def test_d7_referral_keeps_the_platform_complaint_as_proof(case):
    assert case.reference == "M-2026-000001"
    assert case.complaint.state == ComplaintState.REFERRED
    assert case.complaint.written_complaint_at <= case.referred_at
    complaint_trail = AuditEvent.objects.filter(stream=case.complaint.reference)
    assert complaint_trail.last().kind == "complaint.referred"
    assert complaint_trail.last().payload == {"case": case.reference}
    assert kinds(case) == ["case.received", "consent.given"]  # entering mediation is receipted (D31)


def test_d7_case_goes_to_the_merchants_designated_body(mediator, case, merchant):
    assert case.mediation_body == merchant.mediation_body
    assert outbox("case_new_for_mediator").get().to_user == mediator


def test_only_the_consumer_refers(consumer, merchant, agent):
    complaint = rejected_complaint(consumer, merchant, agent)
    with pytest.raises(Forbidden):
        case_refer(complaint=complaint, by=agent, other_proceedings=False, acting_as_consumer=True)
    assert not MediationCase.objects.exists()


def test_referring_twice_is_refused(case, consumer):
    with pytest.raises(TransitionRefused):
        case_refer(complaint=case.complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)
    assert MediationCase.objects.count() == 1


def test_d8_referral_more_than_one_year_after_written_complaint_is_inadmissible(
    consumer, merchant, agent, mediator
):
    # The written complaint was sent elsewhere on 5 Jan 2025; filed here later; referred in Jan 2026.
    with travel(datetime(2025, 12, 20, tzinfo=PARIS)):
        from tests.helpers import file_complaint

        complaint = file_complaint(
            consumer, merchant, written_complaint_at=datetime(2025, 1, 5, tzinfo=PARIS)
        )
        from complaints.services import complaint_answer

        complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
    # Referral is refused once the window has closed (the complaint stage knows the date)…
    with travel(datetime(2026, 1, 6, 0, 0, 1, tzinfo=PARIS)), pytest.raises(TransitionRefused):
        case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)


def test_d8_mediator_cannot_admit_a_time_barred_referral(case, mediator):
    # A case referred after the window (e.g. imported with a backdated written complaint) cannot open.
    MediationCase.objects.filter(pk=case.pk).update(referred_at=datetime(2027, 2, 1, tzinfo=PARIS))
    with pytest.raises(TransitionRefused) as refused:
        case_open(case=case, by=mediator)
    assert "time_barred" in str(refused.value)
    assert fresh(case).state == CaseState.RECEIVED


def test_d9_dispute_before_another_mediator_or_court_is_inadmissible(consumer, merchant, agent, mediator):
    case = referred_case(consumer, merchant, agent, other_proceedings=True)
    with pytest.raises(TransitionRefused) as refused:
        case_open(case=case, by=mediator)
    assert "already_examined" in str(refused.value)
    case_reject(case=case, by=mediator, reason=RefusalReason.ALREADY_EXAMINED, reasoning="Tribunal saisi.")
    assert fresh(case).state == CaseState.REJECTED


@pytest.mark.parametrize(
    "declarations",
    [{"acting_as_consumer": False}, {"excluded_subject": "health"}, {"excluded_subject": "higher_education"}],
)
def test_d10_out_of_scope_disputes_are_inadmissible(consumer, merchant, agent, mediator, declarations):
    case = referred_case(consumer, merchant, agent, **declarations)
    with pytest.raises(TransitionRefused) as refused:
        case_open(case=case, by=mediator)
    assert "out_of_competence" in str(refused.value)


def test_d10_unknown_subject_is_refused(consumer, merchant, agent):
    with pytest.raises(InvalidInput):
        referred_case(consumer, merchant, agent, excluded_subject="astrology")
    assert not MediationCase.objects.exists()


# --- Admissibility (D11–D13) ---------------------------------------------------------------------


def test_d11_refusal_carries_exactly_one_reason_code_and_reasoning(case, mediator, consumer, agent):
    case_reject(
        case=case, by=mediator, reason=RefusalReason.UNFOUNDED_OR_ABUSIVE, reasoning="Sans fondement."
    )
    case = fresh(case)
    assert (case.state, case.rejection_reason, case.rejection_reasoning) == (
        CaseState.REJECTED,
        "unfounded_or_abusive",
        "Sans fondement.",
    )
    # Both parties receive the reasoned refusal.
    assert set(outbox("case_rejected").values_list("to_user", flat=True)) == {consumer.pk, agent.pk}


def test_d11_refusal_without_valid_reason_or_reasoning_is_refused(case, mediator):
    with pytest.raises(InvalidInput):
        case_reject(case=case, by=mediator, reason="dislike", reasoning="…")
    with pytest.raises(InvalidInput):
        case_reject(case=case, by=mediator, reason=RefusalReason.TIME_BARRED, reasoning="  ")
    assert fresh(case).state == CaseState.RECEIVED


def test_d11_database_refuses_a_refused_case_without_reason(case):
    with pytest.raises(IntegrityError), transaction.atomic():
        MediationCase.objects.filter(pk=case.pk).update(state=CaseState.REJECTED)


def test_d12_refusal_due_21_days_after_complete_file(case):
    assert case.admissibility_due_at == datetime(2026, 2, 10, 23, 59, 59, tzinfo=PARIS)
    assert Deadline.objects.get(kind=DeadlineKind.ADMISSIBILITY).due_at == case.admissibility_due_at


def test_d12_late_decision_is_recorded_as_breach(case, mediator):
    with travel(datetime(2026, 2, 11, 9, 0, tzinfo=PARIS)):
        case_reject(case=case, by=mediator, reason=RefusalReason.TIME_BARRED, reasoning="Hors délai.")
    assert Deadline.objects.get(kind=DeadlineKind.ADMISSIBILITY).status == DeadlineStatus.BREACHED
    assert (
        AuditEvent.objects.filter(stream=case.reference, kind="case.rejected").get().payload["on_time"]
        is False
    )


def test_d13_incomplete_file_stops_the_clock_until_complete(case, mediator):
    with travel(REFERRED + timedelta(days=5)):
        case_request_documents(case=case, by=mediator, text="Facture et bon de commande.")
    assert fresh(case).state == CaseState.AWAITING_DOCUMENTS
    assert Deadline.objects.get(kind=DeadlineKind.ADMISSIBILITY).status == DeadlineStatus.CANCELLED
    assert outbox("case_documents_requested").get().to_user == case.complaint.consumer
    with travel(datetime(2026, 3, 1, 15, 0, tzinfo=PARIS)):
        case_complete_file(case=case, by=mediator)
    case = fresh(case)
    assert case.state == CaseState.RECEIVED
    assert case.admissibility_due_at == datetime(2026, 3, 22, 23, 59, 59, tzinfo=PARIS)
    pending = Deadline.objects.get(kind=DeadlineKind.ADMISSIBILITY, status=DeadlineStatus.PENDING)
    assert pending.due_at == case.admissibility_due_at
    assert case.document_requests.get().fulfilled_at is not None


def test_d13_cannot_decide_while_documents_are_awaited(case, mediator):
    case_request_documents(case=case, by=mediator, text="Facture.")
    with pytest.raises(TransitionRefused):
        case_open(case=case, by=mediator)
    with pytest.raises(TransitionRefused):
        case_reject(case=case, by=mediator, reason=RefusalReason.TIME_BARRED, reasoning="x")


# --- Saisine and the 90 days (D15–D18) -----------------------------------------------------------


def test_d15_both_parties_receive_saisine_notice_with_right_to_withdraw(opened, consumer, agent):
    notices = outbox("case_saisine")
    assert set(notices.values_list("to_user", flat=True)) == {consumer.pk, agent.pk}
    for notice in notices:
        assert (
            notice.context["withdrawal_notice"]["en"]
            == "Either party may withdraw from the mediation at any time."
        )
    assert opened.state == CaseState.OPEN
    assert Deadline.objects.get(kind=DeadlineKind.ADMISSIBILITY).status == DeadlineStatus.MET


def test_d16_outcome_due_90_days_after_saisine(opened):
    assert opened.saisine_at == SAISINE
    assert opened.outcome_due_at == datetime(2026, 5, 1, 23, 59, 59, tzinfo=PARIS)
    assert Deadline.objects.get(kind=DeadlineKind.OUTCOME).due_at == opened.outcome_due_at


def test_d17_extension_needs_reason_later_date_and_notifies_both(opened, mediator, consumer, agent):
    with pytest.raises(InvalidInput):
        case_extend(case=opened, by=mediator, reason="", new_due_date=date(2026, 6, 1))
    with pytest.raises(InvalidInput):
        case_extend(case=opened, by=mediator, reason="Expertise", new_due_date=date(2026, 4, 1))
    extension = case_extend(
        case=opened, by=mediator, reason="Expertise technique", new_due_date=date(2026, 6, 15)
    )
    assert extension.previous_due_at == datetime(2026, 5, 1, 23, 59, 59, tzinfo=PARIS)
    assert fresh(opened).outcome_due_at == datetime(2026, 6, 15, 23, 59, 59, tzinfo=PARIS)
    assert Deadline.objects.get(kind=DeadlineKind.OUTCOME, status="pending").due_at == extension.new_due_at
    notices = outbox("case_extended")
    assert set(notices.values_list("to_user", flat=True)) == {consumer.pk, agent.pk}
    assert notices.first().context["reason"] == "Expertise technique"


def test_d18_past_due_without_extension_marks_overdue_and_records_breach(opened):
    with travel(datetime(2026, 5, 1, 23, 0, tzinfo=PARIS)), pytest.raises(TransitionRefused):
        case_mark_overdue(case=opened)
    with travel(datetime(2026, 5, 2, 0, 0, 5, tzinfo=PARIS)):
        case_mark_overdue(case=opened)
    case = fresh(opened)
    assert case.overdue_since is not None
    assert Deadline.objects.get(kind=DeadlineKind.OUTCOME).status == DeadlineStatus.BREACHED
    assert "case.overdue" in kinds(case)


def test_d18_extension_after_breach_keeps_the_breach_and_runs_a_new_deadline(opened, mediator):
    with travel(datetime(2026, 5, 3, tzinfo=PARIS)):
        case_mark_overdue(case=opened)
        case_extend(case=opened, by=mediator, reason="Complexe", new_due_date=date(2026, 6, 1))
    statuses = sorted(Deadline.objects.filter(kind=DeadlineKind.OUTCOME).values_list("status", flat=True))
    assert statuses == ["breached", "pending"]
    assert fresh(opened).overdue_since is None


# --- During the mediation (D19–D23) --------------------------------------------------------------


@pytest.mark.parametrize("party", ["consumer", "agent"])
def test_d19_either_party_withdraws_at_any_time(opened, party, request):
    user = request.getfixturevalue(party)
    case_withdraw(case=opened, by=user, reason="Accord trouvé hors médiation.")
    case = fresh(opened)
    assert case.state == CaseState.DISCONTINUED
    assert case.closed_by == user
    assert case.closed_by_side == ("consumer" if party == "consumer" else "merchant")
    assert case.closure_reason == "Accord trouvé hors médiation."
    assert not Deadline.objects.filter(status=DeadlineStatus.PENDING).exists()


def test_d19_withdrawal_possible_before_saisine_and_after_proposal(case, proposal, consumer):
    case_withdraw(case=proposal.case, by=consumer)
    assert fresh(proposal.case).state == CaseState.DISCONTINUED


def test_d19_strangers_cannot_withdraw(opened, other_consumer, other_agent):
    for stranger in (other_consumer, other_agent):
        with pytest.raises(Forbidden):
            case_withdraw(case=opened, by=stranger)
    assert fresh(opened).state == CaseState.OPEN


def test_d21_party_adds_a_representative_at_any_stage(case, consumer, mediator):
    representative = case_add_representative(
        case=case, by=consumer, name="Maître Durand", email="durand@avocats.test", capacity="lawyer"
    )
    assert representative.side == "consumer"
    # The representative receives the next notices to that party.
    case_open(case=case, by=mediator)
    assert outbox("case_saisine", to_address="durand@avocats.test").exists()


def test_d22_conflict_disclosure_is_recorded_and_sent_to_both(opened, mediator, consumer, agent):
    case_disclose_conflict(case=opened, by=mediator, text="J'ai travaillé pour ce marchand en 2019.")
    assert opened.disclosures.get().mediator == mediator
    assert set(outbox("case_conflict_disclosed").values_list("to_user", flat=True)) == {consumer.pk, agent.pk}


def test_d23_merchant_declines_case_closes_and_consumer_told_of_court(opened, agent, consumer):
    case_merchant_decline(case=opened, by=agent, reason="Nous ne participons pas.")
    case = fresh(opened)
    assert case.state == CaseState.MERCHANT_DECLINED
    assert outbox("case_merchant_declined", to_user=consumer).exists()
    assert not outbox("case_merchant_declined", to_user=agent).exists()
    assert not Deadline.objects.filter(status=DeadlineStatus.PENDING).exists()


def test_d23_consumer_cannot_decline_for_the_merchant(opened, consumer):
    with pytest.raises(Forbidden):
        case_merchant_decline(case=opened, by=consumer)


# --- Mediators: only the case's, only the body's -------------------------------------------------


def test_first_mediator_to_act_takes_the_case(case, mediator, second_mediator):
    case_request_documents(case=case, by=mediator, text="Facture.")
    assert fresh(case).mediator == mediator
    with pytest.raises(Forbidden):
        case_complete_file(case=case, by=second_mediator)


def test_mediator_of_another_body_cannot_act(case, foreign_mediator):
    with pytest.raises(Forbidden):
        case_open(case=case, by=foreign_mediator)
    with pytest.raises(Forbidden):
        case_assign(case=case, by=foreign_mediator, mediator=foreign_mediator)
    assert fresh(case).mediator is None


def test_case_can_be_handed_to_a_colleague_of_the_same_body_only(
    case, mediator, second_mediator, foreign_mediator
):
    case_assign(case=case, by=mediator, mediator=second_mediator)
    assert fresh(case).mediator == second_mediator
    with pytest.raises(InvalidInput):
        case_assign(case=case, by=second_mediator, mediator=foreign_mediator)


# --- The proposal and the outcome (D24–D29) ------------------------------------------------------


def test_d24_proposal_carries_the_three_statements_and_legal_effect(proposal):
    for language in ("fr", "en"):
        snapshot = proposal.statements[language]
        assert len(snapshot["statements"]) == 3
        assert snapshot["legal_effect"]
    english = " ".join(proposal.statements["en"]["statements"])
    assert "free to accept or to refuse" in english
    assert "does not prevent you from bringing the dispute before a court" in english
    assert "may differ from the decision a judge would make" in english


def test_d24_mediator_cannot_remove_the_statements(opened, mediator):
    """The service takes only the solution: there is no way to pass other statements or none."""
    with pytest.raises(TypeError):
        proposal_issue(case=opened, by=mediator, solution="Avoir.", statements={})
    proposal = proposal_issue(case=opened, by=mediator, solution="Avoir de 50 €.")
    stored = Proposal.objects.get(pk=proposal.pk).statements
    assert [len(stored[lang]["statements"]) for lang in ("fr", "en")] == [3, 3]


def test_d25_acceptance_deadline_defaults_to_15_days(proposal):
    assert proposal.acceptance_due_at == datetime(2026, 3, 7, 23, 59, 59, tzinfo=PARIS)
    deadlines = Deadline.objects.filter(kind=DeadlineKind.PROPOSAL_RESPONSE)
    assert deadlines.count() == 2
    assert {d.due_at for d in deadlines} == {proposal.acceptance_due_at}


def test_d25_mediator_sets_another_acceptance_deadline(opened, mediator):
    with travel(SAISINE):
        proposal = proposal_issue(case=opened, by=mediator, solution="Avoir.", acceptance_days=30)
    assert proposal.acceptance_due_at == datetime(2026, 3, 2, 23, 59, 59, tzinfo=PARIS)


def test_d25_late_acceptance_is_refused(proposal, consumer):
    with travel(datetime(2026, 3, 8, 0, 0, 1, tzinfo=PARIS)), pytest.raises(TransitionRefused) as refused:
        proposal_respond(proposal=proposal, by=consumer, accept=True)
    assert "réputée refusée" in str(refused.value)
    assert ProposalResponse.objects.get(side="consumer").decision == ResponseDecision.PENDING


def test_d25_silence_is_never_acceptance(proposal, consumer):
    with travel(datetime(2026, 3, 1, tzinfo=PARIS)):
        proposal_respond(proposal=proposal, by=consumer, accept=True)
    merchant_response = ProposalResponse.objects.get(side="merchant")
    with travel(datetime(2026, 3, 7, 23, 0, tzinfo=PARIS)), pytest.raises(TransitionRefused):
        proposal_deem_refused(response=merchant_response)
    with travel(datetime(2026, 3, 8, 0, 1, tzinfo=PARIS)):
        proposal_deem_refused(response=merchant_response)
    merchant_response.refresh_from_db()
    assert (merchant_response.decision, merchant_response.deemed) == (ResponseDecision.REFUSED, True)
    assert fresh(proposal.case).state == CaseState.NO_AGREEMENT


def test_d25_database_refuses_a_deemed_acceptance(proposal):
    with pytest.raises(IntegrityError), transaction.atomic():
        ProposalResponse.objects.filter(side="consumer").update(
            deemed=True, decision=ResponseDecision.ACCEPTED
        )


def test_d26_settled_only_when_both_accept(proposal, consumer, agent):
    with travel(ANSWERING):
        proposal_respond(proposal=proposal, by=consumer, accept=True)
        assert fresh(proposal.case).state == CaseState.PROPOSAL_ISSUED
        proposal_respond(proposal=proposal, by=agent, accept=True)
        case = fresh(proposal.case)
        assert case.state == CaseState.SETTLED
        assert case.outcome_grounds == proposal.solution
        assert Deadline.objects.get(kind=DeadlineKind.OUTCOME).status == DeadlineStatus.MET


def test_d26_one_refusal_closes_as_no_agreement(proposal, consumer, agent):
    with travel(ANSWERING):
        proposal_respond(proposal=proposal, by=agent, accept=False)
        case = fresh(proposal.case)
        assert case.state == CaseState.NO_AGREEMENT
        # The consumer's pending answer deadline is cancelled; nobody can answer any more.
        assert Deadline.objects.filter(kind=DeadlineKind.PROPOSAL_RESPONSE, status="cancelled").count() == 1
        with pytest.raises(TransitionRefused):
            proposal_respond(proposal=proposal, by=consumer, accept=True)


def test_d26_one_answer_per_party(proposal, consumer, owner):
    with travel(ANSWERING):
        proposal_respond(proposal=proposal, by=consumer, accept=True)
        with pytest.raises(TransitionRefused):
            proposal_respond(proposal=proposal, by=consumer, accept=False)
        with pytest.raises(IntegrityError), transaction.atomic():
            ProposalResponse.objects.create(proposal=proposal, side="consumer")


def test_d27_outcome_grounds_are_kept_in_writing(proposal, consumer, agent):
    with travel(ANSWERING):
        proposal_respond(proposal=proposal, by=consumer, accept=False)
        assert fresh(proposal.case).outcome_grounds == "Remboursement de 89,90 € sous 14 jours."


def test_d28_closure_notice_gives_dates_and_limitation_restart(proposal, consumer, agent):
    with travel(datetime(2026, 3, 5, 16, 0, tzinfo=PARIS)):
        proposal_respond(proposal=proposal, by=consumer, accept=True)
        proposal_respond(proposal=proposal, by=agent, accept=True)
    notices = outbox("case_closed")
    assert set(notices.values_list("to_user", flat=True)) == {consumer.pk, agent.pk}
    context = notices.first().context
    assert datetime.fromisoformat(context["saisine_at"]) == SAISINE
    assert datetime.fromisoformat(context["closed_at"]) == datetime(2026, 3, 5, 16, 0, tzinfo=PARIS)
    assert "six months" in context["limitation_notice"]["en"]


def test_d29_compliance_follow_up_30_days_after_settlement(proposal, consumer, agent):
    with travel(datetime(2026, 3, 5, 16, 0, tzinfo=PARIS)):
        proposal_respond(proposal=proposal, by=consumer, accept=True)
        proposal_respond(proposal=proposal, by=agent, accept=True)
    follow_up = Deadline.objects.get(kind=DeadlineKind.COMPLIANCE_FOLLOWUP)
    assert follow_up.due_at == datetime(2026, 4, 4, 23, 59, 59, tzinfo=PARIS)


def test_only_an_open_case_gets_a_proposal(case, mediator):
    with pytest.raises(TransitionRefused):
        proposal_issue(case=case, by=mediator, solution="Avoir.")
    assert not Proposal.objects.exists()


def test_full_mediation_leaves_an_unbroken_audit_trail(proposal, consumer, agent):
    with travel(ANSWERING):
        proposal_respond(proposal=proposal, by=consumer, accept=True)
        proposal_respond(proposal=proposal, by=agent, accept=True)
        assert kinds(proposal.case) == [
            "case.received",
            "consent.given",  # entering mediation (D31)
            "case.assigned",
            "case.opened",
            "proposal.issued",
            "proposal.accepted",
            "consent.given",  # each answer is a receipted consent (D31)
            "proposal.accepted",
            "consent.given",
            "case.settled",
        ]
        result = audit_verify()
        assert result.ok and result.streams == 2


def test_d38_case_emails_show_dates_in_the_bodys_time_zone(consumer, agent, mediator, body):
    """A body in French Guiana (UTC−3): the saisine notice shows its local due date, not Paris's."""
    from odr.notifications.emails import build_email

    body.time_zone = "America/Cayenne"
    body.save()
    cayenne = ZoneInfo("America/Cayenne")
    with travel(datetime(2026, 1, 10, 9, 0, tzinfo=cayenne)):
        case = referred_case(consumer, agent.memberships.get().merchant, agent)
    with travel(datetime(2026, 1, 31, 20, 30, tzinfo=cayenne)):  # already 1 February in Paris
        case_open(case=case, by=mediator)
    notice = outbox("case_saisine", to_user=consumer).get()
    assert notice.context["time_zone"] == "America/Cayenne"
    notice.language = "en"
    text = build_email(notice).body
    assert "May 1, 2026" in text  # 31 Jan + 90 days, 23:59:59 in Cayenne (2 May in Paris)
