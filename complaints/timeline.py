"""What each event of a complaint's audit trail means to the people reading its timeline.

Shared by the complaint page and the mediation record (which adds the mediation's own events);
an event kind missing here shows its code rather than nothing.
"""

from django.utils.translation import gettext_lazy as _

COMPLAINT_EVENT_LABELS = {
    "complaint.filed": _("Complaint filed"),
    "complaint.answered": _("Merchant answered"),
    "complaint.response_period_lapsed": _("Merchant's response period lapsed"),
    "complaint.merchant_reminded": _("Merchant reminded of the deadline"),
    "complaint.message": _("Message about the complaint"),
    "complaint.evidence_added": _("File added"),
    "complaint.referred": _("Dispute referred to the mediator"),
    "complaint.resolved": _("Complaint resolved"),
    "complaint.withdrawn": _("Complaint withdrawn"),
    "complaint.expired": _("Referral period over"),
    "offer.offer": _("Offer made"),
    "offer.counter_offer": _("Counter-offer made"),
    "offer.accepted": _("Offer accepted"),
    "offer.declined": _("Offer declined"),
    "offer.withdrawn": _("Offer withdrawn"),
    "consent.given": _("Consent given (receipt issued)"),
    "consent.withdrawn": _("Consent withdrawn (receipt issued)"),
    "document.generated": _("Document generated"),
}


def event_label(kind: str, labels: dict = COMPLAINT_EVENT_LABELS) -> str:
    return str(labels.get(kind, kind))
