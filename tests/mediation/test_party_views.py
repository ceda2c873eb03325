"""The parties' side of a mediation through its views (issue 6, item 3): the case page both parties
share, and each action on it, end to end: state, audit event, consent receipts and outbox rows
(D15–D16, D19–D21, D23, D25–D26, D29, D30, D33).

Pages are requested in English; every HTML page is checked for a strict Content-Security-Policy and
for inline script or style by the `Portal` client of the complaint portal's tests.
"""

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, get_resolver, reverse
from django.utils import formats
from django.utils.html import escape
from django.utils.timezone import localtime

from complaints.evidence import evidence_add
from complaints.models import Evidence, PartySide
from complaints.services import complaint_answer
from mediation.case_documents import case_document_add, case_document_comment
from mediation.models import (
    Audience,
    CaseMessage,
    CaseState,
    MediationCase,
    ProposalResponse,
    Representative,
    ResponseDecision,
)
from mediation.services import (
    case_compliance_followup,
    case_extend,
    case_open,
    case_post_message,
    case_refer,
    case_reject,
    proposal_issue,
    proposal_respond,
)
from odr.audit.models import AuditEvent
from odr.consent.models import ConsentPurpose, ConsentReceipt, ConsentRecord, ConsentState
from odr.notifications.models import OutboxMessage
from tests.complaints.test_portal import download, flashes, portal_for
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import file_complaint, open_case, outbox, pdf_bytes, pdf_upload, travel

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)
NOW = START + timedelta(days=3)
SOLUTION = "Remboursement de 34,90 € sous 14 jours, contre retour du livre abîmé."


@pytest.fixture(autouse=True)
def _files_and_clock(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"
    with travel(NOW):
        yield


@pytest.fixture
def case(consumer, merchant, agent, owner, mediator):
    with travel(START):
        return open_case(consumer, merchant, agent, mediator)


@pytest.fixture
def proposal(case, mediator):
    with travel(START + timedelta(days=1)):
        return proposal_issue(case=case, by=mediator, solution=SOLUTION)


@pytest.fixture
def consumer_portal(consumer):
    return portal_for(consumer)


@pytest.fixture
def agent_portal(agent):
    return portal_for(agent)


def page_url(case):
    return reverse("parties:case", args=[case.reference])


def url(name, case, *args):
    return reverse(f"parties:{name}", args=[case.reference, *args])


def fresh(obj):
    return obj.__class__.objects.get(pk=obj.pk)


def events(case, kind):
    return AuditEvent.objects.filter(stream=case.reference, kind=kind)


def html(portal, case) -> str:
    response = portal.get(page_url(case))
    assert response.status_code == 200
    return response.content.decode()


def media_files(settings) -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def snapshot() -> dict:
    """Everything an action could change: a refused action leaves all of it as it was."""
    return {
        "cases": list(
            MediationCase.objects.order_by("pk").values_list(
                "pk", "state", "closure_reason", "merchant_complied", "closed_at"
            )
        ),
        "responses": list(ProposalResponse.objects.order_by("pk").values_list("pk", "decision")),
        "messages": CaseMessage.objects.count(),
        "representatives": Representative.objects.count(),
        "evidence": list(Evidence.objects.order_by("pk").values_list("pk", "file")),
        "consents": list(ConsentRecord.objects.order_by("pk").values_list("pk", "state")),
        "receipts": ConsentReceipt.objects.count(),
        "audit": AuditEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
    }


# --- The page ---------------------------------------------------------------------------------


def test_d15_d16_the_case_page_shows_the_saisine_notice_dates_and_mediator(
    consumer_portal, agent_portal, case, mediator, body, merchant, consumer
):
    due = localtime(case.outcome_due_at, PARIS)
    assert due.date().isoformat() == "2026-05-31"  # D16: saisine on 2 March + 90 days, a date
    for portal, other in ((consumer_portal, merchant.legal_name), (agent_portal, consumer.display_name)):
        page = html(portal, case)
        assert case.reference in page
        assert "Mediation open" in page
        assert "Either party may withdraw from the mediation at any time." in page  # D15
        assert escape(mediator.display_name) in page and escape(body.name) in page
        assert escape(other) in page
        shown = formats.date_format(due, "DATE_FORMAT")
        assert f'<time datetime="{due.isoformat()}">{shown}</time>' in page
        assert f'href="{reverse("mediation:case_documents", args=[case.reference])}"' in page
        assert f'href="{reverse("complaints:detail", args=[case.complaint.reference])}"' in page


def test_d17_extensions_are_shown_with_their_reasons(consumer_portal, case, mediator):
    with travel(START + timedelta(days=20)):
        case_extend(
            case=case,
            by=mediator,
            reason="Expertise du livre par un relieur nécessaire.",
            new_due_date=datetime(2026, 6, 30).date(),
        )
    page = html(consumer_portal, case)
    assert "Expertise du livre par un relieur nécessaire." in page
    assert "June 30, 2026" in page


def test_the_complaint_page_links_to_the_case_page(consumer_portal, agent_portal, case):
    detail = reverse("complaints:detail", args=[case.complaint.reference])
    for portal in (consumer_portal, agent_portal):
        assert f'href="{page_url(case)}"' in portal.get(detail).content.decode()


def test_d11_a_refused_referral_shows_its_reason_and_reasoning(consumer, merchant, agent, mediator):
    with travel(START):
        complaint = file_complaint(consumer, merchant)
        complaint = complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
        case = case_refer(complaint=complaint, by=consumer, other_proceedings=True, acting_as_consumer=True)
        case_reject(
            case=case,
            by=mediator,
            reason="already_examined",
            reasoning="Le tribunal judiciaire de Lyon est saisi du même litige.",
        )
    page = html(portal_for(consumer), case)
    assert "Le tribunal judiciaire de Lyon est saisi du même litige." in page
    assert escape(str(fresh(case).get_rejection_reason_display())) in page
    assert url("withdraw", case) not in page  # closed: nothing left to do
    assert url("message_post", case) not in page


def test_d30_only_the_parties_reach_the_case_page(
    case, consumer, agent, owner, mediator, compliance_officer, other_consumer, other_agent, foreign_mediator
):
    for party in (consumer, agent, owner):
        assert portal_for(party).get(page_url(case)).status_code == 200
    # The mediator and compliance officers have their own pages; everyone else gets the same 404 as
    # for a case that does not exist.
    for outsider in (mediator, compliance_officer, other_consumer, other_agent, foreign_mediator):
        client = portal_for(outsider)
        assert client.get(page_url(case)).status_code == 404
        assert client.get(reverse("parties:case", args=["M-2026-999999"])).status_code == 404
    anonymous = Client().get(page_url(case))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("account_login"))


# --- D30 for every URL of the namespace, from the resolver -----------------------------------------

# Per URL: which object of the case each object parameter is, and what an outsider POSTs (valid
# input, so that a missing check would change something).
TABLE = {
    "parties:case": {},
    "parties:proposal_answer": {"pk": "proposal", "post": {"decision": "accept"}},
    "parties:withdraw": {"post": {"reason": "Je me retire."}},
    "parties:decline": {"post": {"reason": "Nous refusons la médiation."}},
    "parties:representative_add": {
        "post": {"name": "Maître Intrus", "email": "intrus@example.test", "capacity": "lawyer"}
    },
    "parties:message_post": {"post": {"body": "Bonjour, c'est moi.", "to": "everyone"}},
    "parties:file_add": {"post": lambda: {"file": pdf_upload("intrus.pdf", "Intrus")}},
    "parties:file_download": {"pk": "evidence"},
    "parties:file_comment": {"pk": "evidence", "post": {"body": "Ce document est faux."}},
    "parties:consent_withdraw": {},
    "parties:receipt_download": {},
    "parties:compliance_answer": {"post": {"complied": "no"}},
}


def party_patterns() -> dict[str, URLPattern]:
    _prefix, included = get_resolver().namespace_dict["parties"]
    return {f"parties:{entry.name}": entry for entry in included.url_patterns}


@pytest.fixture
def party_objects(proposal, consumer):
    case = proposal.case
    evidence = case_document_add(
        case=case, by=consumer, file=ContentFile(pdf_bytes("Photo du livre"), name="photo.pdf")
    )
    record = ConsentRecord.objects.get(case_reference=case.reference, purpose=ConsentPurpose.ENTER_MEDIATION)
    return {
        "reference": case.reference,
        "proposal": proposal,
        "evidence": evidence,
        "uid": record.uid,
        "receipt_id": record.receipts.get().receipt_id,
    }


def kwargs_for(name: str, objects: dict) -> dict:
    kwargs = {}
    for parameter in party_patterns()[name].pattern.converters:
        kwargs[parameter] = objects[TABLE[name]["pk"]].pk if parameter == "pk" else objects[parameter]
    return kwargs


def post_data(name: str) -> dict:
    data = TABLE[name].get("post", {})
    return data() if callable(data) else dict(data)


def test_d30_every_parties_url_is_in_the_table():
    assert set(party_patterns()) == set(TABLE)


@pytest.mark.parametrize(
    "who", ["mediator", "compliance_officer", "other_consumer", "other_agent", "foreign_mediator"]
)
def test_d30_outsiders_get_404_on_every_parties_url_and_change_nothing(party_objects, who, request):
    client = Client()
    client.force_login(request.getfixturevalue(who))
    before = snapshot()
    problems = []
    for name in sorted(TABLE):
        target = reverse(name, kwargs=kwargs_for(name, party_objects))
        statuses = (client.get(target).status_code, client.post(target, post_data(name)).status_code)
        if not (set(statuses) <= {404, 405} and 404 in statuses):
            problems.append(f"{name}: GET {statuses[0]}, POST {statuses[1]}")
    assert problems == []
    assert snapshot() == before


def test_d30_anonymous_visitors_are_sent_to_log_in_from_every_parties_url(party_objects):
    client = Client()
    before = snapshot()
    login = reverse("account_login")
    for name in sorted(TABLE):
        target = reverse(name, kwargs=kwargs_for(name, party_objects))
        for response in (client.get(target), client.post(target, post_data(name))):
            assert response.status_code == 302 and response["Location"].startswith(f"{login}?next="), name
    assert snapshot() == before


def test_d30_a_file_or_proposal_of_another_case_is_a_404(party_objects, consumer, merchant, agent, mediator):
    with travel(START):
        own = open_case(consumer, merchant, agent, mediator)
    portal = portal_for(consumer)
    before = snapshot()
    evidence, proposal = party_objects["evidence"], party_objects["proposal"]
    assert portal.get(url("file_download", own, evidence.pk)).status_code == 404
    assert portal.post(url("file_comment", own, evidence.pk), {"body": "…"}).status_code == 404
    assert portal.post(url("proposal_answer", own, proposal.pk), {"decision": "accept"}).status_code == 404
    assert snapshot() == before


# --- The proposal: answers are consents with receipts (D24–D26, D31) ----------------------------------


def test_d24_the_proposal_is_shown_with_its_statements_and_the_answer_form(consumer_portal, proposal):
    page = html(consumer_portal, proposal.case)
    assert escape(SOLUTION) in page
    for statement in proposal.statements["en"]["statements"]:
        assert escape(statement) in page
    assert escape(proposal.statements["en"]["legal_effect"]) in page
    assert f'action="{url("proposal_answer", proposal.case, proposal.pk)}"' in page
    assert "I accept the proposed solution." in page and "I refuse the proposed solution." in page
    due = localtime(proposal.acceptance_due_at, PARIS)
    assert f'<time datetime="{due.isoformat()}">' in page


def test_d26_both_accept_and_the_mediation_is_settled(
    consumer_portal, agent_portal, proposal, consumer, agent, owner, mediator
):
    case = proposal.case
    answer = url("proposal_answer", case, proposal.pk)

    first = consumer_portal.post(answer, {"decision": "accept"})

    assert first.url == page_url(case) + "#proposal"
    assert any("You accepted the proposal" in m for m in flashes(first))
    assert fresh(case).state == CaseState.PROPOSAL_ISSUED  # waiting for the merchant
    mine = ProposalResponse.objects.get(proposal=proposal, side=PartySide.CONSUMER)
    assert (mine.decision, mine.responded_by) == (ResponseDecision.ACCEPTED, consumer)
    assert events(case, "proposal.accepted").get().actor == consumer
    # D31: the answer is a consent, its notice the proposal as shown (in English), with a receipt.
    record = ConsentRecord.objects.get(person=consumer, purpose=ConsentPurpose.PROPOSAL_RESPONSE)
    assert record.case_reference == case.reference
    assert SOLUTION in record.notice_text and "free to accept or to refuse" in record.notice_text
    assert record.notice_text.endswith("I accept the proposed solution.")
    receipt = ConsentReceipt.objects.get(record=record, event_type=ConsentState.GIVEN)
    assert outbox("consent_receipt", to_user=consumer, context__receipt_id=str(receipt.receipt_id)).exists()
    assert outbox("proposal_answered", to_user=mediator).count() == 1
    # The consumer's form is gone; the merchant still has its own.
    page = html(consumer_portal, case)
    assert f'action="{answer}"' not in page
    assert f'action="{answer}"' in html(agent_portal, case)

    agent_portal.post(answer, {"decision": "accept"})

    case = fresh(case)
    assert case.state == CaseState.SETTLED
    assert case.outcome_grounds == SOLUTION
    assert events(case, "case.settled").exists()
    agent_record = ConsentRecord.objects.get(person=agent, purpose=ConsentPurpose.PROPOSAL_RESPONSE)
    assert ConsentReceipt.objects.filter(record=agent_record, event_type=ConsentState.GIVEN).count() == 1
    closed = outbox("case_closed", case_reference=case.reference)
    assert {m.to_user for m in closed} == {consumer, agent, owner}
    page = html(consumer_portal, case)
    assert "Both parties accepted the proposal" in page and escape(SOLUTION) in page
    assert "runs again from the closure date for at least six months" in page  # D28


def test_d26_a_refusal_closes_the_mediation_without_agreement(
    consumer_portal, agent_portal, proposal, consumer, agent
):
    case = proposal.case
    consumer_portal.post(url("proposal_answer", case, proposal.pk), {"decision": "accept"})
    agent_portal.post(url("proposal_answer", case, proposal.pk), {"decision": "refuse"})

    case = fresh(case)
    assert case.state == CaseState.NO_AGREEMENT
    assert ProposalResponse.objects.get(proposal=proposal, side=PartySide.MERCHANT).decision == "refused"
    assert events(case, "proposal.refused").get().actor == agent
    assert events(case, "case.no_agreement").exists()
    record = ConsentRecord.objects.get(person=agent, purpose=ConsentPurpose.PROPOSAL_RESPONSE)
    assert record.notice_text.endswith("I refuse the proposed solution.")
    assert ConsentReceipt.objects.filter(record=record).count() == 1
    assert outbox("case_closed", to_user=consumer, case_reference=case.reference).count() == 1
    assert "The mediation ended without an agreement." in html(consumer_portal, case)


def test_d25_a_late_answer_is_refused_and_changes_nothing(consumer_portal, proposal):
    case = proposal.case
    with travel(proposal.acceptance_due_at + timedelta(minutes=1)):  # before the sweep runs
        page = html(consumer_portal, case)
        assert f'action="{url("proposal_answer", case, proposal.pk)}"' not in page
        before = snapshot()
        response = consumer_portal.post(url("proposal_answer", case, proposal.pk), {"decision": "accept"})
    assert "The deadline to answer this proposal has passed: it is deemed refused." in flashes(response)
    assert snapshot() == before
    assert ProposalResponse.objects.get(proposal=proposal, side="consumer").decision == "pending"


def test_an_answer_without_a_decision_or_given_twice_changes_nothing(consumer_portal, proposal):
    case = proposal.case
    before = snapshot()
    response = consumer_portal.post(url("proposal_answer", case, proposal.pk), {"decision": "maybe"})
    assert "Choose whether you accept or refuse the proposal." in flashes(response)
    assert snapshot() == before

    consumer_portal.post(url("proposal_answer", case, proposal.pk), {"decision": "refuse"})
    after_first = snapshot()
    again = consumer_portal.post(url("proposal_answer", case, proposal.pk), {"decision": "accept"})
    assert "This proposal can no longer be answered." in flashes(again) or any(
        "already answered" in m for m in flashes(again)
    )
    assert snapshot() == after_first


# --- Withdrawal (D19) and the merchant declining (D23) ---------------------------------------------


@pytest.mark.parametrize("who", ["consumer", "agent"])
def test_d19_either_party_withdraws_at_any_time_after_confirming(
    case, who, request, consumer, agent, mediator
):
    party = request.getfixturevalue(who)
    portal = portal_for(party)
    withdraw = url("withdraw", case)
    assert f'href="{withdraw}"' in html(portal, case)
    confirmation = portal.get(withdraw)
    assert confirmation.status_code == 200
    assert "Either party may withdraw from the mediation at any time." in confirmation.content.decode()
    assert fresh(case).state == CaseState.OPEN  # the page alone changes nothing

    done = portal.post(withdraw, {"reason": "Nous avons trouvé un arrangement entre nous."})

    assert done.url == page_url(case)
    case = fresh(case)
    side = PartySide.CONSUMER if who == "consumer" else PartySide.MERCHANT
    assert (case.state, case.closed_by, case.closed_by_side) == (CaseState.DISCONTINUED, party, side)
    assert case.closure_reason == "Nous avons trouvé un arrangement entre nous."
    event = events(case, "case.discontinued").get()
    assert (event.actor, event.actor_role, event.payload["reason"]) == (party, side, case.closure_reason)
    assert outbox("case_withdrawn", to_user=mediator).count() == 1
    assert {m.to_user for m in outbox("case_closed", case_reference=case.reference)} >= {consumer, agent}
    page = html(portal, case)
    assert "Your side withdrew from the mediation." in page
    assert f'href="{withdraw}"' not in page
    # Once closed, the confirmation page sends back and a second withdrawal changes nothing.
    assert portal.get(withdraw).url == page_url(case)
    before = snapshot()
    assert "This mediation is closed." in flashes(portal.post(withdraw, {"reason": ""}))
    assert snapshot() == before


def test_d19_withdrawal_is_possible_after_the_proposal_too(consumer_portal, proposal):
    consumer_portal.post(url("withdraw", proposal.case), {"reason": ""})
    assert fresh(proposal.case).state == CaseState.DISCONTINUED


def test_d23_the_merchant_declines_and_the_consumer_is_told_of_the_court_route(
    consumer_portal, agent_portal, case, consumer, agent, mediator
):
    decline = url("decline", case)
    assert f'href="{decline}"' in html(agent_portal, case)
    assert f'href="{decline}"' not in html(consumer_portal, case)
    assert agent_portal.get(decline).status_code == 200

    done = agent_portal.post(decline, {"reason": "Nous préférons le tribunal."})

    assert done.url == page_url(case)
    case = fresh(case)
    assert (case.state, case.closed_by, case.closure_reason) == (
        CaseState.MERCHANT_DECLINED,
        agent,
        "Nous préférons le tribunal.",
    )
    assert events(case, "case.merchant_declined").get().actor == agent
    assert outbox("case_merchant_declined", to_user=consumer).count() == 1
    assert outbox("case_merchant_declined", to_user=mediator).count() == 1
    page = html(consumer_portal, case)
    assert "You can still bring the dispute before a court" in page
    assert "Nous préférons le tribunal." in page


def test_d23_only_the_merchant_declines(consumer_portal, case):
    before = snapshot()
    assert consumer_portal.get(url("decline", case)).status_code == 404
    assert consumer_portal.post(url("decline", case), {"reason": "…"}).status_code == 404
    assert snapshot() == before


def test_d23_the_merchant_cannot_decline_once_a_proposal_is_issued(agent_portal, proposal):
    case = proposal.case
    decline = url("decline", case)
    assert f'href="{decline}"' not in html(agent_portal, case)
    assert agent_portal.get(decline).url == page_url(case)
    before = snapshot()
    refused = agent_portal.post(decline, {"reason": "Trop tard ?"})
    assert refused.url == page_url(case)
    assert "The merchant can decline only before a proposal is issued." in flashes(refused)
    assert snapshot() == before


# --- Representatives (D21) -------------------------------------------------------------------------


def test_d21_each_party_adds_a_representative_for_its_own_side(
    consumer_portal, agent_portal, case, consumer, agent, mediator
):
    consumer_portal.post(
        url("representative_add", case),
        {"name": "Maître Élise Fournier", "email": "e.fournier@avocats.example.test", "capacity": "lawyer"},
    )
    agent_portal.post(
        url("representative_add", case),
        {"name": "Jean Dupuis", "email": "j.dupuis@example.test", "capacity": "other"},
    )

    lawyer, helper = Representative.objects.filter(case=case).order_by("pk")
    assert (lawyer.side, lawyer.added_by, lawyer.capacity) == (PartySide.CONSUMER, consumer, "lawyer")
    assert (helper.side, helper.added_by, helper.capacity) == (PartySide.MERCHANT, agent, "other")
    added = events(case, "case.representative_added").order_by("seq")
    assert [(e.actor, e.payload["representative_id"]) for e in added] == [
        (consumer, lawyer.pk),
        (agent, helper.pk),
    ]
    assert outbox("case_representative_added", to_user=mediator).count() == 2
    page = html(consumer_portal, case)
    assert "Maître Élise Fournier" in page and "Jean Dupuis" in page
    assert "e.fournier@avocats.example.test" in page
    assert "j.dupuis@example.test" not in page  # the other side's representative's address is theirs
    # From now on, the lawyer receives the consumer's notices too.
    case_post_message(case=case, by=mediator, body="Point d'étape.", audience=Audience.CONSUMER_PRIVATE)
    assert OutboxMessage.objects.filter(template="case_message", to_address=lawyer.email).count() == 1
    assert not OutboxMessage.objects.filter(template="case_message", to_address=helper.email).exists()


def test_d21_a_representative_without_an_address_is_refused(consumer_portal, case):
    before = snapshot()
    response = consumer_portal.post(
        url("representative_add", case), {"name": "Maître Fournier", "email": "", "capacity": "lawyer"}
    )
    assert response.url == page_url(case) + "#representatives"
    assert flashes(response)
    assert snapshot() == before


# --- Messages (D20) --------------------------------------------------------------------------------


def test_d20_a_party_writes_to_everyone_or_privately_to_the_mediator(
    consumer_portal, agent_portal, case, consumer, agent, owner, mediator
):
    post = url("message_post", case)
    consumer_portal.post(post, {"body": "Le livre est toujours chez moi, intact.", "to": "everyone"})
    consumer_portal.post(post, {"body": "Entre nous : 20 € me suffiraient.", "to": "mediator"})

    public, private = CaseMessage.objects.filter(case=case).order_by("pk")
    assert (public.audience, private.audience) == (Audience.EVERYONE, Audience.CONSUMER_PRIVATE)
    assert [e.payload["audience"] for e in events(case, "case.message").order_by("seq")] == [
        "everyone",
        "consumer",
    ]
    assert {m.to_user for m in outbox("case_message", idempotency_key__contains=f":{public.pk}:")} == {
        agent,
        owner,
        mediator,
    }
    assert {m.to_user for m in outbox("case_message", idempotency_key__contains=f":{private.pk}:")} == {
        mediator
    }
    mine = html(consumer_portal, case)
    assert "Le livre est toujours chez moi, intact." in mine and "20 € me suffiraient" in mine
    assert "Private: only your side and the mediator read it" in mine
    theirs = html(agent_portal, case)
    assert "Le livre est toujours chez moi, intact." in theirs
    assert "20 € me suffiraient" not in theirs


def test_an_empty_message_changes_nothing(consumer_portal, case):
    before = snapshot()
    response = consumer_portal.post(url("message_post", case), {"body": "", "to": "everyone"})
    assert response.url == page_url(case) + "#messages" and flashes(response)
    assert snapshot() == before


# --- Documents and comments (D20) ----------------------------------------------------------------------


def test_d20_documents_from_the_other_side_are_visible_with_their_comments(
    consumer_portal, agent_portal, consumer, merchant, agent, owner, mediator, settings
):
    with travel(START):
        complaint = file_complaint(consumer, merchant)
        earlier = evidence_add(
            complaint=complaint, by=consumer, file=ContentFile(pdf_bytes("Facture"), name="facture.pdf")
        )
        complaint = complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
        case = case_open(
            case=case_refer(
                complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True
            ),
            by=mediator,
        )
    content = pdf_bytes("Bon de livraison signé Colis Express")

    added = agent_portal.post(
        url("file_add", case), {"file": SimpleUploadedFile("bon-de-livraison.pdf", content)}
    )

    assert added.url == page_url(case) + "#files"
    evidence = Evidence.objects.get(complaint=complaint, original_name="bon-de-livraison.pdf")
    assert (evidence.side, evidence.uploaded_by) == (PartySide.MERCHANT, agent)
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    event = events(case, "case.document_added").get()  # on the case's own chain
    assert (event.actor, event.payload["evidence_id"], event.payload["sha256"]) == (
        agent,
        evidence.pk,
        evidence.sha256,
    )
    assert not AuditEvent.objects.filter(
        stream=complaint.reference, kind="complaint.evidence_added", payload__evidence_id=evidence.pk
    ).exists()

    # The consumer sees the merchant's document (and the complaint stage's file: one list)...
    page = html(consumer_portal, case)
    download_url = url("file_download", case, evidence.pk)
    assert "bon-de-livraison.pdf" in page and evidence.sha256 in page and f'href="{download_url}"' in page
    assert "facture.pdf" in page and earlier.sha256 in page
    response = consumer_portal.get(download_url)
    assert download(response) == content
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"

    # ... and comments on it: the merchant and the mediator read the comment.
    commented = consumer_portal.post(
        url("file_comment", case, evidence.pk), {"body": "La signature n'est pas la mienne."}
    )

    assert commented.url == page_url(case) + f"#file-{evidence.pk}"
    comment = CaseMessage.objects.get(case=case, about=evidence)
    assert (comment.audience, comment.author, comment.author_role) == (
        Audience.EVERYONE,
        consumer,
        PartySide.CONSUMER,
    )
    message_event = events(case, "case.message").get()
    assert message_event.payload == {
        "message_id": comment.pk,
        "audience": "everyone",
        "evidence_id": evidence.pk,
    }
    assert {m.to_user for m in outbox("case_message", case_reference=case.reference)} == {
        agent,
        owner,
        mediator,
    }
    merchant_page = html(agent_portal, case)
    assert "La signature n&#x27;est pas la mienne." in merchant_page
    assert merchant_page.index("bon-de-livraison.pdf") < merchant_page.index("La signature n&#x27;est")


def test_d20_the_upload_gate_and_the_per_complaint_limit_apply(consumer_portal, case, settings):
    before = snapshot()
    disguised = SimpleUploadedFile("facture.pdf", b"<!DOCTYPE html><script>alert(1)</script>")
    refused = consumer_portal.post(url("file_add", case), {"file": disguised})
    assert "This file's name says PDF but its content is not a PDF." in flashes(refused)
    assert snapshot() == before and media_files(settings) == []

    settings.ODR_UPLOAD_MAX_FILES_PER_CASE = 1
    consumer_portal.post(url("file_add", case), {"file": pdf_upload("photo.pdf", "Photo")})
    stored = media_files(settings)
    full = snapshot()
    over = consumer_portal.post(url("file_add", case), {"file": pdf_upload("photo-2.pdf", "Photo 2")})
    assert "A complaint can hold at most 1 files." in flashes(over)
    assert snapshot() == full and media_files(settings) == stored


def test_d20_no_document_or_comment_once_the_case_is_closed(consumer_portal, case, consumer, settings):
    evidence = case_document_add(
        case=case, by=consumer, file=ContentFile(pdf_bytes("Photo"), name="photo.pdf")
    )
    consumer_portal.post(url("withdraw", case), {"reason": ""})
    stored = media_files(settings)
    before = snapshot()

    added = consumer_portal.post(url("file_add", case), {"file": pdf_upload("tard.pdf", "Tard")})
    commented = consumer_portal.post(url("file_comment", case, evidence.pk), {"body": "Trop tard."})

    assert "This mediation is closed: no more documents can be added." in flashes(added)
    assert "This mediation is closed: documents can no longer be commented on." in flashes(commented)
    assert snapshot() == before and media_files(settings) == stored
    page = html(consumer_portal, case)
    assert f'action="{url("file_add", case)}"' not in page
    assert f'action="{url("file_comment", case, evidence.pk)}"' not in page
    assert consumer_portal.get(url("file_download", case, evidence.pk)).status_code == 200


def test_the_mediator_may_comment_on_a_document_too(case, consumer, agent, mediator):
    evidence = case_document_add(
        case=case, by=consumer, file=ContentFile(pdf_bytes("Photo"), name="photo.pdf")
    )
    case_document_comment(
        case=case, by=mediator, evidence=evidence, body="Photo floue, merci d'en refaire une."
    )
    assert "Photo floue" in html(portal_for(agent), case)
    assert {m.to_user for m in outbox("case_message")} >= {consumer, agent}


# --- Consents and receipts (D32, D33) --------------------------------------------------------------


def test_d33_the_consumer_withdraws_the_consent_to_mediation_in_one_step(
    consumer_portal, agent_portal, case, consumer
):
    record = ConsentRecord.objects.get(case_reference=case.reference, purpose=ConsentPurpose.ENTER_MEDIATION)
    receipt = record.receipts.get()
    receipt_url = url("receipt_download", case, receipt.receipt_id)
    withdraw_url = url("consent_withdraw", case, record.uid)
    page = html(consumer_portal, case)
    assert f'href="{receipt_url}"' in page and f'action="{withdraw_url}"' in page
    response = consumer_portal.get(receipt_url)
    assert response.status_code == 200 and download(response).startswith(b"%PDF")
    assert response["Content-Disposition"] == f'attachment; filename="receipt-{receipt.receipt_id}.pdf"'
    # The merchant's staff sees neither the consumer's consents nor their receipts.
    assert f'href="{receipt_url}"' not in html(agent_portal, case)
    assert agent_portal.get(receipt_url).status_code == 404
    assert agent_portal.post(withdraw_url).status_code == 404

    done = consumer_portal.post(withdraw_url)

    assert done.url == page_url(case) + "#consents"
    assert fresh(record).state == ConsentState.WITHDRAWN
    withdrawn = ConsentReceipt.objects.get(record=record, event_type=ConsentState.WITHDRAWN)
    assert outbox("consent_receipt", context__receipt_id=str(withdrawn.receipt_id)).exists()
    case = fresh(case)
    assert (case.state, case.closed_by) == (CaseState.DISCONTINUED, consumer)
    assert events(case, "consent.withdrawn").exists() and events(case, "case.discontinued").exists()


# --- After a settlement: the follow-up (D29) ---------------------------------------------------------


def test_d29_the_consumer_answers_the_follow_up_when_asked(
    consumer_portal, agent_portal, proposal, consumer, agent
):
    case = proposal.case
    proposal_respond(proposal=proposal, by=consumer, accept=True, language="en")
    proposal_respond(proposal=proposal, by=agent, accept=True, language="en")
    answer = url("compliance_answer", case)
    assert f'action="{answer}"' not in html(consumer_portal, case)  # not asked yet
    with travel(NOW + timedelta(days=31)):  # a new login: the first session has expired by then
        consumer_portal, agent_portal = portal_for(consumer), portal_for(agent)
        case_compliance_followup(case=fresh(case))
        assert f'action="{answer}"' in html(consumer_portal, case)
        before = snapshot()
        assert agent_portal.post(answer, {"complied": "no"}).status_code == 404
        assert snapshot() == before

        done = consumer_portal.post(answer, {"complied": "yes"})

        assert done.url == page_url(case) + "#outcome"
        case = fresh(case)
        assert case.merchant_complied is True
        assert events(case, "case.compliance_recorded").get().payload == {"complied": True}
        page = html(consumer_portal, case)
        assert f'action="{answer}"' not in page and "the merchant did what was agreed" in page


# --- Query counts: the case page does not grow with its content --------------------------------------


def _queries(portal, case) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert portal.get(page_url(case)).status_code == 200
    return len(captured)


def _case_with(consumer, merchant, agent, mediator, *, messages: int, files: int):
    with travel(START):
        case = open_case(consumer, merchant, agent, mediator)
        proposal_issue(case=case, by=mediator, solution=SOLUTION)
    case = fresh(case)
    authors = [
        (consumer, Audience.EVERYONE),
        (agent, Audience.EVERYONE),
        (mediator, Audience.CONSUMER_PRIVATE),
    ]
    for n in range(messages):
        author, audience = authors[n % len(authors)]
        case_post_message(case=case, by=author, body=f"Message {n}", audience=audience)
    for n in range(files):
        by = consumer if n % 2 else agent
        evidence = case_document_add(
            case=case, by=by, file=ContentFile(pdf_bytes(f"Pièce {n}"), name=f"piece-{n}.pdf")
        )
        case_document_comment(case=case, by=agent if n % 2 else consumer, evidence=evidence, body=f"Vu {n}")
    case_post_message(case=case, by=mediator, body="Privé marchand", audience=Audience.MERCHANT_PRIVATE)
    return case


def test_the_case_page_issues_the_same_queries_whatever_its_size(
    consumer, merchant, agent, mediator, settings
):
    small = _case_with(consumer, merchant, agent, mediator, messages=1, files=1)
    large = _case_with(consumer, merchant, agent, mediator, messages=200, files=20)
    assert CaseMessage.objects.filter(case=large).count() == 221
    for user in (consumer, agent):
        portal = portal_for(user)
        _queries(portal, small)  # warm up: session, content types
        assert _queries(portal, small) == _queries(portal, large), user


def test_a_second_merchant_employee_sees_the_same_case(case, merchant):
    colleague = MembershipFactory(merchant=merchant, user=UserFactory()).user
    assert portal_for(colleague).get(page_url(case)).status_code == 200
