"""Adding messages to the outbox (inside the use case's transaction)."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from odr import clock

from .models import Channel, OutboxMessage
from .relay import enqueue


def outbox_email(
    *,
    key: str,
    template: str,
    context: dict,
    to=None,
    to_address: str = "",
    language: str = "fr",
    case_reference: str = "",
) -> OutboxMessage:
    """Queue the e-mail `template` for a user (`to`) or a plain address. Idempotent on `key`."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_email() must run inside the use case's transaction")
    if (to is None) == (not to_address):
        raise ValueError("Give exactly one of `to` (a user) and `to_address`")
    message, created = OutboxMessage.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "channel": Channel.EMAIL,
            "template": template,
            "to_user": to,
            "to_address": to.email if to is not None else to_address,
            "language": (getattr(to, "preferred_language", "") or language) if to else language,
            "context": json.loads(json.dumps(context, cls=DjangoJSONEncoder)),
            "case_reference": case_reference,
            "created_at": clock.now(),
        },
    )
    if not created and message.template != template:
        # Two different e-mails under one key would silently drop the second: a bug, not a retry.
        raise ValueError(f"Outbox key {key!r} already used for {message.template!r}, not {template!r}")
    if created:
        # Only after commit: nothing leaves before the change that caused it is durable.
        transaction.on_commit(lambda: enqueue(message.pk))
    return message
