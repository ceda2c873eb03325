"""The merchant's pages: the dashboard (open, due soon, overdue) and answering a complaint (D3, D4)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from odr import clock
from odr.context_processors import Navigation
from odr.paging import bounded_counts, keyset_page, list_heads
from odr.web import attempt, form_errors, get_or_404

from .. import services
from ..forms import AnswerForm, cents
from ..rules import is_complaint_merchant_staff
from ..selectors import (
    IN_MEDIATION,
    MERCHANT_SECTIONS,
    complaint_get_for,
    merchant_open_complaints,
    merchant_rows,
    merchant_sections,
)

# The first rows of each list on the dashboard, the rows of a list's own pages, and how far the
# counters count: the page costs the same whatever the number of complaints.
DASHBOARD_ROWS = 20
PAGE_SIZE = 50
COUNT_LIMIT = 1000


@login_required
def dashboard(request):
    """The open complaints by urgency (D3): each list's first rows and a "see all" link to the list
    paged (`?section=<name>`); counters count up to 1,000 ("1000+")."""
    nav = Navigation(request.user)  # the layout's one query, also giving the user's merchants
    merchants = nav.merchants
    if not merchants:
        raise Http404
    sections = merchant_sections(merchant_ids=[m.pk for m in merchants], now=clock.now())
    section = request.GET.get("section", "")
    if section in MERCHANT_SECTIONS:
        queryset, order = sections[section]
        page = keyset_page(merchant_rows(queryset), order=order, request=request, size=PAGE_SIZE)
        return render(
            request,
            "merchant/section.html",
            {"nav": nav, "merchants": merchants, "section": section, "page": page},
        )
    counts = bounded_counts(
        # Not the mediations: whether one is over is on the case's table, a join no index orders.
        {name: queryset for name, (queryset, _order) in sections.items() if name != IN_MEDIATION}
        | {"open": merchant_open_complaints(merchant_ids=[m.pk for m in merchants])},
        limit=COUNT_LIMIT,
    )
    heads = list_heads(merchant_rows(), sections, size=DASHBOARD_ROWS)
    return render(
        request,
        "merchant/dashboard.html",
        {
            "nav": nav,
            "merchants": merchants,
            **{name: list(head) for name, head in heads.items()},
            "heads": heads,
            "counts": counts,
            "open_count": counts["open"],
        },
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
