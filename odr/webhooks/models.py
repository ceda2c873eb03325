"""Webhook endpoints: the HTTPS addresses a merchant registers to be told of events on its cases.

What is sent to an endpoint is an outbox row (`OutboxMessage`, channel "webhook") written in the use
case's transaction: the endpoint's id and the JSON payload travel in the row's `context`, the event's
name in its `template`. The relay delivers it (`odr.webhooks.delivery`), with its backoff and dead
letter; the endpoint's delivery log is those rows.
"""

import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from odr.accounts.models import Merchant

from .addresses import LOCAL_HOSTS, host_allowed_as_written, http_localhost_allowed


def new_secret() -> str:
    """32 random bytes, hex, with a prefix that says what it is (as Standard Webhooks does)."""
    return "whsec_" + secrets.token_hex(32)


def validate_webhook_url(url: str) -> None:
    """HTTPS only; plain http only to this machine, and only in DEBUG or when a test allows it. No
    private, loopback or reserved IP, nor `localhost`, outside development (`addresses.py`)."""
    try:
        parts = urlsplit(url or "")
        host = parts.hostname
        parts.port  # noqa: B018 — raises ValueError on a malformed port
    except ValueError:
        raise ValidationError(_("Enter a valid address."), code="invalid") from None
    if not host:
        raise ValidationError(_("Enter a valid address."), code="invalid")
    if not (
        parts.scheme == "https"
        or (parts.scheme == "http" and host in LOCAL_HOSTS and http_localhost_allowed())
    ):
        raise ValidationError(_("The address must start with https://."), code="https_only")
    if not host_allowed_as_written(host):
        raise ValidationError(
            _("This address is on a private or reserved network: webhooks go to public addresses only."),
            code="private_address",
        )


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
