"""Filing a complaint in four steps — merchant, details, files, review — saved at every step (the
draft survives a reload), then filed in one transaction (D1, D31) with its acknowledgement."""

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from odr.accounts.models import Merchant
from odr.errors import DomainError
from odr.web import attempt, form_errors

from .. import notices
from ..drafts import (
    draft_amount_cents,
    draft_answers_shown,
    draft_choose_merchant,
    draft_file,
    draft_for,
    draft_keep_typing,
    draft_save,
)
from ..drafts import merchant_invite as invite
from ..evidence import draft_evidence_add
from ..evidence import draft_evidence_remove as remove_evidence
from ..forms import ConsentsForm, DetailsForm, EvidenceForm, MerchantInviteForm, MerchantSearchForm
from ..models import Category
from ..selectors import merchants_matching

STEPS = (
    ("merchant", gettext_lazy("Merchant")),
    ("details", gettext_lazy("Your complaint")),
    ("evidence", gettext_lazy("Files")),
    ("review", gettext_lazy("Review and send")),
)
STEP_NAMES = [name for name, _label in STEPS]


def _draft(request):
    try:
        return draft_for(request.user)
    except DomainError as error:  # merchant or mediation staff: filing is for consumers
        messages.error(request, str(error.message))
        raise Http404 from error


def _first_missing_step(draft) -> str:
    if draft.merchant_id is None:
        return "merchant"
    if not draft.data.get("description"):
        return "details"
    return "evidence"


@login_required
def start(request):
    return redirect("complaints:file_step", step=_first_missing_step(_draft(request)))


def _render(request, draft, step, **context):
    return render(
        request,
        f"complaints/file_{step}.html",
        {"draft": draft, "steps": STEPS, "step": step, "step_number": STEP_NAMES.index(step) + 1, **context},
    )


@login_required
def step(request, step):
    if step not in STEP_NAMES:
        raise Http404
    draft = _draft(request)
    if step != "merchant" and draft.merchant_id is None:
        messages.info(request, _("First choose the merchant your complaint is about."))
        return redirect("complaints:file_step", step="merchant")
    return globals()[f"_step_{step}"](request, draft)


def _step_merchant(request, draft):
    if request.method == "POST":
        chosen = request.POST.get("merchant", "")
        merchant = get_object_or_404(Merchant, pk=int(chosen)) if chosen.isdigit() else None
        if merchant is None:
            messages.error(request, _("Choose the merchant in the list."))
            return redirect("complaints:file_step", step="merchant")
        draft_choose_merchant(draft=draft, merchant=merchant)
        return redirect("complaints:file_step", step="details")
    search = MerchantSearchForm(request.GET or None)
    query = search.data.get("q", "") if search.is_bound else ""
    return _render(
        request,
        draft,
        "merchant",
        search=search,
        query=query,
        results=merchants_matching(query),
        invite_form=MerchantInviteForm(initial={"name": query}),
    )


@login_required
def merchant_search(request):
    """htmx: the matching merchants while the consumer types (the full page works without it)."""
    _draft(request)
    query = request.GET.get("q", "")
    return render(
        request, "complaints/_merchant_results.html", {"query": query, "results": merchants_matching(query)}
    )


@login_required
@require_POST
def merchant_invite(request):
    draft = _draft(request)
    form = MerchantInviteForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return redirect("complaints:file_step", step="merchant")
    invitation = attempt(
        request,
        lambda: invite(draft=draft, by=request.user, **form.cleaned_data),
        success=_(
            "We have invited %(name)s to join the platform. Your draft is kept: you can finish your "
            "complaint as soon as the merchant has joined."
        )
        % {"name": form.cleaned_data["name"]},
    )
    if invitation:
        return redirect("complaints:list")
    return redirect("complaints:file_step", step="merchant")


def _step_details(request, draft):
    form = DetailsForm(request.POST or None, initial=draft_answers_shown(draft))
    if request.method == "POST" and form.is_valid():
        draft_save(draft=draft, answers=form.answers())
        return redirect("complaints:file_step", step="evidence")
    return _render(request, draft, "details", form=form)


def _step_evidence(request, draft):
    form = EvidenceForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        to_review = request.POST.get("then") == "review"
        added = True
        if "file" in request.FILES or not to_review:  # "continue" with no file chosen just moves on
            if form.is_valid():
                added = attempt(
                    request,
                    lambda: draft_evidence_add(draft=draft, by=request.user, file=form.cleaned_data["file"]),
                    success=_("File added."),
                )
            else:
                form_errors(request, form)
                added = False
        # A refused file keeps the consumer on this step, with the reason, rather than losing it.
        return redirect("complaints:file_step", step="review" if to_review and added else "evidence")
    return _render(request, draft, "evidence", form=form, evidence=list(draft.evidence.all()))


def _step_review(request, draft):
    if not draft.data.get("description"):
        return redirect("complaints:file_step", step="details")
    form = ConsentsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        consents = form.cleaned_data["consent_processing"] and form.cleaned_data["consent_sharing"]
        complaint = attempt(
            request,
            lambda: draft_file(
                draft=draft, by=request.user, consents_accepted=consents, language=get_language()
            ),
        )
        if complaint:
            messages.success(
                request,
                _(
                    "Your complaint is filed under the reference %(reference)s. An acknowledgement and "
                    "the receipts of your consents have been sent to you by e-mail."
                )
                % {"reference": complaint.reference},
            )
            return redirect("complaints:detail", reference=complaint.reference)
    return _render(
        request,
        draft,
        "review",
        form=form,
        category=dict(Category.choices).get(draft.data.get("category"), ""),
        amount_cents=draft_amount_cents(draft),
        order_date=_date(draft.data.get("order_date")),
        written_complaint_date=_date(draft.data.get("written_complaint_date")),
        evidence=list(draft.evidence.all()),
        processing_notice=notices.COMPLAINT_PROCESSING_NOTICE,
        sharing_notice=notices.SHARING_NOTICE,
    )


def _date(value: str):
    return date.fromisoformat(value) if value else None


@login_required
@require_POST
def draft_evidence_remove(request, pk):
    draft = _draft(request)
    get_object_or_404(draft.evidence, pk=pk)  # D30: a file of someone else's draft is a 404, not a message
    attempt(
        request,
        lambda: remove_evidence(draft=draft, by=request.user, evidence_id=pk),
        success=_("File removed."),
    )
    return redirect("complaints:file_step", step="evidence")


@login_required
@require_POST
def draft_autosave(request):
    """htmx, while the consumer types in the details step: keep the text as typed (204)."""
    draft_keep_typing(draft=_draft(request), answers=request.POST.dict())
    return HttpResponse(status=204)
