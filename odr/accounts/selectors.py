"""Who a user is to an organisation. Shared by rules, services and views."""

from .models import BODY_ROLES, MERCHANT_ROLES, Membership, Role


def is_merchant_staff(user, merchant) -> bool:
    if not (user and user.is_authenticated and merchant):
        return False
    return Membership.objects.filter(user=user, merchant=merchant, role__in=MERCHANT_ROLES).exists()


def is_merchant_owner(user, merchant) -> bool:
    if not (user and user.is_authenticated and merchant):
        return False
    return Membership.objects.filter(user=user, merchant=merchant, role=Role.MERCHANT_OWNER).exists()


def has_body_role(user, body, role: str) -> bool:
    if not (user and user.is_authenticated and body):
        return False
    return Membership.objects.filter(user=user, mediation_body=body, role=role).exists()


def is_mediator_of(user, body) -> bool:
    return has_body_role(user, body, Role.MEDIATOR)


def is_compliance_officer_of(user, body) -> bool:
    return has_body_role(user, body, Role.COMPLIANCE_OFFICER)


def is_consumer(user) -> bool:
    """A consumer is a user with no membership at all."""
    return bool(user and user.is_authenticated) and not user.memberships.exists()


def body_roles_present(user) -> bool:
    return Membership.objects.filter(user=user, role__in=BODY_ROLES).exists()
