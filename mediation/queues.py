"""The mediator's workspace: the queues of a mediator's cases, and what the mediator's case page reads.

A mediator sees the cases of the mediation bodies they are a mediator of, assigned to them or to nobody
yet (for the body's mediators to take) — never a case a colleague has taken (D30). Each queue is sorted
by its legal due date, with the whole days left counted in the case's body's time zone (D38).

Query counts do not grow with the number of cases or messages (pinned in
tests/mediation/test_mediator_views.py and tests/mediation/test_list_query_counts.py): the workspace
reads the first rows of all its queues in one query and their bounded sizes in another; each queue
has its own keyset-paged page.
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
from odr.paging import (
    THREAD_PAGE_SIZE,
    BoundedCount,
    bounded_counts,
    conversation_page,
    latest_first,
    list_heads,
)

from .case_facts import case_proposals, case_records
from .documents import EVENT_LABELS
from .models import (
    CaseState,
    DocumentRequest,
    MediationCase,
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

# The states in which the outcome clock runs (D16): past its date, the case is overdue (D18).
OUTCOME_RUNNING_STATES = (CaseState.OPEN, CaseState.PROPOSAL_ISSUED)

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

QUEUE_KEYS = tuple(key for key, *_rest in QUEUE_DEFINITIONS)


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
    count: BoundedCount | None = None  # counted up to a bound (the workspace); None on a queue's own page
    more: bool = False  # rows beyond `entries`: the queue's own page shows them

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


def _answer_of(side: str) -> Subquery:
    """The side's decision on the case's latest proposal."""
    return Subquery(
        ProposalResponse.objects.filter(proposal__case=OuterRef("pk"), side=side)
        .order_by("-proposal__issued_at", "-proposal_id")
        .values("decision")[:1]
    )


def queue_rows(queryset: QuerySet[MediationCase] | None = None) -> QuerySet[MediationCase]:
    """What a row of a queue shows: the parties, and (computed for the rows shown only) the answers
    to the latest proposal and the date documents were asked for."""
    queryset = MediationCase.objects.all() if queryset is None else queryset
    return queryset.select_related(
        "complaint", "complaint__merchant", "complaint__consumer", "mediation_body", "mediator"
    ).annotate(
        consumer_answer=_answer_of(PartySide.CONSUMER),
        merchant_answer=_answer_of(PartySide.MERCHANT),
        documents_requested_at=Subquery(
            DocumentRequest.objects.filter(case=OuterRef("pk"), fulfilled_at__isnull=True)
            .order_by("-requested_at")
            .values("requested_at")[:1]
        ),
    )


def queue_querysets(user, *, body_ids, now: datetime) -> dict[str, tuple[QuerySet[MediationCase], tuple]]:
    """Each queue as (queryset, order): the order is the queue's legal due date (the referral date for
    incomplete files, whose clock is stopped), served by a (mediation_body, state, date, id) index.

    `body_ids` are the bodies `user` is a mediator of, as literal ids (not a subquery) so that
    PostgreSQL walks the index in order. A case is in one queue by its state, except that the overdue
    queue is the list of breaches (D18): a proposal still awaiting answers past the outcome date is in
    both "overdue" and "proposals".
    """
    ids = list(body_ids)
    in_bodies = Q(mediation_body_id=ids[0]) if len(ids) == 1 else Q(mediation_body_id__in=ids)
    # A case leaves "received" only by a mediator's act, and the first mediator to act on a free case
    # takes it (services._act_as_mediator): past "received", "mine or nobody's" is "mine". Each queue
    # is then one range of a (body, state, mediator, date, id) index, read in order.
    mine = MediationCase.objects.filter(in_bodies, mediator=user)
    received = MediationCase.objects.filter(
        in_bodies, state=CaseState.RECEIVED, admissibility_due_at__isnull=False
    )
    return {
        NEW: (received.filter(mediator__isnull=True), ("admissibility_due_at", "pk")),
        INCOMPLETE: (mine.filter(state=CaseState.AWAITING_DOCUMENTS), ("referred_at", "pk")),
        ADMISSIBILITY: (received.filter(mediator=user), ("admissibility_due_at", "pk")),
        OUTCOME: (mine.filter(state=CaseState.OPEN, outcome_due_at__gte=now), ("outcome_due_at", "pk")),
        OVERDUE: (
            mine.filter(state__in=OUTCOME_RUNNING_STATES, outcome_due_at__lt=now),
            ("outcome_due_at", "pk"),
        ),
        PROPOSALS: (
            mine.filter(state=CaseState.PROPOSAL_ISSUED, proposal_due_at__isnull=False),
            ("proposal_due_at", "pk"),
        ),
    }


def queue_entry(key: str, case: MediationCase, now: datetime) -> QueueEntry:
    """The case as a row of queue `key`, with the due date that queue is about and its days left."""
    if key in (NEW, ADMISSIBILITY):
        return QueueEntry(case, due(case.admissibility_due_at, case, now))
    if key == INCOMPLETE:  # the admissibility clock is stopped (D13): the request's date instead
        return QueueEntry(case, Due(case.documents_requested_at))
    if key == PROPOSALS:
        answers = {
            "consumer": ResponseDecision(case.consumer_answer or ResponseDecision.PENDING).label,
            "merchant": ResponseDecision(case.merchant_answer or ResponseDecision.PENDING).label,
        }
        return QueueEntry(case, due(case.proposal_due_at, case, now), answers=answers)
    return QueueEntry(case, due(case.outcome_due_at, case, now))


def empty_queue(key: str) -> Queue:
    definition = next(d for d in QUEUE_DEFINITIONS if d[0] == key)
    return Queue(*definition)


def workspace_queues(
    user, *, body_ids, size: int, count_limit: int, now: datetime | None = None
) -> list[Queue]:
    """The six queues of the workspace, each with its first `size` cases by due date (earliest first)
    and its size counted up to `count_limit`: two queries, whatever the number of cases."""
    now = now or clock.now()
    querysets = queue_querysets(user, body_ids=body_ids, now=now)
    counts = bounded_counts(
        {key: queryset for key, (queryset, _order) in querysets.items()}, limit=count_limit
    )
    heads = list_heads(queue_rows(), querysets, size=size)
    queues = []
    for key, *_rest in QUEUE_DEFINITIONS:
        queue = empty_queue(key)
        queue.entries = [queue_entry(key, case, now) for case in heads[key]]
        queue.count, queue.more = counts[key], heads[key].has_next
        queues.append(queue)
    return queues


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
MESSAGES_PAGE_SIZE = EVENTS_PAGE_SIZE = THREAD_PAGE_SIZE


def mediator_case_page(user, case: MediationCase, *, request=None, now: datetime | None = None) -> dict:
    """Everything the mediator's case page shows, in a fixed number of queries whatever the case's size.

    The messages (every channel: the mediator reads them all, D20) and the timeline of both chains
    are keyset pages, the latest first, each shown oldest first (`?msg_after=…`, `?events_after=…`).
    """
    now = now or clock.now()
    proposals = case_proposals(case)
    events = latest_first(
        AuditEvent.objects.filter(stream__in=[case.complaint.reference, case.reference]).select_related(
            "actor"
        ),
        order=("-occurred_at", "-pk"),
        request=request,
        prefix="events_",
        anchor="timeline",
    )
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
    thread = conversation_page(case_messages_for(user, case), request=request)  # D20: in the query
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
