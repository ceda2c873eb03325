"""What the base layout needs to show each person their own part of the site (at most one query)."""

from django.utils.functional import SimpleLazyObject

from odr.accounts.models import MERCHANT_ROLES, Role
from odr.accounts.selectors import remember_memberships


class Navigation:
    def __init__(self, user):
        # Read once per request and kept on the user (remember_memberships): the page's own permission
        # checks and the layout share the list.
        memberships = remember_memberships(user) if user else []
        self.memberships = memberships
        self.merchants = [m.merchant for m in memberships if m.role in MERCHANT_ROLES]
        self.mediator_bodies = [m.mediation_body for m in memberships if m.role == Role.MEDIATOR]
        self.compliance_bodies = [m.mediation_body for m in memberships if m.role == Role.COMPLIANCE_OFFICER]
        self.is_consumer = bool(user) and not memberships

    # Pages that take a merchant or a body check the person's role here rather than with a query of
    # their own (the lists' query budget, issue 14): the same memberships the layout reads.
    def staff_membership(self, merchant_id: int):
        """The person's membership of `merchant_id`'s staff (owner or agent), or None."""
        return next(
            (m for m in self.memberships if m.merchant_id == merchant_id and m.role in MERCHANT_ROLES), None
        )

    def compliance_body(self, slug: str):
        """The body `slug` if the person is one of its compliance officers, or None."""
        return next((body for body in self.compliance_bodies if body.slug == slug), None)


def navigation(request):
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {"nav": None}
    return {"nav": SimpleLazyObject(lambda: Navigation(user))}
