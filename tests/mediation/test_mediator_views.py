"""The mediator's workspace and case page through their views (issue 6): the queues (D12, D16, D18,
D25), admissibility (D9–D15), messages (D20), disclosure (D22), extension (D17), the proposal (D24–D26),
closing (D27, D28), who may see what (D30), and the query counts.

Pages are requested in English; every HTML page is checked for a strict Content-Security-Policy and
for inline script or style (tests.complaints.test_portal.Portal), and the case page for headings in
order, labelled fields and unique ids.
"""

import re
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, get_resolver, reverse
from django.utils import formats, translation

from complaints.evidence import evidence_add
from complaints.models import Evidence
from complaints.services import complaint_answer
from mediation.models import (
    Audience,
    CaseMessage,
    CaseState,
    ConflictDisclosure,
    DeadlineExtension,
    DocumentRequest,
    MediationCase,
    Proposal,
    RefusalReason,
)
from mediation.services import (
    case_assign,
    case_complete_file,
    case_disclose_conflict,
    case_extend,
    case_open,
    case_post_message,
    case_refer,
    case_reject,
    case_request_documents,
    proposal_issue,
    proposal_respond,
)
from mediation.statements import LEGAL_EFFECT, MANDATORY_STATEMENTS, statements_snapshot
from odr.accounts.models import Role
from odr.audit.models import AuditEvent
from odr.deadlines.calendar import period_end
from odr.notifications.models import OutboxMessage
from tests.complaints.test_portal import Portal, flashes
from tests.factories import MembershipFactory, MerchantFactory
from tests.helpers import file_complaint, outbox, pdf_bytes, referred_case, travel

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _files_and_clock(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"
    with travel(NOW):
        yield


def portal_for(user) -> Portal:
    client = Portal()
    client.force_login(user)
    return client


@pytest.fixture
def mediator_portal(mediator):
    return portal_for(mediator)


def at(moment, action):
    with travel(moment):
        return action()


def fresh(obj):
    return obj.__class__.objects.get(pk=obj.pk)


def english_date(day) -> str:
    with translation.override("en"):
        return formats.date_format(day, "DATE_FORMAT")


def page_url(case):
    return reverse("mediator:case", args=[case.reference])


def action_url(name, case):
    return reverse(f"mediator:{name}", args=[case.reference])


def recipients(template, **filters):
    return set(outbox(template, **filters).values_list("to_user", flat=True))


def db_state() -> dict:
    return {
        "cases": list(
            MediationCase.objects.order_by("pk").values_list(
                "pk", "state", "mediator_id", "outcome_due_at", "rejection_reason", "outcome_grounds"
            )
        ),
        "messages": CaseMessage.objects.count(),
        "proposals": Proposal.objects.count(),
        "requests": DocumentRequest.objects.count(),
        "extensions": DeadlineExtension.objects.count(),
        "disclosures": ConflictDisclosure.objects.count(),
        "events": AuditEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
    }


@pytest.fixture
def received(consumer, merchant, agent):
    """A referral nobody has taken yet (admissibility due 21 days after 20 April: 11 May)."""
    return at(datetime(2026, 4, 20, 11, 0, tzinfo=PARIS), lambda: referred_case(consumer, merchant, agent))


@pytest.fixture
def opened(received, mediator):
    return at(datetime(2026, 4, 22, 9, 0, tzinfo=PARIS), lambda: case_open(case=received, by=mediator))


# --- Accessibility of the pages (headings in order, labelled fields, unique ids) ----------------------


class _Structure(HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings, self.ids, self.labels, self.fields = [], [], set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "label" and attrs.get("for"):
            self.labels.add(attrs["for"])
        if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            self.fields.append(attrs.get("id"))


def assert_accessible(response):
    structure = _Structure()
    structure.feed(response.content.decode())
    assert structure.headings[0] == 1 and structure.headings.count(1) == 1
    jumps = [(a, b) for a, b in zip(structure.headings, structure.headings[1:], strict=False) if b > a + 1]
    assert jumps == [], f"heading levels skipped: {jumps}"
    duplicates = {i for i in structure.ids if structure.ids.count(i) > 1}
    assert duplicates == set()
    unlabelled = [f for f in structure.fields if f is None or f not in structure.labels]
    assert unlabelled == []


# --- The workspace ------------------------------------------------------------------------------------


def refer_at(moment, consumer, merchant, agent, *, files: int = 0, **declarations):
    """A case referred at `moment`; the consumer added `files` files to the complaint before."""
    if not files:
        return at(moment, lambda: referred_case(consumer, merchant, agent, **declarations))
    with travel(moment):
        complaint = file_complaint(consumer, merchant)
        for i in range(files):
            evidence_add(
                complaint=complaint,
                by=consumer,
                file=ContentFile(pdf_bytes(f"Pièce {i}"), name=f"piece{i}.pdf"),
            )
        complaint_answer(complaint=complaint, by=agent, decision="reject", text="Nous refusons.")
        fields = {"other_proceedings": False, "acting_as_consumer": True, **declarations}
        return case_refer(complaint=complaint, by=consumer, **fields)


def open_at(moment, consumer, merchant, agent, mediator, *, files: int = 0):
    case = refer_at(moment - timedelta(days=2), consumer, merchant, agent, files=files)
    return at(moment, lambda: case_open(case=case, by=mediator))


@pytest.fixture
def desk(consumer, merchant, agent, mediator, second_mediator, foreign_mediator, other_body):
    """One mediator's cases in every queue (two per queue, in reverse order of due date), and cases
    they must not see: a colleague's, another body's, a closed one."""
    d = lambda *args: datetime(*args, 10, 0, tzinfo=PARIS)  # noqa: E731
    cases = {}
    # New referrals (unassigned): admissibility due 21 May (17 days left) and 11 May (7 days left).
    cases["new_late"] = refer_at(d(2026, 4, 30), consumer, merchant, agent)
    cases["new_early"] = refer_at(d(2026, 4, 20), consumer, merchant, agent)
    # Admissibility due, assigned: due today (4 May) and 22 April (12 days overdue).
    cases["adm_today"] = refer_at(d(2026, 4, 13), consumer, merchant, agent)
    cases["adm_late"] = refer_at(d(2026, 4, 1), consumer, merchant, agent)
    for key in ("adm_today", "adm_late"):
        at(d(2026, 4, 14), lambda key=key: case_assign(case=cases[key], by=mediator, mediator=mediator))
    # Incomplete files: documents requested on 28 April and 26 April.
    cases["docs_recent"] = refer_at(d(2026, 4, 25), consumer, merchant, agent)
    at(d(2026, 4, 28), lambda: case_request_documents(case=cases["docs_recent"], by=mediator, text="Facture"))
    cases["docs_old"] = refer_at(d(2026, 4, 24), consumer, merchant, agent)
    at(d(2026, 4, 26), lambda: case_request_documents(case=cases["docs_old"], by=mediator, text="Photos"))
    # Open, outcome due: 30 May (26 days left) and 11 May (7 days left).
    cases["open_late"] = open_at(d(2026, 3, 1), consumer, merchant, agent, mediator)
    cases["open_early"] = open_at(d(2026, 2, 10), consumer, merchant, agent, mediator)
    # Overdue: outcome was due 5 April (29 days overdue) and 20 April (14 days overdue).
    cases["overdue_less"] = open_at(d(2026, 1, 20), consumer, merchant, agent, mediator)
    cases["overdue_more"] = open_at(d(2026, 1, 5), consumer, merchant, agent, mediator)
    # Proposals awaiting answers: answers due 13 May (9 days left) and 6 May (2 days left).
    cases["prop_late"] = open_at(d(2026, 3, 20), consumer, merchant, agent, mediator)
    at(d(2026, 4, 28), lambda: proposal_issue(case=cases["prop_late"], by=mediator, solution="Avoir."))
    cases["prop_early"] = open_at(d(2026, 3, 25), consumer, merchant, agent, mediator)
    proposal = at(
        d(2026, 5, 1),
        lambda: proposal_issue(
            case=cases["prop_early"], by=mediator, solution="Remboursement.", acceptance_days=5
        ),
    )
    at(d(2026, 5, 2), lambda: proposal_respond(proposal=proposal, by=consumer, accept=True))
    # Not this mediator's: a colleague's case, another body's case, a closed case.
    cases["colleague"] = open_at(d(2026, 3, 1), consumer, merchant, agent, second_mediator)
    foreign_merchant = MerchantFactory(mediation_body=other_body)
    foreign_agent = MembershipFactory(role=Role.MERCHANT_AGENT, merchant=foreign_merchant).user
    cases["foreign"] = refer_at(d(2026, 4, 30), consumer, foreign_merchant, foreign_agent)
    cases["closed"] = refer_at(d(2026, 4, 2), consumer, merchant, agent)
    at(
        d(2026, 4, 3),
        lambda: case_reject(
            case=cases["closed"], by=mediator, reason=RefusalReason.UNFOUNDED_OR_ABUSIVE, reasoning="Non."
        ),
    )
    return cases


def queue_references(response) -> dict[str, list[str]]:
    return {q.key: [e.case.reference for e in q.entries] for q in response.context["queues"]}


def test_d12_d16_d18_d25_workspace_queues_hold_the_mediators_cases_by_due_date(mediator_portal, desk):
    response = mediator_portal.get(reverse("mediator:workspace"))

    assert response.status_code == 200
    ref = {key: case.reference for key, case in desk.items()}
    assert queue_references(response) == {
        "new": [ref["new_early"], ref["new_late"]],
        "incomplete": [ref["docs_old"], ref["docs_recent"]],
        "admissibility": [ref["adm_late"], ref["adm_today"]],
        "outcome": [ref["open_early"], ref["open_late"]],
        "overdue": [ref["overdue_more"], ref["overdue_less"]],
        "proposals": [ref["prop_early"], ref["prop_late"]],
    }
    days = {
        q.key: [(e.due.at.astimezone(PARIS).date(), e.due.days_left) for e in q.entries]
        for q in response.context["queues"]
    }
    assert days["new"] == [(date(2026, 5, 11), 7), (date(2026, 5, 21), 17)]
    assert days["incomplete"] == [(date(2026, 4, 26), None), (date(2026, 4, 28), None)]  # clock stopped (D13)
    assert days["admissibility"] == [(date(2026, 4, 22), -12), (date(2026, 5, 4), 0)]
    assert days["outcome"] == [(date(2026, 5, 11), 7), (date(2026, 5, 30), 26)]
    assert days["overdue"] == [(date(2026, 4, 5), -29), (date(2026, 4, 20), -14)]
    assert days["proposals"] == [(date(2026, 5, 6), 2), (date(2026, 5, 13), 9)]
    html = response.content.decode()
    for text in ("7 days left", "due today", "12 days overdue", "29 days overdue", "2 days left"):
        assert text in html, text
    assert "Accepted" in html  # the consumer's answer to the proposal due 6 May
    for key in ("colleague", "foreign", "closed"):
        assert ref[key] not in html, key


def test_d18_a_proposal_pending_past_the_outcome_date_is_also_in_the_overdue_queue(
    mediator_portal, consumer, merchant, agent, mediator
):
    case = open_at(datetime(2026, 1, 5, 10, 0, tzinfo=PARIS), consumer, merchant, agent, mediator)
    at(
        datetime(2026, 4, 1, 10, 0, tzinfo=PARIS),
        lambda: proposal_issue(case=case, by=mediator, solution="Avoir."),
    )
    queues = queue_references(mediator_portal.get(reverse("mediator:workspace")))
    assert queues["overdue"] == queues["proposals"] == [case.reference]
    assert queues["outcome"] == []


def test_d30_a_mediator_of_another_body_sees_no_case_in_any_queue(foreign_mediator, desk):
    response = portal_for(foreign_mediator).get(reverse("mediator:workspace"))
    queues = queue_references(response)
    assert queues["new"] == [desk["foreign"].reference]  # their own body's referral only
    assert all(queue == [] for key, queue in queues.items() if key != "new")


def test_d30_a_colleague_sees_the_bodys_unassigned_referrals_but_not_the_mediators_cases(
    second_mediator, desk
):
    queues = queue_references(portal_for(second_mediator).get(reverse("mediator:workspace")))
    assert queues["new"] == [desk["new_early"].reference, desk["new_late"].reference]
    assert queues["outcome"] == [desk["colleague"].reference]
    assert queues["admissibility"] == queues["overdue"] == queues["proposals"] == queues["incomplete"] == []


@pytest.mark.parametrize("who", ["consumer", "agent", "compliance_officer"])
def test_d30_the_workspace_is_for_mediators_only(request, who):
    client = portal_for(request.getfixturevalue(who))
    assert client.get(reverse("mediator:workspace")).status_code == 404


def test_the_workspace_needs_a_login():
    response = Portal().get(reverse("mediator:workspace"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


# --- Who may open a case page (D30) -------------------------------------------------------------------


NAMESPACE = "mediator"
NO_OBJECT = {"mediator:workspace": "the mediator's own queues"}
TABLE = {  # what a stranger POSTs (valid input, so that a missing check would change something)
    "mediator:case": {},
    "mediator:evidence_download": {"pk": "evidence"},
    "mediator:take": {},
    "mediator:assign": {"post": "colleague"},
    "mediator:request_documents": {"post": {"text": "Toutes vos factures."}},
    "mediator:complete_file": {},
    "mediator:admit": {},
    "mediator:reject": {"post": {"reason": RefusalReason.UNFOUNDED_OR_ABUSIVE, "reasoning": "Non fondé."}},
    "mediator:message": {"post": {"audience": Audience.EVERYONE, "body": "Bonjour à tous."}},
    "mediator:disclose": {"post": {"text": "Je connais le gérant."}},
    "mediator:extend": {"post": {"new_due_date": "2026-12-31", "reason": "Expertise."}},
    "mediator:propose": {"post": {"solution": "Avoir de 10 €.", "acceptance_days": "15"}},
    "mediator:record_agreement": {"post": {"solution": "Avoir de 10 €.", "acceptance_days": "15"}},
    "mediator:close": {"post": {"grounds": "Aucune solution."}},
}


def mediator_patterns() -> dict[str, URLPattern]:
    _prefix, included = get_resolver().namespace_dict[NAMESPACE]
    return {f"{NAMESPACE}:{entry.name}": entry for entry in included.url_patterns}


def test_d30_every_mediator_url_is_in_the_table():
    assert set(mediator_patterns()) == set(TABLE) | set(NO_OBJECT)


@pytest.fixture
def guarded(consumer, merchant, agent, mediator, second_mediator):
    """An open case assigned to `mediator`, with a file of the consumer's."""
    case = open_at(NOW - timedelta(days=3), consumer, merchant, agent, mediator, files=1)
    return {
        "case": case,
        "evidence": Evidence.objects.get(complaint=case.complaint),
        "colleague": second_mediator,
    }


def requests_for(name, pattern, guarded):
    kwargs = {"reference": guarded["case"].reference}
    if "pk" in pattern.pattern.converters:
        kwargs["pk"] = guarded[TABLE[name]["pk"]].pk
    data = TABLE[name].get("post", {})
    if data == "colleague":
        data = {"mediator": guarded["colleague"].pk}
    return reverse(name, kwargs=kwargs), data


@pytest.mark.parametrize(
    "who", ["consumer", "agent", "compliance_officer", "foreign_mediator", "second_mediator"]
)
def test_d30_every_mediator_url_answers_404_to_anyone_but_the_cases_mediator(request, guarded, who):
    """The parties, the body's compliance officer, another body's mediator, and a colleague of the
    same body once the case is assigned: the same 404 as for a missing case, and nothing changes."""
    client = portal_for(request.getfixturevalue(who))
    before = db_state()
    problems = []
    for name, pattern in sorted(mediator_patterns().items()):
        if name in NO_OBJECT:
            continue
        url, data = requests_for(name, pattern, guarded)
        statuses = (client.get(url).status_code, client.post(url, data).status_code)
        if not (set(statuses) <= {404, 405} and 404 in statuses):
            problems.append(f"{name}: GET {statuses[0]}, POST {statuses[1]}")
    assert problems == []
    assert db_state() == before


def test_d30_a_missing_case_is_the_same_404(mediator_portal):
    assert mediator_portal.get(reverse("mediator:case", args=["M-2026-999999"])).status_code == 404


def test_anonymous_visitors_are_sent_to_the_login_page(guarded):
    client = Portal()
    before = db_state()
    for name, pattern in sorted(mediator_patterns().items()):
        url, data = (reverse(name), {}) if name in NO_OBJECT else requests_for(name, pattern, guarded)
        for response in (client.get(url), client.post(url, data)):
            assert response.status_code == 302, name
            assert response["Location"].startswith(reverse("account_login")), name
    assert db_state() == before


def test_d7_the_mediator_downloads_the_files_of_the_complaint(
    mediator_portal, guarded, consumer, merchant, agent
):
    url = reverse("mediator:evidence_download", args=[guarded["case"].reference, guarded["evidence"].pk])
    response = mediator_portal.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    with guarded["evidence"].file.open("rb") as stored:
        assert b"".join(response.streaming_content) == stored.read()
    # Another complaint's file, under this case's reference: not found.
    other = refer_at(NOW, consumer, merchant, agent, files=1)
    elsewhere = Evidence.objects.get(complaint=other.complaint)
    url = reverse("mediator:evidence_download", args=[guarded["case"].reference, elsewhere.pk])
    assert mediator_portal.get(url).status_code == 404


# --- Assignment ---------------------------------------------------------------------------------------


def test_take_this_case_assigns_it_and_colleagues_lose_sight_of_it(
    mediator_portal, received, mediator, second_mediator
):
    colleague = portal_for(second_mediator)
    assert colleague.get(page_url(received)).status_code == 200  # free: the body's mediators see it
    page = mediator_portal.get(page_url(received))
    assert "Take this case" in page.content.decode()

    response = mediator_portal.post(action_url("take", received))

    assert response.status_code == 302 and response["Location"] == page_url(received)
    assert fresh(received).mediator == mediator
    assert AuditEvent.objects.filter(stream=received.reference, kind="case.assigned").count() == 1
    assert "You have taken this case." in flashes(response)
    assert colleague.get(page_url(received)).status_code == 404
    assert "Take this case" not in mediator_portal.get(page_url(received)).content.decode()


def test_hand_over_to_a_colleague_of_the_same_body(
    mediator_portal, opened, mediator, second_mediator, foreign_mediator
):
    page = mediator_portal.get(page_url(opened))
    assert [u.pk for u in page.context["assign_form"].fields["mediator"].queryset] == [second_mediator.pk]
    before = db_state()

    refused = mediator_portal.post(action_url("assign", opened), {"mediator": foreign_mediator.pk})
    assert refused.status_code == 200 and flashes(refused)
    assert db_state() == before

    response = mediator_portal.post(action_url("assign", opened), {"mediator": second_mediator.pk})
    assert response["Location"] == reverse("mediator:workspace")
    assert fresh(opened).mediator == second_mediator
    assert mediator_portal.get(page_url(opened)).status_code == 404
    assert portal_for(second_mediator).get(page_url(opened)).status_code == 200


# --- Completeness and admissibility (D11–D15) ---------------------------------------------------------


def test_d13_documents_requested_then_the_file_complete_restarts_the_21_days(
    mediator_portal, received, mediator, consumer, agent
):
    response = mediator_portal.post(
        action_url("request_documents", received), {"text": "La facture d'achat."}
    )

    assert response["Location"] == page_url(received) + "#admissibility"
    case = fresh(received)
    assert case.state == CaseState.AWAITING_DOCUMENTS and case.mediator == mediator
    assert recipients("case_documents_requested") == {consumer.pk}
    page = mediator_portal.get(page_url(case))
    assert "La facture d&#x27;achat." in page.content.decode()
    assert_accessible(page)

    with travel(NOW + timedelta(days=3)):
        done = mediator_portal.post(action_url("complete_file", case))
    case = fresh(case)
    assert case.state == CaseState.RECEIVED
    assert case.admissibility_due_at == datetime(2026, 5, 28, 23, 59, 59, tzinfo=PARIS)  # 7 May + 21 days
    assert "The file is complete. The admissibility decision is due by May 28, 2026." in flashes(done)


def test_d15_admitting_sends_the_notice_of_saisine_to_both_parties(
    mediator_portal, received, mediator, consumer, agent
):
    page = mediator_portal.get(page_url(received))
    assert "Either party may withdraw from the mediation at any time." in page.content.decode()
    assert_accessible(page)

    response = mediator_portal.post(action_url("admit", received))

    case = fresh(received)
    assert case.state == CaseState.OPEN and case.saisine_at == NOW and case.mediator == mediator
    assert case.outcome_due_at == period_end(NOW, days=90, time_zone="Europe/Paris")
    assert recipients("case_saisine") == {consumer.pk, agent.pk}
    assert "withdraw" in outbox("case_saisine").first().context["withdrawal_notice"]["en"]
    assert AuditEvent.objects.filter(stream=case.reference, kind="case.opened", actor=mediator).exists()
    assert "The mediation is open: both parties have received the notice of saisine." in flashes(response)


@pytest.mark.parametrize(
    ("declarations", "reason"),
    [
        ({"other_proceedings": True}, "already_examined"),  # D9
        ({"acting_as_consumer": False}, "out_of_competence"),  # D10
    ],
)
def test_d9_d10_admitting_an_inadmissible_case_is_refused_with_the_reason_code(
    mediator_portal, consumer, merchant, agent, declarations, reason
):
    case = refer_at(NOW - timedelta(days=1), consumer, merchant, agent, **declarations)
    page = mediator_portal.get(page_url(case))
    assert "make the dispute inadmissible" in page.content.decode()
    assert f"reject it as {reason}" in page.content.decode()
    before = db_state()

    response = mediator_portal.post(action_url("admit", case))

    assert response.status_code == 302
    [message] = flashes(response)
    assert f"reject it as {reason}" in message
    assert db_state() == before


def test_d11_d12_a_reasoned_refusal_with_one_reason_goes_to_both_parties(
    mediator_portal, received, consumer, agent
):
    response = mediator_portal.post(
        action_url("reject", received),
        {"reason": RefusalReason.TIME_BARRED, "reasoning": "La réclamation date de plus d'un an."},
    )
    assert response["Location"] == page_url(received) + "#admissibility"
    case = fresh(received)
    assert case.state == CaseState.REJECTED
    assert (case.rejection_reason, case.rejection_reasoning) == (
        RefusalReason.TIME_BARRED,
        "La réclamation date de plus d'un an.",
    )
    assert recipients("case_rejected") == {consumer.pk, agent.pk}
    page = mediator_portal.get(page_url(case))
    assert "Referred more than one year after the written complaint" in page.content.decode()
    assert_accessible(page)


@pytest.mark.parametrize(
    "data",
    [
        {"reason": RefusalReason.TIME_BARRED, "reasoning": "   "},
        {"reason": "", "reasoning": "Tardif."},
        {"reason": "no_reason_at_all", "reasoning": "Tardif."},
    ],
)
def test_d11_a_refusal_without_one_reason_and_reasoning_is_refused_and_changes_nothing(
    mediator_portal, received, data
):
    before = db_state()
    response = mediator_portal.post(action_url("reject", received), data)
    assert response.status_code == 200  # the page again, with what was typed
    assert flashes(response)
    assert response.context["reject_form"].data["reasoning"] == data["reasoning"]
    assert db_state() == before
    assert_accessible(response)


# --- Messages (D20) -----------------------------------------------------------------------------------


def test_d20_a_message_to_both_parties_reaches_both(mediator_portal, opened, consumer, agent):
    response = mediator_portal.post(
        action_url("message", opened), {"audience": Audience.EVERYONE, "body": "Pouvez-vous préciser ?"}
    )
    assert response["Location"] == page_url(opened) + "#messages"
    message = CaseMessage.objects.get()
    assert (message.audience, message.author_role) == (Audience.EVERYONE, "mediator")
    assert recipients("case_message") == {consumer.pk, agent.pk}
    page = mediator_portal.get(page_url(opened)).content.decode()
    assert "Pouvez-vous préciser ?" in page and "Both parties and the mediator" in page


def test_d20_a_private_message_to_the_consumer_creates_no_outbox_row_for_the_merchant(
    mediator_portal, opened, consumer, agent, owner
):
    mediator_portal.post(
        action_url("message", opened),
        {"audience": Audience.CONSUMER_PRIVATE, "body": "Entre nous : acceptez."},
    )
    assert CaseMessage.objects.get().audience == Audience.CONSUMER_PRIVATE
    assert recipients("case_message") == {consumer.pk}
    assert not OutboxMessage.objects.filter(to_user__in=[agent, owner], template="case_message").exists()
    assert all(row.context["private"] for row in outbox("case_message"))
    page = mediator_portal.get(page_url(opened)).content.decode()
    assert "The consumer and the mediator only" in page  # the mediator sees every channel


def test_d20_the_mediator_sees_every_channel_with_its_label(
    mediator_portal, opened, mediator, consumer, agent
):
    case_post_message(
        case=opened, by=consumer, body="Message du consommateur au médiateur.", audience="consumer"
    )
    case_post_message(case=opened, by=agent, body="Message du marchand au médiateur.", audience="merchant")
    case_post_message(case=opened, by=mediator, body="Message à tous.")
    page = mediator_portal.get(page_url(opened)).content.decode()
    for text in (
        "Message du consommateur au médiateur.",
        "The consumer and the mediator only",
        "Message du marchand au médiateur.",
        "The merchant and the mediator only",
        "Message à tous.",
        "Both parties and the mediator",
    ):
        assert text in page, text


def test_d20_an_empty_message_or_an_unknown_audience_is_refused(mediator_portal, opened):
    before = db_state()
    for data in ({"audience": Audience.EVERYONE, "body": "  "}, {"audience": "everybody", "body": "Bonjour"}):
        response = mediator_portal.post(action_url("message", opened), data)
        assert response.status_code == 200 and flashes(response)
    assert db_state() == before


# --- Disclosure (D22) and extension (D17) -------------------------------------------------------------


def test_d22_a_conflict_of_interest_disclosure_is_sent_to_both_parties(
    mediator_portal, opened, mediator, consumer, agent
):
    response = mediator_portal.post(
        action_url("disclose", opened), {"text": "J'ai travaillé pour ce marchand."}
    )
    assert response["Location"] == page_url(opened) + "#disclosures"
    disclosure = ConflictDisclosure.objects.get()
    assert (disclosure.mediator, disclosure.text) == (mediator, "J'ai travaillé pour ce marchand.")
    assert recipients("case_conflict_disclosed") == {consumer.pk, agent.pk}
    assert AuditEvent.objects.filter(stream=opened.reference, kind="case.conflict_disclosed").exists()
    assert "J&#x27;ai travaillé pour ce marchand." in mediator_portal.get(page_url(opened)).content.decode()


def test_d17_an_extension_with_a_reason_and_a_new_date_is_told_to_both_parties(
    mediator_portal, opened, consumer, agent
):
    previous = fresh(opened).outcome_due_at
    response = mediator_portal.post(
        action_url("extend", opened),
        {"new_due_date": "2026-09-30", "reason": "Expertise technique en cours."},
    )
    assert response["Location"] == page_url(opened) + "#deadlines"
    case = fresh(opened)
    assert case.outcome_due_at == datetime(2026, 9, 30, 23, 59, 59, tzinfo=PARIS)
    extension = DeadlineExtension.objects.get()
    assert (extension.previous_due_at, extension.reason) == (previous, "Expertise technique en cours.")
    assert recipients("case_extended") == {consumer.pk, agent.pk}
    page = mediator_portal.get(page_url(case)).content.decode()
    assert "Expertise technique en cours." in page and english_date(date(2026, 9, 30)) in page


@pytest.mark.parametrize(
    "data",
    [
        {"new_due_date": "2026-05-01", "reason": "Expertise."},  # before the current due date
        {"new_due_date": "2026-09-30", "reason": ""},  # no reason
        {"new_due_date": "le 30 septembre", "reason": "Expertise."},  # not a date
    ],
)
def test_d17_an_extension_without_a_reason_or_to_an_earlier_date_is_refused(mediator_portal, opened, data):
    before = db_state()
    response = mediator_portal.post(action_url("extend", opened), data)
    assert response.status_code == 200 and flashes(response)
    assert db_state() == before


# --- The proposal (D24–D26) ---------------------------------------------------------------------------


def test_d24_the_editor_shows_the_statements_read_only(mediator_portal, opened, settings):
    settings.ODR_PROPOSAL_ACCEPTANCE_DAYS = 20
    page = mediator_portal.get(page_url(opened))
    html = page.content.decode()
    for text in [*MANDATORY_STATEMENTS, LEGAL_EFFECT]:
        assert str(text).replace("'", "&#x27;") in html
    # Not in any field: nothing in the form carries them.
    fields = re.findall(r"<(?:input|textarea|select)\b[^>]*>", html)
    assert not any("free to accept" in field for field in fields)
    assert page.context["proposal_form"]["acceptance_days"].value() == 20  # D25: the default, a setting
    assert_accessible(page)


def test_d24_d25_issuing_a_proposal_adds_the_statements_and_the_answer_deadline(
    mediator_portal, opened, consumer, agent
):
    response = mediator_portal.post(
        action_url("propose", opened),
        {"solution": "Remboursement de 89,90 € sous 14 jours.", "acceptance_days": "10"},
    )
    assert response["Location"] == page_url(opened) + "#proposal"
    proposal = Proposal.objects.get()
    assert proposal.solution == "Remboursement de 89,90 € sous 14 jours."
    assert proposal.statements == statements_snapshot()
    assert proposal.acceptance_due_at == datetime(2026, 5, 14, 23, 59, 59, tzinfo=PARIS)
    assert fresh(opened).state == CaseState.PROPOSAL_ISSUED
    assert recipients("proposal_issued") == {consumer.pk, agent.pk}
    page = mediator_portal.get(page_url(opened))
    assert "May 14, 2026" in page.content.decode()
    assert_accessible(page)


def test_d24_posting_extra_fields_cannot_remove_or_change_the_statements(mediator_portal, opened):
    mediator_portal.post(
        action_url("propose", opened),
        {
            "solution": "Avoir de 30 €.",
            "acceptance_days": "15",
            "statements": "",
            "mandatory_statements": "[]",
            "legal_effect": "Aucun.",
            "statements-0": "",
            "agreement": "1",
        },
    )
    proposal = Proposal.objects.get()
    assert proposal.statements == statements_snapshot()
    assert not proposal.records_agreement


@pytest.mark.parametrize(
    "data",
    [
        {"solution": "  ", "acceptance_days": "15"},
        {"solution": "Avoir.", "acceptance_days": "0"},  # D25: the parties need time to answer
        {"solution": "Avoir.", "acceptance_days": ""},
    ],
)
def test_d25_a_proposal_without_a_solution_or_an_answer_period_is_refused(mediator_portal, opened, data):
    before = db_state()
    response = mediator_portal.post(action_url("propose", opened), data)
    assert response.status_code == 200 and flashes(response)
    assert db_state() == before


def test_d26_a_second_proposal_while_one_awaits_answers_is_refused(mediator_portal, opened, mediator):
    proposal_issue(case=opened, by=mediator, solution="Avoir.")
    before = db_state()
    response = mediator_portal.post(
        action_url("propose", opened), {"solution": "Autre.", "acceptance_days": "15"}
    )
    assert "A proposal can be issued only in an open mediation." in flashes(response)
    assert db_state() == before


def test_d26_a_recorded_agreement_is_confirmed_by_both_parties(mediator_portal, opened, consumer, agent):
    response = mediator_portal.post(
        action_url("record_agreement", opened),
        {
            "solution": "Échange du produit sous 8 jours, frais de port à la charge du marchand.",
            "acceptance_days": "7",
        },
    )
    assert response["Location"] == page_url(opened) + "#proposal"
    proposal = Proposal.objects.get()
    assert proposal.records_agreement
    assert all(
        proposal.statements[code]["statements"] == s["statements"]
        for code, s in statements_snapshot().items()
    )
    assert recipients("proposal_issued") == {consumer.pk, agent.pk}
    page = mediator_portal.get(page_url(opened)).content.decode()
    assert "Agreement of the parties, to confirm" in page
    assert "agreed on during the mediation" in page

    proposal_respond(proposal=proposal, by=consumer, accept=True)
    proposal_respond(proposal=proposal, by=agent, accept=True)
    assert fresh(opened).state == CaseState.SETTLED


# --- Closing without agreement (D27, D28) -------------------------------------------------------------


def test_d28_closing_without_agreement_sends_the_closure_notice(
    mediator_portal, opened, mediator, consumer, agent
):
    response = mediator_portal.post(
        action_url("close", opened), {"grounds": "Les positions des parties sont inconciliables."}
    )
    assert response["Location"] == page_url(opened) + "#outcome"
    case = fresh(opened)
    assert case.state == CaseState.NO_AGREEMENT
    assert case.outcome_grounds == "Les positions des parties sont inconciliables."
    assert recipients("case_closed") == {consumer.pk, agent.pk}
    context = outbox("case_closed").first().context
    assert "six months" in context["limitation_notice"]["en"]
    assert context["saisine_at"] and context["closed_at"]
    page = mediator_portal.get(page_url(case))
    html = page.content.decode()
    assert "Les positions des parties sont inconciliables." in html and "Closed without agreement" in html
    assert 'action="' + action_url("close", case) not in html  # closed: no more actions
    assert 'action="' + action_url("message", case) not in html
    assert_accessible(page)


def test_closing_without_grounds_or_after_a_proposal_is_refused(mediator_portal, opened, mediator):
    before = db_state()
    response = mediator_portal.post(action_url("close", opened), {"grounds": ""})
    assert response.status_code == 200 and flashes(response)
    assert db_state() == before

    proposal_issue(case=opened, by=mediator, solution="Avoir.")
    before = db_state()
    response = mediator_portal.post(action_url("close", opened), {"grounds": "Aucune solution."})
    [message] = flashes(response)
    assert "Only an open mediation with no proposal issued can be closed without agreement" in message
    assert db_state() == before


def test_d27_the_case_page_links_to_the_mediation_record(mediator_portal, opened):
    html = mediator_portal.get(page_url(opened)).content.decode()
    assert reverse("mediation:case_documents", args=[opened.reference]) in html


# --- Every state of the case page renders, accessibly -------------------------------------------------


def test_the_case_page_in_every_state_is_accessible(mediator_portal, consumer, merchant, agent, mediator):
    cases = [refer_at(NOW - timedelta(days=5), consumer, merchant, agent) for _ in range(6)]
    case_request_documents(case=cases[1], by=mediator, text="Facture.")
    case_open(case=cases[2], by=mediator)
    case_open(case=cases[3], by=mediator)
    proposal_issue(case=cases[3], by=mediator, solution="Avoir.")
    case_reject(case=cases[4], by=mediator, reason=RefusalReason.OUT_OF_COMPETENCE, reasoning="Hors champ.")
    case_request_documents(case=cases[5], by=mediator, text="Facture.")
    case_complete_file(case=cases[5], by=mediator)
    for case in cases:
        response = mediator_portal.get(page_url(case))
        assert response.status_code == 200, case.state
        assert_accessible(response)


# --- Query counts: constant whatever the number of cases or messages ----------------------------------


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def _cases(n, consumer, merchant, agent, mediator):
    """`n` cases spread over every queue."""
    for i in range(n):
        case = refer_at(NOW - timedelta(days=40 - i), consumer, merchant, agent)
        kind = i % 5
        with travel(NOW - timedelta(days=39 - i)):
            if kind == 1:
                case_request_documents(case=case, by=mediator, text="Facture.")
            elif kind >= 2:
                case_open(case=case, by=mediator)
            if kind == 3:
                proposal_issue(case=case, by=mediator, solution="Avoir.")
            if kind == 4:
                case_extend(case=case, by=mediator, reason="Expertise.", new_due_date=date(2026, 12, 1))


def test_workspace_query_count_does_not_grow_with_the_number_of_cases(
    consumer, merchant, agent, mediator, second_mediator
):
    _cases(1, consumer, merchant, agent, mediator)
    small = queries(portal_for(mediator), reverse("mediator:workspace"))
    _cases(30, consumer, merchant, agent, second_mediator)  # the colleague's, and their referrals
    colleague = portal_for(second_mediator)
    page = colleague.get(reverse("mediator:workspace"))
    assert sum(q.count for q in page.context["queues"]) >= 30  # each queue shows its first rows only
    assert queries(colleague, reverse("mediator:workspace")) == small


def _busy(case, mediator, consumer, agent, messages: int):
    for i in range(messages):
        author, audience = [
            (mediator, "everyone"),
            (consumer, "consumer"),
            (agent, "merchant"),
            (mediator, "merchant"),
        ][i % 4]
        case_post_message(case=case, by=author, body=f"Message {i}", audience=audience)
    for i in range(messages // 50):
        case_disclose_conflict(case=case, by=mediator, text=f"Circonstance {i}")
        case_extend(case=case, by=mediator, reason=f"Expertise {i}", new_due_date=date(2026, 9, 1 + i))
    proposal_issue(case=case, by=mediator, solution="Avoir.")


def test_case_page_query_count_does_not_grow_with_messages_or_events(consumer, merchant, agent, mediator):
    client = portal_for(mediator)
    small = open_at(NOW - timedelta(days=10), consumer, merchant, agent, mediator)
    _busy(small, mediator, consumer, agent, messages=1)
    large = open_at(NOW - timedelta(days=10), consumer, merchant, agent, mediator, files=5)
    _busy(large, mediator, consumer, agent, messages=200)
    assert CaseMessage.objects.filter(case=large).count() == 200
    assert queries(client, page_url(large)) == queries(client, page_url(small))
