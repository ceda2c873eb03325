"""API keys of merchants, and the stored answers of idempotent POSTs (issue 7).

A key is shown once, in full, as ``odr_<prefix>_<secret>``. The platform keeps the prefix (to find the
row, and to show the key in the portal) and the SHA-256 of the secret, never the secret itself: a
secret of 32 random bytes needs no slow hash, and a constant-time comparison of digests is enough.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from odr.accounts.models import Merchant


class ApiKeyScope(models.TextChoices):
    READ = "read", _("Read")
    READ_WRITE = "read_write", _("Read and write")


class ApiKey(models.Model):
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("merchant")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    key_hash = models.CharField(_("SHA-256 of the secret"), max_length=64)
    scopes = models.CharField(_("scopes"), max_length=16, choices=ApiKeyScope.choices)
    # The key acts as this person (an owner when it was created); it stops working as soon as they
    # are no longer on the merchant's staff (odr/api/authentication.py).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.name} ({self.prefix})"

    @property
    def can_write(self) -> bool:
        return self.scopes == ApiKeyScope.READ_WRITE

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The first answer to a POST made with an Idempotency-Key, replayed for a retry of the same
    request. `status` is null while the first request is still running."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_sha256 = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique_per_api_key")
        ]

    def __str__(self):
        return f"{self.api_key_id}:{self.key}"
