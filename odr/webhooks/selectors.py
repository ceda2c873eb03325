"""Reads with authorisation: a webhook endpoint of a merchant the user works for, else DoesNotExist."""

from odr.accounts.access import merchant_get_for

from .models import WebhookEndpoint


def endpoints_of(merchant):
    return WebhookEndpoint.objects.filter(merchant=merchant).order_by("created_at", "pk")


def endpoint_get_for(user, merchant_id: int, endpoint_id: int) -> WebhookEndpoint:
    """Raises Merchant.DoesNotExist or WebhookEndpoint.DoesNotExist alike for missing and forbidden."""
    merchant = merchant_get_for(user, merchant_id)
    return endpoints_of(merchant).select_related("merchant").get(pk=endpoint_id)
