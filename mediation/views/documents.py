"""The case's documents: the mediation record and the audit trail, requested and downloaded by the
people who may see the case (D27, D30, D37). Thin: parse, check permission, call one service."""

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.views.decorators.http import require_POST

from complaints.models import PartySide
from complaints.views.shared import file_response
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import document_request

from ..documents import FULL
from ..rules import is_case_compliance_officer, is_case_consumer, is_case_mediator
from ..selectors import case_get_for
from .compliance import body_for_officer_or_404


def _get_case_or_404(user, reference):
    try:
        return case_get_for(user, reference=reference)
    except Exception as exc:  # DoesNotExist, for a missing and a forbidden case alike (D30)
        raise Http404 from exc


def record_audience(user, case) -> str:
    """Which copy of the record `user` gets: a party's own copy never shows the other's private channel."""
    if is_case_mediator(user, case) or is_case_compliance_officer(user, case):
        return FULL
    return PartySide.CONSUMER if is_case_consumer(user, case) else PartySide.MERCHANT


def _may_have(user, case, document: GeneratedDocument) -> bool:
    if document.kind == DocumentKind.MEDIATION_RECORD:
        return document.parameters.get("audience") == record_audience(user, case)
    if document.kind == DocumentKind.AUDIT_TRAIL:
        return record_audience(user, case) == FULL
    return False


@login_required
def case_documents(request, reference):
    case = _get_case_or_404(request.user, reference)
    documents = GeneratedDocument.objects.filter(subject_reference=case.reference)
    visible = [d for d in documents if _may_have(request.user, case, d)]
    return render(
        request,
        "mediation/documents.html",
        {
            "case": case,
            "documents": visible,
            "may_export_audit": record_audience(request.user, case) == FULL,
            "is_party": record_audience(request.user, case) != FULL,
            "is_mediator": is_case_mediator(request.user, case),
            "pending": any(d.status == DocumentStatus.PENDING for d in visible),
        },
    )


@login_required
@require_POST
def case_document_generate(request, reference):
    case = _get_case_or_404(request.user, reference)
    kind = request.POST.get("kind")
    audience = record_audience(request.user, case)
    if kind == DocumentKind.MEDIATION_RECORD:
        parameters = {"audience": audience}
    elif kind == DocumentKind.AUDIT_TRAIL and audience == FULL:
        parameters = {}
    else:
        raise Http404
    with transaction.atomic():
        document_request(
            kind=kind,
            subject_reference=case.reference,
            by=request.user,
            language=get_language(),
            parameters=parameters,
        )
    return redirect("mediation:case_documents", reference=case.reference)


@login_required
def document_download(request, pk):
    document = GeneratedDocument.objects.filter(pk=pk, status=DocumentStatus.READY).first()
    if document is None:
        raise Http404
    if document.subject_reference.startswith("B-"):  # a body's report or export: its compliance officers
        body_for_officer_or_404(request.user, document.subject_reference[2:])
    else:
        case = _get_case_or_404(request.user, document.subject_reference)
        if not _may_have(request.user, case, document):
            raise Http404
    content_type = "application/zip" if document.filename.endswith(".zip") else "application/pdf"
    return file_response(
        document.file, filename=document.filename, content_type=content_type, size=document.size
    )
