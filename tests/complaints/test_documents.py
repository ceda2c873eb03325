"""D1, D4: the complaint stage's PDF/A documents — the acknowledgement and the information on the
consumer mediator (the durable-medium notice of L616-1) — what they say, carry and leave in the trail."""

import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pikepdf
import pytest
from django.db import transaction
from django.utils import translation

from complaints.documents import ATTACHMENT_NAME, acknowledgement_spec, mediator_notice_spec, money
from complaints.services import complaint_answer, complaint_response_lapsed
from odr.audit.models import AuditEvent
from odr.audit.services import audit_verify
from odr.consent.models import ConsentRecord
from odr.documents.models import DocumentKind, DocumentStatus
from odr.documents.services import builder_for, document_render, document_request
from tests.factories import MediationBodyFactory, MerchantFactory
from tests.helpers import file_complaint, travel

FILED = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # 10:30 in Paris
HOSTILE = "Colis jamais livré. <script>alert(1)</script> « guillemets » & accents éàç"

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdftoppm")),
    reason="needs poppler-utils (pdftotext, pdftoppm) to read the PDF as a person would; .ci/run installs it",
)


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    """Generated files and signing keys in directories pytest removes afterwards."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


@pytest.fixture
def complaint(consumer, merchant):
    with travel(FILED):
        return file_complaint(consumer, merchant, description=HOSTILE)


@pytest.fixture
def rejected(complaint, agent):
    with travel(FILED + timedelta(days=3)):
        return complaint_answer(complaint=complaint, by=agent, decision="reject", text="Nous refusons.")


@pytest.fixture
def lapsed(complaint, merchant):
    merchant.takes_part_in_mediation = False
    merchant.save()
    with travel(complaint.response_due_at + timedelta(minutes=1)):
        return complaint_response_lapsed(complaint=complaint)


def generate(kind, complaint, *, by=None, language="en"):
    """Request in the caller's transaction, then render now (the Celery task's job, without Celery)."""
    with transaction.atomic():
        document = document_request(
            kind=kind, subject_reference=complaint.reference, by=by, language=language
        )
    return document_render(document.pk)


def embedded_facts(document) -> dict:
    with pikepdf.open(document.file.path) as pdf:
        assert pdf.open_metadata().get("pdfaid:part") == "3"  # PDF/A-3: archivable, with the JSON
        assert list(pdf.attachments) == [ATTACHMENT_NAME]
        return json.loads(pdf.attachments[ATTACHMENT_NAME].get_file().read_bytes().decode("utf-8"))


def pdf_text(document) -> str:
    text = subprocess.run(["pdftotext", document.file.path, "-"], check=True, capture_output=True).stdout
    return " ".join(text.decode("utf-8").split())


def first_page_png(document, tmp_path):
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", document.file.path, tmp_path / "page"],
        check=True,
    )
    [png] = tmp_path.glob("page*.png")
    assert png.read_bytes().startswith(b"\x89PNG")


def assert_fingerprinted(document, complaint):
    """D34/D37: the stored file is the one fingerprinted, and the complaint's trail records it."""
    content = document.file.read()
    assert document.status == DocumentStatus.READY
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    generated = AuditEvent.objects.filter(stream=complaint.reference, kind="document.generated").last()
    assert generated.payload == {"document_id": document.pk, "kind": document.kind, "sha256": document.sha256}
    assert audit_verify(stream=complaint.reference).ok


def test_d1_d4_builders_are_registered():
    assert builder_for(DocumentKind.COMPLAINT_ACKNOWLEDGEMENT) is acknowledgement_spec
    assert builder_for(DocumentKind.MEDIATOR_NOTICE) is mediator_notice_spec


@pytest.mark.parametrize(
    ("cents", "currency", "language", "expected"),
    [
        (8990, "EUR", "en", "€89.90"),
        (8990, "EUR", "fr", "89,90\u00a0€"),
        (123456, "EUR", "fr", "1\u00a0234,56\u00a0€"),
        (123456, "GBP", "en", "£1,234.56"),
        (500, "SEK", "en", "5.00\u00a0SEK"),
        (None, "EUR", "en", ""),
    ],
)
def test_d1_amounts_are_money_in_the_documents_language(cents, currency, language, expected):
    assert money(cents, currency, language) == expected


def test_d1_acknowledgement_pdf_embeds_the_complaints_facts(complaint, consumer):
    document = generate(DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, complaint, by=consumer)

    assert document.filename == f"acknowledgement-{complaint.reference}.pdf"
    facts = embedded_facts(document)
    assert facts["reference"] == complaint.reference
    assert datetime.fromisoformat(facts["filed_at"]) == FILED
    assert datetime.fromisoformat(facts["response_due_at"]) == complaint.response_due_at
    assert facts["description"] == HOSTILE
    assert (facts["amount_cents"], facts["currency"]) == (8990, "EUR")
    assert facts["merchant"]["legal_name"] == "Librairie Lumière SAS"
    assert facts["mediator"]["name"] == "Médiateur du e-commerce"
    consents = ConsentRecord.objects.filter(case_reference=complaint.reference)
    assert sorted(c["notice_sha256"] for c in facts["consents"]) == sorted(
        consents.values_list("notice_sha256", flat=True)
    )
    assert_fingerprinted(document, complaint)


@needs_poppler
def test_d1_acknowledgement_pdf_states_the_complaint_as_filed(complaint, merchant, tmp_path):
    document = generate(DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, complaint, by=complaint.consumer)
    text = pdf_text(document)

    assert "Acknowledgement of your complaint" in text
    assert f"Its reference is {complaint.reference}" in text
    assert "March 10, 2026, 10:30 a.m. (Europe/Paris)" in text  # filed 09:30 UTC, shown in Paris time
    assert "Librairie Lumière SAS" in text and merchant.website in text
    assert "Not delivered" in text and "CMD-4242" in text and "€89.90" in text
    assert "Remboursement de 89,90 €." in text  # what the consumer wants
    # D3: 30 calendar days, ending at 23:59 Paris time on the last day.
    assert "The merchant must answer by April 9, 2026 at the latest (11:59 p.m., Europe/Paris time)." in text
    for record in ConsentRecord.objects.filter(case_reference=complaint.reference):
        with translation.override("en"):
            assert record.get_purpose_display() in text and record.notice_sha256 in text
    # What happens next: the designated mediator, free, and until when.
    assert "Médiateur du e-commerce" in text and merchant.mediation_body.website in text
    assert "Mediation is free for you (C. consom. L612-1)" in text
    assert "You can refer the dispute until March 10, 2027" in text
    first_page_png(document, tmp_path)


@needs_poppler
def test_d1_acknowledgement_pdf_shows_user_text_as_text(complaint):
    document = generate(DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, complaint, by=complaint.consumer)
    text = pdf_text(document)

    assert "<script>alert(1)</script>" in text  # escaped by the template, shown, never interpreted
    assert "« guillemets » & accents éàç" in text


@needs_poppler
def test_d1_acknowledgement_pdf_in_french_formats_dates_and_money(complaint):
    document = generate(
        DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, complaint, by=complaint.consumer, language="fr"
    )
    text = pdf_text(document)

    assert "10 mars 2026 10:30" in text and "9 avril 2026" in text
    assert "89,90 €" in text


@needs_poppler
def test_d1_documents_use_the_mediation_bodys_time_zone(consumer):
    body = MediationBodyFactory(time_zone="Indian/Reunion")  # UTC+4
    merchant = MerchantFactory(mediation_body=body)
    with travel(FILED):
        complaint = file_complaint(consumer, merchant)
    document = generate(DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, complaint, by=consumer)

    assert "March 10, 2026, 1:30 p.m. (Indian/Reunion)" in pdf_text(document)


@needs_poppler
def test_d4_mediator_notice_pdf_after_a_rejection(rejected, merchant, tmp_path):
    document = generate(DocumentKind.MEDIATOR_NOTICE, rejected, by=rejected.consumer)
    text = pdf_text(document)

    assert document.filename == f"mediator-information-{rejected.reference}.pdf"
    assert "Information on the consumer mediator" in text and rejected.reference in text
    assert f"On March 13, 2026, Librairie Lumière SAS rejected your complaint {rejected.reference}." in text
    assert "Designated consumer mediator" in text and "Médiateur du e-commerce" in text
    assert "Mediator's website" in text and merchant.mediation_body.website in text
    assert "Yes: the merchant has said it will take part." in text
    # Label and value: a two-column layout's reading order is pdftotext's choice, so each on its own.
    assert "Referral to the mediator possible until" in text and "March 10, 2027" in text
    assert 'choose "Refer the dispute to the mediator"' in text  # how to refer
    assert "free of charge for the consumer (C. consom. L612-1)" in text
    assert "L616-1" in text and "durable medium" in text
    facts = embedded_facts(document)
    assert facts["reference"] == rejected.reference and facts["answer_decision"] == "reject"
    assert facts["mediator"]["website"] == merchant.mediation_body.website
    assert_fingerprinted(document, rejected)
    first_page_png(document, tmp_path)


@needs_poppler
def test_d4_mediator_notice_pdf_after_a_lapse_says_the_merchant_will_not_take_part(lapsed):
    document = generate(DocumentKind.MEDIATOR_NOTICE, lapsed, by=lapsed.consumer)
    text = pdf_text(document)

    assert f"had until April 9, 2026 to answer your complaint {lapsed.reference} and has not answered" in text
    assert "No: the merchant has said it will not take part." in text
    assert "Médiateur du e-commerce" in text
    assert embedded_facts(document)["merchant"]["takes_part_in_mediation"] is False
    assert_fingerprinted(document, lapsed)


def test_d4_both_documents_leave_one_fingerprint_each_in_the_complaints_trail(rejected):
    acknowledgement = generate(DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, rejected)
    notice = generate(DocumentKind.MEDIATOR_NOTICE, rejected)

    recorded = AuditEvent.objects.filter(stream=rejected.reference, kind="document.generated")
    assert [e.payload["sha256"] for e in recorded.order_by("seq")] == [acknowledgement.sha256, notice.sha256]
    assert all(e.actor is None for e in recorded)  # requested by the platform itself
    assert audit_verify(stream=rejected.reference).ok
