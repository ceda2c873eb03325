"""Generating documents: request (in the caller's transaction) → render (Celery `pdf` queue) → store.

The stages register, per document kind, a builder that returns what to render; this package never
imports them (`register_document_builder`, in their AppConfig.ready).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from django.db import transaction

from odr import clock
from odr.audit.services import audit_record

from .models import DocumentStatus, GeneratedDocument
from .rendering import PdfAttachment, render_pdf

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
    _builders[kind] = builder


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
    from .tasks import render_document

    try:
        render_document.apply_async((document_id,), retry=False)
    except Exception:
        log.warning(
            "broker unavailable: document %s left for the periodic pick-up", document_id, exc_info=True
        )


def document_render(document_id: int) -> GeneratedDocument:
    """Render a pending document now (the `pdf` queue's task, or a command) and record its fingerprint."""
    with transaction.atomic():
        document = (
            GeneratedDocument.objects.select_for_update(skip_locked=True).filter(pk=document_id).first()
        )
        if document is None or document.status != DocumentStatus.PENDING:
            return document
        spec = _builders[document.kind](document)
        rendered = render_pdf(
            template=spec.template,
            context=spec.context,
            language=document.language,
            time_zone=spec.time_zone,
            attachments=spec.attachments,
        )
        document.file.save(spec.filename, ContentFile(rendered.content), save=False)
        document.filename = spec.filename
        document.sha256 = rendered.sha256
        document.size = len(rendered.content)
        document.status = DocumentStatus.READY
        document.progress = 100
        document.ready_at = clock.now()
        document.save()
        if spec.audit_stream:
            audit_record(
                stream=spec.audit_stream,
                kind="document.generated",
                actor=document.requested_by,
                actor_role="",
                payload={"document_id": document.pk, "kind": document.kind, "sha256": rendered.sha256},
            )
    return document
