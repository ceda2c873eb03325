"""Reads the complaint pages share, already filtered by who may see them (D2, D30).

`complaint_get_for` answers DoesNotExist both for a missing complaint and for one the user may not
see, so that a view turns either into the same 404. Query counts do not grow with the number of
complaints, messages, offers or events (pinned in tests/complaints/test_query_counts.py).
"""

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from odr import clock
from odr.accounts.models import MERCHANT_ROLES
from odr.audit.models import AuditEvent
from odr.consent.selectors import consents_with_receipts
from odr.documents.models import GeneratedDocument
from odr.paging import keyset_page

from .models import Complaint, ComplaintState, Evidence, Message, Offer
from .timeline import event_label

DUE_SOON = timedelta(days=7)


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


def consumer_cases(user) -> list[Complaint]:
    """D2: "My cases": every complaint with its status, its next deadline and, once referred, its case."""
    complaints = list(
        Complaint.objects.filter(consumer=user)
        .select_related("merchant__mediation_body")
        .select_related("mediation_case")
        .order_by("-filed_at", "-pk")
    )
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


def merchant_dashboard(user) -> dict:
    """Open complaints of the merchants `user` works for, split into overdue, due soon and the rest."""
    now = clock.now()
    open_complaints = list(
        Complaint.objects.filter(
            merchant_id__in=_merchant_ids(user),
            state__in=(ComplaintState.FILED, ComplaintState.ANSWERED),
        )
        .select_related("merchant", "consumer")
        .order_by("response_due_at", "pk")
    )
    waiting = [c for c in open_complaints if c.state == ComplaintState.FILED]
    overdue = [c for c in waiting if c.response_due_at < now]
    due_soon = [c for c in waiting if now <= c.response_due_at <= now + DUE_SOON]
    return {
        "overdue": overdue,
        "due_soon": due_soon,
        "waiting": [c for c in waiting if c.response_due_at > now + DUE_SOON],
        "answered": [c for c in open_complaints if c.state == ComplaintState.ANSWERED],
        "open_count": len(open_complaints),
        # Referred complaints whose mediation is still going on, with the case (reverse one-to-one).
        "in_mediation": list(
            Complaint.objects.filter(
                merchant_id__in=_merchant_ids(user),
                state=ComplaintState.REFERRED,
                mediation_case__closed_at__isnull=True,
            )
            .select_related("merchant", "consumer", "mediation_case")
            .order_by("-mediation_case__referred_at", "-pk")
        ),
    }


# What grows on a complaint page is paged, newest first: the thread and the timeline.
MESSAGES_PAGE_SIZE = 50
EVENTS_PAGE_SIZE = 50


def complaint_page(complaint: Complaint, *, request=None, with_consents: bool = True) -> dict:
    """Everything the complaint page shows, in a fixed number of queries whatever the complaint's size.

    The thread and the timeline are keyset pages, the latest first (`?msg_after=…`, `?events_after=…`
    lead to earlier ones), each shown oldest first. The consumer's consents (with their receipts, one
    query) only when the reader is the consumer (`with_consents`).
    """
    events = keyset_page(
        AuditEvent.objects.filter(stream=complaint.reference).select_related("actor"),
        order=("-seq",),  # unique within a stream
        request=request,
        size=EVENTS_PAGE_SIZE,
        prefix="events_",
        anchor="timeline",
    ).reversed()
    for event in events:
        event.label = event_label(event.kind)
    thread = keyset_page(
        Message.objects.filter(complaint=complaint).select_related("author"),
        order=("-sent_at", "-pk"),
        request=request,
        size=MESSAGES_PAGE_SIZE,
        prefix="msg_",
        anchor="messages",
    ).reversed()
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
