"""The every-minute pick-up of documents reads only what is due, through its partial indexes, however
many documents were ever made (PostgreSQL: the planner is the one that matters)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from odr import clock
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import documents_render_pending
from tests.helpers import query_plans

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_pickup_plans_no_sequential_scan_and_no_sort():
    """With sequential scans disabled, a query that still plans one has no index to serve it; a Sort
    node means the index does not give the order either (both read the whole table at scale)."""
    now = clock.now()
    GeneratedDocument.objects.bulk_create(
        GeneratedDocument(
            kind=DocumentKind.ANNUAL_REPORT,
            subject_reference=f"B-{n}",
            status=DocumentStatus.READY,
            requested_at=now - timedelta(days=n),
        )
        for n in range(50)
    )
    with CaptureQueriesContext(connection) as captured:
        assert documents_render_pending() == 0
    statements = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert len(statements) == 2, statements  # pending, and running past its lease
    for sql, plan in query_plans(statements):
        assert "Seq Scan" not in plan and "Sort" not in plan, f"{sql}\n{plan}"


def test_the_pickup_takes_the_oldest_pending_first(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    now = clock.now()
    documents = GeneratedDocument.objects.bulk_create(
        GeneratedDocument(
            kind="no-such-kind",  # fails at once: the test only looks at the order of the claims
            subject_reference=f"B-{n}",
            requested_at=now - timedelta(minutes=2 + n),
        )
        for n in range(3)
    )
    assert documents_render_pending(batch=2) == 2
    failed = set(GeneratedDocument.objects.filter(status=DocumentStatus.FAILED).values_list("pk", flat=True))
    assert failed == {documents[2].pk, documents[1].pk}
