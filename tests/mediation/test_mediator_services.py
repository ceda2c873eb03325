"""The mediator's two new use cases (issue 6): closing an open mediation without agreement, and
recording an amicable agreement as a proposal both parties confirm (D24–D28)."""

import shutil
import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import translation

from mediation.models import AGREEMENT_NOTE, CaseState, MediationCase, RefusalReason
from mediation.services import (
    AGREEMENT_CONFIRMED_GROUNDS,
    case_close_without_agreement,
    case_merchant_decline,
    case_open,
    case_refer,
    case_reject,
    case_request_documents,
    case_withdraw,
    proposal_issue,
    proposal_respond,
)
from mediation.statements import statements_snapshot
from odr.audit.models import AuditEvent
from odr.audit.services import audit_verify
from odr.deadlines.models import Deadline, DeadlineKind, DeadlineStatus
from odr.documents.models import DocumentKind
from odr.documents.services import document_render, document_request
from odr.errors import Forbidden, InvalidInput, TransitionRefused
from odr.notifications.models import OutboxMessage
from tests.helpers import outbox, rejected_complaint, travel

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=PARIS)
REFERRED = datetime(2026, 1, 20, 11, 0, tzinfo=PARIS)
SAISINE = datetime(2026, 1, 31, 10, 0, tzinfo=PARIS)
LATER = datetime(2026, 3, 2, 15, 0, tzinfo=PARIS)  # inside the 90 days (outcome due 1 May 2026)
GROUNDS = "Les parties maintiennent leurs positions : aucune solution n'a pu être trouvée."
TERMS = "Le marchand rembourse 60 € sous 10 jours ; le consommateur renonce au surplus."


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


def fresh(case):
    return MediationCase.objects.get(pk=case.pk)


def snapshot():
    return {
        "state": list(MediationCase.objects.values_list("pk", "state", "outcome_grounds", "closed_at")),
        "events": AuditEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "deadlines": list(Deadline.objects.order_by("pk").values_list("pk", "status")),
    }


# --- Close without agreement --------------------------------------------------------------------------


def test_d28_closing_without_agreement_sends_the_closure_notice_to_both_parties(
    opened, mediator, consumer, agent
):
    with travel(LATER):
        case = case_close_without_agreement(case=opened, by=mediator, grounds=GROUNDS)

    case = fresh(case)
    assert case.state == CaseState.NO_AGREEMENT
    assert case.outcome_grounds == GROUNDS
    assert case.closed_at == LATER and case.closed_by == mediator and case.closed_by_side == "mediator"
    event = AuditEvent.objects.filter(stream=case.reference).last()
    assert (event.kind, event.actor, event.actor_role) == ("case.no_agreement", mediator, "mediator")
    assert audit_verify(stream=case.reference).ok
    notices = outbox("case_closed")
    assert set(notices.values_list("to_user", flat=True)) == {consumer.pk, agent.pk}
    context = notices.first().context
    assert context["state"] == CaseState.NO_AGREEMENT
    assert context["grounds"] == GROUNDS
    assert datetime.fromisoformat(context["saisine_at"]) == SAISINE
    assert datetime.fromisoformat(context["closed_at"]) == LATER
    assert "six months" in context["limitation_notice"]["en"]  # D28 (C. civ. 2238)


def test_d16_closing_on_time_meets_the_outcome_deadline_and_stops_every_clock(opened, mediator):
    with travel(LATER):
        case_close_without_agreement(case=opened, by=mediator, grounds=GROUNDS)
    outcome = Deadline.objects.get(case_reference=opened.reference, kind=DeadlineKind.OUTCOME)
    assert outcome.status == DeadlineStatus.MET
    assert not Deadline.objects.filter(
        case_reference=opened.reference, status=DeadlineStatus.PENDING
    ).exists()


def test_d18_closing_after_the_outcome_date_keeps_the_breach(opened, mediator):
    with travel(datetime(2026, 5, 2, 9, 0, tzinfo=PARIS)):  # due 1 May 2026, 23:59:59; no sweep ran
        case_close_without_agreement(case=opened, by=mediator, grounds=GROUNDS)
    outcome = Deadline.objects.get(case_reference=opened.reference, kind=DeadlineKind.OUTCOME)
    assert outcome.status == DeadlineStatus.BREACHED


def test_closing_without_agreement_needs_written_grounds(opened, mediator):
    before = snapshot()
    with travel(LATER), pytest.raises(InvalidInput) as refused:
        case_close_without_agreement(case=opened, by=mediator, grounds="   ")
    with translation.override("en"):
        assert "grounds" in str(refused.value.message)
    assert snapshot() == before


def _bring_to(state, case, mediator, consumer, agent):
    with travel(SAISINE):
        if state == CaseState.AWAITING_DOCUMENTS:
            case_request_documents(case=case, by=mediator, text="La facture.")
        elif state == CaseState.REJECTED:
            case_reject(case=case, by=mediator, reason=RefusalReason.UNFOUNDED_OR_ABUSIVE, reasoning="Non.")
        elif state == CaseState.DISCONTINUED:
            case_withdraw(case=case, by=consumer)
        elif state == CaseState.MERCHANT_DECLINED:
            case_merchant_decline(case=case, by=agent)
        elif state != CaseState.RECEIVED:
            case_open(case=case, by=mediator)
    if state in (CaseState.PROPOSAL_ISSUED, CaseState.SETTLED, CaseState.NO_AGREEMENT):
        with travel(SAISINE + timedelta(days=5)):
            proposal = proposal_issue(case=case, by=mediator, solution="Avoir de 30 €.")
            if state == CaseState.SETTLED:
                proposal_respond(proposal=proposal, by=consumer, accept=True)
                proposal_respond(proposal=proposal, by=agent, accept=True)
            elif state == CaseState.NO_AGREEMENT:
                proposal_respond(proposal=proposal, by=consumer, accept=False)
    case = fresh(case)
    assert case.state == state
    return case


@pytest.mark.parametrize("state", sorted(set(CaseState.values) - {CaseState.OPEN}))
def test_closing_without_agreement_is_refused_outside_an_open_mediation(
    case, mediator, consumer, agent, state
):
    """Before the saisine there is no mediation to close (reject it instead); once a proposal is
    issued, the parties' answers decide the outcome (D26); a closed case stays closed."""
    case = _bring_to(state, case, mediator, consumer, agent)
    before = snapshot()
    with travel(LATER), pytest.raises(TransitionRefused) as refused:
        case_close_without_agreement(case=case, by=mediator, grounds=GROUNDS)
    with translation.override("en"):
        assert "Only an open mediation with no proposal issued" in str(refused.value.message)
    assert snapshot() == before


def test_only_the_cases_mediator_closes_it(opened, second_mediator, foreign_mediator, consumer, agent):
    before = snapshot()
    for person in (second_mediator, foreign_mediator, consumer, agent):
        with travel(LATER), pytest.raises(Forbidden):
            case_close_without_agreement(case=opened, by=person, grounds=GROUNDS)
    assert snapshot() == before


# --- Record an amicable agreement ---------------------------------------------------------------------


def test_d24_a_recorded_agreement_carries_the_mandatory_statements_and_a_note(opened, mediator):
    with travel(LATER):
        proposal = proposal_issue(case=opened, by=mediator, solution=TERMS, agreement=True)
    assert proposal.records_agreement
    assert fresh(opened).state == CaseState.PROPOSAL_ISSUED
    regular = statements_snapshot()
    for code, stored in proposal.statements.items():
        assert stored["statements"] == regular[code]["statements"]  # D24: all three, unchanged
        assert stored["legal_effect"] == regular[code]["legal_effect"]
        assert stored[AGREEMENT_NOTE]
    assert "agreed on during the mediation" in proposal.statements["en"][AGREEMENT_NOTE]
    issued = AuditEvent.objects.filter(stream=opened.reference, kind="proposal.issued").get()
    assert issued.payload["agreement"] is True
    notices = outbox("proposal_issued")
    assert notices.count() == 2 and all(n.context["agreement"] for n in notices)
    assert notices.first().context["statements"] == proposal.statements


def test_d24_a_regular_proposal_has_no_agreement_note(opened, mediator):
    with travel(LATER):
        proposal = proposal_issue(case=opened, by=mediator, solution="Avoir de 30 €.")
    assert not proposal.records_agreement
    assert proposal.statements == statements_snapshot()
    assert "agreement" not in AuditEvent.objects.get(stream=opened.reference, kind="proposal.issued").payload


def test_d26_a_recorded_agreement_settles_only_when_both_parties_confirm_it(
    opened, mediator, consumer, agent
):
    mediator.preferred_language = "en"
    mediator.save()
    with travel(LATER):
        proposal = proposal_issue(case=opened, by=mediator, solution=TERMS, agreement=True)
        proposal_respond(proposal=proposal, by=consumer, accept=True)
        assert fresh(opened).state == CaseState.PROPOSAL_ISSUED  # one answer is not an agreement
        proposal_respond(proposal=proposal, by=agent, accept=True)
    case = fresh(opened)
    assert case.state == CaseState.SETTLED
    assert case.outcome_grounds.startswith("The parties reached an agreement during the mediation")
    assert case.outcome_grounds.endswith(TERMS)
    assert outbox("case_closed").first().context["grounds"] == case.outcome_grounds
    assert Deadline.objects.filter(kind=DeadlineKind.COMPLIANCE_FOLLOWUP, status="pending").exists()  # D29


def test_d26_a_recorded_agreement_one_party_refuses_is_no_agreement(opened, mediator, consumer, agent):
    mediator.preferred_language = "en"
    mediator.save()
    with travel(LATER):
        proposal = proposal_issue(case=opened, by=mediator, solution=TERMS, agreement=True)
        proposal_respond(proposal=proposal, by=agent, accept=False)
    case = fresh(opened)
    assert case.state == CaseState.NO_AGREEMENT
    assert case.outcome_grounds.startswith("The terms the mediator recorded as the parties' agreement")
    assert TERMS in case.outcome_grounds


def test_recorded_agreement_grounds_are_in_the_mediators_language(opened, mediator, consumer, agent):
    """The terms are written by the mediator: the platform's words around them use the same language,
    whoever's answer (and whichever page language) closes the case."""
    mediator.preferred_language = "fr"
    mediator.save()
    with translation.override("fr"):
        expected = f"{AGREEMENT_CONFIRMED_GROUNDS}\n\n{TERMS}"
    with travel(LATER):
        proposal = proposal_issue(case=opened, by=mediator, solution=TERMS, agreement=True)
        proposal_respond(proposal=proposal, by=consumer, accept=True)
        with translation.override("en"):
            proposal_respond(proposal=proposal, by=agent, accept=True)
    assert fresh(opened).outcome_grounds == expected


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils (pdftotext)")
def test_d27_the_record_of_a_mediation_closed_without_agreement_gives_its_grounds(
    opened, mediator, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "keys"
    with travel(LATER):
        case_close_without_agreement(case=opened, by=mediator, grounds=GROUNDS)
        with transaction.atomic():
            document = document_request(
                kind=DocumentKind.MEDIATION_RECORD,
                subject_reference=opened.reference,
                language="en",
                parameters={"audience": "full"},
            )
        document = document_render(document.pk)
    out = subprocess.run(["pdftotext", "-layout", document.file.path, "-"], check=True, capture_output=True)
    text = " ".join(out.stdout.decode().split())
    assert "Closed without agreement" in text
    assert "aucune solution n'a pu être trouvée" in text
    assert "six months" in text  # D28


def test_d24_the_parties_read_that_the_proposal_records_their_agreement(opened, mediator, consumer, client):
    """The note reaches the parties wherever they read the proposal: e-mail and case page."""
    from django.urls import reverse

    from odr.notifications.emails import build_email

    with travel(LATER):
        proposal = proposal_issue(case=opened, by=mediator, solution=TERMS, agreement=True)
    note = proposal.statements["en"][AGREEMENT_NOTE]
    message = outbox("proposal_issued").get(to_user=consumer)
    message.language = "en"
    email = build_email(message)
    assert note in email.body and note in email.alternatives[0][0]
    client.force_login(consumer)
    page = client.get(reverse("parties:case", args=[opened.reference]), HTTP_ACCEPT_LANGUAGE="en")
    assert note.replace("'", "&#x27;") in page.content.decode()
