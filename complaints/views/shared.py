"""The complaint page both parties share (D2, D20), and the actions both may take on it.

Thin: parse, call one service, redirect back. Who may do what is decided by the services and the
selectors; a person who is not a party gets a 404 on every URL here, never the data (D30).
"""

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_fsm import can_proceed

from odr.accounts.selectors import remember_memberships
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import document_request
from odr.documents.storage import open_for_download
from odr.web import attempt, form_errors, get_or_404

from .. import services
from ..evidence import evidence_add as evidence_add_service
from ..forms import AnswerForm, EvidenceForm, MessageForm, OfferForm, WithdrawForm, cents
from ..models import AnswerDecision, ComplaintState, Evidence, Offer, OfferStatus, PartySide
from ..rules import is_complaint_consumer
from ..selectors import complaint_get_for, complaint_page, complaints_of_party, next_deadline

# The documents of the complaint stage a party may ask for, and when they make sense.
PARTY_DOCUMENTS = (DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, DocumentKind.MEDIATOR_NOTICE)


def _complaint(request, reference):
    return get_or_404(complaint_get_for, request.user, reference=reference)


def _back(complaint, anchor=""):
    return redirect(reverse("complaints:detail", args=[complaint.reference]) + anchor)


def mediator_notice_due(complaint) -> bool:
    """D4: the consumer has the mediator's details once the merchant rejected or let the period lapse."""
    return complaint.answer_decision == AnswerDecision.REJECT or complaint.response_lapsed_at is not None


@login_required
def complaint_detail(request, reference):
    remember_memberships(request.user)  # one query for the role checks and the navigation
    complaint = get_or_404(
        lambda user, reference: (
            complaints_of_party(user).select_related("mediation_case").get(reference=reference)
        ),
        request.user,
        reference=reference,
    )
    side = PartySide.CONSUMER if is_complaint_consumer(request.user, complaint) else PartySide.MERCHANT
    page = complaint_page(complaint, request=request, with_consents=side == PartySide.CONSUMER)
    open_offers = [o for o in page["offers"] if o.status == OfferStatus.OPEN]
    context = {
        "complaint": complaint,
        "side": side,
        "next_deadline": next_deadline(complaint),
        "mediator_notice": mediator_notice_due(complaint),
        "can_refer": side == PartySide.CONSUMER and can_proceed(complaint.refer),
        "can_answer": side == PartySide.MERCHANT and complaint.state == ComplaintState.FILED,
        "offers_open_for_me": [o for o in open_offers if o.side != side],
        "my_open_offers": [o for o in open_offers if o.side == side],
        "can_offer": complaint.state == ComplaintState.ANSWERED,
        "answer_form": AnswerForm(),
        "message_form": MessageForm(),
        "offer_form": OfferForm(),
        "evidence_form": EvidenceForm(),
        "withdraw_form": WithdrawForm(),
        "party_documents": [
            kind
            for kind in PARTY_DOCUMENTS
            if kind != DocumentKind.MEDIATOR_NOTICE or mediator_notice_due(complaint)
        ],
        "case": getattr(complaint, "mediation_case", None)
        if complaint.state == ComplaintState.REFERRED
        else None,
        **page,
    }
    context["pending_documents"] = any(d.status == DocumentStatus.PENDING for d in page["documents"])
    template = (
        "complaints/_documents.html"
        if request.htmx and request.GET.get("part") == "documents"
        else ("complaints/detail.html")
    )
    return render(request, template, context)


@login_required
@require_POST
def message_post(request, reference):
    complaint = _complaint(request, reference)
    form = MessageForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
    else:
        attempt(
            request,
            lambda: services.complaint_post_message(
                complaint=complaint, by=request.user, body=form.cleaned_data["body"]
            ),
            success=_("Message sent."),
        )
    return _back(complaint, "#messages")


@login_required
@require_POST
def offer_make(request, reference):
    complaint = _complaint(request, reference)
    form = OfferForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return _back(complaint, "#offers")
    responds_to = None
    if form.cleaned_data["responds_to"]:
        responds_to = Offer.objects.filter(pk=form.cleaned_data["responds_to"], complaint=complaint).first()
        if responds_to is None:
            raise Http404
    attempt(
        request,
        lambda: services.offer_make(
            complaint=complaint,
            by=request.user,
            terms=form.cleaned_data["terms"],
            amount_cents=cents(form.cleaned_data["amount"]),
            responds_to=responds_to,
        ),
        success=_("Your offer was sent."),
    )
    return _back(complaint, "#offers")


def _offer(complaint, pk):
    offer = Offer.objects.filter(pk=pk, complaint=complaint).select_related("complaint").first()
    if offer is None:
        raise Http404
    return offer


@login_required
@require_POST
def offer_respond(request, reference, pk):
    complaint = _complaint(request, reference)
    offer = _offer(complaint, pk)
    accept = request.POST.get("decision") == "accept"
    attempt(
        request,
        lambda: services.offer_respond(offer=offer, by=request.user, accept=accept),
        success=_("Offer accepted: the complaint is resolved.") if accept else _("Offer declined."),
    )
    return _back(complaint, "#offers")


@login_required
@require_POST
def offer_withdraw(request, reference, pk):
    complaint = _complaint(request, reference)
    offer = _offer(complaint, pk)
    attempt(
        request,
        lambda: services.offer_withdraw(offer=offer, by=request.user),
        success=_("Offer withdrawn."),
    )
    return _back(complaint, "#offers")


@login_required
@require_POST
def evidence_add(request, reference):
    complaint = _complaint(request, reference)
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        form_errors(request, form)
    else:
        attempt(
            request,
            lambda: evidence_add_service(
                complaint=complaint, by=request.user, file=form.cleaned_data["file"]
            ),
            success=_("File added."),
        )
    return _back(complaint, "#evidence")


def file_response(file, *, filename: str, content_type: str, size: int | None = None) -> FileResponse:
    """A stored file as a download: never rendered inline, never sniffed into something else.

    Streamed from wherever it is stored (on S3, chunk by chunk from the bucket). `size` is the one we
    recorded: a stream from the bucket cannot say its length, and asking the bucket costs a request.
    """
    response = FileResponse(
        open_for_download(file), as_attachment=True, filename=filename, content_type=content_type
    )
    if size and not response.has_header("Content-Length"):
        response["Content-Length"] = str(size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
def evidence_download(request, reference, pk):
    complaint = _complaint(request, reference)
    evidence = Evidence.objects.filter(pk=pk, complaint=complaint).first()
    if evidence is None:
        raise Http404
    return file_response(
        evidence.file, filename=evidence.original_name, content_type=evidence.content_type, size=evidence.size
    )


@login_required
@require_POST
def document_generate(request, reference):
    complaint = _complaint(request, reference)
    kind = request.POST.get("kind")
    if kind not in PARTY_DOCUMENTS or (
        kind == DocumentKind.MEDIATOR_NOTICE and not mediator_notice_due(complaint)
    ):
        raise Http404
    with transaction.atomic():
        document_request(
            kind=kind, subject_reference=complaint.reference, by=request.user, language=get_language()
        )
    return _back(complaint, "#documents")


@login_required
def document_download(request, reference, pk):
    complaint = _complaint(request, reference)
    document = GeneratedDocument.objects.filter(
        pk=pk, subject_reference=complaint.reference, kind__in=PARTY_DOCUMENTS, status=DocumentStatus.READY
    ).first()
    if document is None:
        raise Http404
    return file_response(
        document.file, filename=document.filename, content_type="application/pdf", size=document.size
    )
