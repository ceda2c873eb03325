"""Stage 2 use cases. Each one: lock → transition → audit → deadlines → outbox, in one transaction.

The referral (`case_refer`) is a mediation use case: it moves the complaint through
`complaints.services` and opens the case in the same transaction.
"""

from datetime import date

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from complaints.models import Complaint, PartySide
from complaints.rules import is_complaint_consumer
from complaints.services import complaint_mark_referred, mediator_information
from odr import clock
from odr.accounts.models import MERCHANT_ROLES, User
from odr.accounts.selectors import is_mediator_of
from odr.audit.services import audit_record
from odr.consent.models import ConsentPurpose
from odr.consent.services import consent_give, consent_withdraw
from odr.deadlines.calendar import end_of_local_day, period_end, zone
from odr.deadlines.models import DeadlineKind
from odr.deadlines.services import deadline_close, deadline_move, deadline_open, deadline_pending
from odr.errors import Forbidden, InvalidInput, TransitionRefused
from odr.fsm import run_transition
from odr.locking import lock
from odr.notifications.services import outbox_email
from odr.references.services import reference_next
from odr.webhooks.services import webhooks_emit

from . import notices
from .case_figures import case_figures_changed
from .models import (
    ACTIVE_CASE_STATES,
    AGREEMENT_NOTE,
    PRIVATE_AUDIENCE_OF,
    Audience,
    CaseMessage,
    CaseState,
    ConflictDisclosure,
    DeadlineExtension,
    DocumentRequest,
    ExcludedSubject,
    MediationCase,
    Proposal,
    ProposalResponse,
    RefusalReason,
    Representative,
    RepresentativeCapacity,
    ResponseDecision,
)
from .rules import is_case_consumer, is_case_mediator, is_case_merchant_staff
from .statements import LIMITATION_RESTARTS, WITHDRAWAL_AT_ANY_TIME, in_languages, statements_snapshot

SYSTEM = "system"
MEDIATOR = "mediator"
CLOSED_MESSAGE = _("This mediation is closed.")

# "Record an amicable agreement": the parties agreed on terms of their own during the mediation. The
# mediator records them as a proposal that both parties confirm through the normal answer (D26), with
# the mandatory statements (D24); these texts only change the wording.
AGREEMENT_RECORDED = _(
    "This proposal records the terms the parties agreed on during the mediation. It binds them only "
    "once both parties have accepted it here."
)
AGREEMENT_CONFIRMED_GROUNDS = _(
    "The parties reached an agreement during the mediation; the mediator recorded its terms and both "
    "parties accepted them:"
)
AGREEMENT_NOT_CONFIRMED_GROUNDS = _(
    "The terms the mediator recorded as the parties' agreement were not accepted by both parties:"
)


# --- helpers --------------------------------------------------------------------------------------


def _tz(case: MediationCase) -> str:
    return case.mediation_body.time_zone


def _audit(case: MediationCase, kind: str, *, actor=None, role: str = SYSTEM, **payload) -> None:
    """Every change to a case is audited here; the same place tells the dashboard's aggregate that the
    case's figures may have changed (mediation/case_figures.py), in the service's transaction."""
    audit_record(stream=case.reference, kind=kind, actor=actor, actor_role=role, payload=payload)
    case_figures_changed(case)


def _side_of(user, case: MediationCase) -> str:
    if is_case_consumer(user, case):
        return PartySide.CONSUMER
    if is_case_merchant_staff(user, case):
        return PartySide.MERCHANT
    raise Forbidden()


def _act_as_mediator(user, case: MediationCase) -> None:
    """Only the case's mediator acts; the first mediator of the body to act on a free case takes it."""
    if not is_case_mediator(user, case):
        raise Forbidden()
    if case.mediator_id is None:
        case.mediator = user
        case.save(update_fields=["mediator"])
        _audit(case, "case.assigned", actor=user, role=MEDIATOR, mediator_id=user.pk)


def _party_users(case: MediationCase, side: str):
    if side == PartySide.CONSUMER:
        return [case.complaint.consumer]
    return list(
        User.objects.filter(
            memberships__merchant=case.complaint.merchant,
            memberships__role__in=MERCHANT_ROLES,
            is_active=True,
        ).distinct()
    )


def _notify(case: MediationCase, template: str, key: str, *, sides=None, **context) -> None:
    """E-mail the parties of `sides` (both by default) and their representatives."""
    sides = sides or (PartySide.CONSUMER, PartySide.MERCHANT)
    context = {
        "reference": case.reference,
        "complaint_reference": case.complaint.reference,
        "time_zone": _tz(case),  # dates in e-mails are the body's local dates (D38)
        **context,
    }
    for side in sides:
        for user in _party_users(case, side):
            outbox_email(
                key=f"{key}:{side}:{user.pk}",
                template=template,
                to=user,
                context=context,
                case_reference=case.reference,
            )
        for representative in case.representatives.filter(side=side):
            outbox_email(
                key=f"{key}:{side}:rep{representative.pk}",
                template=template,
                to_address=representative.email,
                context=context,
                case_reference=case.reference,
            )


def _notify_mediators(case: MediationCase, template: str, key: str, **context) -> None:
    if case.mediator_id:
        mediators = [case.mediator]
    else:
        mediators = User.objects.filter(
            memberships__mediation_body=case.mediation_body,
            memberships__role="mediator",
            is_active=True,
        ).distinct()
    for user in mediators:
        outbox_email(
            key=f"{key}:mediator:{user.pk}",
            template=template,
            to=user,
            context={"reference": case.reference, "time_zone": _tz(case), "audience": MEDIATOR, **context},
            case_reference=case.reference,
        )


def _closure_notice(case: MediationCase) -> None:
    """D28 (C. civ. 2238): saisine and closure dates; the limitation period restarts for ≥ 6 months."""
    _notify(
        case,
        "case_closed",
        f"case.closed:{case.reference}",
        state=case.state,
        saisine_at=case.saisine_at,
        closed_at=case.closed_at,
        grounds=case.outcome_grounds,
        limitation_notice=in_languages(LIMITATION_RESTARTS),
    )


def _webhook(case: MediationCase, event: str, key: str, **data) -> None:
    """Tell the merchant's webhook endpoints (ids, references, states and dates only)."""
    webhooks_emit(
        merchant=case.complaint.merchant,
        event=event,
        key=key,
        data={
            "reference": case.reference,
            "complaint_reference": case.complaint.reference,
            "state": case.state,
            **data,
        },
        case_reference=case.reference,
    )


def _closed_webhook(case: MediationCase) -> None:
    """case.closed, whatever the closing path (settled, no agreement, discontinued, declined, rejected)."""
    extra = {"rejection_reason": case.rejection_reason} if case.state == CaseState.REJECTED else {}
    _webhook(
        case,
        "case.closed",
        f"case.closed:{case.reference}",
        outcome=case.state,
        saisine_at=case.saisine_at,
        closed_at=case.closed_at,
        closed_by_side=case.closed_by_side,
        **extra,
    )


def _stop_case_clocks(case: MediationCase) -> None:
    for kind in (DeadlineKind.ADMISSIBILITY, DeadlineKind.OUTCOME):
        deadline_close(subject=case, kind=kind, cancelled=True)
    for response in ProposalResponse.objects.filter(proposal__case=case, decision=ResponseDecision.PENDING):
        deadline_close(subject=response, kind=DeadlineKind.PROPOSAL_RESPONSE, cancelled=True)


# --- Referral -------------------------------------------------------------------------------------


def case_refer(
    *,
    complaint: Complaint,
    by,
    other_proceedings: bool,
    acting_as_consumer: bool,
    excluded_subject: str = ExcludedSubject.NONE,
    language: str | None = None,
) -> MediationCase:
    """The consumer refers the dispute to the merchant's designated mediator (D3, D7–D10, D12).

    The complaint filed on the platform is the proof of the prior written complaint (D7); the file is
    complete on arrival, so the 21-day admissibility clock starts now (D12–D13).
    """
    if excluded_subject not in ExcludedSubject.values:
        raise InvalidInput(_("Choose the subject of the dispute from the list."))
    with transaction.atomic():
        complaint = lock(complaint)
        if not is_complaint_consumer(by, complaint):
            raise Forbidden()
        complaint_mark_referred(complaint=complaint, by=by)
        body = complaint.merchant.mediation_body
        now = clock.now()
        admissibility_due_at = period_end(now, days=settings.ODR_ADMISSIBILITY_DAYS, time_zone=body.time_zone)
        case = MediationCase.objects.create(
            reference=reference_next("M", time_zone=body.time_zone),
            complaint=complaint,
            mediation_body=body,
            referred_at=now,
            other_proceedings=other_proceedings,
            acting_as_consumer=acting_as_consumer,
            excluded_subject=excluded_subject,
            file_completed_at=now,
            admissibility_due_at=admissibility_due_at,
        )
        audit_record(
            stream=complaint.reference,
            kind="complaint.referred",
            actor=by,
            actor_role=PartySide.CONSUMER,
            payload={"case": case.reference},
        )
        _audit(
            case,
            "case.received",
            actor=by,
            role=PartySide.CONSUMER,
            complaint=complaint.reference,
            other_proceedings=other_proceedings,
            acting_as_consumer=acting_as_consumer,
            excluded_subject=excluded_subject,
            admissibility_due_at=admissibility_due_at,
        )
        consent_give(  # D31: entering mediation is a consent, receipted
            person=by,
            purpose=ConsentPurpose.ENTER_MEDIATION,
            notice_text=notices.notice_text(
                notices.ENTER_MEDIATION_NOTICE, language or by.preferred_language
            ),
            notice_version=notices.NOTICE_VERSION,
            case_reference=case.reference,
        )
        deadline_open(
            subject=case,
            kind=DeadlineKind.ADMISSIBILITY,
            due_at=admissibility_due_at,
            case_reference=case.reference,
        )
        _notify(
            case,
            "case_received",
            f"case.received:{case.reference}",
            admissibility_due_at=admissibility_due_at,
            **mediator_information(complaint),
        )
        _notify_mediators(
            case,
            "case_new_for_mediator",
            f"case.received:{case.reference}",
            admissibility_due_at=admissibility_due_at,
        )
        webhooks_emit(
            merchant=complaint.merchant,
            event="complaint.referred",
            key=f"complaint.referred:{complaint.reference}",
            data={
                "reference": complaint.reference,
                "state": complaint.state,
                "case_reference": case.reference,
                "referred_at": case.referred_at,
            },
            case_reference=complaint.reference,
        )
        _webhook(
            case,
            "mediation.received",
            f"mediation.received:{case.reference}",
            referred_at=case.referred_at,
            admissibility_due_at=admissibility_due_at,
        )
    return case


# --- Completeness and admissibility (D11–D13) -----------------------------------------------------


def case_request_documents(*, case: MediationCase, by, text: str) -> DocumentRequest:
    """D13: the file is incomplete; the admissibility clock stops until it is complete."""
    if not text.strip():
        raise InvalidInput(_("Say which documents are needed."))
    with transaction.atomic():
        case = lock(case)
        _act_as_mediator(by, case)
        run_transition(
            case,
            "request_documents",
            not_in_state_message=_("Documents can be requested only while admissibility is being checked."),
        )
        case.save()
        request = DocumentRequest.objects.create(
            case=case, requested_by=by, text=text, requested_at=clock.now()
        )
        deadline_close(subject=case, kind=DeadlineKind.ADMISSIBILITY, cancelled=True)
        _audit(case, "case.documents_requested", actor=by, role=MEDIATOR, request_id=request.pk)
        _notify(
            case,
            "case_documents_requested",
            f"case.documents_requested:{request.pk}",
            sides=(PartySide.CONSUMER,),
            text=text,
        )
    return request


def case_complete_file(*, case: MediationCase, by) -> MediationCase:
    """D13: the mediator records that the file is complete; the 21 days start now."""
    with transaction.atomic():
        case = lock(case)
        _act_as_mediator(by, case)
        due_at = period_end(clock.now(), days=settings.ODR_ADMISSIBILITY_DAYS, time_zone=_tz(case))
        run_transition(
            case,
            "complete_file",
            admissibility_due_at=due_at,
            not_in_state_message=_("No documents are awaited for this case."),
        )
        case.save()
        case.document_requests.filter(fulfilled_at__isnull=True).update(fulfilled_at=clock.now())
        deadline_open(
            subject=case,
            kind=DeadlineKind.ADMISSIBILITY,
            due_at=due_at,
            case_reference=case.reference,
        )
        _audit(case, "case.file_complete", actor=by, role=MEDIATOR, admissibility_due_at=due_at)
    return case


def case_reject(*, case: MediationCase, by, reason: str, reasoning: str) -> MediationCase:
    """D11–D12: a reasoned refusal, with exactly one reason code, sent to both parties."""
    if reason not in RefusalReason.values:
        raise InvalidInput(_("Choose one of the five reasons for refusal."))
    if not reasoning.strip():
        raise InvalidInput(_("Write the reasoning of the refusal."))
    with transaction.atomic():
        case = lock(case)
        _act_as_mediator(by, case)
        run_transition(
            case,
            "reject",
            reason=reason,
            reasoning=reasoning,
            by=by,
            not_in_state_message=_("Admissibility can be decided only on a complete file not yet decided."),
        )
        case.save()
        deadline = deadline_close(subject=case, kind=DeadlineKind.ADMISSIBILITY)
        _audit(
            case,
            "case.rejected",
            actor=by,
            role=MEDIATOR,
            reason=reason,
            on_time=deadline is None or deadline.status == "met",
        )
        _notify(
            case,
            "case_rejected",
            f"case.rejected:{case.reference}",
            reason=reason,
            reasoning=reasoning,
        )
        _closed_webhook(case)
    return case


def case_open(*, case: MediationCase, by) -> MediationCase:
    """D15–D16: the notice of saisine to both parties; the outcome is due 90 days later."""
    with transaction.atomic():
        case = lock(case)
        _act_as_mediator(by, case)
        due_at = period_end(clock.now(), days=settings.ODR_OUTCOME_DAYS, time_zone=_tz(case))
        run_transition(
            case,
            "open",
            outcome_due_at=due_at,
            not_in_state_message=_("Only a complete file awaiting its admissibility decision can be opened."),
        )
        case.save()
        deadline_close(subject=case, kind=DeadlineKind.ADMISSIBILITY)
        deadline_open(subject=case, kind=DeadlineKind.OUTCOME, due_at=due_at, case_reference=case.reference)
        _audit(
            case,
            "case.opened",
            actor=by,
            role=MEDIATOR,
            saisine_at=case.saisine_at,
            outcome_due_at=due_at,
        )
        _notify(
            case,
            "case_saisine",
            f"case.saisine:{case.reference}",
            saisine_at=case.saisine_at,
            outcome_due_at=due_at,
            withdrawal_notice=in_languages(WITHDRAWAL_AT_ANY_TIME),
        )
        _webhook(
            case,
            "mediation.opened",
            f"mediation.opened:{case.reference}",
            saisine_at=case.saisine_at,
            outcome_due_at=due_at,
        )
    return case


# --- During the mediation -------------------------------------------------------------------------


def case_extend(*, case: MediationCase, by, reason: str, new_due_date: date) -> DeadlineExtension:
    """D17 (R612-5): the mediator extends the outcome deadline, with a reason; both are told at once."""
    if not reason.strip():
        raise InvalidInput(_("Give the reason for the extension."))
    with transaction.atomic():
        case = lock(case)
        _act_as_mediator(by, case)
        if case.state not in (CaseState.OPEN, CaseState.PROPOSAL_ISSUED):
            raise TransitionRefused(_("Only an open mediation can be extended."))
        new_due_at = end_of_local_day(new_due_date, zone(_tz(case)))
        if new_due_at <= case.outcome_due_at:
            raise InvalidInput(_("The new due date must be after the current one."))
        extension = DeadlineExtension.objects.create(
            case=case,
            extended_by=by,
            reason=reason,
            previous_due_at=case.outcome_due_at,
            new_due_at=new_due_at,
            extended_at=clock.now(),
        )
        case.outcome_due_at = new_due_at
        case.overdue_since = None
        case.save(update_fields=["outcome_due_at", "overdue_since"])
        if deadline_pending(subject=case, kind=DeadlineKind.OUTCOME):
            deadline_move(subject=case, kind=DeadlineKind.OUTCOME, due_at=new_due_at)
        else:  # extended after the breach was recorded: the breach stays, a new deadline runs
            deadline_open(
                subject=case,
                kind=DeadlineKind.OUTCOME,
                due_at=new_due_at,
                case_reference=case.reference,
            )
        _audit(
            case,
            "case.extended",
            actor=by,
            role=MEDIATOR,
            reason=reason,
            previous_due_at=extension.previous_due_at,
            new_due_at=new_due_at,
        )
        _notify(
            case,
            "case_extended",
            f"case.extended:{extension.pk}",
            reason=reason,
            new_due_at=new_due_at,
        )
    return extension


def case_mark_overdue(*, case: MediationCase) -> MediationCase:
    """D18: past the outcome date without extension, the case is marked overdue and the breach kept.
    Called by the deadline sweep."""
    with transaction.atomic():
        case = lock(case)
        if case.state not in (CaseState.OPEN, CaseState.PROPOSAL_ISSUED) or case.overdue_since:
            return case
        if clock.now() <= case.outcome_due_at:
            raise TransitionRefused(_("The outcome is not due yet."))
        case.overdue_since = clock.now()
        case.save(update_fields=["overdue_since"])
        deadline_close(subject=case, kind=DeadlineKind.OUTCOME)  # late: recorded as breached
        _audit(case, "case.overdue", outcome_due_at=case.outcome_due_at)
        _notify_mediators(
            case,
            "case_overdue",
            f"case.overdue:{case.reference}:{case.outcome_due_at:%Y%m%d}",
            outcome_due_at=case.outcome_due_at,
        )
    return case


def case_admissibility_lapsed(*, case: MediationCase) -> MediationCase:
    """D12: 21 days after the complete file without a decision: the breach is recorded for compliance
    and the mediator told; the decision is still owed. Called by the deadline sweep."""
    with transaction.atomic():
        case = lock(case)
        if case.state != CaseState.RECEIVED:
            return case
        if clock.now() <= case.admissibility_due_at:
            raise TransitionRefused(_("The admissibility decision is not due yet."))
        deadline_close(subject=case, kind=DeadlineKind.ADMISSIBILITY)  # late: recorded as breached
        _audit(case, "case.admissibility_overdue", admissibility_due_at=case.admissibility_due_at)
        _notify_mediators(
            case,
            "case_admissibility_reminder",
            f"case.admissibility_overdue:{case.reference}",
            admissibility_due_at=case.admissibility_due_at,
            days_left=0,
        )
    return case


def case_remind_mediator(*, case: MediationCase, kind: str, days_left: int) -> None:
    """D12, D18: the mediator is reminded before the admissibility or outcome date. Sweep only."""
    template, due_field = {
        DeadlineKind.ADMISSIBILITY: ("case_admissibility_reminder", "admissibility_due_at"),
        DeadlineKind.OUTCOME: ("case_outcome_reminder", "outcome_due_at"),
    }[kind]
    with transaction.atomic():
        case = lock(case)
        if not case.is_active:
            return
        due_at = getattr(case, due_field)
        _audit(case, "case.mediator_reminded", deadline=kind, days_left=days_left)
        _notify_mediators(
            case,
            template,
            f"case.reminder:{case.reference}:{kind}:{due_at:%Y%m%d}:{days_left}",
            days_left=days_left,
            **{due_field: due_at},
        )


def case_compliance_followup(*, case: MediationCase) -> MediationCase:
    """D29: when the agreed performance date has passed, the consumer is asked whether the merchant
    complied. Called by the deadline sweep; the answer comes with `case_record_compliance`."""
    with transaction.atomic():
        case = lock(case)
        if case.state != CaseState.SETTLED or case.merchant_complied is not None:
            return case
        deadline_close(subject=case, kind=DeadlineKind.COMPLIANCE_FOLLOWUP)
        _audit(case, "case.compliance_asked")
        _notify(
            case,
            "compliance_followup",
            f"case.compliance_asked:{case.reference}",
            sides=(PartySide.CONSUMER,),
        )
    return case


def case_record_compliance(*, case: MediationCase, by, complied: bool) -> MediationCase:
    """D29: the consumer says whether the merchant did what was agreed; it feeds the compliance rate."""
    with transaction.atomic():
        case = lock(case)
        if not is_case_consumer(by, case):
            raise Forbidden()
        if case.state != CaseState.SETTLED:
            raise TransitionRefused(_("Only a settled mediation has an agreement to follow up."))
        case.merchant_complied = complied
        case.compliance_answered_at = clock.now()
        case.save(update_fields=["merchant_complied", "compliance_answered_at"])
        deadline_close(subject=case, kind=DeadlineKind.COMPLIANCE_FOLLOWUP)
        _audit(case, "case.compliance_recorded", actor=by, role=PartySide.CONSUMER, complied=complied)
    return case


def case_disclose_conflict(*, case: MediationCase, by, text: str) -> ConflictDisclosure:
    """D22 (R613-1): the mediator discloses a circumstance; both parties are told at once."""
    if not text.strip():
        raise InvalidInput(_("Describe the circumstance to disclose."))
    with transaction.atomic():
        case = lock(case)
        _act_as_mediator(by, case)
        if not case.is_active:
            raise TransitionRefused(CLOSED_MESSAGE)
        disclosure = ConflictDisclosure.objects.create(
            case=case, mediator=by, text=text, disclosed_at=clock.now()
        )
        _audit(case, "case.conflict_disclosed", actor=by, role=MEDIATOR, disclosure_id=disclosure.pk)
        _notify(case, "case_conflict_disclosed", f"case.disclosure:{disclosure.pk}", text=text)
    return disclosure


def case_add_representative(
    *, case: MediationCase, by, name: str, email: str, capacity: str = RepresentativeCapacity.OTHER
) -> Representative:
    """D21 (R612-1): a party adds a lawyer or any person to represent or assist them, at any stage."""
    if capacity not in RepresentativeCapacity.values or not name.strip() or not email.strip():
        raise InvalidInput(_("Give the representative's name, e-mail address and capacity."))
    with transaction.atomic():
        case = lock(case)
        side = _side_of(by, case)
        if not case.is_active:
            raise TransitionRefused(CLOSED_MESSAGE)
        representative = Representative.objects.create(
            case=case,
            side=side,
            name=name,
            email=email,
            capacity=capacity,
            added_by=by,
            added_at=clock.now(),
        )
        _audit(
            case,
            "case.representative_added",
            actor=by,
            role=side,
            representative_id=representative.pk,
            capacity=capacity,
        )
        _notify_mediators(case, "case_representative_added", f"case.representative:{representative.pk}")
    return representative


def case_post_message(
    *, case: MediationCase, by, body: str, audience: str = Audience.EVERYONE
) -> CaseMessage:
    """D20: a message to both parties, or on one party's private channel with the mediator.

    A party writes to everyone or privately to the mediator; only the mediator opens a private
    channel with either party. A private message is e-mailed to its audience only.
    """
    if audience not in Audience.values:
        raise InvalidInput(_("Choose who the message is for."))
    if not body.strip():
        raise InvalidInput(_("The message is empty."))
    with transaction.atomic():
        case = lock(case)
        if is_case_mediator(by, case):
            _act_as_mediator(by, case)
            role = MEDIATOR
        else:
            role = _side_of(by, case)
            if audience not in (Audience.EVERYONE, PRIVATE_AUDIENCE_OF[role]):
                raise Forbidden(_("You cannot write on the other party's private channel."))
        if not case.is_active:
            raise TransitionRefused(CLOSED_MESSAGE)
        message = CaseMessage.objects.create(
            case=case, author=by, author_role=role, audience=audience, body=body, sent_at=clock.now()
        )
        # The audit trail records that a message was sent and to whom, not what it says.
        _audit(case, "case.message", actor=by, role=role, message_id=message.pk, audience=audience)
        key = f"case.message:{message.pk}"
        readers = {
            Audience.EVERYONE: (PartySide.CONSUMER, PartySide.MERCHANT),
            Audience.CONSUMER_PRIVATE: (PartySide.CONSUMER,),
            Audience.MERCHANT_PRIVATE: (PartySide.MERCHANT,),
        }[audience]
        other_sides = tuple(side for side in readers if side != role)
        if other_sides:
            _notify(case, "case_message", key, sides=other_sides, private=audience != Audience.EVERYONE)
        if role != MEDIATOR:
            _notify_mediators(case, "case_message", key)
    return message


# --- The proposal (D24–D26) -----------------------------------------------------------------------


def proposal_issue(
    *,
    case: MediationCase,
    by,
    solution: str,
    acceptance_days: int | None = None,
    agreement: bool = False,
) -> Proposal:
    """D24–D25: the proposal, with the statements the platform adds, and an answer deadline.

    `agreement=True` records terms the parties agreed on during the mediation ("record an amicable
    agreement"). It is still a proposal with the mandatory statements, confirmed by both parties'
    answers (D26: settled only when both accept); only the wording changes — a note stored with the
    statements in every language (`Proposal.records_agreement`), the audit event and the grounds.
    """
    if not solution.strip():
        raise InvalidInput(_("Write the proposed solution."))
    days = settings.ODR_PROPOSAL_ACCEPTANCE_DAYS if acceptance_days is None else acceptance_days
    if days < 1:
        raise InvalidInput(_("The parties need at least one day to answer."))
    with transaction.atomic():
        case = lock(case)
        _act_as_mediator(by, case)
        run_transition(
            case,
            "issue_proposal",
            not_in_state_message=_("A proposal can be issued only in an open mediation."),
        )
        now = clock.now()
        acceptance_due_at = period_end(now, days=days, time_zone=_tz(case))
        case.proposal_due_at = acceptance_due_at
        case.save()
        statements = statements_snapshot()
        if agreement:
            for code, note in in_languages(AGREEMENT_RECORDED).items():
                statements[code][AGREEMENT_NOTE] = note
        proposal = Proposal.objects.create(
            case=case,
            issued_by=by,
            solution=solution,
            statements=statements,
            issued_at=now,
            acceptance_due_at=acceptance_due_at,
        )
        for side in (PartySide.CONSUMER, PartySide.MERCHANT):
            response = ProposalResponse.objects.create(proposal=proposal, side=side)
            deadline_open(
                subject=response,
                kind=DeadlineKind.PROPOSAL_RESPONSE,
                due_at=proposal.acceptance_due_at,
                case_reference=case.reference,
            )
        _audit(
            case,
            "proposal.issued",
            actor=by,
            role=MEDIATOR,
            proposal_id=proposal.pk,
            acceptance_due_at=proposal.acceptance_due_at,
            **({"agreement": True} if agreement else {}),
        )
        _notify(
            case,
            "proposal_issued",
            f"proposal.issued:{proposal.pk}",
            acceptance_due_at=proposal.acceptance_due_at,
            statements=proposal.statements,  # D24: exactly what is stored with the proposal
            **({"agreement": True} if agreement else {}),
        )
        _webhook(
            case,
            "proposal.issued",
            f"proposal.issued:{proposal.pk}",
            proposal_id=proposal.pk,
            issued_at=proposal.issued_at,
            acceptance_due_at=proposal.acceptance_due_at,
            records_agreement=agreement,
        )
    return proposal


def _outcome_grounds(proposal: Proposal, *, settled: bool) -> str:
    """The proposal's solution; for a recorded agreement, introduced in the mediator's language (the
    language the terms were written in) by what became of it."""
    if not proposal.records_agreement:
        return proposal.solution
    with translation.override(proposal.issued_by.preferred_language or settings.LANGUAGE_CODE):
        intro = AGREEMENT_CONFIRMED_GROUNDS if settled else AGREEMENT_NOT_CONFIRMED_GROUNDS
        return f"{intro}\n\n{proposal.solution}"


def _settle_or_end(case: MediationCase, proposal: Proposal) -> None:
    """D26: both accepted → settled; any refusal → no agreement. Otherwise wait for the other."""
    decisions = set(proposal.responses.values_list("decision", flat=True))
    if ResponseDecision.REFUSED in decisions:
        run_transition(case, "end_without_agreement", grounds=_outcome_grounds(proposal, settled=False))
    elif decisions == {ResponseDecision.ACCEPTED}:
        run_transition(case, "settle", grounds=_outcome_grounds(proposal, settled=True))
    else:
        return
    case.save()
    deadline_close(subject=case, kind=DeadlineKind.OUTCOME)  # the outcome is reached: met (or late)
    _stop_case_clocks(case)
    if case.state == CaseState.SETTLED:
        deadline_open(
            subject=case,
            kind=DeadlineKind.COMPLIANCE_FOLLOWUP,
            due_at=period_end(
                case.closed_at, days=settings.ODR_COMPLIANCE_FOLLOWUP_DAYS, time_zone=_tz(case)
            ),
            case_reference=case.reference,
        )
    _audit(case, f"case.{case.state}", proposal_id=proposal.pk)
    _closure_notice(case)
    _closed_webhook(case)


def proposal_respond(
    *, proposal: Proposal, by, accept: bool, language: str | None = None
) -> ProposalResponse:
    """A party accepts or refuses, before the deadline (D25); one answer per party (D26).

    The answer is a consent (D31): recorded with the proposal and its statements as the notice, in
    `language` (the page's; the person's preferred one by default), and receipted.
    """
    with transaction.atomic():
        case = lock(proposal.case)
        side = _side_of(by, case)
        response = ProposalResponse.objects.select_for_update().get(proposal=proposal, side=side)
        if response.decision != ResponseDecision.PENDING:
            raise TransitionRefused(_("You have already answered this proposal."))
        if case.state != CaseState.PROPOSAL_ISSUED or case.proposals.latest("issued_at").pk != proposal.pk:
            raise TransitionRefused(_("This proposal can no longer be answered."))
        if clock.now() > proposal.acceptance_due_at:
            raise TransitionRefused(
                _("The deadline to answer this proposal has passed: it is deemed refused.")
            )
        response.decision = ResponseDecision.ACCEPTED if accept else ResponseDecision.REFUSED
        response.responded_by = by
        response.responded_at = clock.now()
        response.save(update_fields=["decision", "responded_by", "responded_at"])
        deadline_close(subject=response, kind=DeadlineKind.PROPOSAL_RESPONSE)
        _audit(case, f"proposal.{response.decision}", actor=by, role=side, proposal_id=proposal.pk)
        consent_give(
            person=by,
            purpose=ConsentPurpose.PROPOSAL_RESPONSE,
            notice_text=notices.proposal_answer_notice(
                proposal, accept=accept, language=language or by.preferred_language
            ),
            notice_version=notices.NOTICE_VERSION,
            case_reference=case.reference,
        )
        _notify_mediators(
            case,
            "proposal_answered",
            f"proposal.answered:{response.pk}",
            side=side,
            decision=response.decision,
        )
        _settle_or_end(case, proposal)
    return response


def proposal_deem_refused(*, response: ProposalResponse) -> ProposalResponse:
    """D25: silence is never acceptance. Past the deadline, a party that has not answered refused.
    Called by the deadline sweep."""
    with transaction.atomic():
        case = lock(response.proposal.case)
        response = ProposalResponse.objects.select_for_update().select_related("proposal").get(pk=response.pk)
        if response.decision != ResponseDecision.PENDING:
            return response
        if clock.now() <= response.proposal.acceptance_due_at:
            raise TransitionRefused(_("The deadline to answer has not passed yet."))
        response.decision = ResponseDecision.REFUSED
        response.deemed = True
        response.responded_at = clock.now()
        response.save(update_fields=["decision", "deemed", "responded_at"])
        deadline_close(subject=response, kind=DeadlineKind.PROPOSAL_RESPONSE)
        _audit(case, "proposal.deemed_refused", side=response.side, proposal_id=response.proposal_id)
        if case.state == CaseState.PROPOSAL_ISSUED:
            _settle_or_end(case, response.proposal)
    return response


# --- Ending early ---------------------------------------------------------------------------------


def case_close_without_agreement(*, case: MediationCase, by, grounds: str) -> MediationCase:
    """The mediator ends an open mediation in which no solution could be found, before any proposal
    (once a proposal is issued, the parties' answers decide, D26). The written grounds are the outcome
    (D27); both parties receive the closure notice with the saisine and closure dates and the
    limitation statement (D28, C. civ. 2238)."""
    if not grounds.strip():
        raise InvalidInput(_("Write the grounds for closing the mediation without agreement."))
    with transaction.atomic():
        case = lock(case)
        _act_as_mediator(by, case)
        run_transition(
            case,
            "close_without_agreement",
            grounds=grounds,
            by=by,
            not_in_state_message=_(
                "Only an open mediation with no proposal issued can be closed without agreement: once "
                "a proposal is issued, the parties' answers decide the outcome."
            ),
        )
        case.save()
        _audit(case, "case.no_agreement", actor=by, role=MEDIATOR, closed_by_mediator=True)
        deadline_close(subject=case, kind=DeadlineKind.OUTCOME)  # the outcome is reached: met (or late)
        _stop_case_clocks(case)
        _closure_notice(case)
        _closed_webhook(case)
    return case


def case_withdraw(*, case: MediationCase, by, reason: str = "") -> MediationCase:
    """D19: either party withdraws at any time; the case is discontinued, recording who and why."""
    with transaction.atomic():
        case = lock(case)
        side = _side_of(by, case)
        run_transition(case, "withdraw", by=by, side=side, reason=reason, not_in_state_message=CLOSED_MESSAGE)
        case.save()
        _stop_case_clocks(case)
        _audit(case, "case.discontinued", actor=by, role=side, reason=reason)
        _notify_mediators(case, "case_withdrawn", f"case.withdrawn:{case.reference}", side=side)
        _closure_notice(case)
        _closed_webhook(case)
    return case


def case_consent_withdraw(*, case: MediationCase, by, record) -> MediationCase:
    """D33 (GDPR 7(3)), D19: a party withdraws a consent given in this mediation — entering it, or an
    answer to a proposal — in one step. Without its consent the mediation cannot go on: an active case
    is discontinued, recording who and why. Locks the case first, then the person, like every use case.
    """
    with transaction.atomic():
        case = lock(case)
        _side_of(by, case)  # a party of this case, or Forbidden
        if record.case_reference != case.reference:
            raise Forbidden()
        consent_withdraw(record=record, by=by)
        if case.is_active:
            case_withdraw(case=case, by=by, reason=str(_("Consent withdrawn.")))
    return MediationCase.objects.get(pk=case.pk)


def case_merchant_decline(*, case: MediationCase, by, reason: str = "") -> MediationCase:
    """D23: the merchant declines to take part; the consumer is told of the court route."""
    with transaction.atomic():
        case = lock(case)
        if not is_case_merchant_staff(by, case):
            raise Forbidden()
        run_transition(
            case,
            "merchant_decline",
            by=by,
            reason=reason,
            not_in_state_message=_("The merchant can decline only before a proposal is issued."),
        )
        case.save()
        _stop_case_clocks(case)
        _audit(case, "case.merchant_declined", actor=by, role=PartySide.MERCHANT, reason=reason)
        _notify(
            case,
            "case_merchant_declined",
            f"case.merchant_declined:{case.reference}",
            sides=(PartySide.CONSUMER,),
        )
        _notify_mediators(case, "case_merchant_declined", f"case.merchant_declined:{case.reference}")
        if case.saisine_at:  # D28: the limitation period, suspended since the saisine, runs again
            _closure_notice(case)
        _closed_webhook(case)
    return case


def case_assign(*, case: MediationCase, by, mediator) -> MediationCase:
    """A mediator of the body takes a free case, or hands theirs to a colleague of the same body."""
    with transaction.atomic():
        case = lock(case)
        if not is_case_mediator(by, case):
            raise Forbidden()
        if not is_mediator_of(mediator, case.mediation_body):
            raise InvalidInput(_("This person is not a mediator of this mediation body."))
        if case.state not in ACTIVE_CASE_STATES:
            raise TransitionRefused(CLOSED_MESSAGE)
        case.mediator = mediator
        case.save(update_fields=["mediator"])
        _audit(case, "case.assigned", actor=by, role=MEDIATOR, mediator_id=mediator.pk)
    return case
