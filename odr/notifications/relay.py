"""Delivering outbox rows: one at a time under a row lock, with exponential backoff and a dead letter.

At-least-once towards the mail server, exactly-once as far as the platform can see: a row is sent
only by the transaction that holds its lock and finds it still pending, and marked sent in that
same transaction. (If the process dies between the SMTP server's "OK" and the commit, the row is sent
again; every e-mail carries its idempotency key in `X-ODR-Message` for receivers that deduplicate.)
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from odr import clock
from odr.ops.logcontext import case

from .emails import build_email
from .models import Channel, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    message_id: int
    status: str  # "sent", "retry", "dead", or "skipped" (not pending, not due, or locked elsewhere)
    retry_in: timedelta | None = None


def backoff(attempts: int) -> timedelta:
    """Wait after the n-th failure: base × 2^(n-1), capped (30 s, 1 min, 2 min, … by default)."""
    seconds = settings.ODR_OUTBOX_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, settings.ODR_OUTBOX_RETRY_MAX_SECONDS))


# Senders of the other channels, registered by the packages that own them (odr.webhooks registers
# Channel.WEBHOOK in its AppConfig.ready()), so that notifications imports none of them. A sender
# raises on any failure; the relay counts the attempt, backs off and, at the last, makes a dead letter.
_senders: dict[str, Callable[[OutboxMessage], None]] = {}


def register_sender(channel: str, sender: Callable[[OutboxMessage], None]) -> None:
    _senders[channel] = sender


def _send(message: OutboxMessage) -> None:
    if message.channel == Channel.EMAIL:
        build_email(message).send(fail_silently=False)
    elif message.channel in _senders:
        _senders[message.channel](message)
    else:
        raise ValueError(f"No delivery for channel {message.channel!r}")


def outbox_deliver(message_id: int) -> Delivery:
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=OutboxStatus.PENDING)
            .first()
        )
        now = clock.now()
        if message is None or (message.next_attempt_at and message.next_attempt_at > now):
            return Delivery(message_id, "skipped")
        with case(message.case_reference):  # the lines about this row (and its sender's) name its case
            return _attempt(message, now)


def _attempt(message: OutboxMessage, now) -> Delivery:
    """One delivery attempt of a locked pending row, its outcome saved (in the caller's transaction)."""
    message.attempts += 1
    try:
        _send(message)
    except Exception as exc:  # any failure of the outside world: count it, back off, keep the row
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if message.attempts >= settings.ODR_OUTBOX_MAX_ATTEMPTS:
            message.status = OutboxStatus.DEAD
            message.next_attempt_at = None
            log.error("outbox message %s dead after %s attempts", message.pk, message.attempts)
            result = Delivery(message.pk, "dead")
        else:
            delay = backoff(message.attempts)
            message.next_attempt_at = now + delay
            log.warning(
                "outbox message %s failed (attempt %s), retry in %s", message.pk, message.attempts, delay
            )
            result = Delivery(message.pk, "retry", delay)
    else:
        message.status = OutboxStatus.SENT
        message.sent_at = now
        message.last_error = ""
        result = Delivery(message.pk, "sent")
    message.save(update_fields=["attempts", "status", "sent_at", "last_error", "next_attempt_at"])
    return result


def outbox_due_ids(*, limit: int = 500) -> list[int]:
    """Pending rows whose turn has come: never enqueued (broker down at commit), or due for a retry."""
    now = clock.now()
    return list(
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_resend(*, message: OutboxMessage, by=None, audit_case: bool = True) -> OutboxMessage:
    """Give a dead letter (or a sent e-mail someone lost) another round of attempts.

    The change is audited on the case's chain (kind "outbox.resent", `by` as the actor) when the row
    has a case reference, like its acknowledgement; `audit_case=False` for a caller that records it on
    its own stream (odr.webhooks: the merchant's)."""
    with transaction.atomic():
        message = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        was_acknowledged = message.dead_acknowledged_at is not None
        previous_status = message.status
        message.status = OutboxStatus.PENDING
        message.attempts = 0
        message.next_attempt_at = None
        # If it dies again, that is news: the acknowledgement (when and who) goes.
        message.dead_acknowledged_at = None
        message.dead_acknowledged_by = None
        fields = ["status", "attempts", "next_attempt_at", "dead_acknowledged_at", "dead_acknowledged_by"]
        message.save(update_fields=fields)
        _record(
            message,
            "outbox.resent",
            by=by,
            audit_case=audit_case,
            previous_status=previous_status,
            acknowledgement_cleared=was_acknowledged,
        )
        transaction.on_commit(lambda: enqueue(message.pk))
    return message


def outbox_acknowledge_dead(queryset, *, by=None, audit_case: bool = True) -> int:
    """Mark the dead letters of `queryset` as dealt with by `by`: they stay (the record of the notice)
    but no longer count in readiness and metrics. Returns how many were acknowledged now.

    D34: each one is audited on its case's chain (kind "outbox.dead_acknowledged", `by` as the actor;
    the payload names the message, template and channel, never the address), in this transaction. A
    row without a case reference has no chain: a log line with its id stands for it (with `by`
    on the row). `audit_case=False` for a caller that records the change on its own stream."""
    now = clock.now()
    with transaction.atomic():
        # Locked in a fixed order (case, id), so two acknowledgements cannot deadlock on chain heads.
        rows = list(
            queryset.filter(status=OutboxStatus.DEAD, dead_acknowledged_at__isnull=True)
            .select_for_update()
            .order_by("case_reference", "pk")
            .only("pk", "case_reference", "template", "channel")
        )
        if not rows:
            return 0
        OutboxMessage.objects.filter(pk__in=[row.pk for row in rows]).update(
            dead_acknowledged_at=now, dead_acknowledged_by=by
        )
        for row in rows:
            _record(row, "outbox.dead_acknowledged", by=by, audit_case=audit_case)
    return len(rows)


def _record(message: OutboxMessage, kind: str, *, by, audit_case: bool, **extra) -> None:
    """The audit event of a change made to `message` by `by` (in the caller's transaction)."""
    by_id = by.pk if by is not None else None
    if audit_case and message.case_reference:
        from odr.audit.services import audit_record

        audit_record(
            stream=message.case_reference,
            kind=kind,
            actor=by,
            actor_role="staff" if by is not None and by.is_staff else "",
            payload={
                "message_id": message.pk,
                "template": message.template,
                "channel": message.channel,
                **extra,
            },
        )
    else:
        log.info(
            "%s: outbox message %s (no case chain to audit on, or audited by the caller) by user %s",
            kind,
            message.pk,
            by_id,
            extra={"outbox_message_id": message.pk, "user_id": by_id},
        )


def enqueue(message_id: int) -> None:
    """Hand a row to the broker, after commit, never waiting on it (odr/tasks_enqueue.py). If the
    broker is down the row stays pending and the periodic relay (`outbox_relay_pending`) delivers it."""
    from odr.tasks_enqueue import enqueue_task

    from .tasks import deliver_outbox_message

    enqueue_task(deliver_outbox_message, message_id, what=f"outbox message {message_id}")
