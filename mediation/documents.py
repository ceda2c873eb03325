"""The mediation record (D27, D28): the outcome in writing on a durable medium, with its grounds.

One record per audience: the consumer's and the merchant's copies leave out the other party's private
channel with the mediator (D20); the full record (mediator, compliance officers) has everything.
The PDF embeds the case's events as JSON, so that the file alone is a complete, machine-readable record.
"""

import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy as _

from complaints.models import PartySide
from complaints.timeline import COMPLAINT_EVENT_LABELS
from odr.audit.models import AuditEvent
from odr.consent.models import ConsentRecord
from odr.documents.models import GeneratedDocument
from odr.documents.rendering import PdfAttachment
from odr.documents.services import DocumentSpec

from .models import PRIVATE_AUDIENCE_OF, Audience, CaseMessage, MediationCase, ProposalResponse
from .statements import LIMITATION_RESTARTS, WITHDRAWAL_AT_ANY_TIME

FULL = "full"

# What each audit event means, for people reading the timeline (unknown kinds show their code).
EVENT_LABELS = {
    **COMPLAINT_EVENT_LABELS,
    "case.received": _("Referral received"),
    "case.assigned": _("Mediator assigned"),
    "case.documents_requested": _("Documents requested"),
    "case.file_complete": _("File complete"),
    "case.rejected": _("Referral refused"),
    "case.opened": _("Notice of saisine"),
    "case.extended": _("Outcome deadline extended"),
    "case.overdue": _("Outcome deadline passed"),
    "case.message": _("Message in the mediation"),
    "case.document_added": _("File added to the mediation"),
    "case.conflict_disclosed": _("Conflict-of-interest disclosure"),
    "case.representative_added": _("Representative added"),
    "proposal.issued": _("Proposal issued"),
    "proposal.accepted": _("Proposal accepted"),
    "proposal.refused": _("Proposal refused"),
    "proposal.deemed_refused": _("No answer before the deadline: deemed refusal"),
    "case.settled": _("Settled: both parties accepted"),
    "case.no_agreement": _("Closed without agreement"),
    "case.discontinued": _("Discontinued: a party withdrew"),
    "case.merchant_declined": _("The merchant declined to take part"),
}
RECORD_AUDIENCES = (PartySide.CONSUMER, PartySide.MERCHANT, FULL)


def _visible_audiences(audience: str) -> list[str]:
    if audience == FULL:
        return list(Audience.values)
    return [Audience.EVERYONE, PRIVATE_AUDIENCE_OF[audience]]


def _events(case: MediationCase, audience: str):
    """Both chains (complaint, mediation), oldest first, minus other parties' private messages."""
    hidden = set(Audience.values) - set(_visible_audiences(audience))
    events = (
        AuditEvent.objects.filter(stream__in=[case.complaint.reference, case.reference])
        .select_related("actor")
        .order_by("occurred_at", "stream", "seq")
    )
    visible = [e for e in events if not (e.kind == "case.message" and e.payload.get("audience") in hidden)]
    for event in visible:
        event.label = EVENT_LABELS.get(event.kind, event.kind)
    return visible


def mediation_record_spec(document: GeneratedDocument) -> DocumentSpec:
    audience = document.parameters.get("audience", FULL)
    if audience not in RECORD_AUDIENCES:
        raise ValueError(f"Unknown record audience {audience!r}")
    case = (
        MediationCase.objects.select_related(
            "complaint", "complaint__merchant", "complaint__consumer", "mediation_body", "mediator"
        )
        .prefetch_related("representatives", "extensions", "disclosures", "document_requests")
        .get(reference=document.subject_reference)
    )
    proposals = list(case.proposals.order_by("issued_at"))
    responses = ProposalResponse.objects.filter(proposal__case=case).select_related("responded_by")
    messages = (
        CaseMessage.objects.filter(case=case, audience__in=_visible_audiences(audience))
        .select_related("author")
        .order_by("sent_at", "pk")
    )
    events = _events(case, audience)
    documents = GeneratedDocument.objects.filter(
        subject_reference__in=[case.reference, case.complaint.reference], status="ready"
    )
    consents = ConsentRecord.objects.filter(case_reference__in=[case.reference, case.complaint.reference])
    if audience == PartySide.CONSUMER:  # a party's copy lists its own side's consents only
        consents = consents.filter(person=case.complaint.consumer)
    elif audience == PartySide.MERCHANT:
        consents = consents.exclude(person=case.complaint.consumer)
    machine_readable = {
        "case": case.reference,
        "complaint": case.complaint.reference,
        "audience": audience,
        "state": case.state,
        "events": [
            {
                "stream": e.stream,
                "seq": e.seq,
                "kind": e.kind,
                "occurred_at": e.occurred_at,
                "actor_id": e.actor_id,
                "actor_role": e.actor_role,
                "payload": e.payload,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in events
        ],
    }
    return DocumentSpec(
        template="pdf/mediation_record.html",
        context={
            "case": case,
            "complaint": case.complaint,
            "audience": audience,
            "issuer": case.mediation_body.name,
            "proposals": proposals,
            "responses": responses,
            "messages": messages,
            "events": events,
            "documents": documents,
            "consents": consents,
            "withdrawal_notice": WITHDRAWAL_AT_ANY_TIME,
            "limitation_notice": LIMITATION_RESTARTS,
            "public_url": settings.ODR_PUBLIC_URL,
        },
        filename=f"mediation-record-{case.reference}-{audience}.pdf",
        time_zone=case.mediation_body.time_zone,
        attachments=[
            PdfAttachment(
                name="mediation-record.json",
                content=json.dumps(
                    machine_readable, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1
                ).encode(),
                description=str(_("The case's events, machine-readable")),
            )
        ],
        audit_stream=case.reference,
    )
