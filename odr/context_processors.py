"""What the base layout needs to show each person their own part of the site (at most one query)."""

from django.utils.functional import SimpleLazyObject

from odr.accounts.models import MERCHANT_ROLES, Role
from odr.accounts.selectors import memberships_of


class Navigation:
    def __init__(self, user):
        # The list a page already read (remember_memberships), or one query.
        memberships = memberships_of(user) if user else []
        self.merchants = [m.merchant for m in memberships if m.role in MERCHANT_ROLES]
        self.mediator_bodies = [m.mediation_body for m in memberships if m.role == Role.MEDIATOR]
        self.compliance_bodies = [m.mediation_body for m in memberships if m.role == Role.COMPLIANCE_OFFICER]
        self.is_consumer = bool(user) and not memberships


def navigation(request):
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {"nav": None}
    return {"nav": SimpleLazyObject(lambda: Navigation(user))}
