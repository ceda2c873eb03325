"""The parties' side of a mediation, in the consumer and merchant portals.

The consumer refers the dispute (D3, D7–D10, D31). Then one case page serves both parties, each seeing
what is theirs to see and do (D15–D29): the notice of saisine, the proposal with its statements and the
answer (a consent with its receipt), withdrawal (D19), the merchant declining (D23), representatives
(D21), messages and private messages to the mediator, documents from both sides and comments on them
(D20), the follow-up after a settlement (D29).

Thin: parse, call one service through `attempt()`, redirect back. Only the parties reach these URLs:
the case's mediator and the body's compliance officers have their own pages and get a 404 here, like
everyone else who is not a party (D30). What a party may read is filtered in the queries
(`case_messages_for`), never in the template.
"""

from collections import defaultdict

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_fsm import can_proceed

from complaints.forms import EvidenceForm
from complaints.models import Evidence, PartySide
from complaints.rules import is_complaint_consumer
from complaints.selectors import complaint_get_for
from complaints.views.shared import file_response
from odr import clock
from odr.accounts.selectors import remember_memberships
from odr.audit.models import AuditEvent
from odr.consent.models import ConsentRecord
from odr.consent.selectors import consents_with_receipts
from odr.consent.views import receipt_download_response
from odr.paging import conversation_page
from odr.web import attempt, form_errors, get_or_404

from .. import notices
from ..case_documents import case_document_add, case_document_comment, case_files
from ..case_facts import case_proposals, case_records
from ..forms import ReferForm
from ..models import (
    PRIVATE_AUDIENCE_OF,
    Audience,
    CaseState,
    MediationCase,
    Proposal,
    RepresentativeCapacity,
    ResponseDecision,
)
from ..rules import is_case_consumer, is_case_merchant_staff
from ..selectors import case_messages_for, cases_visible_to
from ..services import (
    case_add_representative,
    case_consent_withdraw,
    case_merchant_decline,
    case_post_message,
    case_record_compliance,
    case_refer,
    case_withdraw,
    proposal_respond,
)
from ..statements import LIMITATION_RESTARTS, WITHDRAWAL_AT_ANY_TIME

# --- Referral -------------------------------------------------------------------------------------


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


# --- Forms: they parse input; the services decide -------------------------------------------------

DECISIONS = {"accept": True, "refuse": False}
TO_EVERYONE, TO_MEDIATOR = "everyone", "mediator"


class CaseMessageForm(forms.Form):
    body = forms.CharField(label=gettext_lazy("Your message"), widget=forms.Textarea(attrs={"rows": 3}))
    to = forms.ChoiceField(
        label=gettext_lazy("Who reads it"),
        choices=[
            (TO_EVERYONE, gettext_lazy("The other party and the mediator")),
            (TO_MEDIATOR, gettext_lazy("The mediator only (private)")),
        ],
        initial=TO_EVERYONE,
        widget=forms.RadioSelect,
    )


class CommentForm(forms.Form):
    body = forms.CharField(label=gettext_lazy("Your comment"), widget=forms.Textarea(attrs={"rows": 2}))


class ProposalAnswerForm(forms.Form):
    decision = forms.ChoiceField(choices=[(key, key) for key in DECISIONS])


class CaseWithdrawForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why do you withdraw from the mediation? (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why do you decline to take part? (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RepresentativeForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    email = forms.EmailField(label=gettext_lazy("E-mail address"))
    capacity = forms.ChoiceField(
        label=gettext_lazy("Capacity"), choices=RepresentativeCapacity.choices, widget=forms.RadioSelect
    )


class ComplianceForm(forms.Form):
    complied = forms.ChoiceField(choices=[("yes", "yes"), ("no", "no")])


# --- Helpers --------------------------------------------------------------------------------------


def party_side(user, case: MediationCase) -> str | None:
    if is_case_consumer(user, case):
        return PartySide.CONSUMER
    if is_case_merchant_staff(user, case):
        return PartySide.MERCHANT
    return None


def _party_case(request, reference) -> tuple[MediationCase, str]:
    """The case and the user's side; a 404 for anyone who is not a party, the case's mediator and
    compliance officers included (they have their own pages), as for a case that does not exist."""
    remember_memberships(request.user)  # one query for the role checks and the navigation
    case = get_or_404(
        lambda user, reference: (
            cases_visible_to(user)
            .select_related("complaint__consumer")
            # Whether the consumer was asked if the merchant did what was agreed (D29), with the case.
            .annotate(
                compliance_asked=Exists(
                    AuditEvent.objects.filter(stream=OuterRef("reference"), kind="case.compliance_asked")
                )
            )
            .get(reference=reference)
        ),
        request.user,
        reference=reference,
    )
    side = party_side(request.user, case)
    if side is None:
        raise Http404
    return case, side


def _back(case: MediationCase, anchor: str = ""):
    return redirect(reverse("parties:case", args=[case.reference]) + anchor)


def _statements_shown(proposal: Proposal, language: str) -> dict:
    """The statements stored with the proposal, in the page's language (D24)."""
    return proposal.statements.get(language) or next(iter(proposal.statements.values()))


def _page(request, case: MediationCase, side: str) -> dict:
    """Everything the case page shows, in a fixed number of queries whatever the case's size."""
    user = request.user
    now = clock.now()
    language = get_language()

    readable = case_messages_for(user, case)  # D20: filtered in the query, on every page and comment
    # The conversation is paged, the latest first, shown oldest first; the comments on the files (a
    # file is bounded in number, its comments read with it) in one more query.
    thread = conversation_page(readable.filter(about__isnull=True), request=request)
    comments = defaultdict(list)
    for message in readable.filter(about__isnull=False):
        comments[message.about_id].append(message)
    files = list(case_files(case))
    for file in files:
        file.case_comments = comments.get(file.pk, [])

    proposals = case_proposals(case)  # each with its answers, consumer first
    for proposal in proposals:
        proposal.shown = _statements_shown(proposal, language)
        proposal.mine = next((r for r in proposal.answers if r.side == side), None)
    latest = proposals[-1] if proposals else None
    can_answer = bool(
        latest
        and case.state == CaseState.PROPOSAL_ISSUED
        and latest.mine is not None
        and latest.mine.decision == ResponseDecision.PENDING
        and now <= latest.acceptance_due_at
    )

    compliance_question = (
        side == PartySide.CONSUMER
        and case.state == CaseState.SETTLED
        and case.merchant_complied is None
        and case.compliance_asked  # read with the case (_party_case)
    )
    return {
        "case": case,
        "complaint": case.complaint,
        "side": side,
        "other_side": PartySide.MERCHANT if side == PartySide.CONSUMER else PartySide.CONSUMER,
        "private_audience": PRIVATE_AUDIENCE_OF[side],
        "everyone": Audience.EVERYONE,
        "thread": thread,
        "files": files,
        "proposals": proposals,
        "latest_proposal": latest,
        "can_answer": can_answer,
        **case_records(case),  # extensions, disclosures, document requests, representatives
        "consents": consents_with_receipts(case_reference=case.reference, person=user),
        "can_withdraw": case.is_active,
        "can_decline": side == PartySide.MERCHANT and can_proceed(case.merchant_decline),
        "compliance_question": compliance_question,
        "withdrawal_notice": WITHDRAWAL_AT_ANY_TIME,
        "limitation_notice": LIMITATION_RESTARTS,
        "message_form": CaseMessageForm(),
        "evidence_form": EvidenceForm(),
        "representative_form": RepresentativeForm(),
    }


# --- The case page --------------------------------------------------------------------------------


@login_required
def case_page(request, reference):
    case, side = _party_case(request, reference)
    return render(request, "parties/case.html", _page(request, case, side))


@login_required
@require_POST
def proposal_answer(request, reference, pk):
    """D25–D26, D31: the party accepts or refuses the latest proposal before its deadline; the answer
    is a consent, recorded with the proposal and its statements as shown on the page, and receipted."""
    case, _side = _party_case(request, reference)
    proposal = Proposal.objects.filter(pk=pk, case=case).first()
    if proposal is None:
        raise Http404
    form = ProposalAnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether you accept or refuse the proposal."))
        return _back(case, "#proposal")
    accept = DECISIONS[form.cleaned_data["decision"]]
    attempt(
        request,
        lambda: proposal_respond(proposal=proposal, by=request.user, accept=accept, language=get_language()),
        success=(
            _("You accepted the proposal. A receipt of your answer has been sent to you by e-mail.")
            if accept
            else _("You refused the proposal. A receipt of your answer has been sent to you by e-mail.")
        ),
    )
    return _back(case, "#proposal")


@login_required
def withdraw(request, reference):
    """D19: either party withdraws at any time: a confirmation page, then one POST."""
    case, side = _party_case(request, reference)
    if not case.is_active:
        messages.info(request, _("This mediation is closed."))
        return _back(case)
    form = CaseWithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        attempt(  # a refusal (closed meanwhile) is shown on the case page, like a success
            request,
            lambda: case_withdraw(case=case, by=request.user, reason=form.cleaned_data["reason"]),
            success=_("You withdrew from the mediation: it is discontinued. Everyone has been told."),
        )
        return _back(case)
    return render(request, "parties/withdraw.html", {"case": case, "side": side, "form": form})


@login_required
def decline(request, reference):
    """D23: the merchant declines to take part: a confirmation page, then one POST."""
    case, side = _party_case(request, reference)
    if side != PartySide.MERCHANT:
        raise Http404
    if request.method == "GET" and not can_proceed(case.merchant_decline):
        messages.info(request, _("The merchant can decline only before a proposal is issued."))
        return _back(case)
    form = DeclineForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        attempt(  # a refusal (a proposal issued meanwhile) is shown on the case page
            request,
            lambda: case_merchant_decline(case=case, by=request.user, reason=form.cleaned_data["reason"]),
            success=_("You declined to take part: the mediation is closed and the customer has been told."),
        )
        return _back(case)
    return render(request, "parties/decline.html", {"case": case, "side": side, "form": form})


@login_required
@require_POST
def representative_add(request, reference):
    """D21: a party adds a lawyer or any person to represent or assist their side."""
    case, _side = _party_case(request, reference)
    form = RepresentativeForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
    else:
        data = form.cleaned_data
        attempt(
            request,
            lambda: case_add_representative(
                case=case, by=request.user, name=data["name"], email=data["email"], capacity=data["capacity"]
            ),
            success=_("Representative added. The mediator has been told."),
        )
    return _back(case, "#representatives")


@login_required
@require_POST
def message_post(request, reference):
    """D20: to both the other party and the mediator, or privately to the mediator (the party's own
    private channel: the other party never reads it)."""
    case, side = _party_case(request, reference)
    form = CaseMessageForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
    else:
        audience = Audience.EVERYONE if form.cleaned_data["to"] == TO_EVERYONE else PRIVATE_AUDIENCE_OF[side]
        attempt(
            request,
            lambda: case_post_message(
                case=case, by=request.user, body=form.cleaned_data["body"], audience=audience
            ),
            success=_("Message sent."),
        )
    return _back(case, "#messages")


def _case_file(case: MediationCase, pk) -> Evidence:
    """A file of the case, looked up inside the case's complaint, never by id alone."""
    evidence = Evidence.objects.filter(pk=pk, complaint_id=case.complaint_id).first()
    if evidence is None:
        raise Http404
    return evidence


@login_required
@require_POST
def file_add(request, reference):
    """D20: a party adds a document; the other side and the mediator see it."""
    case, _side = _party_case(request, reference)
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        form_errors(request, form)
    else:
        attempt(
            request,
            lambda: case_document_add(case=case, by=request.user, file=form.cleaned_data["file"]),
            success=_("Document added. The other party and the mediator can see it."),
        )
    return _back(case, "#files")


@login_required
def file_download(request, reference, pk):
    case, _side = _party_case(request, reference)
    evidence = _case_file(case, pk)
    return file_response(
        evidence.file, filename=evidence.original_name, content_type=evidence.content_type, size=evidence.size
    )


@login_required
@require_POST
def file_comment(request, reference, pk):
    """D20: a party comments on a document; the other party and the mediator read the comment."""
    case, _side = _party_case(request, reference)
    evidence = _case_file(case, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        form_errors(request, form)
    else:
        attempt(
            request,
            lambda: case_document_comment(
                case=case, by=request.user, evidence=evidence, body=form.cleaned_data["body"]
            ),
            success=_("Comment sent."),
        )
    return _back(case, f"#file-{evidence.pk}")


@login_required
@require_POST
def consent_withdraw(request, reference, uid):
    """D33: one click, like giving it; a *withdrawn* receipt is e-mailed. Without its consent, an
    active mediation cannot go on: it is discontinued (D19)."""
    case, _side = _party_case(request, reference)
    record = ConsentRecord.objects.filter(uid=uid, case_reference=case.reference, person=request.user).first()
    if record is None:
        raise Http404
    attempt(
        request,
        lambda: case_consent_withdraw(case=case, by=request.user, record=record),
        success=_("Consent withdrawn. A receipt of the withdrawal has been sent to you by e-mail."),
    )
    return _back(case, "#consents")


@login_required
def receipt_download(request, reference, receipt_id):
    """D32: the person's own receipt, as PDF; nobody else's."""
    case, _side = _party_case(request, reference)
    return receipt_download_response(
        person=request.user, case_reference=case.reference, receipt_id=receipt_id
    )


@login_required
@require_POST
def compliance_answer(request, reference):
    """D29: after a settlement, the consumer says whether the merchant did what was agreed."""
    case, side = _party_case(request, reference)
    if side != PartySide.CONSUMER:
        raise Http404
    form = ComplianceForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say whether the merchant did what was agreed."))
        return _back(case, "#outcome")
    attempt(
        request,
        lambda: case_record_compliance(
            case=case, by=request.user, complied=form.cleaned_data["complied"] == "yes"
        ),
        success=_("Thank you: your answer is recorded."),
    )
    return _back(case, "#outcome")
