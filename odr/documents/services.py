"""Generating documents: request (in the caller's transaction) → render (Celery `pdf` queue) → store.

The stages register, per document kind, a builder that returns what to render; this package never
imports them (`register_document_builder`, in their AppConfig.ready).
"""

import contextlib
import hashlib
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import translation

from odr import clock
from odr.audit.services import audit_record
from odr.ops.logcontext import case

from .models import DocumentStatus, GeneratedDocument
from .rendering import PdfAttachment, render_pdf
from .storage import removed_on_error

log = logging.getLogger(__name__)


@dataclass
class DocumentSpec:
    """What a builder returns: the template and context to render, and what to embed."""

    template: str
    context: dict
    filename: str
    time_zone: str | None = None
    attachments: list[PdfAttachment] = field(default_factory=list)
    audit_stream: str = ""  # the chain that records the fingerprint; "" for none


_builders: dict[str, Callable[[GeneratedDocument], DocumentSpec]] = {}


def register_document_builder(kind: str, builder: Callable[[GeneratedDocument], DocumentSpec]) -> None:
    """A one-piece PDF: `builder(document)` says what to render."""
    _builders[kind] = builder


@dataclass
class ProducedFile:
    path: str  # a file the producer wrote, moved into storage by document_render
    filename: str
    audit_stream: str = ""


# Long documents (exports) are produced step by step, outside any long transaction, reporting progress.
_producers: dict[str, Callable[[GeneratedDocument, Callable[[int], None]], ProducedFile]] = {}


def register_document_producer(kind: str, producer) -> None:
    """A file produced in steps: `producer(document, report_progress)` returns a ProducedFile."""
    _producers[kind] = producer


def render_spec(spec: DocumentSpec, *, language: str):
    """Render a builder's spec to PDF bytes (for producers that assemble several documents)."""
    return render_pdf(
        template=spec.template,
        context=spec.context,
        language=language,
        time_zone=spec.time_zone,
        attachments=spec.attachments,
    )


def builder_for(kind: str) -> Callable[[GeneratedDocument], DocumentSpec]:
    return _builders[kind]


def document_request(
    *, kind: str, subject_reference: str, by=None, language: str = "fr", parameters=None
) -> GeneratedDocument:
    """Queue a document for rendering after commit. The caller has checked `by` may see the subject."""
    document = GeneratedDocument.objects.create(
        kind=kind,
        subject_reference=subject_reference,
        parameters=parameters or {},
        language=language,
        requested_by=by,
        requested_at=clock.now(),
    )
    transaction.on_commit(lambda: _enqueue(document.pk))
    return document


def _enqueue(document_id: int) -> None:
    """After commit, never waiting on the broker (odr/tasks_enqueue.py); if it is down, the periodic
    pick-up (`render_pending_documents`) renders the document."""
    from odr.tasks_enqueue import enqueue_task

    from .tasks import render_document

    enqueue_task(render_document, document_id, what=f"document {document_id}")


def document_render(document_id: int) -> GeneratedDocument | None:
    """Render a pending document now (the `pdf` queue's task, or a command) and record its fingerprint."""
    row = GeneratedDocument.objects.filter(pk=document_id).values_list("kind", "subject_reference").first()
    if row is None:
        return None
    kind, subject_reference = row
    with case(subject_reference):  # the worker's log lines about this document name its case
        if kind in _producers:
            return _produce(document_id)
        return _render(document_id)


def _render(document_id: int) -> GeneratedDocument | None:
    try:
        with transaction.atomic():
            document = (
                GeneratedDocument.objects.select_for_update(skip_locked=True).filter(pk=document_id).first()
            )
            if document is None or document.status != DocumentStatus.PENDING:
                return document
            with translation.override(document.language):
                spec = _builders[document.kind](document)
            rendered = render_spec(spec, language=document.language)
            document.file.save(spec.filename, ContentFile(rendered.content), save=False)
            with removed_on_error(document.file):
                _mark_ready(
                    document, filename=spec.filename, sha256=rendered.sha256, size=len(rendered.content)
                )
                _audit_fingerprint(document, spec.audit_stream)
    except Exception as exc:
        # Rolled back: record the failure outside that transaction, so that the row is not retried
        # for ever and the person who asked sees that it failed (and can ask again).
        log.exception("document %s failed", document_id)
        GeneratedDocument.objects.filter(pk=document_id, status=DocumentStatus.PENDING).update(
            status=DocumentStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    return document


def _mark_ready(document: GeneratedDocument, *, filename: str, sha256: str, size: int) -> None:
    document.filename = filename
    document.sha256 = sha256
    document.size = size
    document.status = DocumentStatus.READY
    document.progress = 100
    document.ready_at = clock.now()
    document.save()


def _audit_fingerprint(document: GeneratedDocument, stream: str) -> None:
    if stream:  # D34, D37: every export is in the trail, with the fingerprint of what was issued
        audit_record(
            stream=stream,
            kind="document.generated",
            actor=document.requested_by,
            actor_role="",
            payload={"document_id": document.pk, "kind": document.kind, "sha256": document.sha256},
        )


class LeaseLost(Exception):
    """The document was taken over by another worker after this one's lease ran out."""


def _produce(document_id: int) -> GeneratedDocument | None:
    # Claim it: exactly one worker moves it to running (one UPDATE: a concurrent claimer re-reads the
    # row and finds the lease taken), pending or left running by a worker whose lease ran out. The
    # token it claims with is what it holds: a later claim replaces it.
    token = uuid.uuid4()
    claimed = (
        GeneratedDocument.objects.filter(pk=document_id)
        .filter(_claimable(clock.now()))
        .update(status=DocumentStatus.RUNNING, progress=0, lease_expires_at=_lease_end(), lease_token=token)
    )
    document = GeneratedDocument.objects.get(pk=document_id)
    if not claimed:
        return document
    held = GeneratedDocument.objects.filter(pk=document_id, status=DocumentStatus.RUNNING, lease_token=token)

    def report_progress(percent: int) -> None:
        if not held.update(progress=max(0, min(99, percent)), lease_expires_at=_lease_end()):
            raise LeaseLost  # stop producing: another worker has it now

    try:
        produced = _producers[document.kind](document, report_progress)
        try:
            _store_produced(document_id, token, produced)
        finally:  # the producer's scratch file, on this host only: gone whatever happened
            with contextlib.suppress(FileNotFoundError):
                os.remove(produced.path)
    except LeaseLost:
        log.warning("document %s taken over by another worker; this one stops", document_id)
    except Exception as exc:
        log.exception("document %s failed", document_id)
        # Only while still ours: a failure after a takeover must not fail the other worker's run.
        held.update(status=DocumentStatus.FAILED, error=str(exc)[:2000])
        raise
    return GeneratedDocument.objects.get(pk=document_id)


def _store_produced(document_id: int, token: uuid.UUID, produced: ProducedFile) -> None:
    """Stream a produced file into storage (a bucket's multipart upload: memory stays flat)."""
    with open(produced.path, "rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
        size = stream.tell()
        stream.seek(0)
        with transaction.atomic():
            document = GeneratedDocument.objects.select_for_update().get(pk=document_id)
            if document.status != DocumentStatus.RUNNING or document.lease_token != token:
                # Taken over after our lease ran out: the other worker's run is the one that counts.
                raise LeaseLost
            document.file.save(produced.filename, File(stream), save=False)
            with removed_on_error(document.file):
                # The size measured here, not document.file.size: on S3 that would be one more request.
                _mark_ready(document, filename=produced.filename, sha256=digest, size=size)
                _audit_fingerprint(document, produced.audit_stream)


def _lease_end():
    return clock.now() + timedelta(seconds=settings.ODR_DOCUMENT_LEASE_SECONDS)


def _claimable(now) -> Q:
    """Pending, or running with its lease run out (its worker died; NULL: claimed before leases)."""
    return Q(status=DocumentStatus.PENDING) | Q(
        Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True), status=DocumentStatus.RUNNING
    )


def documents_render_pending(*, older_than_seconds: int = 60, batch: int = 20) -> int:
    """Beat: render what was requested while the broker was down (or whose task was lost), and take
    over the documents produced in steps whose worker died while running them. Two queries, each
    served by its partial index (document_pending, document_running_lease), oldest first."""
    now = clock.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    pending = list(
        GeneratedDocument.objects.filter(status=DocumentStatus.PENDING, requested_at__lte=cutoff)
        .order_by("requested_at")
        .values_list("pk", flat=True)[:batch]
    )
    abandoned = list(
        GeneratedDocument.objects.filter(
            Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True), status=DocumentStatus.RUNNING
        )
        .order_by("lease_expires_at")
        .values_list("pk", flat=True)[:batch]
    )
    ids = pending + abandoned
    for document_id in ids:
        with contextlib.suppress(Exception):  # a failure is marked on the row by document_render
            document_render(document_id)
    return len(ids)
