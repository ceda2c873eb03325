"""Fetching a merchant with authorisation: the same answer whether it is missing or someone else's.

Views turn `Merchant.DoesNotExist` into a 404, so a person who is not on a merchant's staff learns
nothing about it, not even that it exists (DESIGN.md, `*_get_for(user, …)` selectors).
"""

from django.db.models import Exists, OuterRef

from .models import MERCHANT_ROLES, Membership, Merchant


def merchant_get_for(user, merchant_id: int) -> Merchant:
    """The merchant `merchant_id` if `user` is one of its staff (owner or agent), else DoesNotExist."""
    if not (user and user.is_authenticated):
        raise Merchant.DoesNotExist
    staff = Membership.objects.filter(merchant=OuterRef("pk"), user=user, role__in=MERCHANT_ROLES)
    return Merchant.objects.select_related("mediation_body").filter(Exists(staff)).get(pk=merchant_id)
