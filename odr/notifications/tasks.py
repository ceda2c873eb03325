"""Celery tasks of the outbox: thin, they take ids and call the relay."""

from celery import shared_task

from .relay import outbox_deliver, outbox_due_ids


@shared_task(name="odr.notifications.deliver", bind=True, max_retries=None, acks_late=True)
def deliver_outbox_message(self, message_id: int) -> str:
    delivery = outbox_deliver(message_id)
    if delivery.status == "retry":
        # The row keeps its own next_attempt_at, so the periodic relay would also pick it up: this
        # countdown only makes the retry prompter. It is an e-mail, never a legal deadline.
        raise self.retry(countdown=delivery.retry_in.total_seconds())
    return delivery.status


@shared_task(name="odr.notifications.relay_pending")
def outbox_relay_pending() -> int:
    """Beat, every minute: deliver whatever is pending and due (left behind by a broker outage, a
    lost retry, or a worker that died)."""
    ids = outbox_due_ids()
    for message_id in ids:
        outbox_deliver(message_id)
    return len(ids)
