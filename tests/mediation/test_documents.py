"""The mediation record PDF (D27, D28, D20) and who may request and download the case's documents (D30)."""

import hashlib
import json
import shutil
import subprocess

import pikepdf
import pytest
from django.db import transaction

from mediation.models import Audience
from mediation.services import case_post_message, proposal_respond
from odr.audit.models import AuditEvent
from odr.documents.models import DocumentKind, GeneratedDocument
from odr.documents.services import document_render, document_request
from tests.helpers import proposal_for

needs_poppler = pytest.mark.skipif(
    not shutil.which("pdftotext"), reason="needs poppler-utils (pdftotext); .ci/run installs it"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "keys"


@pytest.fixture
def settled(consumer, merchant, agent, mediator):
    proposal = proposal_for(consumer, merchant, agent, mediator)
    case = proposal.case
    case_post_message(case=case, by=mediator, body="PRIVATE-TO-CONSUMER", audience=Audience.CONSUMER_PRIVATE)
    case_post_message(case=case, by=mediator, body="PRIVATE-TO-MERCHANT", audience=Audience.MERCHANT_PRIVATE)
    case_post_message(case=case, by=consumer, body="JOINT-MESSAGE")
    proposal_respond(proposal=proposal, by=consumer, accept=True, language="en")
    proposal_respond(proposal=proposal, by=agent, accept=True, language="en")
    case.refresh_from_db()
    return case


def record(case, audience, language="en"):
    with transaction.atomic():
        document = document_request(
            kind=DocumentKind.MEDIATION_RECORD,
            subject_reference=case.reference,
            language=language,
            parameters={"audience": audience},
        )
    return document_render(document.pk)


def pdf_text(path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True).stdout
    return " ".join(out.decode().split())


def embedded_json(path) -> dict:
    with pikepdf.open(path) as pdf:
        assert pdf.open_metadata().get("pdfaid:part") == "3"
        return json.loads(pdf.attachments["mediation-record.json"].get_file().read_bytes())


@needs_poppler
def test_d27_d28_record_gives_parties_dates_proposal_answers_outcome_and_limitation(
    settled, consumer, merchant
):
    document = record(settled, "full")
    text = pdf_text(document.file.path)
    for expected in (
        settled.reference,
        settled.complaint.reference,
        consumer.display_name,
        merchant.legal_name,
        "Notice of saisine",
        "Remboursement intégral sous 14 jours.",  # the proposal and the grounds
        "free to accept or to refuse",
        "may differ from the decision a judge would make",
        "Settled",
        "runs again from the closure date for at least six months",  # D28
        "Page 1 /",
    ):
        assert expected in text, expected


def test_d27_record_embeds_the_events_and_its_fingerprint_is_audited(settled):
    document = record(settled, "full")
    data = embedded_json(document.file.path)
    stored = AuditEvent.objects.filter(stream__in=[settled.reference, settled.complaint.reference])
    # Every event up to the rendering; the "document.generated" event necessarily comes after it.
    assert {e["hash"] for e in data["events"]} == set(
        stored.exclude(kind="document.generated").values_list("hash", flat=True)
    )
    content = document.file.open("rb").read()
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    generated = AuditEvent.objects.get(stream=settled.reference, kind="document.generated")
    assert generated.payload["sha256"] == document.sha256


@needs_poppler
def test_d20_private_messages_never_appear_in_the_other_partys_record(settled):
    consumer_copy, merchant_copy, full = (record(settled, a) for a in ("consumer", "merchant", "full"))
    consumer_text, merchant_text, full_text = (
        pdf_text(d.file.path) for d in (consumer_copy, merchant_copy, full)
    )
    assert "PRIVATE-TO-CONSUMER" in consumer_text and "PRIVATE-TO-MERCHANT" not in consumer_text
    assert "PRIVATE-TO-MERCHANT" in merchant_text and "PRIVATE-TO-CONSUMER" not in merchant_text
    assert "PRIVATE-TO-CONSUMER" in full_text and "PRIVATE-TO-MERCHANT" in full_text
    assert all("JOINT-MESSAGE" in t for t in (consumer_text, merchant_text, full_text))
    # Nor in the machine-readable part: the other side's private messages are not even counted.
    merchant_events = embedded_json(merchant_copy.file.path)["events"]
    audiences = {e["payload"].get("audience") for e in merchant_events if e["kind"] == "case.message"}
    assert audiences == {"everyone", "merchant"}


@needs_poppler
def test_record_escapes_user_text(consumer, merchant, agent, mediator):
    proposal = proposal_for(consumer, merchant, agent, mediator)
    case_post_message(case=proposal.case, by=consumer, body="<script>alert(1)</script> « guillemets » & éàç")
    text = pdf_text(record(proposal.case, "consumer").file.path)
    assert "<script>alert(1)</script> « guillemets » & éàç" in text


# --- Views: who may request and download what (D30) --------------------------------------------


def test_parties_get_their_own_copy_and_strangers_get_404(
    client, settled, consumer, agent, other_consumer, foreign_mediator
):
    client.force_login(consumer)
    page = client.get(f"/cases/{settled.reference}/documents/")
    assert page.status_code == 200
    client.post(f"/cases/{settled.reference}/documents/generate/", {"kind": "mediation_record"})
    document = GeneratedDocument.objects.get()
    assert document.parameters == {"audience": "consumer"}
    document_render(document.pk)
    download = client.get(f"/documents/{document.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    # The merchant may not download the consumer's copy; strangers see nothing at all.
    client.force_login(agent)
    assert client.get(f"/documents/{document.pk}/download/").status_code == 404
    for stranger in (other_consumer, foreign_mediator):
        client.force_login(stranger)
        assert client.get(f"/cases/{settled.reference}/documents/").status_code == 404
        assert (
            client.post(
                f"/cases/{settled.reference}/documents/generate/", {"kind": "mediation_record"}
            ).status_code
            == 404
        )
        assert client.get(f"/documents/{document.pk}/download/").status_code == 404


def test_only_mediator_and_compliance_export_the_audit_trail(client, settled, consumer, compliance_officer):
    client.force_login(consumer)
    assert (
        client.post(f"/cases/{settled.reference}/documents/generate/", {"kind": "audit_trail"}).status_code
        == 404
    )
    client.force_login(compliance_officer)
    response = client.post(f"/cases/{settled.reference}/documents/generate/", {"kind": "audit_trail"})
    assert response.status_code == 302
    assert GeneratedDocument.objects.get().kind == DocumentKind.AUDIT_TRAIL


def test_anonymous_is_sent_to_log_in(client, settled):
    response = client.get(f"/cases/{settled.reference}/documents/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Compliance: the body's reports and exports (D36, D37) --------------------------------------


def test_compliance_officer_requests_and_downloads_body_exports(client, settled, body, compliance_officer):
    client.force_login(compliance_officer)
    assert client.get(f"/compliance/{body.slug}/documents/").status_code == 200
    response = client.post(
        f"/compliance/{body.slug}/documents/generate/",
        {"kind": "case_export", "from": "2020-01-01", "to": "2030-12-31"},
    )
    assert response.status_code == 302
    document = GeneratedDocument.objects.get(kind=DocumentKind.CASE_EXPORT)
    document_render(document.pk)
    download = client.get(f"/documents/{document.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"


def test_bad_export_range_is_refused_and_changes_nothing(client, body, compliance_officer):
    client.force_login(compliance_officer)
    response = client.post(
        f"/compliance/{body.slug}/documents/generate/",
        {"kind": "case_export", "from": "2026-12-31", "to": "2026-01-01"},
    )
    assert response.status_code == 400
    assert (
        "start date before the end date" in response.content.decode()
        or "date de début" in response.content.decode()
    )
    assert not GeneratedDocument.objects.exists()


def test_body_documents_are_for_that_bodys_compliance_officers_only(
    client, settled, body, compliance_officer, mediator, consumer, other_body
):
    from odr.accounts.models import Role
    from tests.factories import MembershipFactory

    client.force_login(compliance_officer)
    client.post(
        f"/compliance/{body.slug}/documents/generate/",
        {"kind": "case_export", "from": "2020-01-01", "to": "2030-12-31"},
    )
    document = GeneratedDocument.objects.get()
    document_render(document.pk)
    foreign_officer = MembershipFactory(
        role=Role.COMPLIANCE_OFFICER, mediation_body=other_body, merchant=None
    ).user
    for outsider in (mediator, consumer, foreign_officer):
        client.force_login(outsider)
        assert client.get(f"/compliance/{body.slug}/documents/").status_code == 404
        assert client.get(f"/documents/{document.pk}/download/").status_code == 404
        assert (
            client.post(
                f"/compliance/{body.slug}/documents/generate/", {"kind": "annual_report", "year": "2026"}
            ).status_code
            == 404
        )
    assert GeneratedDocument.objects.count() == 1


def test_a_document_that_cannot_be_built_is_marked_failed_and_not_retried(db):
    from odr.documents.models import DocumentStatus
    from odr.documents.services import documents_render_pending

    with transaction.atomic():
        document = document_request(
            kind=DocumentKind.MEDIATION_RECORD,
            subject_reference="M-2026-999999",
            parameters={"audience": "full"},
        )
    with pytest.raises(Exception, match="does not exist"):
        document_render(document.pk)
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED and "does not exist" in document.error
    assert documents_render_pending(older_than_seconds=0) == 0  # no longer pending: not retried
