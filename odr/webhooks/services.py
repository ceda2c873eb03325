"""Webhook use cases: the owner manages endpoints; the stages emit events into the outbox.

Endpoint changes follow odr.accounts.services: one transaction, the merchant's row locked, owner
only, an audit event on the merchant's chain (`merchant-<id>`; never the secret itself).

`webhooks_emit` is called by the stages' use cases inside their transaction, like `outbox_email`:
one outbox row per active endpoint of the merchant subscribed to the event, delivered after commit.
odr.webhooks never imports a stage: the stages call it.
"""

import json
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from odr import clock
from odr.accounts.models import Merchant, Role, User
from odr.accounts.selectors import is_merchant_owner
from odr.accounts.services import merchant_stream
from odr.audit.services import audit_record
from odr.errors import Forbidden, InvalidInput
from odr.locking import lock
from odr.notifications.models import Channel, OutboxMessage, OutboxStatus
from odr.notifications.relay import enqueue, outbox_acknowledge_dead, outbox_resend

from .events import EVENTS
from .models import WebhookEndpoint, new_secret, validate_webhook_url


class _PayloadEncoder(DjangoJSONEncoder):
    """Dates as ISO 8601 in UTC ("…Z"), whatever the zone they were computed in."""

    def default(self, o):
        if isinstance(o, datetime) and o.tzinfo is not None:
            o = o.astimezone(UTC)
        return super().default(o)


OWNER_ONLY = _("Only the merchant's owner can manage webhook endpoints.")


def _audit(merchant: Merchant, kind: str, *, actor: User, **payload) -> None:
    audit_record(
        stream=merchant_stream(merchant),
        kind=kind,
        actor=actor,
        actor_role=Role.MERCHANT_OWNER,
        payload=payload,
    )


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    try:
        validate_webhook_url(url)
    except ValidationError as error:
        raise InvalidInput(error.messages[0]) from None
    if len(url) > 500:
        raise InvalidInput(_("The address is too long (500 characters at most)."))
    return url


def _clean_events(events) -> list[str]:
    chosen = [event for event in EVENTS if event in set(events or [])]  # catalogue order, no repeats
    if not chosen or len(chosen) != len(set(events)):
        raise InvalidInput(_("Choose at least one event from the list."))
    return chosen


# --- Endpoints (the owner) ------------------------------------------------------------------------


def webhook_endpoint_create(
    *, merchant: Merchant, by: User, url: str, events, description: str = ""
) -> WebhookEndpoint:
    with transaction.atomic():
        merchant = lock(merchant)
        if not is_merchant_owner(by, merchant):
            raise Forbidden(OWNER_ONLY)
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant,
            url=_clean_url(url),
            events=_clean_events(events),
            description=(description or "").strip()[:200],
            created_at=clock.now(),
        )
        _audit(
            merchant,
            "webhook.endpoint_created",
            actor=by,
            endpoint_id=endpoint.pk,
            url=endpoint.url,
            events=endpoint.events,
        )
    return endpoint


def _locked_endpoint(endpoint: WebhookEndpoint, by: User) -> tuple[Merchant, WebhookEndpoint]:
    merchant = lock(endpoint.merchant)
    if not is_merchant_owner(by, merchant):
        raise Forbidden(OWNER_ONLY)
    return merchant, lock(endpoint)


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    by: User,
    url: str | None = None,
    events=None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given (None: unchanged). Disabling keeps pending deliveries: they fail and are
    retried, so they can be resent once the endpoint is active again."""
    with transaction.atomic():
        merchant, endpoint = _locked_endpoint(endpoint, by)
        changes = {}
        if url is not None:
            endpoint.url = changes["url"] = _clean_url(url)
        if events is not None:
            endpoint.events = changes["events"] = _clean_events(events)
        if description is not None:
            endpoint.description = (description or "").strip()[:200]
            changes["description"] = True
        if active is not None:
            endpoint.active = changes["active"] = bool(active)
        endpoint.save()
        _audit(merchant, "webhook.endpoint_updated", actor=by, endpoint_id=endpoint.pk, **changes)
    return endpoint


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, by: User) -> WebhookEndpoint:
    """A new secret, at once: every request from now on (retries included) is signed with it."""
    with transaction.atomic():
        merchant, endpoint = _locked_endpoint(endpoint, by)
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret"])
        _audit(merchant, "webhook.secret_rotated", actor=by, endpoint_id=endpoint.pk)
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, by: User) -> None:
    """Delete the endpoint; its deliveries still waiting become dead letters (nowhere to send them),
    acknowledged at once like its earlier dead letters: the merchant chose this, nobody has to act."""
    with transaction.atomic():
        merchant, endpoint = _locked_endpoint(endpoint, by)
        pk = endpoint.pk
        deliveries = endpoint_deliveries(endpoint)
        # Who: the deleting user, on the rows; the deletion event on the merchant's chain is the audit
        # record of all of them (not one event per delivery on each case's chain: they are the
        # merchant's own integration, not notices to a party).
        made_dead = deliveries.filter(status=OutboxStatus.PENDING).update(
            status=OutboxStatus.DEAD,
            next_attempt_at=None,
            last_error="the endpoint has been deleted",
            dead_acknowledged_at=clock.now(),
            dead_acknowledged_by=by,
        )
        acknowledged = outbox_acknowledge_dead(deliveries, by=by, audit_case=False)
        endpoint.delete()
        _audit(
            merchant,
            "webhook.endpoint_deleted",
            actor=by,
            endpoint_id=pk,
            deliveries_acknowledged=made_dead + acknowledged,
        )


# --- The delivery log -----------------------------------------------------------------------------


def endpoint_deliveries(endpoint: WebhookEndpoint):
    """The outbox rows written for `endpoint`, newest first."""
    return OutboxMessage.objects.filter(channel=Channel.WEBHOOK, context__endpoint_id=endpoint.pk).order_by(
        "-created_at", "-pk"
    )


def can_resend(message: OutboxMessage) -> bool:
    """A dead letter, or a delivery that failed and waits for its next attempt."""
    return message.status == OutboxStatus.DEAD or (
        message.status == OutboxStatus.PENDING and message.attempts > 0
    )


def webhook_delivery_resend(*, endpoint: WebhookEndpoint, message_id: int, by: User) -> OutboxMessage:
    """The owner sends a failed delivery again now, with a fresh round of attempts (the relay's own
    resend, as in the admin). The body and `Webhook-Id` are unchanged; the signature is new."""
    with transaction.atomic():
        merchant, endpoint = _locked_endpoint(endpoint, by)
        message = endpoint_deliveries(endpoint).filter(pk=message_id).first()
        if message is None:
            raise InvalidInput(_("This delivery does not exist."))
        if not can_resend(message):
            raise InvalidInput(_("Only a failed delivery can be sent again."))
        message = outbox_resend(message=message, by=by, audit_case=False)
        _audit(merchant, "webhook.delivery_resent", actor=by, endpoint_id=endpoint.pk, message_id=message.pk)
    return message


# --- Emitting events (called by the stages' use cases) --------------------------------------------


def webhooks_emit(
    *, merchant: Merchant, event: str, data: dict, key: str, case_reference: str = ""
) -> list[OutboxMessage]:
    """Queue `event` for every active endpoint of `merchant` subscribed to it. Must run inside the use
    case's transaction (nothing is sent if it rolls back); idempotent on `key` + endpoint."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("webhooks_emit() must run inside the use case's transaction")
    if event not in EVENTS:
        raise ValueError(f"Unknown webhook event {event!r}")
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(merchant_id=merchant.pk, active=True).order_by("pk")
        if endpoint.subscribes_to(event)
    ]
    if not endpoints:
        return []
    now = clock.now()
    data = json.loads(json.dumps(data, cls=_PayloadEncoder))
    timestamp = json.loads(json.dumps(now, cls=_PayloadEncoder))
    case_reference = case_reference or str(data.get("reference", ""))[:32]
    messages = []
    for endpoint in endpoints:
        webhook_id = f"webhook:{key}:{endpoint.pk}"
        message, created = OutboxMessage.objects.get_or_create(
            idempotency_key=webhook_id,
            defaults={
                "channel": Channel.WEBHOOK,
                "template": event,
                "to_address": endpoint.url,
                "language": "",
                "context": {
                    "endpoint_id": endpoint.pk,
                    "merchant_id": merchant.pk,
                    "payload": {"id": webhook_id, "type": event, "timestamp": timestamp, "data": data},
                },
                "case_reference": case_reference,
                "created_at": now,
            },
        )
        if not created and message.template != event:
            raise ValueError(
                f"Outbox key {webhook_id!r} already used for {message.template!r}, not {event!r}"
            )
        if created:
            transaction.on_commit(lambda pk=message.pk: enqueue(pk))
        messages.append(message)
    return messages
