"""Who a user is to an organisation. Shared by rules, services and views.

A page that checks several roles (the case pages: is this person the consumer, the merchant's staff,
the case's mediator, a compliance officer?) and then draws the navigation would read the memberships
once per question. `remember_memberships` reads them once, with their organisations, and keeps them on
that user object; every predicate here then answers from that list. Views call it on `request.user`,
which is loaded afresh for each request, so the list never outlives the request. Without it (services,
tasks, tests holding a user across changes) each question is one query, as before.
"""

from .models import BODY_ROLES, MERCHANT_ROLES, Membership, Role

REMEMBERED = "_remembered_memberships"


def _authenticated(user) -> bool:
    return bool(user and user.is_authenticated)


def remember_memberships(user) -> list[Membership]:
    """Read `user`'s memberships (with merchant and body) once and keep them on the user object."""
    remembered = getattr(user, REMEMBERED, None)
    if remembered is None:
        related = ("merchant__mediation_body", "mediation_body")
        remembered = list(user.memberships.select_related(*related).order_by("pk"))
        setattr(user, REMEMBERED, remembered)
    return remembered


def is_merchant_staff(user, merchant) -> bool:
    if not (_authenticated(user) and merchant):
        return False
    remembered = getattr(user, REMEMBERED, None)
    if remembered is not None:
        return any(m.merchant_id == merchant.pk and m.role in MERCHANT_ROLES for m in remembered)
    return Membership.objects.filter(user=user, merchant=merchant, role__in=MERCHANT_ROLES).exists()


def is_merchant_owner(user, merchant) -> bool:
    if not (_authenticated(user) and merchant):
        return False
    remembered = getattr(user, REMEMBERED, None)
    if remembered is not None:
        return any(m.merchant_id == merchant.pk and m.role == Role.MERCHANT_OWNER for m in remembered)
    return Membership.objects.filter(user=user, merchant=merchant, role=Role.MERCHANT_OWNER).exists()


def has_body_role(user, body, role: str) -> bool:
    if not (_authenticated(user) and body):
        return False
    remembered = getattr(user, REMEMBERED, None)
    if remembered is not None:
        return any(m.mediation_body_id == body.pk and m.role == role for m in remembered)
    return Membership.objects.filter(user=user, mediation_body=body, role=role).exists()


def is_mediator_of(user, body) -> bool:
    return has_body_role(user, body, Role.MEDIATOR)


def is_compliance_officer_of(user, body) -> bool:
    return has_body_role(user, body, Role.COMPLIANCE_OFFICER)


def is_consumer(user) -> bool:
    """A consumer is a user with no membership at all."""
    if not _authenticated(user):
        return False
    remembered = getattr(user, REMEMBERED, None)
    if remembered is not None:
        return not remembered
    return not user.memberships.exists()


def body_roles_present(user) -> bool:
    remembered = getattr(user, REMEMBERED, None)
    if remembered is not None:
        return any(m.role in BODY_ROLES for m in remembered)
    return Membership.objects.filter(user=user, role__in=BODY_ROLES).exists()
