"""D34, D37: a case's audit trail exported as PDF/A-3b, re-verifiable from the file alone."""

import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pikepdf
import pytest
from django.db import transaction

from complaints.services import complaint_response_lapsed, complaint_withdraw
from odr.audit.chain import HASHED_FIELDS, event_hash
from odr.audit.models import GENESIS_HASH, AuditEvent
from odr.audit.pdf import ATTACHMENT_NAME, audit_trail_spec
from odr.audit.services import audit_verify
from odr.documents.models import DocumentKind, DocumentStatus
from odr.documents.services import builder_for, document_render, document_request
from tests.helpers import file_complaint, referred_case, travel

from .test_chain import tamper

FILED = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # 10:30 in Paris
HOSTILE = "<script>alert(1)</script> « guillemets » & accents éàç"

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdftoppm")),
    reason="needs poppler-utils (pdftotext, pdftoppm) to read the PDF as a person would; .ci/run installs it",
)


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    """Generated files and signing keys in directories pytest removes afterwards."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


def export_trail(reference, *, by=None, language="en"):
    """As the compliance officer's export does: request in a transaction, then render (no Celery)."""
    with transaction.atomic():
        document = document_request(
            kind=DocumentKind.AUDIT_TRAIL, subject_reference=reference, by=by, language=language
        )
    return document_render(document.pk)


def embedded_events(document) -> list[dict]:
    with pikepdf.open(document.file.path) as pdf:
        assert list(pdf.attachments) == [ATTACHMENT_NAME]
        return json.loads(pdf.attachments[ATTACHMENT_NAME].get_file().read_bytes().decode("utf-8"))


def pdf_text(document) -> str:
    text = subprocess.run(["pdftotext", document.file.path, "-"], check=True, capture_output=True).stdout
    return " ".join(text.decode("utf-8").split())


def reverify(rows: list[dict]) -> tuple[int | None, str]:
    """Check the chain from the embedded JSON alone: (first bad seq or None, head hash)."""
    previous = GENESIS_HASH
    for number, row in enumerate(rows, start=1):
        fields = {name: row[name] for name in HASHED_FIELDS}
        fields["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
        if row["seq"] != number or row["prev_hash"] != previous or event_hash(**fields) != row["hash"]:
            return row["seq"], previous
        previous = row["hash"]
    return None, previous


@pytest.fixture
def lapsed_complaint(consumer, merchant):
    """Filed, then the response period lapsed: an event with no actor (the platform's)."""
    with travel(FILED):
        complaint = file_complaint(consumer, merchant)
    with travel(complaint.response_due_at + timedelta(minutes=1)):
        return complaint_response_lapsed(complaint=complaint)


def test_d37_audit_trail_builder_is_registered():
    assert builder_for(DocumentKind.AUDIT_TRAIL) is audit_trail_spec


def test_d34_audit_pdf_embeds_every_event_exactly_as_stored(lapsed_complaint, compliance_officer):
    reference = lapsed_complaint.reference
    stored = list(AuditEvent.objects.filter(stream=reference).order_by("seq"))
    document = export_trail(reference, by=compliance_officer)

    assert document.status == DocumentStatus.READY
    assert document.filename == f"audit-trail-{reference}.pdf"
    with pikepdf.open(document.file.path) as pdf:
        assert pdf.open_metadata().get("pdfaid:part") == "3"  # PDF/A-3: archivable, with the JSON
    rows = embedded_events(document)
    assert [row["hash"] for row in rows] == [event.hash for event in stored]
    for row, event in zip(rows, stored, strict=True):
        assert set(row) == {*HASHED_FIELDS, "hash"}
        assert {name: row[name] for name in HASHED_FIELDS if name != "occurred_at"} == {
            name: getattr(event, name) for name in HASHED_FIELDS if name != "occurred_at"
        }
        assert datetime.fromisoformat(row["occurred_at"]) == event.occurred_at


def test_d34_audit_pdf_json_alone_reverifies_the_chain(lapsed_complaint, compliance_officer):
    document = export_trail(lapsed_complaint.reference, by=compliance_officer)
    rows = embedded_events(document)

    broken_at, head = reverify(rows)
    assert broken_at is None and len(rows) == 4  # filed, two consents (D31), lapsed
    assert head == AuditEvent.objects.get(stream=lapsed_complaint.reference, seq=4).hash


def test_d37_audit_pdf_records_its_fingerprint(lapsed_complaint, compliance_officer):
    reference = lapsed_complaint.reference
    document = export_trail(reference, by=compliance_officer)

    content = document.file.read()
    assert document.sha256 == hashlib.sha256(content).hexdigest() and document.size == len(content)
    # The export is written to the trail (D34), after the events the PDF shows: it cannot show itself.
    generated = AuditEvent.objects.get(stream=reference, kind="document.generated")
    assert generated.seq == len(embedded_events(document)) + 1
    assert generated.actor == compliance_officer
    assert generated.payload == {
        "document_id": document.pk,
        "kind": DocumentKind.AUDIT_TRAIL,
        "sha256": document.sha256,
    }
    assert audit_verify(stream=reference).ok


@needs_poppler
def test_d34_audit_pdf_lists_every_event_with_hashes(
    lapsed_complaint, consumer, compliance_officer, tmp_path
):
    reference = lapsed_complaint.reference
    stored = list(AuditEvent.objects.filter(stream=reference).order_by("seq"))
    document = export_trail(reference, by=compliance_officer)
    text = pdf_text(document)

    assert f"Audit trail {reference}" in text
    assert "OK: 4 events checked; each matches its hash and the chain is unbroken." in text
    assert "Chain head hash (last event)" in text and stored[-1].hash in text
    assert "Requested by " + compliance_officer.display_name in text
    for event in stored:
        assert f"#{event.seq}" in text and event.kind in text
        assert f"hash: {event.hash}" in text and f"previous: {event.prev_hash}" in text
    # Times in the platform's time zone (09:30 UTC is 10:30 in Paris), and the hashed UTC time.
    assert "March 10, 2026, 10:30 a.m." in text and "Europe/Paris" in text
    assert "2026-03-10T09:30:00.000000+00:00" in text
    assert f"Actor: {consumer.display_name} · role: consumer" in text
    assert "Actor: platform · role: system" in text  # complaint.response_period_lapsed has no actor
    assert "category: non_delivery" in text  # the payload as key: value pairs
    # How to verify: what odr/audit/chain.py hashes, and the note on the export's own event.
    assert "SHA-256" in text and ", ".join(HASHED_FIELDS) in text
    assert "document.generated" in text and "a file cannot contain its own fingerprint" in text

    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", document.file.path, tmp_path / "page"],
        check=True,
    )
    [png] = tmp_path.glob("page*.png")
    assert png.read_bytes().startswith(b"\x89PNG")


@needs_poppler
def test_d34_audit_pdf_shows_user_text_in_payloads_as_text(consumer, merchant, compliance_officer):
    with travel(FILED):
        complaint = file_complaint(consumer, merchant)
        complaint_withdraw(complaint=complaint, by=consumer, reason=HOSTILE)
    document = export_trail(complaint.reference, by=compliance_officer)

    assert f"reason: {HOSTILE}" in pdf_text(document)
    assert embedded_events(document)[-1]["payload"]["reason"] == HOSTILE


@needs_poppler
def test_d34_audit_pdf_of_a_tampered_chain_says_it_is_broken_and_names_the_event(
    lapsed_complaint, compliance_officer
):
    reference = lapsed_complaint.reference
    second = AuditEvent.objects.get(stream=reference, seq=2)
    tamper(
        "UPDATE audit_auditevent SET payload = %s WHERE id = %s",
        [json.dumps({"purpose": "something_else"}), second.pk],
    )
    document = export_trail(reference, by=compliance_officer)
    text = pdf_text(document)

    assert "OK:" not in text
    assert (
        "BROKEN at event #2 (consent.given): its content does not match its hash "
        "(edited after it was written)." in text
    )
    assert "1 event before it was checked and found correct." in text
    # The embedded JSON is what is stored, tampering included: re-verifying it finds the same event.
    rows = embedded_events(document)
    assert rows[1]["payload"] == {"purpose": "something_else"}
    assert reverify(rows)[0] == 2


@needs_poppler
def test_d34_audit_pdf_of_a_mediation_case_in_french(consumer, merchant, agent, compliance_officer):
    with travel(FILED):
        case = referred_case(consumer, merchant, agent)
    document = export_trail(case.reference, by=compliance_officer, language="fr")

    rows = embedded_events(document)
    assert rows and {row["stream"] for row in rows} == {case.reference}
    assert reverify(rows)[0] is None
    text = pdf_text(document)
    assert case.reference in text and "10 mars 2026 10:30" in text  # French date format
    assert document.filename == f"audit-trail-{case.reference}.pdf"


def test_d37_audit_pdf_of_an_unknown_reference_is_refused(compliance_officer):
    """No trail, no export: the builder refuses rather than start a chain for a case that does not exist."""
    with pytest.raises(AuditEvent.DoesNotExist):
        export_trail("C-1999-000001", by=compliance_officer)
    assert not AuditEvent.objects.filter(stream="C-1999-000001").exists()


def test_d34_audit_pdf_of_a_head_problem_gives_its_own_verdict(
    lapsed_complaint, compliance_officer, monkeypatch
):
    """A problem of the chain's head has no event to name: no "BROKEN at event #N ()"."""
    from odr.audit.verification import BrokenEvent, ChainVerification

    reference = lapsed_complaint.reference
    problem = "its head records #9 but no event of this case is left: the stream was emptied"
    verdict = ChainVerification(0, 1, BrokenEvent(None, reference, 9), problem)
    monkeypatch.setattr("odr.audit.pdf.audit_verify", lambda stream: verdict)
    text = pdf_text(export_trail(reference, by=compliance_officer))
    assert f"BROKEN at the chain's head, which records event #9: {problem}." in text
    assert "BROKEN at event" not in text
