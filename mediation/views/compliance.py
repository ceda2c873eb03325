"""The compliance area of a mediation body (issue 6; D12, D16–D18, D29, D34, D36, D37).

- `dashboard`: counters and charts of the body's cases over a period (mediation/dashboard.py);
- `breaches`: the deadline breaches of the body's cases;
- `cases` and `case_audit`: the body's cases, and one case's audit chains verified at request time,
  with the export of its audit trail as PDF/A (`audit_export`);
- `body_documents` (namespace "mediation"): the annual report and the bulk export, with progress.

Only compliance officers of that body; anyone else (its mediators too) gets the same 404 as for a body
that does not exist. Thin views: parse, check, call one selector or service.
"""

from datetime import date
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from odr import clock
from odr.accounts.models import MediationBody, Role
from odr.accounts.selectors import is_compliance_officer_of, remember_memberships
from odr.audit.models import AuditEvent
from odr.audit.services import audit_snapshot, audit_verify
from odr.context_processors import Navigation
from odr.deadlines.calendar import local_date
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import document_request
from odr.paging import bounded_counts, cursor_after, keyset_page

from ..dashboard import (
    BREACH_KINDS,
    BREACH_LABELS,
    annotate_breaches,
    breaches_of,
    dashboard_charts,
    dashboard_figures,
    dashboard_tables,
    date_range_period,
    days_late,
    figures_as_of,
    year_period,
)
from ..models import CaseState, MediationCase

BODY_DOCUMENT_KINDS = (DocumentKind.ANNUAL_REPORT, DocumentKind.CASE_EXPORT)


def body_reference(body: MediationBody) -> str:
    return f"B-{body.slug}"


def body_for_officer_or_404(user, slug: str) -> MediationBody:
    body = MediationBody.objects.filter(slug=slug).first()
    if body is None or not is_compliance_officer_of(user, body):
        raise Http404
    return body


def _officer_list(request, slug: str):
    """(body, nav) for a compliance list, or 404: the role is read from the layout's memberships
    (one query for both), so that a list page costs at most six queries."""
    nav = Navigation(request.user)
    body = nav.compliance_body(slug)
    if body is None:
        raise Http404
    return body, nav


# The role an event's actor acted in, as the trail records it (a code), in words.
ROLE_LABELS = {
    "consumer": gettext_lazy("consumer"),
    "merchant": gettext_lazy("merchant"),
    "mediator": gettext_lazy("mediator"),
    "system": gettext_lazy("the platform"),
    "pii_principal": gettext_lazy("person concerned by the consent"),
    "compliance_officer": gettext_lazy("compliance officer"),
}


def _with_role_labels(events) -> list:
    events = list(events)
    for event in events:
        event.role_label = str(ROLE_LABELS.get(event.actor_role, event.actor_role))
    return events


@login_required
def body_documents(request, slug):
    body, nav = _officer_list(request, slug)
    documents = GeneratedDocument.objects.filter(
        subject_reference=body_reference(body), kind__in=BODY_DOCUMENT_KINDS
    )
    this_year = timezone.localdate().year
    page = keyset_page(documents, order=("-requested_at", "-pk"), request=request, size=PAGE_SIZE)
    context = {
        "nav": nav,
        "body": body,
        "documents": page,
        "page": page,
        "years": range(this_year, this_year - 6, -1),
        # Documents in the making are the newest: the first page's (a page further on does not poll).
        "in_progress": not page.has_previous
        and any(d.status in (DocumentStatus.PENDING, DocumentStatus.RUNNING) for d in page),
        "error": request.GET.get("error"),
    }
    if request.htmx and request.GET.get("part") == "documents":  # the list polls itself while in progress
        return render(request, "compliance/_body_documents.html", context)
    return render(request, "mediation/body_documents.html", context)


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


# --- The dashboard (issue 6) --------------------------------------------------------------------------

FIRST_YEAR = 2000
LONGEST_RANGE_DAYS = 5 * 366  # a date range of at most five years: about sixty bars a chart
PAGE_SIZE = 50
COUNT_LIMIT = 1000  # the lists' counters stop there ("more than 1000"): a count reads its rows


def _period(body: MediationBody, query, today: date):
    """The period asked for in the query string: `from` and `to` (dates, both included), or `year`;
    the current year by default. Returns (period, error message or "")."""
    default = year_period(body, today.year)
    first, last = query.get("from", "").strip(), query.get("to", "").strip()
    if first or last:
        try:
            first_day, last_day = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError:
            return default, _("Give both dates of the range (YYYY-MM-DD).")
        if last_day < first_day:
            return default, _("The start date must not be after the end date.")
        if first_day.year < FIRST_YEAR or last_day.year > today.year:
            return default, _("Choose dates from %(first)s to this year.") % {"first": FIRST_YEAR}
        if (last_day - first_day).days > LONGEST_RANGE_DAYS:
            return default, _("Choose a range of at most five years.")
        return date_range_period(body, first_day, last_day), ""
    year = query.get("year", "").strip()
    if year:
        if not year.isdigit() or not FIRST_YEAR <= int(year) <= today.year:
            return default, _("Choose a year from the list.")
        return year_period(body, int(year)), ""
    return default, ""


@login_required
@require_GET
def dashboard(request, slug):
    """The body's counters and charts for a period (D12, D16–D18, D29, D36); numbers in tables too."""
    body = body_for_officer_or_404(request.user, slug)
    now = clock.now()
    today = local_date(now, ZoneInfo(body.time_zone))
    period, error = _period(body, request.GET, today)
    figures = dashboard_figures(body=body, period=period, now=now)  # from the day buckets
    return render(
        request,
        "compliance/dashboard.html",
        {
            "body": body,
            "period": period,
            "figures": figures,
            "charts": dashboard_charts(figures),
            "tables": dashboard_tables(figures),
            "as_of": figures_as_of(body),
            "years": sorted({*range(today.year, today.year - 6, -1), period.first_day.year}, reverse=True),
            "error": error,
            "section": "dashboard",
        },
        status=400 if error else 200,
    )


@login_required
@require_GET
def breaches(request, slug):
    """The deadline breaches of the body's cases (D3, D12, D16–D18): filter by kind and by whether the
    duty is still owed; sorted by due date."""
    body, nav = _officer_list(request, slug)
    now = clock.now()
    tz = ZoneInfo(body.time_zone)
    kind = request.GET.get("kind", "")
    kind = kind if kind in BREACH_KINDS else ""
    state = request.GET.get("state", "")
    state = state if state in ("open", "ended") else ""
    sort = "due" if request.GET.get("sort") == "due" else "-due"
    rows = annotate_breaches(breaches_of(body, now=now))
    if kind:
        rows = rows.filter(kind=kind)
    if state:
        rows = rows.filter(ended_at__isnull=state == "open")
    order = ("due_at", "pk") if sort == "due" else ("-due_at", "-pk")
    page = keyset_page(rows, order=order, request=request, size=PAGE_SIZE)
    count = bounded_counts({"rows": rows}, limit=COUNT_LIMIT)["rows"]
    return render(
        request,
        "compliance/breaches.html",
        {
            "nav": nav,
            "body": body,
            "page": page,
            "breaches": [
                {
                    "deadline": deadline,
                    "label": BREACH_LABELS[deadline.kind],
                    "recorded": deadline.status != "pending",
                    "days_late": days_late(deadline.due_at, deadline.ended_at, now=now, tz=tz),
                }
                for deadline in page
            ],
            "kinds": [(value, BREACH_LABELS[value]) for value in BREACH_KINDS],
            "count": count,
            "kind": kind,
            "state": state,
            "sort": sort,
            "section": "breaches",
        },
    )


@login_required
@require_GET
def cases(request, slug):
    """The body's cases, searchable by reference (the case's or its complaint's), with their dates."""
    body, nav = _officer_list(request, slug)
    query = request.GET.get("q", "").strip()[:40]
    state = request.GET.get("state", "")
    state = state if state in CaseState.values else ""
    rows = MediationCase.objects.filter(mediation_body=body).select_related("complaint")
    if query:
        rows = rows.filter(Q(reference__icontains=query) | Q(complaint__reference__icontains=query))
    if state:
        rows = rows.filter(state=state)
    return render(
        request,
        "compliance/cases.html",
        {
            "nav": nav,
            "body": body,
            # Newest first, through the (mediation_body[, state], referred_at, id) indexes.
            "page": keyset_page(rows, order=("-referred_at", "-pk"), request=request, size=PAGE_SIZE),
            "count": bounded_counts({"rows": rows}, limit=COUNT_LIMIT)["rows"],
            "query": query,
            "state": state,
            "states": CaseState.choices,
            "section": "cases",
        },
    )


def _body_case_or_404(body: MediationBody, reference: str) -> MediationCase:
    case = (
        MediationCase.objects.select_related("complaint")
        .filter(mediation_body=body, reference=reference)
        .first()
    )
    if case is None:
        raise Http404
    return case


# The audit page's event table is paged, in the order of the chains (the complaint's C-… chain, then
# the mediation's M-…, each by sequence number): one query a page whatever the case's size.
AUDIT_EVENTS_PAGE_SIZE = 50


def _officer_body_or_404(request, slug: str) -> MediationBody:
    """The body `slug` if the user is one of its compliance officers, from the memberships the page
    reads anyway (for the navigation): no query of its own."""
    for membership in remember_memberships(request.user):
        if membership.role == Role.COMPLIANCE_OFFICER and membership.mediation_body.slug == slug:
            return membership.mediation_body
    raise Http404


@login_required
@require_GET
def case_audit(request, slug, reference):
    """D34: the case's two chains (the complaint's C-… and the mediation's M-…) verified now, with their
    events; D37: the export of the trail as PDF/A and the exports already made."""
    body = _officer_body_or_404(request, slug)
    case = _body_case_or_404(body, reference)
    exports = GeneratedDocument.objects.filter(
        subject_reference=case.reference, kind=DocumentKind.AUDIT_TRAIL
    )
    context = {
        "body": body,
        "case": case,
        "exports": exports,
        "exporting": any(d.status in (DocumentStatus.PENDING, DocumentStatus.RUNNING) for d in exports),
        "section": "cases",
    }
    if request.htmx and request.GET.get("part") == "exports":  # the list polls itself while in progress
        return render(request, "compliance/_audit_exports.html", context)
    streams = (case.complaint.reference, case.reference)
    with audit_snapshot():  # both chains in one consistent read, one transaction
        context["chains"] = [
            {"title": title, "stream": stream, "verification": audit_verify(stream=stream)}
            for title, stream in zip((_("Complaint"), _("Mediation")), streams, strict=True)
        ]
    # Every chain is verified in full above; the table shows one page of their events, both chains in
    # one list ("C-…" sorts before "M-…": the complaint's chain first, as on the record).
    events = keyset_page(
        AuditEvent.objects.filter(stream__in=streams).select_related("actor"),
        order=("stream", "seq"),
        request=request,
        size=AUDIT_EVENTS_PAGE_SIZE,
        anchor="events",
    )
    _with_role_labels(events)
    context["events"] = events
    context["broken"] = set()
    for chain in context["chains"]:
        broken = chain["verification"].broken_event
        # A head's problem (an emptied stream: pk None) has no event to mark or link to.
        if broken and broken.pk is not None:
            context["broken"].add(broken.pk)
            # The page of the table that starts at the first broken event, whichever page is shown.
            chain["broken_url"] = f"?after={cursor_after([broken.stream, broken.seq - 1])}#events"
    return render(request, "compliance/audit.html", context)


@login_required
@require_POST
def audit_export(request, slug, reference):
    """D37: the case's audit trail as PDF/A, generated in the background (as on the case's documents
    page); the export itself is recorded in the chain with its SHA-256 when the file is made."""
    body = body_for_officer_or_404(request.user, slug)
    case = _body_case_or_404(body, reference)
    with transaction.atomic():
        document_request(
            kind=DocumentKind.AUDIT_TRAIL,
            subject_reference=case.reference,
            by=request.user,
            language=get_language(),
            parameters={},
        )
    messages.success(request, _("The audit trail is being exported as PDF/A: it will be listed below."))
    return redirect("compliance:audit", slug=body.slug, reference=case.reference)
