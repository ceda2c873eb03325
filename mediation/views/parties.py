"""The parties' side of a mediation: the consumer refers the dispute (D3, D7–D10, D31)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from complaints.rules import is_complaint_consumer
from complaints.selectors import complaint_get_for
from odr.web import attempt, get_or_404

from .. import notices
from ..forms import ReferForm
from ..services import case_refer


@login_required
def refer(request, reference):
    complaint = get_or_404(complaint_get_for, request.user, reference=reference)
    if not is_complaint_consumer(request.user, complaint):
        raise Http404
    if request.method == "GET" and not can_proceed(complaint.refer):
        messages.info(request, _("This complaint cannot be referred to mediation now."))
        return redirect("complaints:detail", reference=complaint.reference)
    form = ReferForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        case = attempt(
            request,
            lambda: case_refer(
                complaint=complaint,
                by=request.user,
                other_proceedings=data["other_proceedings"] == "yes",
                acting_as_consumer=data["acting_as_consumer"] == "yes",
                excluded_subject=data["excluded_subject"] or "",
                language=get_language(),
            ),
        )
        if case:
            messages.success(
                request,
                _(
                    "Your dispute is referred to %(mediator)s under the reference %(reference)s. Within "
                    "21 days of receiving the complete file, the mediator will tell you whether it can "
                    "examine the dispute."
                )
                % {"mediator": case.mediation_body.name, "reference": case.reference},
            )
            return redirect("complaints:detail", reference=complaint.reference)
    return render(
        request,
        "mediation/refer.html",
        {"complaint": complaint, "form": form, "notice": notices.ENTER_MEDIATION_NOTICE},
    )
