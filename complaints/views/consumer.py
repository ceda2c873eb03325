"""The consumer's own pages: "My cases" (D2), withdrawing (D19), consents and receipts (D31–D33)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from odr.consent.models import ConsentRecord
from odr.consent.views import receipt_download_response
from odr.paging import keyset_page
from odr.web import attempt, get_or_404

from .. import services
from ..forms import WithdrawForm
from ..models import ComplaintDraft
from ..rules import is_complaint_consumer
from ..selectors import CONSUMER_CASES_ORDER, complaint_get_for, consumer_cases, with_next_deadlines

PAGE_SIZE = 25


def _own_complaint(request, reference):
    """The consumer's complaint; the merchant's staff and everybody else get a 404 here."""
    complaint = get_or_404(complaint_get_for, request.user, reference=reference)
    if not is_complaint_consumer(request.user, complaint):
        raise Http404
    return complaint


@login_required
def my_cases(request):
    page = keyset_page(
        consumer_cases(request.user), order=CONSUMER_CASES_ORDER, request=request, size=PAGE_SIZE
    )
    return render(
        request,
        "complaints/my_cases.html",
        {
            "complaints": with_next_deadlines(page),
            "page": page,
            "draft": ComplaintDraft.objects.filter(consumer=request.user)
            .select_related("merchant", "invitation")
            .first(),
        },
    )


@login_required
def withdraw(request, reference):
    """D19: a confirmation page, then one POST."""
    complaint = _own_complaint(request, reference)
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = attempt(
            request,
            lambda: services.complaint_withdraw(
                complaint=complaint, by=request.user, reason=form.cleaned_data["reason"]
            ),
            success=_("Your complaint is withdrawn. The merchant has been told."),
        )
        if done:
            return redirect("complaints:detail", reference=complaint.reference)
    return render(request, "complaints/withdraw.html", {"complaint": complaint, "form": form})


@login_required
@require_POST
def consent_withdraw(request, reference, uid):
    """D33: one click, like giving it; a *withdrawn* receipt is e-mailed."""
    complaint = _own_complaint(request, reference)
    record = ConsentRecord.objects.filter(
        uid=uid, case_reference=complaint.reference, person=request.user
    ).first()
    if record is None:
        raise Http404
    attempt(
        request,
        lambda: services.complaint_consent_withdraw(complaint=complaint, by=request.user, record=record),
        success=_("Consent withdrawn. A receipt of the withdrawal has been sent to you by e-mail."),
    )
    return redirect(reverse("complaints:detail", args=[complaint.reference]) + "#consents")


@login_required
def receipt_download(request, reference, receipt_id):
    complaint = _own_complaint(request, reference)
    return receipt_download_response(
        person=request.user, case_reference=complaint.reference, receipt_id=receipt_id
    )
