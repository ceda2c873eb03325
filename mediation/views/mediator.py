"""The mediator's workspace (queues) and the mediator's case page, with one view per action.

Thin: parse, call one service through `attempt()`, redirect back to the section acted on. A refused
action or invalid input shows the page again with the person's input kept and the reason as a message;
nothing was saved (the service's transaction rolled back).

Who: a mediator of the case's body, while the case is assigned to them or to nobody. Anyone else — a
party, a compliance officer, a mediator of another body, a colleague once another mediator has the
case — gets the same 404 on every URL here as for a case that does not exist (D30).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from complaints.models import Evidence
from complaints.views.shared import file_response
from odr import clock
from odr.accounts.selectors import remember_memberships
from odr.context_processors import Navigation
from odr.deadlines.calendar import zone
from odr.paging import keyset_page
from odr.web import attempt, form_errors, get_or_404

from .. import services
from ..forms import (
    AgreementForm,
    AssignForm,
    CloseForm,
    DisclosureForm,
    DocumentRequestForm,
    ExtensionForm,
    MediatorMessageForm,
    ProposalForm,
    RejectForm,
)
from ..queues import (
    QUEUE_KEYS,
    colleagues_of,
    empty_queue,
    mediator_case_page,
    queue_entry,
    queue_querysets,
    queue_rows,
    workspace_queues,
)
from ..rules import is_case_mediator
from ..selectors import cases_visible_to
from ..statements import LEGAL_EFFECT, MANDATORY_STATEMENTS, WITHDRAWAL_AT_ANY_TIME

# The workspace shows each queue's first rows, counted up to a bound; a queue's own page is paged.
WORKSPACE_ROWS = 10
QUEUE_PAGE_SIZE = 50
QUEUE_COUNT_LIMIT = 1000

# Each form of the case page: its class and the prefix of its ids (several forms share field names).
FORMS = {
    "assign_form": (AssignForm, "assign"),
    "documents_form": (DocumentRequestForm, "documents"),
    "reject_form": (RejectForm, "reject"),
    "message_form": (MediatorMessageForm, "message"),
    "disclosure_form": (DisclosureForm, "disclosure"),
    "extension_form": (ExtensionForm, "extension"),
    "proposal_form": (ProposalForm, "proposal"),
    "agreement_form": (AgreementForm, "agreement"),
    "close_form": (CloseForm, "close"),
}


def _case(request, reference):
    """The case, if `request.user` acts on it as its mediator; a 404 otherwise, whatever the reason."""
    remember_memberships(request.user)  # one query for the role checks and the navigation
    case = get_or_404(
        lambda user, reference: (
            cases_visible_to(user).select_related("complaint__consumer").get(reference=reference)
        ),
        request.user,
        reference=reference,
    )
    if not is_case_mediator(request.user, case):
        raise Http404
    return case


def _form(name: str, case, user, data=None):
    form_class, prefix = FORMS[name]
    kwargs = {"auto_id": f"{prefix}-%s"}
    if form_class is AssignForm:
        kwargs["colleagues"] = colleagues_of(case, user)
    return form_class(data, **kwargs)


def _local_date(case, moment) -> str:
    """A due date as the body's local date (D38)."""
    return formats.date_format(moment.astimezone(zone(case.mediation_body.time_zone)), "DATE_FORMAT")


def _back(case, anchor: str = ""):
    return redirect(reverse("mediator:case", args=[case.reference]) + anchor)


def _page(request, case, *, bound: dict | None = None):
    """The case page; `bound` holds a form sent back with its input after a refusal."""
    user = request.user
    forms = {name: _form(name, case, user) for name in FORMS}
    forms.update(bound or {})
    # The colleagues to hand the case to, read once: as the choices of the form, and to tell whether
    # to show it at all (the form's queryset would be read again when rendered).
    colleagues = []
    if case.is_active:
        field = forms["assign_form"].fields["mediator"]
        colleagues = list(field.queryset)
        field.choices = [(colleague.pk, field.label_from_instance(colleague)) for colleague in colleagues]
    context = {
        "case": case,
        "complaint": case.complaint,
        "is_active": case.is_active,
        "colleagues": colleagues,
        "mandatory_statements": MANDATORY_STATEMENTS,
        "legal_effect": LEGAL_EFFECT,
        "withdrawal_notice": WITHDRAWAL_AT_ANY_TIME,
        **forms,
        **mediator_case_page(user, case, request=request),
    }
    return render(request, "mediator/case.html", context)


def _act(request, case, form_name: str, service, *, success: str, anchor: str):
    """Validate the form named `form_name`, call `service(cleaned_data)`; back to `anchor` on
    success, the page with the input kept otherwise."""
    form = _form(form_name, case, request.user, request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return _page(request, case, bound={form_name: form})
    if attempt(request, lambda: service(form.cleaned_data), success=success) is None:
        return _page(request, case, bound={form_name: form})
    return _back(case, anchor)


# --- Pages -----------------------------------------------------------------------------------------


@login_required
def workspace(request):
    """The queues of the mediator's cases, each sorted by its legal due date, with days left: the first
    rows of each and a "see all" link to the queue's own paged list (`?queue=<key>`)."""
    nav = Navigation(request.user)  # the layout's one query, also giving the user's bodies
    body_ids = [body.pk for body in nav.mediator_bodies]
    if not body_ids:
        raise Http404
    key = request.GET.get("queue", "")
    if key in QUEUE_KEYS:
        queryset, order = queue_querysets(request.user, body_ids=body_ids, now=clock.now())[key]
        page = keyset_page(queue_rows(queryset), order=order, request=request, size=QUEUE_PAGE_SIZE)
        queue = empty_queue(key)
        queue.entries = [queue_entry(key, case, clock.now()) for case in page]
        return render(request, "mediator/workspace_queue.html", {"nav": nav, "queue": queue, "page": page})
    queues = workspace_queues(
        request.user, body_ids=body_ids, size=WORKSPACE_ROWS, count_limit=QUEUE_COUNT_LIMIT
    )
    return render(request, "mediator/workspace.html", {"nav": nav, "queues": queues})


@login_required
def case_page(request, reference):
    return _page(request, _case(request, reference))


@login_required
def evidence_download(request, reference, pk):
    """A file of the complaint (D7, D13): the mediator examines the file the parties sent."""
    case = _case(request, reference)
    evidence = Evidence.objects.filter(pk=pk, complaint=case.complaint).first()
    if evidence is None:
        raise Http404
    return file_response(
        evidence.file, filename=evidence.original_name, content_type=evidence.content_type, size=evidence.size
    )


# --- Assignment --------------------------------------------------------------------------------------


@login_required
@require_POST
def take(request, reference):
    """Take a case nobody has taken yet."""
    case = _case(request, reference)
    if case.mediator_id == request.user.pk:
        messages.info(request, _("This case is already yours."))
    else:
        attempt(
            request,
            lambda: services.case_assign(case=case, by=request.user, mediator=request.user),
            success=_("You have taken this case."),
        )
    return _back(case)


@login_required
@require_POST
def assign(request, reference):
    """Hand the case to a colleague of the same body (or give a case nobody has taken to one)."""
    case = _case(request, reference)
    form = _form("assign_form", case, request.user, request.POST)
    if not form.is_valid():
        form_errors(request, form)
        return _page(request, case, bound={"assign_form": form})
    colleague = form.cleaned_data["mediator"]
    done = attempt(
        request,
        lambda: services.case_assign(case=case, by=request.user, mediator=colleague),
        success=_("The case is now assigned to %(name)s.") % {"name": colleague.display_name},
    )
    if done is None:
        return _page(request, case, bound={"assign_form": form})
    return redirect("mediator:workspace")  # the case is no longer this mediator's to see


# --- Completeness and admissibility (D11–D15) ----------------------------------------------------------


@login_required
@require_POST
def request_documents(request, reference):
    case = _case(request, reference)
    return _act(
        request,
        case,
        "documents_form",
        lambda data: services.case_request_documents(case=case, by=request.user, text=data["text"]),
        success=_(
            "The consumer has been asked for the documents. The 21-day period will run from receipt of "
            "the complete file."
        ),
        anchor="#admissibility",
    )


@login_required
@require_POST
def complete_file(request, reference):
    case = _case(request, reference)
    done = attempt(request, lambda: services.case_complete_file(case=case, by=request.user))
    if done:
        messages.success(
            request,
            _("The file is complete. The admissibility decision is due by %(date)s.")
            % {"date": _local_date(done, done.admissibility_due_at)},
        )
    return _back(case, "#admissibility")


@login_required
@require_POST
def admit(request, reference):
    """D15: the file is complete and admissible: the notice of saisine goes to both parties."""
    case = _case(request, reference)
    attempt(
        request,
        lambda: services.case_open(case=case, by=request.user),
        success=_("The mediation is open: both parties have received the notice of saisine."),
    )
    return _back(case, "#admissibility")


@login_required
@require_POST
def reject(request, reference):
    """D11–D12: one reason code and the written reasoning, sent to both parties."""
    case = _case(request, reference)
    return _act(
        request,
        case,
        "reject_form",
        lambda data: services.case_reject(
            case=case, by=request.user, reason=data["reason"], reasoning=data["reasoning"]
        ),
        success=_("The referral is refused: both parties have received the reasoned refusal."),
        anchor="#admissibility",
    )


# --- During the mediation (D17, D20, D22) -------------------------------------------------------------


@login_required
@require_POST
def message(request, reference):
    case = _case(request, reference)
    return _act(
        request,
        case,
        "message_form",
        lambda data: services.case_post_message(
            case=case, by=request.user, body=data["body"], audience=data["audience"]
        ),
        success=_("Message sent."),
        anchor="#messages",
    )


@login_required
@require_POST
def disclose(request, reference):
    case = _case(request, reference)
    return _act(
        request,
        case,
        "disclosure_form",
        lambda data: services.case_disclose_conflict(case=case, by=request.user, text=data["text"]),
        success=_("The disclosure has been sent to both parties."),
        anchor="#disclosures",
    )


@login_required
@require_POST
def extend(request, reference):
    case = _case(request, reference)
    return _act(
        request,
        case,
        "extension_form",
        lambda data: services.case_extend(
            case=case, by=request.user, reason=data["reason"], new_due_date=data["new_due_date"]
        ),
        success=_("The outcome deadline is extended; both parties have been told."),
        anchor="#deadlines",
    )


# --- The proposal and the outcome (D24–D28) -------------------------------------------------------------


@login_required
@require_POST
def propose(request, reference):
    """D24–D25: the solution and the answer period; the service adds the mandatory statements."""
    case = _case(request, reference)
    return _act(
        request,
        case,
        "proposal_form",
        lambda data: services.proposal_issue(
            case=case,
            by=request.user,
            solution=data["solution"],
            acceptance_days=data["acceptance_days"],
        ),
        success=_("The proposal has been sent to both parties."),
        anchor="#proposal",
    )


@login_required
@require_POST
def record_agreement(request, reference):
    """The terms the parties agreed on, recorded as a proposal both confirm (D24–D26)."""
    case = _case(request, reference)
    return _act(
        request,
        case,
        "agreement_form",
        lambda data: services.proposal_issue(
            case=case,
            by=request.user,
            solution=data["solution"],
            acceptance_days=data["acceptance_days"],
            agreement=True,
        ),
        success=_("The agreed terms have been sent to both parties to confirm."),
        anchor="#proposal",
    )


@login_required
@require_POST
def close(request, reference):
    """Close an open mediation without agreement, before any proposal (D27, D28)."""
    case = _case(request, reference)
    return _act(
        request,
        case,
        "close_form",
        lambda data: services.case_close_without_agreement(
            case=case, by=request.user, grounds=data["grounds"]
        ),
        success=_(
            "The mediation is closed without agreement; both parties have received the closure notice."
        ),
        anchor="#outcome",
    )
