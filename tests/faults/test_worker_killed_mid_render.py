"""A worker SIGKILLed while it renders a PDF, then restarted: the document ends `ready` once.

A one-piece PDF (a mediation record) is rendered inside the transaction that locks its row: the kill
rolls it back, the row is pending again and the periodic pick-up renders it. An export is produced in
steps outside any transaction, `running` under a lease renewed at each progress report: the kill leaves
it running, and once its lease has run out the periodic pick-up takes it over (odr/documents/services.py).
"""

import hashlib
import zipfile
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pikepdf
import pytest
from django.db import transaction

from mediation.services import case_post_message
from odr import clock
from odr.audit.models import AuditEvent
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import document_request
from odr.tasks_enqueue import breaker_open
from tests.helpers import open_case, travel
from tests.processes import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARIS = ZoneInfo("Europe/Paris")
LEASE_SECONDS = 3


@pytest.fixture
def celery_env():
    return {"ODR_DOCUMENT_LEASE_SECONDS": str(LEASE_SECONDS)}


def request(**fields) -> GeneratedDocument:
    with transaction.atomic():  # its task goes to the test's Redis on commit
        document = document_request(**fields)
    assert not breaker_open(), "the document's task could not be published to the test's Redis"
    # Requested a while ago: the pick-up leaves alone what was requested in the last minute (its task
    # is still on its way); here the task is gone with the killed worker.
    GeneratedDocument.objects.filter(pk=document.pk).update(requested_at=clock.now() - timedelta(minutes=5))
    return document


def locked_by_a_worker(document) -> bool:
    with transaction.atomic():
        return not list(GeneratedDocument.objects.select_for_update(skip_locked=True).filter(pk=document.pk))


def succeeded(celery, worker: str, task: str) -> int:
    """How many runs of `task` the worker has finished, from its log."""
    return sum(1 for line in celery.log(worker).splitlines() if f"{task}[" in line and "succeeded" in line)


def generated_events(document):
    return AuditEvent.objects.filter(kind="document.generated", payload__document_id=document.pk)


def test_worker_killed_mid_render_the_record_is_rendered_once(celery, consumer, merchant, agent, mediator):
    case = open_case(consumer, merchant, agent, mediator)
    for n in range(120):  # a long record: a render that lasts long enough to be caught
        text = f"Message {n}: " + "pièce justificative attendue. " * 12
        case_post_message(case=case, by=mediator, body=text)
    document = request(
        kind=DocumentKind.MEDIATION_RECORD, subject_reference=case.reference, parameters={"audience": "full"}
    )

    celery.worker("w1", queues="pdf")
    try:
        wait_until(
            lambda: locked_by_a_worker(document), timeout=30, interval=0.02, what="the render to start"
        )
    except AssertionError as exc:  # say what the worker did instead (CI failed here once, not since)
        document.refresh_from_db()
        raise AssertionError(
            f"{exc}; document {document.status}; worker log:\n{celery.log('w1')[-3000:]}"
        ) from exc
    celery.kill("w1")

    document.refresh_from_db()
    assert document.status == DocumentStatus.PENDING and not document.file
    assert not generated_events(document).exists()

    celery.worker("w2", queues="pdf")
    celery.beat("beat")
    wait_until(
        lambda: GeneratedDocument.objects.get(pk=document.pk).status == DocumentStatus.READY,
        timeout=60,
        what="the record to be ready",
    )
    pickups = succeeded(celery, "w2", "odr.documents.render_pending")
    document.refresh_from_db()
    with document.file.open("rb") as stream:
        content = stream.read()
    assert hashlib.sha256(content).hexdigest() == document.sha256
    with pikepdf.open(document.file.path) as pdf:
        assert len(pdf.pages) > 1
    # A later pick-up leaves a ready document alone: one fingerprint in the trail.
    wait_until(lambda: succeeded(celery, "w2", "odr.documents.render_pending") > pickups, timeout=10)
    assert generated_events(document).count() == 1
    assert GeneratedDocument.objects.get(pk=document.pk).sha256 == document.sha256


def test_worker_killed_mid_export_the_export_is_taken_over_and_ready_once(
    celery, consumer, merchant, agent, mediator, body, compliance_officer
):
    cases = []
    for day in (3, 10, 20):
        with travel(datetime(2026, 3, day, 10, 0, tzinfo=PARIS)):
            cases.append(open_case(consumer, merchant, agent, mediator))
    document = request(
        kind=DocumentKind.CASE_EXPORT,
        subject_reference=f"B-{body.slug}",
        by=compliance_officer,
        parameters={"body": body.slug, "from": "2026-03-01", "to": "2026-03-31"},
    )

    celery.worker("w1", queues="pdf")
    wait_until(
        lambda: GeneratedDocument.objects.filter(pk=document.pk, status="running", progress__gte=33).exists(),
        timeout=60,
        interval=0.05,
        what="the export to be under way",
    )
    celery.kill("w1")
    document.refresh_from_db()
    assert document.status == DocumentStatus.RUNNING and 0 < document.progress < 100
    killed_lease = document.lease_expires_at
    assert killed_lease is not None

    celery.worker("w2", queues="pdf")
    celery.beat("beat")
    wait_until(
        lambda: GeneratedDocument.objects.get(pk=document.pk).status == DocumentStatus.READY,
        timeout=90,
        what="the export to be taken over and ready",
    )
    document.refresh_from_db()
    # Taken over only once the killed worker's lease had run out (it might only have been slow).
    assert document.ready_at > killed_lease
    with document.file.open("rb") as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == document.sha256
    with zipfile.ZipFile(document.file.path) as archive:
        manifest = archive.read("MANIFEST.sha256").decode().splitlines()
        assert len(manifest) == 3 * len(cases) + 1
        for line in manifest:
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name
        for case in cases:
            with archive.open(f"{case.reference}/mediation-record.pdf") as member, pikepdf.open(member):
                pass
    # The trail tells the truth: each case says it was exported (by the killed run, again by the retry).
    exported = AuditEvent.objects.filter(kind="case.exported", payload__export_document_id=document.pk)
    assert set(exported.values_list("stream", flat=True)) == {c.reference for c in cases}
    assert GeneratedDocument.objects.filter(pk=document.pk, status=DocumentStatus.READY).count() == 1
