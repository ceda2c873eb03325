"""The compliance officer's reports and exports for their mediation body (D36, D37).

Only compliance officers of that body; anyone else gets the same 404 as for a body that does not exist.
"""

from datetime import date

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from odr.accounts.models import MediationBody
from odr.accounts.selectors import is_compliance_officer_of
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import document_request

BODY_DOCUMENT_KINDS = (DocumentKind.ANNUAL_REPORT, DocumentKind.CASE_EXPORT)


def body_reference(body: MediationBody) -> str:
    return f"B-{body.slug}"


def body_for_officer_or_404(user, slug: str) -> MediationBody:
    body = MediationBody.objects.filter(slug=slug).first()
    if body is None or not is_compliance_officer_of(user, body):
        raise Http404
    return body


@login_required
def body_documents(request, slug):
    body = body_for_officer_or_404(request.user, slug)
    documents = GeneratedDocument.objects.filter(
        subject_reference=body_reference(body), kind__in=BODY_DOCUMENT_KINDS
    )
    this_year = timezone.localdate().year
    return render(
        request,
        "mediation/body_documents.html",
        {
            "body": body,
            "documents": documents,
            "years": range(this_year, this_year - 6, -1),
            "in_progress": any(
                d.status in (DocumentStatus.PENDING, DocumentStatus.RUNNING) for d in documents
            ),
            "error": request.GET.get("error"),
        },
    )


@login_required
@require_POST
def body_document_generate(request, slug):
    body = body_for_officer_or_404(request.user, slug)
    kind = request.POST.get("kind")
    try:
        if kind == DocumentKind.ANNUAL_REPORT:
            parameters = {"body": body.slug, "year": int(request.POST["year"])}
        elif kind == DocumentKind.CASE_EXPORT:
            date_from = date.fromisoformat(request.POST["from"])
            date_to = date.fromisoformat(request.POST["to"])
            if date_to < date_from:
                raise ValueError
            parameters = {"body": body.slug, "from": date_from.isoformat(), "to": date_to.isoformat()}
        else:
            raise Http404
    except (KeyError, ValueError):
        return render(
            request,
            "mediation/body_documents.html",
            {
                "body": body,
                "documents": GeneratedDocument.objects.filter(subject_reference=body_reference(body)),
                "years": range(timezone.localdate().year, timezone.localdate().year - 6, -1),
                "error": _("Give a valid year, or a start date before the end date."),
            },
            status=400,
        )
    with transaction.atomic():
        document_request(
            kind=kind,
            subject_reference=body_reference(body),
            by=request.user,
            language=get_language(),
            parameters=parameters,
        )
    return redirect("mediation:body_documents", slug=body.slug)
