"""Bulk export (D37): a date range of a body's cases as one ZIP, each case's mediation record (full),
audit-trail PDF and events as JSON, plus a manifest of SHA-256s.

Memory stays flat however many cases: cases are read with an iterator, each file is rendered, written
into the ZIP on disk and dropped before the next. Progress is reported as cases are done.
"""

import hashlib
import json
import os
import tempfile
import zipfile
from datetime import date, datetime, time

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q

from odr.accounts.models import MediationBody
from odr.audit.models import AuditEvent
from odr.audit.services import audit_record
from odr.documents.models import DocumentKind, GeneratedDocument
from odr.documents.services import ProducedFile, builder_for, render_spec
from odr.locking import lock

from .documents import FULL, mediation_record_spec
from .models import MediationCase


def export_cases_queryset(*, body: MediationBody, date_from: date, date_to: date):
    """Cases of `body` referred between the two dates (inclusive, in the body's time zone)."""
    from odr.deadlines.calendar import zone

    tz = zone(body.time_zone)
    start = datetime.combine(date_from, time.min, tzinfo=tz)
    end = datetime.combine(date_to, time.max, tzinfo=tz)
    return MediationCase.objects.filter(mediation_body=body, referred_at__range=(start, end)).order_by(
        "referred_at", "pk"
    )


def _case_events_json(case: MediationCase) -> bytes:
    events = AuditEvent.objects.filter(
        Q(stream=case.reference) | Q(stream=case.complaint.reference)
    ).order_by("stream", "seq")
    rows = list(
        events.values(
            "stream", "seq", "kind", "occurred_at", "actor_id", "actor_role", "payload", "prev_hash", "hash"
        )
    )
    return json.dumps(
        {"case": case.reference, "events": rows}, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1
    ).encode()


def export_cases_produce(document: GeneratedDocument, report_progress) -> ProducedFile:
    params = document.parameters
    body = MediationBody.objects.get(slug=params["body"])
    date_from, date_to = date.fromisoformat(params["from"]), date.fromisoformat(params["to"])
    cases = export_cases_queryset(body=body, date_from=date_from, date_to=date_to)
    total = cases.count()
    # Local scratch, not MEDIA_ROOT: on several hosts storage is a bucket, and a half-written ZIP must
    # never be a stored file. document_render moves the finished one into storage and removes it.
    if settings.ODR_WORK_DIR:
        os.makedirs(settings.ODR_WORK_DIR, exist_ok=True)
    descriptor, path = tempfile.mkstemp(prefix="odr-export-", suffix=".zip", dir=settings.ODR_WORK_DIR)
    os.close(descriptor)
    try:
        _write_archive(
            path, document=document, body=body, cases=cases, total=total, report_progress=report_progress
        )
    except BaseException:
        os.remove(path)
        raise
    return ProducedFile(path=path, filename=f"cases-{body.slug}-{params['from']}-{params['to']}.zip")


def _write_archive(path, *, document, body, cases, total, report_progress) -> None:
    params = document.parameters
    manifest = []

    def add(archive: zipfile.ZipFile, name: str, content: bytes) -> None:
        archive.writestr(name, content)
        manifest.append(f"{hashlib.sha256(content).hexdigest()}  {name}")

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, case in enumerate(cases.iterator(chunk_size=50), start=1):
            folder = case.reference
            record = GeneratedDocument(
                kind=DocumentKind.MEDIATION_RECORD,
                subject_reference=case.reference,
                parameters={"audience": FULL},
            )
            add(
                archive,
                f"{folder}/mediation-record.pdf",
                render_spec(mediation_record_spec(record), language=document.language).content,
            )
            trail = GeneratedDocument(kind=DocumentKind.AUDIT_TRAIL, subject_reference=case.reference)
            add(
                archive,
                f"{folder}/audit-trail.pdf",
                render_spec(builder_for(DocumentKind.AUDIT_TRAIL)(trail), language=document.language).content,
            )
            add(archive, f"{folder}/events.json", _case_events_json(case))
            with transaction.atomic():  # D34: the export is in each case's trail
                lock(case)
                audit_record(
                    stream=case.reference,
                    kind="case.exported",
                    actor=document.requested_by,
                    payload={"export_document_id": document.pk},
                )
            report_progress(done * 100 // max(total, 1))
        summary = {
            "body": body.slug,
            "from": params["from"],
            "to": params["to"],
            "cases": total,
            "files": len(manifest),
        }
        add(archive, "export.json", json.dumps(summary, indent=1).encode())
        archive.writestr("MANIFEST.sha256", "\n".join(manifest) + "\n")
