"""Which merchants a request acts for: the key's one merchant, or every merchant of the signed-in
person (browser session). API views narrow the stage selectors with it."""

from odr.accounts.models import MERCHANT_ROLES

from .models import ApiKey


def api_key_of(request) -> ApiKey | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


def merchant_ids_for(request):
    """A list (key) or a subquery (session) of merchant ids the request may see."""
    key = api_key_of(request)
    if key is not None:
        return [key.merchant_id]
    user = request.user
    if not (user and user.is_authenticated):
        return []
    return user.memberships.filter(role__in=MERCHANT_ROLES).values("merchant_id")
