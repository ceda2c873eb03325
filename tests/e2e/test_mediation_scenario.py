"""The mediation in a real browser (issue 6, item 7), continuing the portal scenario (test_scenario.py
ends with a referred case): the mediator takes the case from the new referrals and admits it (D15),
writes privately to the consumer (D20) and issues a proposal (D24, D25); the consumer sees the notice
of saisine, the private message and the proposal with its statements, and accepts (a consent with
its receipt, D31); the merchant's agent, who never sees the private message, accepts → settled (D26);
the consumer downloads the mediation record (D27), whose consumer's copy holds the private message;
the compliance officer finds the case on the dashboard and in the cases list, sees its audit chains
verified (D34) and exports the audit trail as PDF (D37) — on a desktop and on a phone-sized window.

The referred case is built with the services (a complaint with a real PDF, rejected by the merchant,
referred by the consumer): the portal scenario already drives that part in the browser. Everyone logs
in through /accounts/login/ with a password. Every page is checked with axe-core and photographed
into artifacts/e2e/ as NN-<viewport>-med-<step>.png (the `med-` prefix keeps them apart from the
portal scenario's pictures; the number runs on across the session).

The PDFs: in production a document is requested in the web request and rendered by the `pdf` Celery
queue. Here the request goes through the site for real, the task is not handed to the broker but
kept (`pdf_queue`, tests/e2e/conftest.py), and the test plays the worker: it runs the queue's own
task (odr.documents.tasks.render_document) while the browser waits, then the browser finds the
document ready and downloads it. Every request of the browser passes through a Playwright route, so
that no request reaches the live server while the test's thread renders (one database connection).
"""

import hashlib
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile

from complaints.evidence import evidence_add
from complaints.services import complaint_answer
from mediation.case_figures import case_figures_refresh
from mediation.models import (
    Audience,
    CaseMessage,
    CaseState,
    MediationCase,
    Proposal,
    ResponseDecision,
)
from mediation.services import case_refer
from mediation.statements import statements_snapshot
from odr.accounts.models import Role
from odr.audit.models import AuditEvent
from odr.consent.models import ConsentPurpose, ConsentRecord, ConsentState
from odr.deadlines.calendar import period_end
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.notifications.models import OutboxMessage
from tests.e2e.test_scenario import _log_in, _log_out, _path, _submit
from tests.factories import (
    MediationBodyFactory,
    MembershipFactory,
    MerchantFactory,
    VerifiedUserFactory,
)
from tests.helpers import file_complaint, pdf_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # tests/factories.py
PRIVATE_TEXT = "Message privé : gardez le carton d'origine CMD-4242."
SOLUTION = "Remboursement de 89,90 € sous 14 jours."
ANSWER_DAYS = 15

# Pages known to be wider than the window, with the reason; a page that fits again fails the test until
# its entry is removed, so that the check is back in force.
KNOWN_WIDE: dict[str, dict[str, str]] = {}


@pytest.fixture
def referred(db, e2e_files):
    """Body A with its mediator and compliance officer; a merchant and its agent; a consumer whose
    complaint (with a real PDF) the merchant rejected and who referred it: a case in `received`."""
    body = MediationBodyFactory(
        name="Médiateur du e-commerce (test)",
        slug="mediateur-e2e",
        website="https://mediateur-e2e.example.test",
    )
    merchant = MerchantFactory(legal_name="Librairie Lumière SAS", mediation_body=body)
    agent = VerifiedUserFactory(
        email="agent@librairie-lumiere.example.test", first_name="Louis", last_name="Roche"
    )
    MembershipFactory(user=agent, role=Role.MERCHANT_AGENT, merchant=merchant)
    consumer = VerifiedUserFactory(email="camille@example.test", first_name="Camille", last_name="Martin")
    mediator = VerifiedUserFactory(
        email="mediatrice@mediateur-e2e.example.test", first_name="Hélène", last_name="Brun"
    )
    MembershipFactory(user=mediator, role=Role.MEDIATOR, mediation_body=body, merchant=None)
    officer = VerifiedUserFactory(
        email="conformite@mediateur-e2e.example.test", first_name="Paul", last_name="Morel"
    )
    MembershipFactory(user=officer, role=Role.COMPLIANCE_OFFICER, mediation_body=body, merchant=None)

    invoice = pdf_bytes("Facture CMD-4242 - 89,90 EUR")
    complaint = file_complaint(consumer, merchant)
    evidence = evidence_add(
        complaint=complaint, by=consumer, file=ContentFile(invoice, name="facture-CMD-4242.pdf")
    )
    complaint_answer(complaint=complaint, by=agent, decision="reject", text="Le colis a été livré le 5 mars.")
    case = case_refer(complaint=complaint, by=consumer, other_proceedings=False, acting_as_consumer=True)
    assert case.state == CaseState.RECEIVED and case.mediator_id is None
    return {
        "body": body,
        "merchant": merchant,
        "agent": agent,
        "consumer": consumer,
        "mediator": mediator,
        "officer": officer,
        "case": case,
        "evidence": evidence,
        "invoice_sha256": hashlib.sha256(invoice).hexdigest(),
    }


def _text_of(pdf_path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], check=True, capture_output=True).stdout
    return " ".join(out.decode().split())


def _download(page, selector) -> bytes:
    with page.expect_download() as download:
        page.click(selector)
    return download.value.path().read_bytes()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_mediator_admits_proposes_both_accept_consumer_downloads_record_compliance_exports_audit(
    viewport, page_for, shot, assert_accessible, referred, pdf_queue, tmp_path
):
    if not shutil.which("pdftotext"):
        pytest.skip("needs poppler-utils (pdftotext) to read the PDFs; .ci/run installs it")
    case = referred["case"]
    ref, complaint_ref, slug = case.reference, case.complaint.reference, referred["body"].slug
    page = page_for(viewport)
    # Every request of the page goes through the test's thread (see the module's docstring).
    page.route("**/*", lambda route: route.continue_())

    def check(name):
        """Every page of the scenario: axe-core, then a picture."""
        page.wait_for_load_state("load")
        assert_accessible(page, f"{viewport}: med-{name}")
        shot(page, f"med-{name}")
        wide = page.evaluate("() => document.documentElement.scrollWidth > window.visualViewport.width + 1")
        if name in KNOWN_WIDE.get(viewport, {}):
            assert wide, f"{name} fits the window now: remove it from KNOWN_WIDE"
        else:
            assert not wide, f"{viewport}: the page {name} is wider than the window (horizontal scrolling)"

    def render_queued():
        page.wait_for_load_state("networkidle")  # nothing in flight: the database is the test's
        rendered = pdf_queue.run()
        assert len(rendered) == 1, rendered
        return rendered[0]

    # 1. The mediator logs in, finds the case among the new referrals, takes it and admits it (D15).
    _log_in(page, referred["mediator"].email, PASSWORD)
    page.wait_for_url("**/mediator/")
    new_referral = page.locator(f'#new a[href$="/mediator/cases/{ref}/"]')
    assert new_referral.count() == 1, "the referred case is not among the new referrals"
    check("workspace")
    new_referral.click()
    page.wait_for_url(f"**/mediator/cases/{ref}/")
    check("case-new")
    _submit(page, f'#assignment form[action$="/mediator/cases/{ref}/take/"] button[type=submit]')
    assert _path(page).startswith(f"/mediator/cases/{ref}/")
    assert page.locator(f'#assignment form[action$="/{ref}/take/"]').count() == 0, "still offered to take"
    # … examines the consumer's file (D7) …
    invoice = _download(page, f'#file a[href*="/mediator/cases/{ref}/files/{referred["evidence"].pk}/"]')
    assert hashlib.sha256(invoice).hexdigest() == referred["invoice_sha256"]
    page.locator("#admissibility").scroll_into_view_if_needed()
    check("case-taken")
    _submit(page, f'#admissibility form[action$="/mediator/cases/{ref}/admit/"] button[type=submit]')
    assert page.locator(f'#admissibility form[action$="/{ref}/admit/"]').count() == 0, (
        "still offered to admit"
    )
    assert page.locator(".status-open").count() >= 1, "the case is not shown as open after the saisine"
    check("case-admitted")

    # 2. … writes to the consumer alone (D20) …
    page.select_option("#message-audience", Audience.CONSUMER_PRIVATE)
    page.fill("#message-body", PRIVATE_TEXT)
    _submit(page, f'#messages form[action$="/mediator/cases/{ref}/messages/"] button[type=submit]')
    sent = page.locator("#messages article.message-private")
    assert sent.count() == 1 and PRIVATE_TEXT in sent.inner_text()
    sent.scroll_into_view_if_needed()
    check("private-message")

    # 3. … and issues a proposal: the solution and 15 days to answer; the statements are added (D24, D25).
    page.fill("#proposal-solution", SOLUTION)
    page.fill("#proposal-acceptance_days", str(ANSWER_DAYS))
    _submit(page, f'#proposal form[action$="/mediator/cases/{ref}/proposal/"] button[type=submit]')
    issued = page.locator("#proposal article.proposal")
    assert issued.count() == 1 and SOLUTION in issued.inner_text()
    assert issued.locator("ul.statements li").count() == 4  # three statements and the legal effect
    issued.scroll_into_view_if_needed()
    check("proposal-issued")
    _log_out(page)

    # 4. The consumer logs in, opens the case from their cases, sees the notice of saisine, the private
    #    message and the proposal with its statements, and accepts: a consent with its receipt (D31).
    _log_in(page, referred["consumer"].email, PASSWORD)
    page.wait_for_url("**/complaints/")
    page.click(f'main a[href$="/cases/{ref}/"]')
    page.wait_for_url(f"**/cases/{ref}/")
    french = statements_snapshot()["fr"]
    saisine = page.locator("#saisine")
    assert saisine.is_visible(), "no notice of saisine on the consumer's case page"
    check("consumer-case")
    messages = page.locator("#messages").inner_text()
    assert PRIVATE_TEXT in messages, "the consumer does not see the mediator's private message"
    proposal = page.locator("#proposal article.proposal")
    assert SOLUTION in proposal.inner_text()
    shown = [text.strip() for text in proposal.locator("ul.statements li").all_inner_texts()]
    assert shown == french["statements"], shown
    assert proposal.locator("p.statement").inner_text().strip() == french["legal_effect"]
    consents_before = page.locator("#consents li").count()
    proposal.scroll_into_view_if_needed()
    check("consumer-proposal")
    page.check('#proposal input[name="decision"][value="accept"]')
    _submit(page, '#proposal form[action*="/proposals/"] button[type=submit]')
    assert _path(page) == f"/cases/{ref}/#proposal"
    assert page.locator('#proposal input[name="decision"]').count() == 0, "the answer form is still offered"
    assert page.locator("#consents li").count() == consents_before + 1, "no consent listed for the answer"
    assert page.locator("#consents li").last.locator('a[href*="/receipts/"]').count() == 1
    check("consumer-accepted")
    _log_out(page)

    # 5. The merchant's agent opens the case from the merchant portal: the private message is nowhere
    #    on the page; accepts → the mediation is settled (D26).
    _log_in(page, referred["agent"].email, PASSWORD)
    page.wait_for_url("**/merchant/")
    check("merchant-dashboard")
    page.click(f'main section[aria-labelledby="in_mediation-title"] a[href$="/cases/{ref}/"]')
    page.wait_for_url(f"**/cases/{ref}/")
    assert PRIVATE_TEXT not in page.content(), "the merchant sees the consumer's private channel"
    assert page.locator("#messages article.message-private").count() == 0
    assert SOLUTION in page.locator("#proposal").inner_text()
    check("merchant-case")
    page.check('#proposal input[name="decision"][value="accept"]')
    _submit(page, '#proposal form[action*="/proposals/"] button[type=submit]')
    outcome = page.locator("#outcome")
    assert outcome.is_visible(), "no outcome on the case page after both accepted"
    assert PRIVATE_TEXT not in page.content()
    outcome.scroll_into_view_if_needed()
    check("merchant-settled")
    _log_out(page)

    # 6. The consumer comes back, sees the outcome, and downloads the mediation record (D27): their
    #    copy, which holds their private channel with the mediator.
    _log_in(page, referred["consumer"].email, PASSWORD)
    page.wait_for_url("**/complaints/")
    page.click(f'main a[href$="/cases/{ref}/"]')
    page.wait_for_url(f"**/cases/{ref}/")
    assert page.locator("#outcome").is_visible()
    page.click(f'#record a[href$="/cases/{ref}/documents/"]')
    page.wait_for_url(f"**/cases/{ref}/documents/")
    check("consumer-documents")
    _submit(page, 'main button[name="kind"][value="mediation_record"]')
    assert _path(page) == f"/cases/{ref}/documents/"
    check("consumer-record-requested")
    record_id = render_queued()
    page.reload()
    link = f'main a[href$="/documents/{record_id}/download/"]'
    assert page.locator(link).count() == 1, "the rendered record is not offered for download"
    check("consumer-record-ready")
    record_pdf = _download(page, link)
    assert record_pdf.startswith(b"%PDF-")
    (tmp_path / "record.pdf").write_bytes(record_pdf)
    record_text = _text_of(tmp_path / "record.pdf")
    assert PRIVATE_TEXT in record_text, "the consumer's copy of the record leaves out their private message"
    assert ref in record_text and SOLUTION in record_text
    _log_out(page)

    # 7. The compliance officer finds the case on the dashboard and in the cases list, opens its audit
    #    page (both chains verified, D34) and exports the audit trail as PDF (D37).
    case_figures_refresh()  # the worker's run (every minute): the dashboard reads its day buckets
    _log_in(page, referred["officer"].email, PASSWORD)
    page.wait_for_url(f"**/compliance/{slug}/")
    assert page.locator('[data-figure="received"]').inner_text().strip() == "1"
    assert page.locator('[data-figure="closed:settled"]').inner_text().strip() == "1"
    check("compliance-dashboard")
    page.click(f'nav.compliance-nav a[href$="/compliance/{slug}/cases/"]')
    page.wait_for_url(f"**/compliance/{slug}/cases/")
    page.fill("#case-search", ref)
    _submit(page, 'main form[role="search"] button[type=submit]')
    row = page.locator(f'#cases tbody tr:has(a[href$="/cases/{ref}/audit/"])')
    assert row.count() == 1, "the case is not found in the cases list"
    assert complaint_ref in row.inner_text()
    check("compliance-cases")
    row.locator(f'a[href$="/cases/{ref}/audit/"]').click()
    page.wait_for_url(f"**/compliance/{slug}/cases/{ref}/audit/")
    for stream in (complaint_ref, ref):
        assert page.locator(f'[data-verdict="{stream}:ok"]').count() == 1, f"chain {stream} not verified OK"
    check("compliance-audit")
    _submit(page, f'#exports form[action$="/cases/{ref}/audit/export/"] button[type=submit]')
    assert _path(page) == f"/compliance/{slug}/cases/{ref}/audit/"
    check("compliance-export-requested")
    audit_id = render_queued()
    # The list refreshes itself (htmx, every 2 s) until the PDF is ready: no reload.
    link = f'#exports a[href$="/documents/{audit_id}/download/"]'
    page.wait_for_selector(link)
    page.locator("#exports").scroll_into_view_if_needed()
    check("compliance-export-ready")
    audit_pdf = _download(page, link)
    assert audit_pdf.startswith(b"%PDF-")
    (tmp_path / "audit.pdf").write_bytes(audit_pdf)
    assert ref in _text_of(tmp_path / "audit.pdf")
    page.reload()  # the export is recorded in the chain, which still verifies
    assert page.locator(f'[data-verdict="{ref}:ok"]').count() == 1
    _log_out(page)
    page.watch.assert_clean()

    # The database agrees with what the pages said.
    case = MediationCase.objects.get(pk=case.pk)
    consumer, agent, mediator = referred["consumer"], referred["agent"], referred["mediator"]
    assert case.state == CaseState.SETTLED
    assert case.mediator == mediator and case.saisine_at is not None and case.closed_at is not None
    assert case.outcome_due_at == period_end(case.saisine_at, days=90, time_zone=referred["body"].time_zone)
    # D15: the notice of saisine to both parties.
    saisine_rows = OutboxMessage.objects.filter(template="case_saisine", case_reference=ref)
    assert sorted(saisine_rows.values_list("to_user_id", flat=True)) == sorted([consumer.pk, agent.pk])
    # D20: the private message, e-mailed to the consumer only.
    private = CaseMessage.objects.get(case=case, body=PRIVATE_TEXT)
    assert (private.author, private.audience) == (mediator, Audience.CONSUMER_PRIVATE)
    told = OutboxMessage.objects.filter(template="case_message", case_reference=ref)
    assert list(told.values_list("to_user_id", flat=True)) == [consumer.pk]
    # D24–D26: the proposal with its statements, 15 days to answer, accepted by both.
    proposal = Proposal.objects.get(case=case)
    assert proposal.solution == SOLUTION
    assert proposal.statements["fr"]["statements"] == french["statements"]
    assert proposal.acceptance_due_at == period_end(
        proposal.issued_at, days=ANSWER_DAYS, time_zone=referred["body"].time_zone
    )
    assert proposal.acceptance_due_at - proposal.issued_at > timedelta(days=ANSWER_DAYS - 1)
    answers = {r.side: (r.decision, r.responded_by) for r in proposal.responses.all()}
    assert answers == {
        "consumer": (ResponseDecision.ACCEPTED, consumer),
        "merchant": (ResponseDecision.ACCEPTED, agent),
    }
    # D31: each answer is a consent with a signed receipt.
    for person in (consumer, agent):
        consent = ConsentRecord.objects.get(
            person=person, purpose=ConsentPurpose.PROPOSAL_RESPONSE, case_reference=ref
        )
        assert consent.state == ConsentState.GIVEN and consent.receipts.exists()
    # D27, D37: the documents, with the fingerprints of the files downloaded, in the audit trail.
    record = GeneratedDocument.objects.get(pk=record_id)
    assert (record.kind, record.parameters, record.status, record.requested_by) == (
        DocumentKind.MEDIATION_RECORD,
        {"audience": "consumer"},
        DocumentStatus.READY,
        consumer,
    )
    assert record.sha256 == hashlib.sha256(record_pdf).hexdigest()
    audit = GeneratedDocument.objects.get(pk=audit_id)
    assert (audit.kind, audit.subject_reference, audit.status, audit.requested_by) == (
        DocumentKind.AUDIT_TRAIL,
        ref,
        DocumentStatus.READY,
        referred["officer"],
    )
    assert audit.sha256 == hashlib.sha256(audit_pdf).hexdigest()
    fingerprints = {
        event.payload["sha256"] for event in AuditEvent.objects.filter(stream=ref, kind="document.generated")
    }
    assert fingerprints == {record.sha256, audit.sha256}
