"""The merchant's pages: the dashboard (open, due soon, overdue) and answering a complaint (D3, D4)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from odr.web import attempt, form_errors, get_or_404

from .. import services
from ..forms import AnswerForm, cents
from ..rules import is_complaint_merchant_staff
from ..selectors import complaint_get_for, merchant_dashboard


@login_required
def dashboard(request):
    merchants = [m.merchant for m in request.user.memberships.select_related("merchant") if m.merchant_id]
    if not merchants:
        raise Http404
    return render(
        request, "merchant/dashboard.html", {"merchants": merchants, **merchant_dashboard(request.user)}
    )


@login_required
@require_POST
def answer(request, reference):
    complaint = get_or_404(complaint_get_for, request.user, reference=reference)
    if not is_complaint_merchant_staff(request.user, complaint):
        raise Http404
    form = AnswerForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
    else:
        data = form.cleaned_data
        attempt(
            request,
            lambda: services.complaint_answer(
                complaint=complaint,
                by=request.user,
                decision=data["decision"],
                text=data["text"],
                amount_cents=cents(data["amount"]),
                terms=data["terms"],
            ),
            success=_("Your answer was sent to the customer."),
        )
    return redirect("complaints:detail", reference=complaint.reference)
