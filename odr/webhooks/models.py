"""Webhook endpoints: the HTTPS addresses a merchant registers to be told of events on its cases.

What is sent to an endpoint is an outbox row (`OutboxMessage`, channel "webhook") written in the use
case's transaction: the endpoint's id and the JSON payload travel in the row's `context`, the event's
name in its `template`. The relay delivers it (`odr.webhooks.delivery`), with its backoff and dead
letter; the endpoint's delivery log is those rows.
"""

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from odr.accounts.models import Merchant

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def new_secret() -> str:
    """32 random bytes, hex, with a prefix that says what it is (as Standard Webhooks does)."""
    return "whsec_" + secrets.token_hex(32)


def http_localhost_allowed() -> bool:
    return bool(settings.DEBUG or getattr(settings, "ODR_WEBHOOKS_ALLOW_HTTP_LOCALHOST", False))


def validate_webhook_url(url: str) -> None:
    """HTTPS only; plain http only to this machine, and only in DEBUG or when a test allows it."""
    try:
        parts = urlsplit(url or "")
        host = parts.hostname
        parts.port  # noqa: B018 — raises ValueError on a malformed port
    except ValueError:
        raise ValidationError(_("Enter a valid address."), code="invalid") from None
    if not host:
        raise ValidationError(_("Enter a valid address."), code="invalid")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and host in LOCAL_HOSTS and http_localhost_allowed():
        return
    raise ValidationError(_("The address must start with https://."), code="https_only")


class WebhookEndpoint(models.Model):
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="webhook_endpoints", verbose_name=_("merchant")
    )
    url = models.URLField(_("address (URL)"), max_length=500, validators=[validate_webhook_url])
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Names from odr.webhooks.events.EVENTS, as a list.
    events = models.JSONField(_("events"), default=list)
    # Shown to the merchant's owner so that the receiver can check signatures; rotated on request.
    secret = models.CharField(_("signing secret"), max_length=100, default=new_secret, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.url

    def subscribes_to(self, event: str) -> bool:
        return event in (self.events or [])
