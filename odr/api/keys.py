"""API-key use cases: create (the full key is returned once), revoke, and find the key of a request."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from odr import clock
from odr.accounts.models import MERCHANT_ROLES
from odr.accounts.selectors import is_merchant_owner
from odr.errors import Forbidden, InvalidInput, TransitionRefused

from .models import ApiKey, ApiKeyScope

KEY_PREFIX = "odr"
PREFIX_BYTES = 6  # 12 hex characters: unique, shown in the portal and in logs
LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write per key and minute


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, merchant, by, name: str, scopes: str) -> tuple[ApiKey, str]:
    """A new key for `merchant`, made by one of its owners. Returns the row and the full key, which
    the platform never shows again."""
    if not is_merchant_owner(by, merchant):
        raise Forbidden()
    if scopes not in ApiKeyScope.values:
        raise InvalidInput(_("Choose what the key may do."))
    if not name.strip():
        raise InvalidInput(_("Give the key a name."))
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        while True:
            prefix = secrets.token_hex(PREFIX_BYTES)
            if not ApiKey.objects.filter(prefix=prefix).exists():
                break
        key = ApiKey.objects.create(
            merchant=merchant,
            name=name.strip(),
            prefix=prefix,
            key_hash=_digest(secret),
            scopes=scopes,
            created_by=by,
            created_at=clock.now(),
        )
    return key, f"{KEY_PREFIX}_{prefix}_{secret}"


def api_key_revoke(*, key: ApiKey, by) -> ApiKey:
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().select_related("merchant").get(pk=key.pk)
        if not is_merchant_owner(by, key.merchant):
            raise Forbidden()
        if key.revoked_at is not None:
            raise TransitionRefused(_("This key is already revoked."))
        key.revoked_at = clock.now()
        key.revoked_by = by
        key.save(update_fields=["revoked_at", "revoked_by"])
    return key


def _parse(raw: str) -> tuple[str, str] | None:
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def api_key_find(raw: str) -> ApiKey | None:
    """The usable key `raw` is, with its creator loaded: the key is not revoked, its secret matches,
    and the person who created it is active and still on the merchant's staff (the key acts as that
    person). None otherwise. One query: it runs on every API request (bench/api.py)."""
    parsed = _parse(raw)
    if parsed is None:
        return None
    prefix, secret = parsed
    # The join on memberships may match two rows (owner and agent of the same merchant): [:1].
    found = list(
        ApiKey.objects.select_related("created_by").filter(
            prefix=prefix,
            revoked_at__isnull=True,
            created_by__is_active=True,
            created_by__memberships__merchant=F("merchant"),
            created_by__memberships__role__in=MERCHANT_ROLES,
        )[:1]
    )
    if not found or not hmac.compare_digest(found[0].key_hash, _digest(secret)):
        return None
    return found[0]


def api_key_creator_left(raw: str) -> bool:
    """Whether `raw` is a valid, unrevoked key that only fails because its creator is no longer an
    active member of the merchant's staff: the error then says so (the owner makes a new key)."""
    parsed = _parse(raw)
    if parsed is None:
        return False
    prefix, secret = parsed
    key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    return key is not None and hmac.compare_digest(key.key_hash, _digest(secret))


def api_key_touch(key: ApiKey) -> None:
    """Record the use of `key`, at most once a minute (no write per request)."""
    now = clock.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
