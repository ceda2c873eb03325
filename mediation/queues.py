"""The mediator's workspace: the queues of a mediator's cases, and what the mediator's case page reads.

A mediator sees the cases of the mediation bodies they are a mediator of, assigned to them or to nobody
yet (for the body's mediators to take) — never a case a colleague has taken (D30). Each queue is sorted
by its legal due date, with the whole days left counted in the case's body's time zone (D38).

Query counts do not grow with the number of cases or messages (pinned in
tests/mediation/test_mediator_views.py): the workspace is one query for all its queues.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext_lazy as _

from complaints.models import Evidence, PartySide
from odr import clock
from odr.accounts.models import Role, User
from odr.audit.models import AuditEvent
from odr.deadlines.calendar import days_left
from odr.paging import keyset_page

from .case_facts import case_proposals, case_records
from .documents import EVENT_LABELS
from .models import (
    ACTIVE_CASE_STATES,
    CaseState,
    DocumentRequest,
    MediationCase,
    Proposal,
    ProposalResponse,
    ResponseDecision,
    no_other_proceedings,
    referred_within_one_year,
    within_scope,
)
from .selectors import case_messages_for

NEW = "new"
INCOMPLETE = "incomplete"
ADMISSIBILITY = "admissibility"
OUTCOME = "outcome"
OVERDUE = "overdue"
PROPOSALS = "proposals"

# (key, title, what the due date is, what the mediator does with these cases), in the order of a case's life.
QUEUE_DEFINITIONS = (
    (
        NEW,
        _("New referrals"),
        _("admissibility decision due"),
        _("Nobody has taken these cases yet: take one to check the file and decide on admissibility."),
    ),
    (
        INCOMPLETE,
        _("Incomplete files"),
        _("documents requested on"),
        _(
            "Waiting for documents: the 21-day period runs from receipt of the complete file, "
            "which you record here."
        ),
    ),
    (
        ADMISSIBILITY,
        _("Admissibility decision due"),
        _("admissibility decision due"),
        _("Complete files: admit (notice of saisine) or refuse with a reason, within 21 days."),
    ),
    (
        OUTCOME,
        _("Open mediations: outcome due"),
        _("outcome due"),
        _("The outcome is due 90 days after the notice of saisine, unless you extend the deadline."),
    ),
    (
        OVERDUE,
        _("Overdue: past the outcome date"),
        _("outcome was due"),
        _("Past the outcome date and still open: the breach is recorded for compliance."),
    ),
    (
        PROPOSALS,
        _("Proposals awaiting answers"),
        _("answers due"),
        _("Silence is never acceptance: a party that has not answered by the date is deemed to refuse."),
    ),
)


@dataclass(frozen=True)
class Due:
    """A due date and the whole local days left to it: 0 on the day, negative once past (D38).
    `days_left` is None when no clock runs (documents awaited, D13)."""

    at: datetime | None
    days_left: int | None = None

    @property
    def days_overdue(self) -> int:
        return -self.days_left if self.days_left is not None and self.days_left < 0 else 0


def due(moment: datetime | None, case: MediationCase, now: datetime) -> Due:
    if moment is None:
        return Due(None)
    return Due(moment, days_left(moment, now, case.mediation_body.time_zone))


@dataclass(frozen=True)
class QueueEntry:
    case: MediationCase
    due: Due
    answers: dict | None = None  # proposals: each party's answer so far, as words


@dataclass
class Queue:
    key: str
    title: str
    due_label: str
    help: str
    entries: list[QueueEntry] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entries)


def mediator_cases(user) -> QuerySet[MediationCase]:
    """The cases `user` acts on as a mediator: of their bodies, assigned to them or to nobody."""
    if not (user and user.is_authenticated):
        return MediationCase.objects.none()
    bodies = user.memberships.filter(role=Role.MEDIATOR).values("mediation_body_id")
    return MediationCase.objects.filter(
        Q(mediation_body_id__in=bodies) & (Q(mediator=user) | Q(mediator__isnull=True))
    ).select_related("complaint", "complaint__merchant", "complaint__consumer", "mediation_body", "mediator")


def _latest_proposal() -> QuerySet[Proposal]:
    return Proposal.objects.filter(case=OuterRef("pk")).order_by("-issued_at", "-pk")


def _answer_of(side: str) -> Subquery:
    """The side's decision on the case's latest proposal."""
    return Subquery(
        ProposalResponse.objects.filter(proposal__case=OuterRef("pk"), side=side)
        .order_by("-proposal__issued_at", "-proposal_id")
        .values("decision")[:1]
    )


def workspace_queues(user, *, now: datetime | None = None) -> list[Queue]:
    """The six queues of the workspace, each sorted by its due date (earliest first), in one query.

    A case is in one queue by its state, except that the overdue queue is the list of breaches (D18):
    a proposal still awaiting answers past the outcome date is in both "overdue" and "proposals".
    """
    now = now or clock.now()
    cases = (
        mediator_cases(user)
        .filter(state__in=ACTIVE_CASE_STATES)
        .annotate(
            proposal_due_at=Subquery(_latest_proposal().values("acceptance_due_at")[:1]),
            consumer_answer=_answer_of(PartySide.CONSUMER),
            merchant_answer=_answer_of(PartySide.MERCHANT),
            documents_requested_at=Subquery(
                DocumentRequest.objects.filter(case=OuterRef("pk"), fulfilled_at__isnull=True)
                .order_by("-requested_at")
                .values("requested_at")[:1]
            ),
        )
        .order_by("referred_at", "pk")
    )
    queues = {key: Queue(key, title, label, help) for key, title, label, help in QUEUE_DEFINITIONS}

    def add(key: str, case: MediationCase, moment: datetime | None, *, counted: bool = True, **more) -> None:
        when = due(moment, case, now) if counted else Due(moment)
        queues[key].entries.append(QueueEntry(case, when, **more))

    def answer(decision: str | None) -> str:
        return ResponseDecision(decision or ResponseDecision.PENDING).label

    for case in cases:
        if case.state == CaseState.RECEIVED:
            add(NEW if case.mediator_id is None else ADMISSIBILITY, case, case.admissibility_due_at)
        elif case.state == CaseState.AWAITING_DOCUMENTS:
            # The admissibility clock is stopped (D13): no due date, the request's date instead.
            add(INCOMPLETE, case, case.documents_requested_at, counted=False)
        if case.state in (CaseState.OPEN, CaseState.PROPOSAL_ISSUED) and case.outcome_due_at:
            if case.outcome_due_at < now:
                add(OVERDUE, case, case.outcome_due_at)
            elif case.state == CaseState.OPEN:
                add(OUTCOME, case, case.outcome_due_at)
        if case.state == CaseState.PROPOSAL_ISSUED:
            answers = {"consumer": answer(case.consumer_answer), "merchant": answer(case.merchant_answer)}
            add(PROPOSALS, case, case.proposal_due_at, answers=answers)

    def order(entry: QueueEntry):  # the earliest date first; a case without one last
        return (entry.due.at is None, entry.due.at or now, entry.case.referred_at, entry.case.pk)

    for queue in queues.values():
        queue.entries.sort(key=order)
    return [queues[key] for key, *_rest in QUEUE_DEFINITIONS]


# --- The mediator's case page --------------------------------------------------------------------

# The conditions of admission (D8–D10): each one not met says which reason code to refuse with.
ADMISSION_CONDITIONS = (no_other_proceedings, within_scope, referred_within_one_year)


def admission_problems(case: MediationCase) -> list:
    """Why `case_open` would refuse this case, in the words of its conditions (empty: admissible)."""
    return [condition.refusal for condition in ADMISSION_CONDITIONS if not condition(case)]


def colleagues_of(case: MediationCase, user) -> QuerySet[User]:
    """The other mediators of the case's body, to hand the case to."""
    return (
        User.objects.filter(
            memberships__mediation_body=case.mediation_body,
            memberships__role=Role.MEDIATOR,
            is_active=True,
        )
        .exclude(pk=case.mediator_id or user.pk)
        .distinct()
        .order_by("last_name", "first_name", "email")
    )


# What grows on a case page is paged, newest first: the messages and the timeline.
MESSAGES_PAGE_SIZE = 50
EVENTS_PAGE_SIZE = 50


def mediator_case_page(user, case: MediationCase, *, request=None, now: datetime | None = None) -> dict:
    """Everything the mediator's case page shows, in a fixed number of queries whatever the case's size.

    The messages (every channel: the mediator reads them all, D20) and the timeline of both chains
    are keyset pages, the latest first, each shown oldest first (`?msg_after=…`, `?events_after=…`).
    """
    now = now or clock.now()
    proposals = case_proposals(case)
    events = keyset_page(
        AuditEvent.objects.filter(stream__in=[case.complaint.reference, case.reference]).select_related(
            "actor"
        ),
        order=("-occurred_at", "-pk"),
        request=request,
        size=EVENTS_PAGE_SIZE,
        prefix="events_",
        anchor="timeline",
    ).reversed()
    for event in events:
        event.label = EVENT_LABELS.get(event.kind, event.kind)
    # The clocks that run now, with their days left.
    running = {}
    if case.state == CaseState.RECEIVED and case.admissibility_due_at:
        running["admissibility"] = due(case.admissibility_due_at, case, now)
    if case.state in (CaseState.OPEN, CaseState.PROPOSAL_ISSUED) and case.outcome_due_at:
        running["outcome"] = due(case.outcome_due_at, case, now)
    latest = proposals[-1] if proposals else None
    if latest and case.state == CaseState.PROPOSAL_ISSUED:
        running["proposal"] = due(latest.acceptance_due_at, case, now)
    thread = keyset_page(
        case_messages_for(user, case),  # D20: filtered in the query
        order=("-sent_at", "-pk"),
        request=request,
        size=MESSAGES_PAGE_SIZE,
        prefix="msg_",
        anchor="messages",
    ).reversed()
    return {
        # Not "messages": that name is Django's flash messages in every template.
        "thread": thread,
        "proposals": proposals,
        "latest_proposal": latest,
        **case_records(case),  # document requests, extensions, disclosures, representatives
        "evidence": list(Evidence.objects.filter(complaint=case.complaint).order_by("uploaded_at", "pk")),
        "events": events,
        "due": running,
        "admission_problems": admission_problems(case) if case.state == CaseState.RECEIVED else [],
    }
