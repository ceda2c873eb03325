"""Documents during a mediation (D20, D34): the parties add files and comment on each other's.

A file added during the mediation joins the complaint's files (`complaints.Evidence` on
`case.complaint`): the parties, the mediator and the record see one list, each file with its SHA-256,
whichever stage it came in. The bytes pass the same gate as at the complaint stage
(`odr.documents.uploads`), the per-complaint limit applies, and the addition is written to the
*case's* audit chain (`case.document_added`).

A comment on a document is a `CaseMessage` to everyone whose `about` names the file: the other party
and the mediator read it where they read the file, and it reaches them by e-mail like any message.
"""

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from complaints.evidence import evidence_check_room, evidence_row, evidence_stored
from complaints.models import Evidence, PartySide
from odr import clock
from odr.documents.uploads import upload_validate
from odr.errors import InvalidInput, TransitionRefused
from odr.locking import lock

from .models import Audience, CaseMessage, MediationCase
from .rules import is_case_mediator
from .services import MEDIATOR, _act_as_mediator, _audit, _notify, _notify_mediators, _side_of

CLOSED_FOR_DOCUMENTS = _("This mediation is closed: no more documents can be added.")
CLOSED_FOR_COMMENTS = _("This mediation is closed: documents can no longer be commented on.")


def case_files(case: MediationCase) -> QuerySet[Evidence]:
    """Both stages' files of the case, oldest first. Every party and the mediator may see all of them
    (D20); the caller has already checked that the reader may see the case (D30)."""
    return (
        Evidence.objects.filter(complaint_id=case.complaint_id)
        .select_related("uploaded_by")
        .order_by("uploaded_at", "pk")
    )


def case_document_add(*, case: MediationCase, by, file) -> Evidence:
    """D20: a party adds a document while the mediation is active; the other side and the mediator
    see it with its fingerprint. The file is checked before anything is written, and removed again if
    the transaction does not commit."""
    validated = upload_validate(file)
    with transaction.atomic():
        case = lock(case)
        side = _side_of(by, case)  # a party of this case, or Forbidden
        if not case.is_active:
            raise TransitionRefused(CLOSED_FOR_DOCUMENTS)
        # Under the case's lock: two uploads at once cannot pass the limit together. The complaint
        # itself is referred, so its own stage adds nothing meanwhile.
        evidence_check_room(Evidence.objects.filter(complaint_id=case.complaint_id).count())
        with evidence_stored(file, validated) as name:
            evidence = evidence_row(
                name=name, validated=validated, by=by, side=side, complaint_id=case.complaint_id
            )
            _audit(  # D34: every document is in the trail, with its fingerprint
                case,
                "case.document_added",
                actor=by,
                role=side,
                evidence_id=evidence.pk,
                name=evidence.original_name,
                content_type=evidence.content_type,
                size=evidence.size,
                sha256=evidence.sha256,
            )
    return evidence


def case_document_comment(*, case: MediationCase, by, evidence: Evidence, body: str) -> CaseMessage:
    """D20: a party (or the mediator) comments on a document of the case. The comment is a message to
    everyone, tied to the document; the audit trail records that it was written, not what it says."""
    if not body.strip():
        raise InvalidInput(_("The comment is empty."))
    with transaction.atomic():
        case = lock(case)
        if is_case_mediator(by, case):
            _act_as_mediator(by, case)
            role = MEDIATOR
        else:
            role = _side_of(by, case)
        if evidence.complaint_id is None or evidence.complaint_id != case.complaint_id:
            raise InvalidInput(_("This document is not part of the case."))
        if not case.is_active:
            raise TransitionRefused(CLOSED_FOR_COMMENTS)
        message = CaseMessage.objects.create(
            case=case,
            author=by,
            author_role=role,
            audience=Audience.EVERYONE,
            body=body,
            sent_at=clock.now(),
            about=evidence,
        )
        _audit(
            case,
            "case.message",
            actor=by,
            role=role,
            message_id=message.pk,
            audience=Audience.EVERYONE,
            evidence_id=evidence.pk,
        )
        key = f"case.message:{message.pk}"
        other_sides = tuple(side for side in (PartySide.CONSUMER, PartySide.MERCHANT) if side != role)
        _notify(case, "case_message", key, sides=other_sides, private=False)
        if role != MEDIATOR:
            _notify_mediators(case, "case_message", key)
    return message
