"""Reads that screens, the API and exports share, already filtered by who may see them (D20, D30).

`*_get_for` answers DoesNotExist both when the row is missing and when the user may not see it, so
that a view turns either into the same 404 and never confirms that someone else's case exists.
"""

from django.db.models import Q, QuerySet

from complaints.models import Complaint, PartySide
from odr.accounts.models import MERCHANT_ROLES, Role

from .models import PRIVATE_AUDIENCE_OF, Audience, CaseMessage, MediationCase
from .rules import is_case_compliance_officer, is_case_consumer, is_case_mediator, is_case_merchant_staff


def cases_visible_to(user) -> QuerySet[MediationCase]:
    """D30: the parties, the assigned mediator (or the body's mediators while unassigned) and the
    body's compliance officers."""
    if not (user and user.is_authenticated):
        return MediationCase.objects.none()
    memberships = user.memberships.all()
    merchant_ids = memberships.filter(role__in=MERCHANT_ROLES).values("merchant_id")
    mediator_bodies = memberships.filter(role=Role.MEDIATOR).values("mediation_body_id")
    compliance_bodies = memberships.filter(role=Role.COMPLIANCE_OFFICER).values("mediation_body_id")
    return MediationCase.objects.filter(
        Q(complaint__consumer=user)
        | Q(complaint__merchant_id__in=merchant_ids)
        | Q(mediation_body_id__in=mediator_bodies, mediator=user)
        | Q(mediation_body_id__in=mediator_bodies, mediator__isnull=True)
        | Q(mediation_body_id__in=compliance_bodies)
    ).select_related("complaint", "complaint__merchant", "mediation_body", "mediator")


def case_get_for(user, *, reference: str) -> MediationCase:
    return cases_visible_to(user).get(reference=reference)


def complaints_visible_to(user) -> QuerySet[Complaint]:
    """A complaint is the parties' (D30); once referred, the mediation's people see it through the case."""
    if not (user and user.is_authenticated):
        return Complaint.objects.none()
    merchant_ids = user.memberships.filter(role__in=MERCHANT_ROLES).values("merchant_id")
    case_complaints = cases_visible_to(user).values("complaint_id")
    return Complaint.objects.filter(
        Q(consumer=user) | Q(merchant_id__in=merchant_ids) | Q(pk__in=case_complaints)
    ).select_related("merchant", "consumer")


def case_messages_for(user, case: MediationCase) -> QuerySet[CaseMessage]:
    """D20: the messages `user` may read. The mediator and compliance officers read every channel;
    a party reads the joint channel and its own private one, never the other party's."""
    messages = CaseMessage.objects.filter(case=case).select_related("author").order_by("sent_at", "pk")
    if is_case_mediator(user, case) or is_case_compliance_officer(user, case):
        return messages
    if is_case_consumer(user, case):
        side = PartySide.CONSUMER
    elif is_case_merchant_staff(user, case):
        side = PartySide.MERCHANT
    else:
        return messages.none()
    return messages.filter(audience__in=[Audience.EVERYONE, PRIVATE_AUDIENCE_OF[side]])
