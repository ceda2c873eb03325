"""Every transition of the mediation case, allowed or refused, from every state."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from mediation.models import CaseState, MediationCase, RefusalReason
from mediation.services import (
    case_complete_file,
    case_disclose_conflict,
    case_extend,
    case_merchant_decline,
    case_open,
    case_post_message,
    case_reject,
    case_request_documents,
    case_withdraw,
    proposal_issue,
    proposal_respond,
)
from odr.audit.models import AuditEvent
from odr.errors import TransitionRefused
from tests.helpers import proposal_for, referred_case, travel

NOW = datetime(2026, 2, 2, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))

ACTIVE = {CaseState.RECEIVED, CaseState.AWAITING_DOCUMENTS, CaseState.OPEN, CaseState.PROPOSAL_ISSUED}
ALLOWED = {
    "request_documents": {CaseState.RECEIVED},
    "complete_file": {CaseState.AWAITING_DOCUMENTS},
    "reject": {CaseState.RECEIVED},
    "open": {CaseState.RECEIVED},
    "issue_proposal": {CaseState.OPEN},
    "extend": {CaseState.OPEN, CaseState.PROPOSAL_ISSUED},
    "withdraw": ACTIVE,  # D19: at any time
    "merchant_decline": {CaseState.RECEIVED, CaseState.AWAITING_DOCUMENTS, CaseState.OPEN},
    "disclose": ACTIVE,
    "message": ACTIVE,
}


def bring_to(state, people):
    consumer, merchant, agent, mediator = people
    if state in (CaseState.OPEN, CaseState.PROPOSAL_ISSUED, CaseState.SETTLED, CaseState.NO_AGREEMENT):
        proposal = proposal_for(consumer, merchant, agent, mediator)
        case = proposal.case
        if state == CaseState.OPEN:
            # A fresh open case: a second complaint, so that the proposal above does not interfere.
            case = referred_case(consumer, merchant, agent)
            case_open(case=case, by=mediator)
        elif state == CaseState.SETTLED:
            proposal_respond(proposal=proposal, by=consumer, accept=True)
            proposal_respond(proposal=proposal, by=agent, accept=True)
        elif state == CaseState.NO_AGREEMENT:
            proposal_respond(proposal=proposal, by=consumer, accept=False)
        return MediationCase.objects.get(pk=case.pk)
    case = referred_case(consumer, merchant, agent)
    if state == CaseState.AWAITING_DOCUMENTS:
        case_request_documents(case=case, by=mediator, text="Facture.")
    elif state == CaseState.REJECTED:
        case_reject(case=case, by=mediator, reason=RefusalReason.UNFOUNDED_OR_ABUSIVE, reasoning="Non fondé.")
    elif state == CaseState.DISCONTINUED:
        case_withdraw(case=case, by=consumer)
    elif state == CaseState.MERCHANT_DECLINED:
        case_merchant_decline(case=case, by=agent)
    return MediationCase.objects.get(pk=case.pk)


def attempt(action, case, people):
    consumer, _merchant, agent, mediator = people
    {
        "request_documents": lambda: case_request_documents(case=case, by=mediator, text="Pièces."),
        "complete_file": lambda: case_complete_file(case=case, by=mediator),
        "reject": lambda: case_reject(
            case=case, by=mediator, reason=RefusalReason.TIME_BARRED, reasoning="Tardif."
        ),
        "open": lambda: case_open(case=case, by=mediator),
        "issue_proposal": lambda: proposal_issue(case=case, by=mediator, solution="Avoir."),
        "extend": lambda: case_extend(
            case=case, by=mediator, reason="Complexe", new_due_date=date(2026, 12, 31)
        ),
        "withdraw": lambda: case_withdraw(case=case, by=consumer),
        "merchant_decline": lambda: case_merchant_decline(case=case, by=agent),
        "disclose": lambda: case_disclose_conflict(case=case, by=mediator, text="Lien passé."),
        "message": lambda: case_post_message(case=case, by=consumer, body="Bonjour"),
    }[action]()


@pytest.mark.parametrize("state", list(CaseState))
@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_every_case_transition_allowed_or_refused(state, action, consumer, merchant, agent, mediator):
    people = (consumer, merchant, agent, mediator)
    with travel(NOW):
        case = bring_to(state, people)
        assert case.state == state
        events_before = AuditEvent.objects.filter(stream=case.reference).count()
        if state in ALLOWED[action]:
            attempt(action, case, people)
            assert AuditEvent.objects.filter(stream=case.reference).count() > events_before
        else:
            with pytest.raises(TransitionRefused):
                attempt(action, case, people)
            assert MediationCase.objects.get(pk=case.pk).state == state
            assert AuditEvent.objects.filter(stream=case.reference).count() == events_before
