"""Documents produced in steps are held under a lease: the periodic pick-up takes over a running
export only once its worker stopped renewing it (killed), and a document is made ready once."""

import uuid
from datetime import timedelta

import pytest
from django.db import transaction

from odr import clock
from odr.documents import services
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import document_request, documents_render_pending

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_DOCUMENT_LEASE_SECONDS = 60


@pytest.fixture
def producer(tmp_path):
    """A producer of the export kind that writes a small file and reports progress."""
    calls = []

    def produce(document, report_progress):
        calls.append(document.pk)
        report_progress(50)
        path = tmp_path / f"export-{len(calls)}.zip"
        path.write_bytes(b"PK\x05\x06" + b"\0" * 18)
        return services.ProducedFile(path=str(path), filename="cases.zip")

    original = services._producers[DocumentKind.CASE_EXPORT]
    services._producers[DocumentKind.CASE_EXPORT] = produce
    yield calls
    services._producers[DocumentKind.CASE_EXPORT] = original


def running_export(*, lease_left: timedelta | None) -> GeneratedDocument:
    with transaction.atomic():
        document = document_request(kind=DocumentKind.CASE_EXPORT, subject_reference="B-x", parameters={})
    GeneratedDocument.objects.filter(pk=document.pk).update(
        status=DocumentStatus.RUNNING,
        progress=40,
        requested_at=clock.now() - timedelta(hours=1),
        lease_expires_at=None if lease_left is None else clock.now() + lease_left,
    )
    return document


def test_a_running_export_whose_lease_holds_is_left_to_its_worker(producer):
    document = running_export(lease_left=timedelta(seconds=30))
    assert documents_render_pending() == 0
    assert producer == []
    assert GeneratedDocument.objects.get(pk=document.pk).status == DocumentStatus.RUNNING


@pytest.mark.parametrize("lease_left", [timedelta(seconds=-1), None], ids=["expired", "before-leases"])
def test_a_running_export_whose_lease_ran_out_is_taken_over_and_made_ready_once(producer, lease_left):
    document = running_export(lease_left=lease_left)
    assert documents_render_pending() == 1
    document.refresh_from_db()
    assert producer == [document.pk]
    assert document.status == DocumentStatus.READY and document.progress == 100
    assert documents_render_pending() == 0  # ready: never produced again


def test_progress_renews_the_lease(producer):
    with transaction.atomic():
        document = document_request(kind=DocumentKind.CASE_EXPORT, subject_reference="B-x", parameters={})
    seen = []
    original = services._producers[DocumentKind.CASE_EXPORT]

    def watching(doc, report):
        before = GeneratedDocument.objects.get(pk=doc.pk).lease_expires_at
        report(50)
        seen.append((before, GeneratedDocument.objects.get(pk=doc.pk).lease_expires_at))
        return original(doc, report)

    services._producers[DocumentKind.CASE_EXPORT] = watching
    services.document_render(document.pk)
    ((before, after),) = seen
    assert before is not None and after > before


def test_a_worker_finishing_after_its_export_was_taken_over_does_not_make_it_ready_twice(producer):
    document = running_export(lease_left=timedelta(seconds=-1))
    first = {}
    original = services._producers[DocumentKind.CASE_EXPORT]

    def slow_then_overtaken(doc, report):
        produced = original(doc, report)
        # While this worker was silent, another took the export over and finished it.
        services._producers[DocumentKind.CASE_EXPORT] = original
        expired = clock.now() - timedelta(seconds=1)
        GeneratedDocument.objects.filter(pk=doc.pk).update(lease_expires_at=expired)
        first["other"] = services.document_render(doc.pk)
        return produced

    services._producers[DocumentKind.CASE_EXPORT] = slow_then_overtaken
    services.document_render(document.pk)
    assert first["other"].status == DocumentStatus.READY
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert document.sha256 == first["other"].sha256 and document.file.name == first["other"].file.name


def test_a_worker_whose_export_was_taken_over_cannot_renew_it_and_stops(producer):
    """The old worker, silent past its lease, comes back after another worker claimed the export: its
    progress report does not renew the new lease and stops its run, leaving the row to the other."""
    document = running_export(lease_left=timedelta(seconds=-1))
    original = services._producers[DocumentKind.CASE_EXPORT]
    seen = {}

    def overtaken(doc, report):
        # While this worker was silent, another claimed the export (a new token) and is producing it.
        services._producers[DocumentKind.CASE_EXPORT] = original
        GeneratedDocument.objects.filter(pk=doc.pk).update(
            lease_expires_at=clock.now() - timedelta(seconds=1)
        )
        claimed = services._claimable(clock.now())
        assert GeneratedDocument.objects.filter(claimed, pk=doc.pk).update(
            lease_token=uuid.uuid4(), lease_expires_at=clock.now() + timedelta(seconds=30), progress=10
        )
        seen["other"] = GeneratedDocument.objects.get(pk=doc.pk)
        report(80)  # raises LeaseLost: the producer stops there
        seen["went on"] = True

    services._producers[DocumentKind.CASE_EXPORT] = overtaken
    services.document_render(document.pk)  # LeaseLost is handled: nothing raised, nothing marked
    after = GeneratedDocument.objects.get(pk=document.pk)
    other = seen["other"]
    assert "went on" not in seen
    assert after.status == DocumentStatus.RUNNING and after.error == ""
    assert (after.lease_token, after.lease_expires_at, after.progress) == (
        other.lease_token,
        other.lease_expires_at,
        10,
    )


def test_an_old_worker_failing_after_a_takeover_does_not_fail_the_export(producer):
    """Same, for a producer that fails before reporting any progress: the failure is not recorded on
    the row the other worker holds, and this worker's error still reaches its task."""
    document = running_export(lease_left=timedelta(seconds=-1))

    def overtaken_then_failing(doc, report):
        GeneratedDocument.objects.filter(pk=doc.pk).update(lease_token=uuid.uuid4())  # another claim
        raise RuntimeError("disk full")

    services._producers[DocumentKind.CASE_EXPORT] = overtaken_then_failing
    with pytest.raises(RuntimeError, match="disk full"):
        services.document_render(document.pk)
    after = GeneratedDocument.objects.get(pk=document.pk)
    assert after.status == DocumentStatus.RUNNING and after.error == ""


def test_a_claim_sets_a_new_token(producer):
    document = running_export(lease_left=timedelta(seconds=-1))
    GeneratedDocument.objects.filter(pk=document.pk).update(lease_token=uuid.uuid4())
    before = GeneratedDocument.objects.get(pk=document.pk).lease_token
    tokens = []
    original = services._producers[DocumentKind.CASE_EXPORT]

    def watching(doc, report):
        tokens.append(GeneratedDocument.objects.get(pk=doc.pk).lease_token)
        return original(doc, report)

    services._producers[DocumentKind.CASE_EXPORT] = watching
    services.document_render(document.pk)
    assert tokens[0] is not None and tokens[0] != before
    assert GeneratedDocument.objects.get(pk=document.pk).status == DocumentStatus.READY
