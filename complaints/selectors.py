"""Reads the complaint pages share, already filtered by who may see them (D2, D30).

`complaint_get_for` answers DoesNotExist both for a missing complaint and for one the user may not
see, so that a view turns either into the same 404. Query counts do not grow with the number of
complaints, messages, offers or events (pinned in tests/complaints/test_query_counts.py).
"""

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from odr.accounts.models import MERCHANT_ROLES
from odr.audit.models import AuditEvent
from odr.consent.selectors import consents_with_receipts
from odr.documents.models import GeneratedDocument
from odr.paging import THREAD_PAGE_SIZE, conversation_page, latest_first

from .models import Complaint, ComplaintState, Evidence, Message, Offer
from .timeline import event_label

DUE_SOON_WITHIN = timedelta(days=7)


def _merchant_ids(user):
    return user.memberships.filter(role__in=MERCHANT_ROLES).values("merchant_id")


def complaints_of_party(user) -> QuerySet[Complaint]:
    """The complaints `user` is a party to: as the consumer, or as staff of the merchant."""
    if not (user and user.is_authenticated):
        return Complaint.objects.none()
    return Complaint.objects.filter(Q(consumer=user) | Q(merchant_id__in=_merchant_ids(user))).select_related(
        "merchant__mediation_body", "consumer"
    )


def complaint_get_for(user, *, reference: str) -> Complaint:
    return complaints_of_party(user).get(reference=reference)


def consumer_cases(user) -> QuerySet[Complaint]:
    """D2: "My cases": the consumer's complaints, newest first (paged by the view: the order is served
    by the (consumer, filed_at, id) index), each with its merchant and, once referred, its case."""
    return (
        Complaint.objects.filter(consumer=user)
        .select_related("merchant__mediation_body")
        .select_related("mediation_case")
    )


CONSUMER_CASES_ORDER = ("-filed_at", "-pk")


def with_next_deadlines(complaints) -> list[Complaint]:
    complaints = list(complaints)
    for complaint in complaints:
        complaint.next_deadline = next_deadline(complaint)
    return complaints


def next_deadline(complaint: Complaint):
    """(label, moment) of the next date that matters to the consumer, or None (D2, D3, D8)."""
    if complaint.state == ComplaintState.FILED and not complaint.response_lapsed_at:
        return (_("Merchant's answer due"), complaint.response_due_at)
    if complaint.is_open:
        return (_("Referral to mediation possible until"), complaint.referral_window_ends_at)
    return None


# The merchant dashboard's lists (D3, D4), each with the order an index serves: (merchant, state,
# response_due_at, id) for the complaints awaiting an answer, most urgent first; (merchant, state,
# filed_at, id) for those in mediation, newest first.
OVERDUE = "overdue"
DUE_SOON = "due_soon"
WAITING = "waiting"
ANSWERED = "answered"
IN_MEDIATION = "in_mediation"
MERCHANT_SECTIONS = (OVERDUE, DUE_SOON, WAITING, ANSWERED, IN_MEDIATION)
BY_DUE_DATE = ("response_due_at", "pk")
NEWEST_FIRST = ("-filed_at", "-pk")


def _of_merchants(merchant_ids) -> QuerySet[Complaint]:
    # A literal id (not a subquery of memberships) lets PostgreSQL walk the index in order.
    ids = list(merchant_ids)
    if len(ids) == 1:
        return Complaint.objects.filter(merchant_id=ids[0])
    return Complaint.objects.filter(merchant_id__in=ids)


def merchant_sections(*, merchant_ids, now) -> dict[str, tuple[QuerySet[Complaint], tuple[str, ...]]]:
    """Each list of the dashboard as (queryset, order), for `merchant_ids` (the user's merchants)."""
    mine = _of_merchants(merchant_ids)
    waiting = mine.filter(state=ComplaintState.FILED)
    return {
        OVERDUE: (waiting.filter(response_due_at__lt=now), BY_DUE_DATE),
        DUE_SOON: (
            waiting.filter(response_due_at__gte=now, response_due_at__lte=now + DUE_SOON_WITHIN),
            BY_DUE_DATE,
        ),
        WAITING: (waiting.filter(response_due_at__gt=now + DUE_SOON_WITHIN), BY_DUE_DATE),
        ANSWERED: (mine.filter(state=ComplaintState.ANSWERED), BY_DUE_DATE),
        # Referred complaints whose mediation is still going on, with the case (reverse one-to-one).
        IN_MEDIATION: (
            mine.filter(state=ComplaintState.REFERRED, mediation_case__closed_at__isnull=True),
            NEWEST_FIRST,
        ),
    }


def merchant_open_complaints(*, merchant_ids) -> QuerySet[Complaint]:
    return _of_merchants(merchant_ids).filter(state__in=(ComplaintState.FILED, ComplaintState.ANSWERED))


def merchant_rows(queryset: QuerySet[Complaint] | None = None) -> QuerySet[Complaint]:
    """What a row of the merchant's lists shows."""
    queryset = Complaint.objects.all() if queryset is None else queryset
    return queryset.select_related("merchant", "consumer", "mediation_case")


# What grows on a complaint page is paged, newest first: the thread and the timeline.
MESSAGES_PAGE_SIZE = EVENTS_PAGE_SIZE = THREAD_PAGE_SIZE


def complaint_page(complaint: Complaint, *, request=None, with_consents: bool = True) -> dict:
    """Everything the complaint page shows, in a fixed number of queries whatever the complaint's size.

    The thread and the timeline are keyset pages, the latest first (`?msg_after=…`, `?events_after=…`
    lead to earlier ones), each shown oldest first. The consumer's consents (with their receipts, one
    query) only when the reader is the consumer (`with_consents`).
    """
    events = latest_first(
        AuditEvent.objects.filter(stream=complaint.reference).select_related("actor"),
        order=("-seq",),  # unique within a stream
        request=request,
        prefix="events_",
        anchor="timeline",
    )
    for event in events:
        event.label = event_label(event.kind)
    thread = conversation_page(
        Message.objects.filter(complaint=complaint).select_related("author"), request=request
    )
    return {
        "events": events,
        # Not "messages": that name is Django's flash messages in every template.
        "thread": thread,
        "offers": list(Offer.objects.filter(complaint=complaint).select_related("made_by")),
        "evidence": list(Evidence.objects.filter(complaint=complaint).select_related("uploaded_by")),
        "documents": list(GeneratedDocument.objects.filter(subject_reference=complaint.reference)),
        "consents": consents_with_receipts(case_reference=complaint.reference, person=complaint.consumer)
        if with_consents
        else [],
    }


def merchants_matching(query: str, *, limit: int = 20):
    """The merchants a consumer may mean: by name, SIREN/SIRET, VAT number or website."""
    from odr.accounts.models import Merchant

    query = query.strip()
    if len(query) < 2:
        return Merchant.objects.none()
    compact = query.replace(" ", "")
    return Merchant.objects.filter(
        Q(legal_name__icontains=query)
        | Q(trading_name__icontains=query)
        | Q(registration_number__startswith=compact)
        | Q(vat_number__iexact=compact)
        | Q(website__icontains=query)
    ).select_related("mediation_body")[:limit]
