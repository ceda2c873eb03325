"""The sweep fires each legal deadline's effect once, and reminds before duties fall due."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from complaints.models import ComplaintState
from mediation.models import CaseState, MediationCase, ProposalResponse
from mediation.services import case_record_compliance, proposal_respond
from odr.audit.models import AuditEvent
from odr.deadlines.models import Deadline, DeadlineEffect, DeadlineKind, DeadlineStatus
from odr.deadlines.sweep import sweep_deadlines
from odr.errors import Forbidden
from tests.helpers import file_complaint, open_case, outbox, proposal_for, referred_case, travel

PARIS = ZoneInfo("Europe/Paris")
FILED = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)  # merchant's answer due 1 April 23:59:59


@pytest.fixture
def complaint(consumer, merchant, agent):
    with travel(FILED):
        return file_complaint(consumer, merchant)


def sweep_at(moment):
    with travel(moment):
        return sweep_deadlines()


def test_d3_d4_sweep_lapses_the_response_period_once(complaint, consumer):
    assert sweep_at(datetime(2026, 4, 1, 23, 59, tzinfo=PARIS)).due == []
    report = sweep_at(datetime(2026, 4, 2, 0, 1, tzinfo=PARIS))
    assert report.due == [f"{complaint.reference} merchant_response"]
    complaint.refresh_from_db()
    assert complaint.response_lapsed_at is not None
    assert outbox("complaint_lapsed_d4", to_user=consumer).count() == 1
    assert Deadline.objects.get(kind=DeadlineKind.MERCHANT_RESPONSE).status == DeadlineStatus.BREACHED
    # Run again at the same moment and later: nothing more happens.
    assert sweep_at(datetime(2026, 4, 2, 0, 1, tzinfo=PARIS)).due == []
    assert sweep_at(datetime(2026, 4, 5, tzinfo=PARIS)).due == []
    assert outbox("complaint_lapsed_d4").count() == 1


def test_d3_merchant_reminded_7_and_2_days_before(complaint, agent):
    assert sweep_at(datetime(2026, 3, 24, 23, 59, tzinfo=PARIS)).reminders == []  # 8 days left
    assert len(sweep_at(datetime(2026, 3, 25, 0, 0, tzinfo=PARIS)).reminders) == 1  # 7 days left
    assert sweep_at(datetime(2026, 3, 26, tzinfo=PARIS)).reminders == []
    assert len(sweep_at(datetime(2026, 3, 30, 12, 0, tzinfo=PARIS)).reminders) == 1  # 2 days before
    reminders = outbox("complaint_response_reminder", to_user=agent)
    assert sorted(r.context["days_left"] for r in reminders) == [2, 7]


def test_d3_a_sweep_that_was_down_sends_only_the_closest_reminder(complaint):
    report = sweep_at(datetime(2026, 3, 31, 9, 0, tzinfo=PARIS))
    assert len(report.reminders) == 1
    assert report.skipped == 1  # the 7-day reminder, passed while the sweep was down: never sent late
    assert [r.context["days_left"] for r in outbox("complaint_response_reminder")] == [2]
    # Only what really fired is recorded; the schedule has moved past both reminders.
    assert set(DeadlineEffect.objects.values_list("effect", flat=True)) == {"remind:2:20260401"}
    assert Deadline.objects.get(kind=DeadlineKind.MERCHANT_RESPONSE).next_reminder_at is None
    assert sweep_at(datetime(2026, 4, 1, 9, 0, tzinfo=PARIS)).reminders == []
    assert outbox("complaint_response_reminder").count() == 1


def test_d3_no_reminder_once_answered(complaint, agent):
    from complaints.services import complaint_answer

    complaint_answer(complaint=complaint, by=agent, decision="accept", text="Oui.")
    assert sweep_at(datetime(2026, 3, 31, tzinfo=PARIS)).reminders == []


def test_d8_sweep_expires_the_complaint_when_the_year_is_over(complaint, agent):
    from complaints.services import complaint_answer

    with travel(FILED + timedelta(days=3)):
        complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
    sweep_at(datetime(2027, 3, 3, 0, 0, 1, tzinfo=PARIS))
    complaint.refresh_from_db()
    assert complaint.state == ComplaintState.EXPIRED


def test_d12_admissibility_reminder_then_breach(consumer, merchant, agent, mediator):
    with travel(datetime(2026, 1, 20, 11, 0, tzinfo=PARIS)):
        case = referred_case(consumer, merchant, agent)  # decision due 10 Feb 23:59:59
    sweep_at(datetime(2026, 2, 3, 9, 0, tzinfo=PARIS))
    assert outbox("case_admissibility_reminder", to_user=mediator).get().context["days_left"] == 7
    sweep_at(datetime(2026, 2, 11, 0, 5, tzinfo=PARIS))
    assert Deadline.objects.get(kind=DeadlineKind.ADMISSIBILITY).status == DeadlineStatus.BREACHED
    assert AuditEvent.objects.filter(stream=case.reference, kind="case.admissibility_overdue").count() == 1
    assert MediationCase.objects.get(pk=case.pk).state == CaseState.RECEIVED  # the decision is still owed


def test_d18_outcome_reminders_14_and_3_days_then_overdue(consumer, merchant, agent, mediator):
    with travel(datetime(2026, 1, 31, 10, 0, tzinfo=PARIS)):
        case = open_case(consumer, merchant, agent, mediator)  # outcome due 1 May 23:59:59
    assert sweep_at(datetime(2026, 4, 16, 23, 0, tzinfo=PARIS)).reminders == []  # 15 days left
    sweep_at(datetime(2026, 4, 17, 8, 0, tzinfo=PARIS))  # 14 days left: the first reminder
    sweep_at(datetime(2026, 4, 28, 8, 0, tzinfo=PARIS))  # 3 days left
    days = sorted(r.context["days_left"] for r in outbox("case_outcome_reminder", to_user=mediator))
    assert days == [3, 14]
    sweep_at(datetime(2026, 5, 2, 0, 0, 30, tzinfo=PARIS))
    case.refresh_from_db()
    assert case.overdue_since is not None
    assert Deadline.objects.get(kind=DeadlineKind.OUTCOME).status == DeadlineStatus.BREACHED


def test_d25_sweep_deems_the_silent_party_to_have_refused(consumer, merchant, agent, mediator):
    with travel(datetime(2026, 2, 20, 10, 0, tzinfo=PARIS)):
        proposal = proposal_for(consumer, merchant, agent, mediator)  # answers due 7 March
        proposal_respond(proposal=proposal, by=consumer, accept=True)
    sweep_at(datetime(2026, 3, 8, 0, 1, tzinfo=PARIS))
    merchant_answer = ProposalResponse.objects.get(side="merchant")
    assert (merchant_answer.decision, merchant_answer.deemed) == ("refused", True)
    assert MediationCase.objects.get(pk=proposal.case_id).state == CaseState.NO_AGREEMENT


def test_d29_consumer_asked_about_compliance_30_days_after_settlement(consumer, merchant, agent, mediator):
    with travel(datetime(2026, 2, 20, 10, 0, tzinfo=PARIS)):
        proposal = proposal_for(consumer, merchant, agent, mediator)
        proposal_respond(proposal=proposal, by=consumer, accept=True)
        proposal_respond(proposal=proposal, by=agent, accept=True)  # settled 20 Feb: follow-up 22 March
    assert sweep_at(datetime(2026, 3, 22, 23, 0, tzinfo=PARIS)).due == []
    sweep_at(datetime(2026, 3, 23, 0, 1, tzinfo=PARIS))
    assert outbox("compliance_followup", to_user=consumer).count() == 1
    assert not outbox("compliance_followup", to_user=agent).exists()
    case = MediationCase.objects.get(pk=proposal.case_id)
    with pytest.raises(Forbidden):
        case_record_compliance(case=case, by=agent, complied=True)
    case_record_compliance(case=case, by=consumer, complied=False)
    assert MediationCase.objects.get(pk=case.pk).merchant_complied is False


def test_sweep_command_run_twice_at_the_same_moment_produces_each_effect_once(complaint, capsys):
    with travel(datetime(2026, 4, 2, 9, 0, tzinfo=PARIS)):
        call_command("sweep_deadlines")
        first = capsys.readouterr().out
        call_command("sweep_deadlines")
        second = capsys.readouterr().out
    assert f"due: {complaint.reference} merchant_response" in first
    assert "1 deadline(s) fired" in first
    assert "0 deadline(s) fired, 0 reminder(s) sent" in second
    assert outbox("complaint_lapsed_d4").count() == 1


def test_an_effect_recorded_twice_rolls_back_the_second(complaint):
    from odr.deadlines.sweep import _fire

    deadline = Deadline.objects.get(kind=DeadlineKind.MERCHANT_RESPONSE)
    calls = []
    assert _fire(deadline, "due", lambda: calls.append(1)) is True
    assert _fire(deadline, "due", lambda: calls.append(2)) is False
    assert calls == [1]  # the effect row is written first: a duplicate fails before acting
    assert DeadlineEffect.objects.filter(deadline=deadline).count() == 1


def test_one_failing_case_does_not_stop_the_sweep(complaint, consumer, merchant, monkeypatch):
    with travel(FILED):
        other = file_complaint(consumer, merchant)
    from complaints import services

    original = services.complaint_response_lapsed

    def broken(*, complaint):
        if complaint.pk == other.pk:
            raise RuntimeError("simulated failure")
        return original(complaint=complaint)

    monkeypatch.setattr(services, "complaint_response_lapsed", broken)
    report = sweep_at(datetime(2026, 4, 2, 9, 0, tzinfo=PARIS))
    assert report.due == [f"{complaint.reference} merchant_response"]
    assert len(report.failed) == 1 and "simulated failure" in report.failed[0]
    # The failed one stays pending, with no effect recorded, for the next sweep.
    assert Deadline.objects.get(object_id=other.pk, kind=DeadlineKind.MERCHANT_RESPONSE).status == "pending"
    assert not DeadlineEffect.objects.filter(deadline__object_id=other.pk).exists()


def test_d17_d18_an_extension_starts_the_reminders_again(consumer, merchant, agent, mediator):
    from datetime import date

    from mediation.services import case_extend

    with travel(datetime(2026, 1, 31, 10, 0, tzinfo=PARIS)):
        case = open_case(consumer, merchant, agent, mediator)  # outcome due 1 May
    sweep_at(datetime(2026, 4, 17, 8, 0, tzinfo=PARIS))
    sweep_at(datetime(2026, 4, 28, 8, 0, tzinfo=PARIS))
    with travel(datetime(2026, 4, 30, 9, 0, tzinfo=PARIS)):
        case_extend(case=case, by=mediator, reason="Expertise", new_due_date=date(2026, 6, 30))
    sweep_at(datetime(2026, 6, 16, 8, 0, tzinfo=PARIS))  # 14 days before the new date
    sweep_at(datetime(2026, 6, 27, 8, 0, tzinfo=PARIS))  # 3 days before
    reminders = outbox("case_outcome_reminder", to_user=mediator)
    assert sorted(r.context["days_left"] for r in reminders) == [3, 3, 14, 14]
    assert {r.context["outcome_due_at"][:10] for r in reminders} == {"2026-05-01", "2026-06-30"}
