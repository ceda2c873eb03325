"""Redis restarted empty (no persistence) while e-mails and a document wait in it, the worker stopped:
nothing is lost. The tasks are gone with Redis, but the rows are the truth: the periodic pick-ups
that beat sends (outbox relay, pending documents) deliver each e-mail once and render the document.
"""

from datetime import timedelta

import pikepdf
import pytest
import redis
from django.db import transaction

from odr import clock
from odr.audit.models import AuditEvent
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import document_request
from odr.notifications.models import OutboxMessage, OutboxStatus
from tests.factories import UserFactory
from tests.helpers import file_complaint
from tests.processes import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_redis_restarted_with_work_pending_loses_nothing(celery, redis_server, smtp, merchant):
    complaints = [file_complaint(UserFactory(), merchant) for _ in range(3)]
    with transaction.atomic():
        document = document_request(
            kind=DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, subject_reference=complaints[0].reference
        )
    rows = OutboxMessage.objects.filter(case_reference__in=[c.reference for c in complaints])
    keys = set(rows.values_list("idempotency_key", flat=True))
    queued = redis.Redis.from_url(redis_server.url)
    assert queued.llen("notifications") == len(keys) and queued.llen("pdf") == 1

    redis_server.stop()
    redis_server.start()  # same port, empty: no RDB, no AOF
    assert queued.llen("notifications") == 0 and queued.llen("pdf") == 0
    # Requested over a minute ago: the pick-up leaves younger documents to their own task.
    GeneratedDocument.objects.filter(pk=document.pk).update(requested_at=clock.now() - timedelta(minutes=2))

    celery.worker("w1")
    celery.beat("beat")
    wait_until(
        lambda: (
            not rows.exclude(status=OutboxStatus.SENT).exists()
            and GeneratedDocument.objects.get(pk=document.pk).status == DocumentStatus.READY
        ),
        timeout=60,
        what="every e-mail sent and the document ready",
    )
    assert smtp.wait_for(len(keys), timeout=10)
    delivered = smtp.keys()
    assert set(delivered) == keys and all(n == 1 for n in delivered.values()), delivered
    document.refresh_from_db()
    with pikepdf.open(document.file.path) as pdf:
        assert len(pdf.pages) >= 1
    generated = AuditEvent.objects.filter(kind="document.generated", payload__document_id=document.pk)
    assert generated.count() == 1


def test_a_running_worker_reconnects_after_redis_restarts(celery, redis_server, smtp, merchant):
    """Redis goes away under a running worker and comes back empty: the worker reconnects by itself
    and consumes what is published afterwards (no beat here: nothing else would deliver it)."""
    celery.worker("w1", queues="default,notifications")
    seen = celery.log_size("w1")
    redis_server.stop()
    celery.wait_for_log("w1", "Connection to broker lost", after=seen, timeout=20)
    seen = celery.log_size("w1")
    redis_server.start()
    celery.wait_for_log("w1", "Connected to redis://", after=seen, timeout=30)

    complaint = file_complaint(UserFactory(), merchant)  # published on commit, to the new Redis
    rows = OutboxMessage.objects.filter(case_reference=complaint.reference)
    keys = set(rows.values_list("idempotency_key", flat=True))
    assert keys
    wait_until(lambda: not rows.exclude(status=OutboxStatus.SENT).exists(), timeout=30, what="every e-mail")
    assert smtp.wait_for(len(keys), timeout=10)
    delivered = smtp.keys()
    assert set(delivered) == keys and all(n == 1 for n in delivered.values()), delivered
    assert celery.processes["w1"][0].poll() is None  # the same worker, still running
